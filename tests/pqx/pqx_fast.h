/* The exchange's timing shortened for the live tests (tests/pqx/test_agentpq_wgdev.c,
 * tests/kernel/test_agentpq_mixed.c): rotation every rotate_ms, fallback and expiry after 5/4 and
 * 3/2 of it, retransmissions and the backoff from 300 ms; everything else as pqx_config_default(). */
#ifndef ZTNA_TESTS_PQX_FAST_H
#define ZTNA_TESTS_PQX_FAST_H

#include <stdint.h>

#include "common/pqx/pqx_peer.h"

static inline void pqx_config_fast(struct pqx_config *pc, uint64_t rotate_ms)
{
    pqx_config_default(pc);
    pc->rotate_ms = rotate_ms;
    pc->fallback_ms = rotate_ms * 5 / 4;
    pc->expire_ms = rotate_ms * 3 / 2;
    pc->retransmit_ms = 300;
    pc->backoff_min_ms = 300;
}

#endif
