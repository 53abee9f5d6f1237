/* Waiting and answering map polls (see netmap.h, netmap_int.h). */
#include "server/netmap_int.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "server/policy_glue.h"

#define NM_WAKE_HOLD_MS 50

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static _Thread_local bool wakes_held;     /* between netmap_wakes_hold() and _release() */
static _Thread_local bool wakes_pending;  /* some org's wake-up was held */

static void slot_wake(struct nm_slot *s)
{
    atomic_fetch_add(&s->word, 1);
    if (atomic_load(&s->nwaiting))
        syscall(SYS_futex, &s->word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static atomic_bool no_waitv; /* the kernel has no futex_waitv (before 5.16): slot words only */

/* Wakes the polls of o's slots: every one, or (some) those whose `held` flag is set; and tells
 * the stream pump the same about their streams. */
static void slots_wake(struct nm_org *o, bool some)
{
    bool streams = atomic_load(&o->nstreams) > 0, marked = false;

    if (!some) { /* one call for the herd (a wake per slot costs a syscall and a switch each) */
        atomic_fetch_add(&o->gen, 1);
        syscall(SYS_futex, &o->gen, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
        if (streams) {
            atomic_store(&o->stream_all, true);
            nm_streams_kick(o);
        }
        if (!atomic_load(&no_waitv))
            return;
    }
    pthread_rwlock_rdlock(&o->lock);
    for (struct nm_slot *s = o->head; s; s = s->next) {
        if (some && !atomic_exchange(&s->held, false))
            continue;
        slot_wake(s);
        if (some && streams && atomic_load(&s->stream)) {
            atomic_store(&s->stream_dirty, true);
            marked = true;
        }
    }
    pthread_rwlock_unlock(&o->lock);
    if (marked) {
        atomic_store(&o->stream_some, true);
        nm_streams_kick(o);
    }
}

/* Wakes the polls waiting on o: every one (after a version bump, or at shutdown), or (some) those
 * of the slots marked `held` under o's write lock. A poll about to sleep sees its word move on at
 * once, so only those asleep wait for a held wake-up (netmap_wakes_release()). */
static void waiters_wake_(struct nm_org *o, bool some)
{
    if (wakes_held && !atomic_load(&o->nm->stopping)) {
        int64_t none = 0;

        /* keeps the oldest */
        atomic_compare_exchange_strong(some ? &o->wake_some : &o->wake_pending, &none, mono_ms());
        wakes_pending = true;
        return;
    }
    slots_wake(o, some);
}

void nm_waiters_wake(struct nm_org *o)
{
    waiters_wake_(o, false);
}

void nm_waiters_wake_some(struct nm_org *o)
{
    waiters_wake_(o, true);
}

void netmap_wakes_hold(void)
{
    wakes_held = true;
}

/* Makes the wake-ups held since before `before` (ms; INT64_MAX: all of them). */
void nm_waiters_wake_held(struct netmap *nm, int64_t before)
{
    for (size_t i = 0;; i++) {
        struct nm_org *o = nm_org_at(nm, i);

        if (!o)
            break;
        int64_t since = atomic_load(&o->wake_pending);

        if (since && since < before && atomic_compare_exchange_strong(&o->wake_pending, &since, 0))
            slots_wake(o, false); /* the held flags of some stay: harmless, woken again later */
        since = atomic_load(&o->wake_some);
        if (since && since < before && atomic_compare_exchange_strong(&o->wake_some, &since, 0))
            slots_wake(o, true);
    }
}

void nm_wakes_release_late(struct netmap *nm)
{
    wakes_held = wakes_pending = false;
    nm_waiters_wake_held(nm, mono_ms() - NM_WAKE_HOLD_MS + 1);
}

void netmap_wakes_release(struct server *srv)
{
    struct netmap *nm = srv ? srv->netmap : NULL;
    bool pending = wakes_pending;

    wakes_held = wakes_pending = false;
    if (pending && nm)
        nm_waiters_wake_held(nm, INT64_MAX);
}

/* Sleeps while s->word == word and o->gen == gen, at most until deadline (CLOCK_MONOTONIC).
 * false once it passed. Called with a waiter counted in s->nwaiting (which keeps s alive),
 * outside the lock. */
static bool waiter_sleep(struct nm_org *o, struct nm_slot *s, uint32_t word, uint32_t gen,
                         const struct timespec *deadline)
{
    struct timespec now, left;

    if (!atomic_load(&no_waitv)) {
        struct futex_waitv w[2] = {
            {.val = word, .uaddr = (uintptr_t)&s->word, .flags = FUTEX_32 | FUTEX_PRIVATE_FLAG},
            {.val = gen, .uaddr = (uintptr_t)&o->gen, .flags = FUTEX_32 | FUTEX_PRIVATE_FLAG},
        };

        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > deadline->tv_sec ||
            (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec))
            return false;
        /* woken, EAGAIN (a word moved on), EINTR, ETIMEDOUT: all send the caller back to look */
        if (syscall(SYS_futex_waitv, w, 2, 0, deadline, CLOCK_MONOTONIC) >= 0 || errno != ENOSYS)
            return true;
        atomic_store(&no_waitv, true);
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    left.tv_sec = deadline->tv_sec - now.tv_sec;
    left.tv_nsec = deadline->tv_nsec - now.tv_nsec;
    if (left.tv_nsec < 0) {
        left.tv_sec--;
        left.tv_nsec += 1000000000L;
    }
    if (left.tv_sec < 0)
        return false;
    /* EAGAIN (word moved on), EINTR and ETIMEDOUT all send the caller back to look. */
    syscall(SYS_futex, &s->word, FUTEX_WAIT_PRIVATE, word, &left, NULL, 0);
    return true;
}

/* --- the poll ----------------------------------------------------------------------------- */

void nm_collected_free(struct nm_collected *c)
{
    nm_node_put(c->self);
    for (size_t i = 0; i < c->n; i++)
        nm_node_put(c->nodes[i]);
    if (c->nodes != c->inline_nodes)
        free(c->nodes);
    free(c->dns);
    nm_filter_put(c->filter);
    memset(c, 0, sizeof(*c));
}

/* Under o->lock: the slot's filter if still valid (a new reference), else NULL. */
static struct nm_filter *filter_get(struct nm_org *o, const struct nm_slot *me)
{
    struct nm_filter *f = atomic_load(&me->filter);

    if (f && (f->at < me->filter_at || f->at < o->reset_at))
        f = NULL;
    if (f)
        atomic_fetch_add(&f->refs, 1); /* its cache reference is only dropped under the write lock */
    return f;
}

/* Keeps f (a new reference, taken over) as machine_id's filter unless a newer one is there. */
static void filter_store(struct nm_org *o, int64_t machine_id, struct nm_filter *f)
{
    struct nm_slot *s;

    pthread_rwlock_rdlock(&o->lock);
    s = nm_slot_find(o, machine_id);
    struct nm_filter *old = s ? atomic_load(&s->filter) : NULL;
    /* on a lost race, old is reloaded and compared again */
    while (s && (!old || old->at <= f->at)) {
        if (atomic_compare_exchange_weak(&s->filter, &old, f)) {
            if (old) {
                old->retired_next = atomic_load(&o->retired);
                while (!atomic_compare_exchange_weak(&o->retired, &old->retired_next, old))
                    ;
            }
            f = NULL;
            break;
        }
    }
    pthread_rwlock_unlock(&o->lock);
    nm_filter_put(f); /* not kept: nobody else has seen this reference */
}

/* The recipient's filter from the policy, as of c (a new reference), cached for the next
 * messages. NULL on ENOMEM. */
static struct nm_filter *filter_compute(struct server *srv, struct nm_org *o,
                                        const struct netmap_poll *p, const struct nm_collected *c)
{
    char *text = NULL;
    /* Out of memory is an error for the reply, never "null" (allow all). */
    if (policy_glue_node_filter(srv, p->org_id, p->machine_id, &text))
        return NULL;
    struct nm_filter *f = malloc(sizeof(*f));

    if (!f) {
        free(text);
        return NULL;
    }
    atomic_init(&f->refs, 2); /* the caller's and the cache's */
    f->at = c->version;
    f->text = text ? text : nm_filter_null; /* kept as written: a server's is ~150 KB */
    filter_store(o, p->machine_id, f);
    return f;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* Under o->lock: references to what the answer needs. */
int nm_collect(struct nm_org *o, struct nm_slot *me, int64_t since, struct nm_collected *c)
{
    bool full = since == 0 || since < o->floor || since > o->version || since < o->reset_at ||
                since < me->full_at || since < me->links_floor;
    size_t cap = full ? o->nslots : 0, nl = 0;

    memset(c, 0, sizeof(*c));
    c->type = full ? NM_MSG_FULL : NM_MSG_DELTA;
    c->version = o->version;
    if (!full) {
        for (struct nm_slot *s = o->tail; s && s->node->changed_at > since; s = s->prev)
            cap++;
        while (nl < me->nlinks && me->links[me->nlinks - 1 - nl].at > since)
            nl++;
        cap += nl;
        c->filter_changed = me->filter_at > since;
    }
    c->nodes = cap <= NM_INLINE_NODES ? c->inline_nodes : malloc(cap * sizeof(*c->nodes));
    c->dns = full ? strdup(o->dns) : NULL;
    if (!c->nodes || (full && !c->dns)) {
        if (c->nodes != c->inline_nodes)
            free(c->nodes);
        free(c->dns);
        return -ENOMEM;
    }
    c->self = nm_node_get(me->node);
    c->filter = filter_get(o, me);
    if (full) {
        for (struct nm_slot *s = o->head; s; s = s->next) {
            if (s != me && !s->node->removed && !s->node->expired)
                c->nodes[c->n++] = nm_node_get(s->node);
        }
    } else {
        /* the linked peers last, flagged; a changed one that is also linked only there */
        int64_t lk_inline[NM_INLINE_NODES], *lk = nl <= NM_INLINE_NODES ? lk_inline
                                                                        : malloc(nl * sizeof(*lk));
        if (!lk) {
            nm_collected_free(c);
            return -ENOMEM;
        }
        for (size_t i = 0; i < nl; i++)
            lk[i] = me->links[me->nlinks - nl + i].peer;
        qsort(lk, nl, sizeof(*lk), cmp_i64);
        for (struct nm_slot *s = o->tail; s && s->node->changed_at > since; s = s->prev) {
            if (s != me && !bsearch(&s->id, lk, nl, sizeof(*lk), cmp_i64))
                c->nodes[c->n++] = nm_node_get(s->node);
        }
        for (size_t i = 0; i < nl; i++) {
            struct nm_slot *s = nm_slot_find(o, lk[i]);

            if (s) {
                c->nodes[c->n++] = nm_node_get(s->node);
                c->nlinked++;
            }
        }
        if (lk != lk_inline)
            free(lk);
    }
    return 0;
}

/* Outside the lock: the message, or NULL with *empty when a delta has nothing for this machine. */
char *nm_answer(struct server *srv, struct nm_org *o, const struct netmap_poll *p,
                    struct nm_collected *c, size_t *len, bool *empty)
{
    const struct nm_node *peers_inline[NM_INLINE_NODES];
    int64_t removed_inline[NM_INLINE_NODES];
    bool small = c->n <= NM_INLINE_NODES;
    const struct nm_node **peers = small ? peers_inline : malloc(c->n * sizeof(*peers));
    int64_t *removed = small ? removed_inline : malloc(c->n * sizeof(*removed));
    bool vis_inline[NM_INLINE_NODES], *vis = small ? vis_inline : malloc(c->n * sizeof(*vis));
    struct nm_msg m = {
        .type = c->type, .machine_id = p->machine_id, .version = c->version,
        .prev_version = p->since, .generated_at = server_now(), .dns = c->dns,
    };
    char *qtext = NULL, *out = NULL;

    *empty = false;
    if (!peers || !removed || !vis)
        goto out;
    /* one question to the policy for the whole list (removed[] as scratch for the ids) */
    for (size_t i = 0; i < c->n; i++)
        removed[i] = c->nodes[i]->id;
    policy_glue_visible_many(srv, p->org_id, p->machine_id, removed, c->n, vis);
    for (size_t i = 0; i < c->n; i++) {
        const struct nm_node *n = c->nodes[i];
        bool linked = i >= c->n - c->nlinked; /* the policy changed whether it may see n */

        if (c->type == NM_MSG_DELTA && (n->removed || n->expired))
            removed[m.nremove++] = n->id;
        else if (vis[i])
            peers[m.npeers++] = n;
        else if (c->type == NM_MSG_DELTA && linked)
            removed[m.nremove++] = n->id; /* it may have been visible before */
        /* else invisible before and after: whether it may be seen changes only by the policy,
         * which says so with a link */
    }
    if (c->type == NM_MSG_FULL || c->self->changed_at > p->since || c->filter_changed)
        m.self = c->self;
    if (c->type == NM_MSG_DELTA && !m.self && !m.npeers && !m.nremove) {
        *empty = true;
        goto out;
    }
    m.peers = peers;
    m.remove = removed;
    if (!c->filter && !(c->filter = filter_compute(srv, o, p, c)))
        goto out;
    m.filter = c->filter->text;
    /* Not cached: the quarantine is the policy's view at this message (a posture report ages),
     * and only a message that carries the recipient's own entry has it. */
    if (m.self && !(m.quarantine = qtext = policy_glue_quarantine(srv, p->org_id, p->machine_id)))
        goto out;
    out = nm_msg_render(&m, len);
out:
    free(qtext);
    if (!small) {
        free(peers);
        free(removed);
        free(vis);
    }
    return out;
}

static char *keepalive(const struct netmap_poll *p, size_t *len)
{
    struct nm_msg m = {.type = NM_MSG_KEEPALIVE, .machine_id = p->machine_id, .version = p->since,
                       .generated_at = server_now()};

    return nm_msg_render(&m, len);
}

int netmap_poll(struct server *srv, const struct netmap_poll *p, char **msg, size_t *len)
{
    struct netmap *nm = srv->netmap;
    struct nm_org *o = nm ? nm_org_find(nm, p->org_id) : NULL;
    struct timespec deadline;
    int64_t seen = p->since;
    bool holding = false, timed_out = false, woken = false;
    int ret = 0;

    *msg = NULL;
    if (!o)
        return -ENOENT;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += p->wait;
    for (;;) {
        struct nm_slot *me;
        struct nm_collected c;
        bool empty;

        pthread_rwlock_rdlock(&o->lock);
        me = nm_slot_find(o, p->machine_id);
        if (!me || me->node->removed) {
            pthread_rwlock_unlock(&o->lock);
            ret = -ENOENT;
            break;
        }
        /* Read before looking: a writer (or the shutdown) moves a word on after its change, so
         * a change after this point makes the sleep below return at once. */
        uint32_t word = atomic_load(&me->word), gen = atomic_load(&o->gen);
        int64_t acked = atomic_load(&me->acked);
        while (p->since > acked && p->since <= o->version &&
               !atomic_compare_exchange_weak(&me->acked, &acked, p->since))
            ;
        if (p->since == 0 || o->version > seen || p->since > o->version) {
            ret = nm_collect(o, me, p->since, &c);
            pthread_rwlock_unlock(&o->lock);
            if (ret < 0)
                break;
            seen = c.version;
            *msg = nm_answer(srv, o, p, &c, len, &empty);
            nm_collected_free(&c);
            if (woken)
                atomic_fetch_add(&nm->wakes[*msg || !empty ? 0 : 1], 1);
            woken = false;
            if (*msg || !empty) {
                ret = *msg ? 0 : -ENOMEM;
                goto out;
            }
            continue; /* nothing for this machine: wait for the next change */
        }
        if (woken && !timed_out && !atomic_load(&nm->stopping))
            atomic_fetch_add(&nm->wakes[1], 1); /* woken, and nothing moved on */
        woken = false;
        if (timed_out || atomic_load(&nm->stopping)) {
            pthread_rwlock_unlock(&o->lock);
            break;
        }
        if (!holding) {
            if (atomic_fetch_add(&nm->held, 1) + atomic_load(&nm->nstreams) >=
                srv->set.max_streams) {
                atomic_fetch_sub(&nm->held, 1);
                pthread_rwlock_unlock(&o->lock);
                ret = -EBUSY;
                break;
            }
            holding = true;
        }
        atomic_fetch_add(&me->nwaiting, 1); /* under the lock: keeps the slot alive */
        pthread_rwlock_unlock(&o->lock);
        if (!waiter_sleep(o, me, word, gen, &deadline))
            timed_out = true;
        woken = atomic_load(&me->word) != word || atomic_load(&o->gen) != gen; /* no time-out */
        atomic_fetch_sub(&me->nwaiting, 1); /* me is not touched after this */
    }
    if (ret == 0) {
        *msg = keepalive(p, len);
        ret = *msg ? 0 : -ENOMEM;
    }
out:
    if (holding)
        atomic_fetch_sub(&nm->held, 1);
    return ret;
}

void netmap_wake_counts(struct server *srv, uint64_t out[3])
{
    struct netmap *nm = srv ? srv->netmap : NULL;

    out[0] = nm ? atomic_load(&nm->wakes[0]) : 0;
    out[1] = nm ? atomic_load(&nm->wakes[1]) : 0;
    out[2] = nm ? (uint64_t)atomic_load(&nm->nstreams) : 0;
}

void netmap_streams_release(struct server *srv)
{
    struct netmap *nm = srv ? srv->netmap : NULL;

    if (!nm)
        return;
    atomic_store(&nm->stopping, true);
    nm_streams_close_all(nm);
    pthread_mutex_lock(&nm->orgs_lock);
    for (size_t i = 0; i < nm->norgs; i++)
        nm_waiters_wake(nm->orgs[i]);
    pthread_mutex_unlock(&nm->orgs_lock);
}
