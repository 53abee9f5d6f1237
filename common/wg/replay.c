/* Anti-replay window, RFC 6479 with the kernel WireGuard's conventions: `next` is the greatest
 * accepted counter + 1, and bit (c + 1) of the ring records counter c. Moving forward clears the
 * blocks entered, never more than the ring. Accepted: any counter above the greatest, or an
 * unseen one at most WG_REPLAY_WINDOW_SIZE (8128) below it. */
#include "common/wg/replay.h"

#include <string.h>

#define BLOCKS (WG_REPLAY_BITS_TOTAL / WG_REPLAY_BLOCK_BITS)
#define BLOCK_SHIFT 6 /* log2(64) */

void wg_replay_init(struct wg_replay *r)
{
    memset(r, 0, sizeof(*r));
}

/* Common limit and window checks; t is counter + 1. */
static bool in_range(const struct wg_replay *r, uint64_t counter)
{
    if (r->next >= WG_REJECT_AFTER_MESSAGES + 1 || counter >= WG_REJECT_AFTER_MESSAGES)
        return false;
    return counter + 1 + WG_REPLAY_WINDOW_SIZE >= r->next;
}

bool wg_replay_check(const struct wg_replay *r, uint64_t counter)
{
    if (!in_range(r, counter))
        return false;
    uint64_t t = counter + 1;
    if (t > r->next)
        return true;
    uint64_t block = r->bitmap[(t >> BLOCK_SHIFT) & (BLOCKS - 1)];
    return !((block >> (t & (WG_REPLAY_BLOCK_BITS - 1))) & 1);
}

bool wg_replay_update(struct wg_replay *r, uint64_t counter)
{
    if (!in_range(r, counter))
        return false;
    uint64_t t = counter + 1;
    uint64_t index = t >> BLOCK_SHIFT;
    if (t > r->next) {
        uint64_t current = r->next >> BLOCK_SHIFT;
        uint64_t top = index - current < BLOCKS ? index - current : BLOCKS;
        for (uint64_t i = 1; i <= top; i++)
            r->bitmap[(current + i) & (BLOCKS - 1)] = 0;
        r->next = t;
    }
    uint64_t *block = &r->bitmap[index & (BLOCKS - 1)];
    uint64_t bit = 1ULL << (t & (WG_REPLAY_BLOCK_BITS - 1));
    if (*block & bit)
        return false;
    *block |= bit;
    return true;
}
