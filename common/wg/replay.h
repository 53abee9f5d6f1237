/* Anti-replay window for transport counters, RFC 6479 style: a ring of 8192 bits in 64-bit
 * blocks; moving the window forward clears whole blocks, so the last 8128 counters below the
 * greatest one seen are always tracked. Counters >= WG_REJECT_AFTER_MESSAGES are never accepted.
 *
 * Receive path: wg_replay_check() before decrypting (cheap drop of old and duplicate counters),
 * wg_replay_update() only after the packet authenticated (an attacker must not move the window),
 * which checks again and is the authority. */
#ifndef ZTNA_COMMON_WG_REPLAY_H
#define ZTNA_COMMON_WG_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/wg/wg_const.h"

struct wg_replay {
    uint64_t next; /* greatest counter accepted + 1; 0 = none yet */
    uint64_t bitmap[WG_REPLAY_BITS_TOTAL / WG_REPLAY_BLOCK_BITS];
};

void wg_replay_init(struct wg_replay *r);
/* Whether counter would be accepted now. Does not modify r. */
bool wg_replay_check(const struct wg_replay *r, uint64_t counter);
/* Marks counter as seen; false (and r unchanged) if it is a replay, too old or over the limit. */
bool wg_replay_update(struct wg_replay *r, uint64_t counter);

#endif
