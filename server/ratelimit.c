/* Fixed-window rate limiter (see ratelimit.h). A linear table: SRV_MAX_RATE_ENTRIES is small
 * and logins are rare next to a table scan. */
#include "server/ratelimit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/limits.h"

struct rl_entry {
    char key[SRV_MAX_EMAIL_BYTES + 8];
    int64_t window_start;
    int64_t window_s;
    int64_t hits;
};

struct ratelimit {
    pthread_mutex_t lock; /* protects e[] */
    struct rl_entry e[SRV_MAX_RATE_ENTRIES];
};

struct ratelimit *ratelimit_new(void)
{
    struct ratelimit *rl = calloc(1, sizeof(*rl));

    if (rl)
        pthread_mutex_init(&rl->lock, NULL);
    return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}

static bool expired(const struct rl_entry *e, int64_t now)
{
    return !e->key[0] || now >= e->window_start + e->window_s;
}

/* Caller holds the lock. create: find or take a slot. */
static struct rl_entry *lookup(struct ratelimit *rl, const char *key, int64_t now, bool create)
{
    struct rl_entry *victim = NULL;

    for (size_t i = 0; i < SRV_MAX_RATE_ENTRIES; i++) {
        struct rl_entry *e = &rl->e[i];

        if (e->key[0] && strcmp(e->key, key) == 0)
            return e;
        if (!victim || (expired(e, now) && !expired(victim, now)) ||
            (expired(e, now) == expired(victim, now) && e->window_start < victim->window_start))
            victim = e;
    }
    if (!create)
        return NULL;
    memset(victim, 0, sizeof(*victim));
    snprintf(victim->key, sizeof(victim->key), "%s", key);
    return victim;
}

bool ratelimit_blocked(struct ratelimit *rl, const char *key, int64_t limit, int64_t window_s,
                       int64_t now, int64_t *retry_after)
{
    bool blocked = false;
    struct rl_entry *e;

    pthread_mutex_lock(&rl->lock);
    e = lookup(rl, key, now, false);
    if (e && !expired(e, now) && e->hits >= limit) {
        blocked = true;
        *retry_after = e->window_start + e->window_s - now;
        if (*retry_after < 1)
            *retry_after = 1;
    }
    (void)window_s;
    pthread_mutex_unlock(&rl->lock);
    return blocked;
}

void ratelimit_hit(struct ratelimit *rl, const char *key, int64_t window_s, int64_t now)
{
    struct rl_entry *e;

    pthread_mutex_lock(&rl->lock);
    e = lookup(rl, key, now, true);
    if (expired(e, now) || e->hits == 0) {
        e->window_start = now;
        e->window_s = window_s;
        e->hits = 0;
    }
    e->hits++;
    pthread_mutex_unlock(&rl->lock);
}

void ratelimit_reset(struct ratelimit *rl, const char *key)
{
    struct rl_entry *e;

    pthread_mutex_lock(&rl->lock);
    e = lookup(rl, key, 0, false);
    if (e)
        memset(e, 0, sizeof(*e));
    pthread_mutex_unlock(&rl->lock);
}
