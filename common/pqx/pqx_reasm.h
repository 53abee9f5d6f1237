/* Bounded reassembly of pqx fragments, one instance per peer: at most PQX_REASM_SLOTS messages
 * in progress (oldest evicted), PQX_MSG_MAX bytes each, dropped after PQX_REASM_TIMEOUT_MS.
 * Pure: the caller passes the monotonic clock. */
#ifndef ZTNA_PQX_REASM_H
#define ZTNA_PQX_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/pqx/pqx_msg.h"

struct pqx_reasm_slot {
    bool used;
    uint8_t kind, count, have_mask;
    uint16_t total_len;
    uint32_t msg_id;
    uint64_t started_ms;
    uint8_t buf[PQX_MSG_MAX];
};

struct pqx_reasm {
    struct pqx_reasm_slot slot[PQX_REASM_SLOTS];
};

void pqx_reasm_init(struct pqx_reasm *r);
/* Adds a parsed fragment. Returns 1 when its message is complete (body copied to out, which holds
 * PQX_MSG_MAX bytes; *out_len set, *kind set), 0 when more fragments are needed or the fragment
 * was a duplicate, -EBADMSG when it contradicts its slot (the slot is dropped). */
int pqx_reasm_add(struct pqx_reasm *r, const struct pqx_frag *f, uint64_t now_ms, uint8_t *out,
                  size_t *out_len, uint8_t *kind);
/* Drops slots older than the timeout. */
void pqx_reasm_expire(struct pqx_reasm *r, uint64_t now_ms);
/* Number of slots in use (for tests and status). */
size_t pqx_reasm_pending(const struct pqx_reasm *r);

#endif
