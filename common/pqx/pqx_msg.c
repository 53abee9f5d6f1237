/* Encoding and bounds-checked parsing of pqx fragments and message bodies. */
#include "common/pqx/pqx_msg.h"

#include <string.h>

#include "common/cursor.h"

void pqx_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

void pqx_put_be64(uint8_t *p, uint64_t v)
{
    pqx_put_be32(p, (uint32_t)(v >> 32));
    pqx_put_be32(p + 4, (uint32_t)v);
}

static uint64_t cursor_be64(struct cursor *c)
{
    uint64_t hi = cursor_be32(c);
    uint64_t lo = cursor_be32(c);
    return hi << 32 | lo;
}

uint8_t pqx_frag_count(size_t len)
{
    if (len == 0 || len > PQX_MSG_MAX)
        return 0;
    size_t n = (len + PQX_FRAG_PAYLOAD_MAX - 1) / PQX_FRAG_PAYLOAD_MAX;
    return n > PQX_FRAG_COUNT_MAX ? 0 : (uint8_t)n;
}

bool pqx_frag_parse(struct pqx_frag *f, const uint8_t *buf, size_t len)
{
    struct cursor c = cursor_init(buf, len);
    uint8_t type = cursor_u8(&c), version = cursor_u8(&c);
    size_t want;

    f->kind = cursor_u8(&c);
    f->index = cursor_u8(&c);
    f->count = cursor_u8(&c);
    uint8_t reserved = cursor_u8(&c);
    f->total_len = cursor_be16(&c);
    f->msg_id = cursor_be32(&c);
    cursor_copy(&c, f->hint, PQX_HINT_LEN);
    f->payload_len = cursor_left(&c);
    f->payload = c.ok ? buf + c.off : NULL;
    if (!c.ok || type != PQX_MSG_TYPE || version != PQX_VERSION || reserved != 0)
        return false;
    if (f->kind < PQX_KIND_INIT || f->kind > PQX_KIND_CONFIRM)
        return false;
    if (f->count == 0 || f->count != pqx_frag_count(f->total_len) || f->index >= f->count)
        return false;
    /* Every fragment but the last is full; the last carries the remainder. */
    want = f->index + 1 < f->count ? PQX_FRAG_PAYLOAD_MAX
                                   : f->total_len - (size_t)f->index * PQX_FRAG_PAYLOAD_MAX;
    return f->payload_len == want;
}

size_t pqx_frag_build(uint8_t *out, uint8_t kind, uint32_t msg_id, const uint8_t hint[static 8],
                      const uint8_t *body, size_t total_len, uint8_t index)
{
    uint8_t count = pqx_frag_count(total_len);
    size_t off, n;

    if (count == 0 || index >= count)
        return 0;
    off = (size_t)index * PQX_FRAG_PAYLOAD_MAX;
    n = total_len - off < PQX_FRAG_PAYLOAD_MAX ? total_len - off : PQX_FRAG_PAYLOAD_MAX;
    out[0] = PQX_MSG_TYPE;
    out[1] = PQX_VERSION;
    out[2] = kind;
    out[3] = index;
    out[4] = count;
    out[5] = 0;
    out[6] = (uint8_t)(total_len >> 8);
    out[7] = (uint8_t)total_len;
    pqx_put_be32(out + 8, msg_id);
    memcpy(out + 12, hint, PQX_HINT_LEN);
    memcpy(out + PQX_FRAG_HDR_LEN, body + off, n);
    return PQX_FRAG_HDR_LEN + n;
}

bool pqx_init_parse(struct pqx_init *m, const uint8_t *buf, size_t len)
{
    struct cursor c = cursor_init(buf, len);

    m->sender_index = cursor_be32(&c);
    m->epoch = cursor_be64(&c);
    m->eph = cursor_take(&c, 32);
    m->ek = cursor_take(&c, MLKEM768_EK_BYTES);
    m->mac = cursor_take(&c, PQX_MAC_LEN);
    return c.ok && cursor_left(&c) == 0;
}

bool pqx_resp_parse(struct pqx_resp *m, const uint8_t *buf, size_t len)
{
    struct cursor c = cursor_init(buf, len);

    m->sender_index = cursor_be32(&c);
    m->receiver_index = cursor_be32(&c);
    m->epoch = cursor_be64(&c);
    m->eph = cursor_take(&c, 32);
    m->ct = cursor_take(&c, MLKEM768_CT_BYTES);
    m->mac = cursor_take(&c, PQX_MAC_LEN);
    return c.ok && cursor_left(&c) == 0;
}

bool pqx_confirm_parse(struct pqx_confirm *m, const uint8_t *buf, size_t len)
{
    struct cursor c = cursor_init(buf, len);

    m->receiver_index = cursor_be32(&c);
    m->sender_index = cursor_be32(&c);
    m->epoch = cursor_be64(&c);
    m->mac = cursor_take(&c, PQX_MAC_LEN);
    return c.ok && cursor_left(&c) == 0;
}
