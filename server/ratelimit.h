/* Fixed-window counters keyed by short strings ("ip:127.0.0.1", "acct:a@b.c"), thread-safe.
 * Used for login limits; the table is bounded (SRV_MAX_RATE_ENTRIES) and evicts expired windows,
 * then the oldest, so memory stays fixed under a flood of distinct keys. */
#ifndef ZTNA_SERVER_RATELIMIT_H
#define ZTNA_SERVER_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit;

struct ratelimit *ratelimit_new(void); /* new: free with ratelimit_free(); NULL on ENOMEM */
void ratelimit_free(struct ratelimit *rl);

/* True if key has reached limit hits in the current window of window_s seconds; then
 * *retry_after is the seconds until the window resets. Does not count a hit. */
bool ratelimit_blocked(struct ratelimit *rl, const char *key, int64_t limit, int64_t window_s,
                       int64_t now, int64_t *retry_after);
/* Counts one hit for key. */
void ratelimit_hit(struct ratelimit *rl, const char *key, int64_t window_s, int64_t now);
/* Forgets key (e.g. an account's failures after a successful login). */
void ratelimit_reset(struct ratelimit *rl, const char *key);

#endif
