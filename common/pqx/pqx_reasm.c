/* Fragment reassembly with bounded memory: fixed slots, a bitmask of fragments received, and
 * eviction of the oldest slot when a new message arrives and all slots are busy. */
#include "common/pqx/pqx_reasm.h"

#include <errno.h>
#include <string.h>

void pqx_reasm_init(struct pqx_reasm *r)
{
    memset(r, 0, sizeof(*r));
}

static void slot_drop(struct pqx_reasm_slot *s)
{
    s->used = false;
    s->have_mask = 0;
}

void pqx_reasm_expire(struct pqx_reasm *r, uint64_t now_ms)
{
    for (size_t i = 0; i < PQX_REASM_SLOTS; i++) {
        struct pqx_reasm_slot *s = &r->slot[i];
        if (s->used && (now_ms < s->started_ms || now_ms - s->started_ms >= PQX_REASM_TIMEOUT_MS))
            slot_drop(s);
    }
}

size_t pqx_reasm_pending(const struct pqx_reasm *r)
{
    size_t n = 0;
    for (size_t i = 0; i < PQX_REASM_SLOTS; i++)
        n += r->slot[i].used;
    return n;
}

static struct pqx_reasm_slot *slot_find_or_new(struct pqx_reasm *r, const struct pqx_frag *f,
                                               uint64_t now_ms)
{
    struct pqx_reasm_slot *free_slot = NULL, *oldest = NULL;

    for (size_t i = 0; i < PQX_REASM_SLOTS; i++) {
        struct pqx_reasm_slot *s = &r->slot[i];
        if (s->used && s->msg_id == f->msg_id && s->kind == f->kind)
            return s;
        if (!s->used && !free_slot)
            free_slot = s;
        if (s->used && (!oldest || s->started_ms < oldest->started_ms))
            oldest = s;
    }
    if (!free_slot) {
        free_slot = oldest;
        slot_drop(free_slot);
    }
    free_slot->used = true;
    free_slot->kind = f->kind;
    free_slot->count = f->count;
    free_slot->total_len = f->total_len;
    free_slot->msg_id = f->msg_id;
    free_slot->started_ms = now_ms;
    free_slot->have_mask = 0;
    return free_slot;
}

int pqx_reasm_add(struct pqx_reasm *r, const struct pqx_frag *f, uint64_t now_ms, uint8_t *out,
                  size_t *out_len, uint8_t *kind)
{
    struct pqx_reasm_slot *s;
    uint8_t bit, full;

    pqx_reasm_expire(r, now_ms);
    if (f->count == 0 || f->count != pqx_frag_count(f->total_len) || f->index >= f->count)
        return -EBADMSG;
    if (f->count == 1) {
        if (f->payload_len != f->total_len)
            return -EBADMSG;
        memcpy(out, f->payload, f->payload_len);
        *out_len = f->payload_len;
        *kind = f->kind;
        return 1;
    }
    s = slot_find_or_new(r, f, now_ms);
    if (s->count != f->count || s->total_len != f->total_len) {
        slot_drop(s);
        return -EBADMSG;
    }
    bit = (uint8_t)(1u << f->index);
    if (s->have_mask & bit)
        return 0; /* duplicate */
    /* Exact length for its position, so a complete mask means every byte was written. */
    if (f->payload_len != (f->index + 1u < f->count
                               ? (size_t)PQX_FRAG_PAYLOAD_MAX
                               : s->total_len - (size_t)f->index * PQX_FRAG_PAYLOAD_MAX)) {
        slot_drop(s);
        return -EBADMSG;
    }
    memcpy(s->buf + (size_t)f->index * PQX_FRAG_PAYLOAD_MAX, f->payload, f->payload_len);
    s->have_mask |= bit;
    full = (uint8_t)((1u << s->count) - 1);
    if (s->have_mask != full)
        return 0;
    memcpy(out, s->buf, s->total_len);
    *out_len = s->total_len;
    *kind = s->kind;
    slot_drop(s);
    return 1;
}
