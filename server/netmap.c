/* The in-memory netmap and its long-poll (see netmap.h).
 *
 * Locks, outermost first: nm->sync_lock (one applier of the change feed at a time), nm->orgs_lock
 * (the orgs array; an org, once created, lives until netmap_stop), org->lock (a read-write lock:
 * its version, slots and list). A poll read-locks org->lock only to read the state and take
 * references to immutable nodes; it renders, filters by policy and signs outside every lock, and
 * sleeps on its machine's slot word (futex). A change to an entry wakes every waiting poll of the
 * org; a policy change wakes only the machines whose filter or peers it changed. An API
 * request that makes a change holds that call until its own reply is written
 * (netmap_wakes_hold()): released first, 10,000 woken polls would take the cores from it and the
 * writer (a registration, say) would be answered only after them. A reply that takes longer
 * than NM_WAKE_HOLD_MS to write (a slow reader) does not hold the polls: the module's thread
 * wakes them at its next sweep. The sweep holds the wake-ups of what it applies the same way,
 * since what it finds is mostly an API write whose request is about to answer. */
#include "server/netmap.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/ctl/ctl_auth.h"
#include "common/log.h"
#include "server/db.h"
#include "server/netmap_msg.h"
#include "server/policy/compile.h"
#include "server/policy_glue.h"

/* A machine's filter as its maps carry it, computed once and shared by the messages that follow:
 * asking the policy takes its lock and builds a cJSON tree, which every message did before. It
 * stays valid while nothing may have changed it: every change to a filter reaches the netmap as
 * netmap_policy_changed() (policy_glue.h), which moves the slot's filter_at (or, for the whole
 * org, its reset_at) past the version the text was computed at; a change that leaves a machine's
 * filter alone leaves its text cached.
 * Without a lock of its own: polls read and replace a slot's pointer under the org's read lock
 * (atomically), and the reference a replaced text held goes to the org's retired list, dropped
 * only under the write lock, when no poll can be between loading the pointer and taking its
 * reference. */
struct nm_filter {
    atomic_int refs;
    int64_t at;                  /* org version read before the policy was asked */
    struct nm_filter *retired_next;
    char *text;                  /* compact JSON (owned), or "null" with no policy (allow all) */
};

/* A peer whose visibility to a machine the policy may have changed at version `at`: the
 * machine's next delta re-decides it (an upsert, or a remove). */
struct nm_link {
    int64_t peer, at;
};

#define NM_LINKS_MAX 512 /* more for one machine: its next map goes out whole */

struct nm_slot {                 /* one per machine id, live or tombstone (under org->lock) */
    int64_t id;
    struct nm_node *node;        /* owned reference */
    _Atomic(struct nm_filter *) filter; /* owned reference or NULL (see nm_filter) */
    /* The machine's own view, changed by the policy (under the write lock; read under the read
     * lock): */
    int64_t filter_at;           /* its filter changed: deltas since before carry self + filter */
    int64_t full_at;             /* polls older than this get a full map */
    struct nm_link *links;       /* peers to re-decide, unique, oldest first */
    size_t nlinks, caplinks;
    int64_t links_floor;         /* links up to here were dropped: older polls get a full map */
    _Atomic int64_t acked;       /* the newest version it polled with (it holds what came before) */
    /* Polls of this machine sleep on word (FUTEX_WAIT) while nwaiting counts them; a slot with
     * waiters is never freed. held: a wake-up of this slot waits for netmap_wakes_release(). */
    _Atomic uint32_t word;
    atomic_int nwaiting;
    atomic_bool held;
    struct nm_slot *hnext;       /* hash chain */
    struct nm_slot *prev, *next; /* list ordered by node->changed_at, oldest first */
};

#define NM_KEY_BUCKETS   65536
#define NM_NONCE_BUCKETS 65536

struct nm_key {                  /* a live machine's key (under nm->keys_lock) */
    uint8_t key[32];
    int64_t org_id, id;
    bool expired;
    struct nm_key *next;
};

struct nm_nonce {                /* an accepted map-poll nonce (under nm->nonce_lock) */
    int64_t id;
    uint8_t nonce[16];
    int64_t expires;
    struct nm_nonce *hnext, *qnext;
};

struct nm_org {
    int64_t id;
    struct netmap *nm;
    pthread_rwlock_t lock;       /* polls read, the change feed writes */
    _Atomic(struct nm_filter *) retired; /* replaced filters, dropped under the write lock */
    /* Moved on by a change every poll must look at (and at shutdown): polls sleep on it and on
     * their slot's word at once (futex_waitv), so one FUTEX_WAKE releases them all. */
    _Atomic uint32_t gen;
    /* A wake-up of every poll held by netmap_wakes_hold(): since when (CLOCK_MONOTONIC ms), 0 if
     * none; wake_some: the same for wake-ups of some slots (their `held` flags). */
    _Atomic int64_t wake_pending, wake_some;
    int64_t version;
    int64_t floor;               /* polls with since < floor get a full map */
    int64_t reset_at;            /* every machine's map goes out whole to polls older than this */
    char slug[SRV_MAX_SLUG_BYTES + 1];
    char *dns;                   /* rendered dns object */
    struct nm_slot **buckets;
    size_t nbuckets, nslots, ntomb;
    struct nm_slot *head, *tail;
};

struct netmap {
    struct server *srv;
    pthread_mutex_t sync_lock;
    int64_t last_seq;            /* last netmap_changes row applied (under sync_lock) */
    int64_t pruned_seq;          /* rows up to here deleted (under sync_lock) */
    int64_t base;                /* first version of this run */
    pthread_mutex_t orgs_lock;
    struct nm_org **orgs;
    size_t norgs, orgs_cap;
    atomic_int held;             /* polls waiting now */
    _Atomic uint64_t wakes[2];   /* woken polls: with a message, with nothing (metrics) */
    int64_t started;             /* unix seconds: nonces older than this are not in memory */
    pthread_mutex_t keys_lock;   /* protects keys[] (machine key -> machine) */
    struct nm_key **keys;        /* NM_KEY_BUCKETS chains */
    pthread_mutex_t nonce_lock;  /* protects the replay cache below */
    struct nm_nonce **nonces;    /* NM_NONCE_BUCKETS chains */
    struct nm_nonce *nonce_head, *nonce_tail; /* by arrival, i.e. by expiry */
    atomic_bool stopping;
    pthread_t thread;
    pthread_mutex_t tlock;
    pthread_cond_t twake;
    bool tstop;                  /* under tlock */
};

#define MACHINE_SELECT                                                                         \
    "SELECT m.id, m.org_id, m.name, m.tailnet_ip, m.wg_public_key, m.tags, m.online, "        \
    "coalesce(m.last_seen, 0), coalesce(m.expired_at, 0), coalesce(c.endpoints, '[]'), "     \
    "m.machine_key FROM machines m LEFT JOIN machine_control c ON c.machine_id = m.id "
static const char SQL_ONE[] = MACHINE_SELECT "WHERE m.id = ?";
static const char SQL_ORG_MACHINES[] = MACHINE_SELECT "WHERE m.org_id = ? ORDER BY m.id";
static const char SQL_ORGS[] = "SELECT id, slug FROM orgs ORDER BY id";
static const char SQL_SLUG[] = "SELECT slug FROM orgs WHERE id = ?";
static const char SQL_CHANGES[] =
    "SELECT seq, org_id, coalesce(machine_id, 0) FROM netmap_changes WHERE seq > ? "
    "ORDER BY seq LIMIT " "256";
static const char SQL_MAX_SEQ[] = "SELECT coalesce(max(seq), 0) FROM netmap_changes";
static const char SQL_PRUNE[] = "DELETE FROM netmap_changes WHERE seq <= ?";

_Static_assert(NM_SYNC_BATCH == 256, "SQL_CHANGES hard-codes the batch size");

static int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* --- one org's slots ---------------------------------------------------------------------- */

static size_t hash_id(int64_t id, size_t nbuckets)
{
    uint64_t x = (uint64_t)id * 0x9E3779B97F4A7C15ull;

    return (size_t)(x >> 32) & (nbuckets - 1);
}

static struct nm_slot *slot_find(const struct nm_org *o, int64_t id)
{
    struct nm_slot *s = o->nbuckets ? o->buckets[hash_id(id, o->nbuckets)] : NULL;

    while (s && s->id != id)
        s = s->hnext;
    return s;
}

static int buckets_grow(struct nm_org *o)
{
    size_t n = o->nbuckets ? o->nbuckets * 2 : 64;
    struct nm_slot **b = calloc(n, sizeof(*b));

    if (!b)
        return -ENOMEM;
    for (size_t i = 0; i < o->nbuckets; i++) {
        struct nm_slot *s = o->buckets[i], *next;

        for (; s; s = next) {
            size_t h = hash_id(s->id, n);

            next = s->hnext;
            s->hnext = b[h];
            b[h] = s;
        }
    }
    free(o->buckets);
    o->buckets = b;
    o->nbuckets = n;
    return 0;
}

static void list_unlink(struct nm_org *o, struct nm_slot *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        o->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        o->tail = s->prev;
    s->prev = s->next = NULL;
}

static void list_append(struct nm_org *o, struct nm_slot *s)
{
    s->prev = o->tail;
    s->next = NULL;
    if (o->tail)
        o->tail->next = s;
    else
        o->head = s;
    o->tail = s;
}

static char filter_null[] = "null";

static void filter_put(struct nm_filter *f)
{
    if (f && atomic_fetch_sub(&f->refs, 1) == 1) {
        if (f->text != filter_null)
            free(f->text);
        free(f);
    }
}

/* Under the write lock of o: no poll holds a retired filter's pointer without its reference. */
static void filters_retired_drop(struct nm_org *o)
{
    struct nm_filter *f = atomic_exchange(&o->retired, NULL), *next;

    for (; f; f = next) {
        next = f->retired_next;
        filter_put(f);
    }
}

static void slot_free(struct nm_org *o, struct nm_slot *s)
{
    struct nm_slot **pp = &o->buckets[hash_id(s->id, o->nbuckets)];

    while (*pp != s)
        pp = &(*pp)->hnext;
    *pp = s->hnext;
    list_unlink(o, s);
    if (s->node->removed)
        o->ntomb--;
    nm_node_put(s->node);
    filter_put(atomic_load(&s->filter)); /* under the write lock */
    free(s->links);
    free(s);
    o->nslots--;
}

static size_t key_hash(const uint8_t key[static 32])
{
    uint64_t x;

    memcpy(&x, key, sizeof(x)); /* Ed25519 public keys: uniformly spread already */
    return (size_t)(x & (NM_KEY_BUCKETS - 1));
}

/* Keeps nm->keys in step with a slot going from old (may be NULL) to node. */
static void keys_update(struct netmap *nm, int64_t org_id, const struct nm_node *old,
                        const struct nm_node *node)
{
    struct nm_key **pp, *k;

    pthread_mutex_lock(&nm->keys_lock);
    if (old && !old->removed) {
        for (pp = &nm->keys[key_hash(old->machine_key)]; *pp; pp = &(*pp)->next) {
            if ((*pp)->id == old->id) {
                k = *pp;
                *pp = k->next;
                free(k);
                break;
            }
        }
    }
    if (!node->removed && (k = calloc(1, sizeof(*k)))) {
        size_t h = key_hash(node->machine_key);

        memcpy(k->key, node->machine_key, 32);
        k->id = node->id;
        k->org_id = org_id;
        k->expired = node->expired;
        k->next = nm->keys[h];
        nm->keys[h] = k;
    }
    pthread_mutex_unlock(&nm->keys_lock);
}

/* Publishes node (takes the reference) as the entry of node->id at node->changed_at. */
static int slot_publish(struct nm_org *o, struct nm_node *node)
{
    struct nm_slot *s = slot_find(o, node->id);

    filters_retired_drop(o);

    keys_update(o->nm, o->id, s ? s->node : NULL, node);
    if (!s) {
        if (o->nslots + 1 > o->nbuckets * 2 && buckets_grow(o) < 0)
            goto enomem;
        s = calloc(1, sizeof(*s));
        if (!s)
            goto enomem;
        s->id = node->id;
        size_t h = hash_id(s->id, o->nbuckets);
        s->hnext = o->buckets[h];
        o->buckets[h] = s;
        o->nslots++;
    } else {
        list_unlink(o, s);
        if (s->node->removed)
            o->ntomb--;
        nm_node_put(s->node);
    }
    s->node = node;
    if (node->removed)
        o->ntomb++;
    list_append(o, s);
    return 0;
enomem:
    nm_node_put(node);
    return -ENOMEM;
}

/* Drops the oldest tombstones past the limit; polls older than the last dropped get full maps. */
static void tombstones_prune(struct nm_org *o)
{
    struct nm_slot *s = o->head, *next;

    if (o->ntomb <= NM_MAX_TOMBSTONES)
        return;
    for (; s && o->ntomb > NM_MAX_TOMBSTONES / 2; s = next) {
        next = s->next;
        if (!s->node->removed || atomic_load(&s->nwaiting))
            continue; /* a poll still sleeps on it: dropped at a later prune */
        if (s->node->changed_at > o->floor)
            o->floor = s->node->changed_at;
        slot_free(o, s);
    }
}

/* --- orgs --------------------------------------------------------------------------------- */

static struct nm_org *org_find(struct netmap *nm, int64_t id)
{
    struct nm_org *o = NULL;

    pthread_mutex_lock(&nm->orgs_lock);
    for (size_t i = 0; i < nm->norgs && !o; i++) {
        if (nm->orgs[i]->id == id)
            o = nm->orgs[i];
    }
    pthread_mutex_unlock(&nm->orgs_lock);
    return o;
}

static struct nm_org *org_add(struct netmap *nm, int64_t id, const char *slug)
{
    struct nm_org *o = org_find(nm, id);

    if (o)
        return o;
    o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    o->id = id;
    o->nm = nm;
    o->version = nm->base;
    o->floor = nm->base;
    snprintf(o->slug, sizeof(o->slug), "%s", slug);
    o->dns = nm_dns_render(o->slug, nm->srv->set.base_domain);
    if (!o->dns || buckets_grow(o) < 0) {
        free(o->dns);
        free(o);
        return NULL;
    }
    pthread_rwlock_init(&o->lock, NULL);
    pthread_mutex_lock(&nm->orgs_lock);
    if (nm->norgs == nm->orgs_cap) {
        size_t cap = nm->orgs_cap ? nm->orgs_cap * 2 : 16;
        struct nm_org **a = realloc(nm->orgs, cap * sizeof(*a));

        if (!a) {
            pthread_mutex_unlock(&nm->orgs_lock);
            pthread_rwlock_destroy(&o->lock);
            free(o->dns);
            free(o->buckets);
            free(o);
            return NULL;
        }
        nm->orgs = a;
        nm->orgs_cap = cap;
    }
    nm->orgs[nm->norgs++] = o;
    pthread_mutex_unlock(&nm->orgs_lock);
    return o;
}

static void org_free(struct nm_org *o)
{
    filters_retired_drop(o);
    while (o->head)
        slot_free(o, o->head);
    free(o->buckets);
    free(o->dns);
    pthread_rwlock_destroy(&o->lock);
    free(o);
}

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

/* Wakes the polls of o's slots: every one, or (some) those whose `held` flag is set. */
static void slots_wake(struct nm_org *o, bool some)
{
    if (!some) { /* one call for the herd (a wake per slot costs a syscall and a switch each) */
        atomic_fetch_add(&o->gen, 1);
        syscall(SYS_futex, &o->gen, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
        if (!atomic_load(&no_waitv))
            return;
    }
    pthread_rwlock_rdlock(&o->lock);
    for (struct nm_slot *s = o->head; s; s = s->next)
        if (!some || atomic_exchange(&s->held, false))
            slot_wake(s);
    pthread_rwlock_unlock(&o->lock);
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

static void waiters_wake(struct nm_org *o)
{
    waiters_wake_(o, false);
}

static void waiters_wake_some(struct nm_org *o)
{
    waiters_wake_(o, true);
}

void netmap_wakes_hold(void)
{
    wakes_held = true;
}

/* Makes the wake-ups held since before `before` (ms; INT64_MAX: all of them). */
static void waiters_wake_held(struct netmap *nm, int64_t before)
{
    for (size_t i = 0;; i++) {
        struct nm_org *o = NULL;

        pthread_mutex_lock(&nm->orgs_lock);
        if (i < nm->norgs)
            o = nm->orgs[i]; /* an org lives until netmap_stop */
        pthread_mutex_unlock(&nm->orgs_lock);
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

void netmap_wakes_release(struct server *srv)
{
    struct netmap *nm = srv ? srv->netmap : NULL;
    bool pending = wakes_pending;

    wakes_held = wakes_pending = false;
    if (pending && nm)
        waiters_wake_held(nm, INT64_MAX);
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

/* --- reading SQLite ----------------------------------------------------------------------- */

static struct nm_node *row_render(struct netmap *nm, sqlite3_stmt *st, const char *slug)
{
    struct nm_row r = {
        .id = sqlite3_column_int64(st, 0),
        .org_id = sqlite3_column_int64(st, 1),
        .name = (const char *)sqlite3_column_text(st, 2),
        .tailnet_ip = (const char *)sqlite3_column_text(st, 3),
        .wg_public_key = sqlite3_column_blob(st, 4),
        .tags = (const char *)sqlite3_column_text(st, 5),
        .online = sqlite3_column_int(st, 6) != 0,
        .last_seen = sqlite3_column_int64(st, 7),
        .expired_at = sqlite3_column_int64(st, 8),
        .endpoints = (const char *)sqlite3_column_text(st, 9),
        .ip6 = &nm->srv->set.ip6,
    };
    static const uint8_t zero[32];

    r.machine_key = sqlite3_column_blob(st, 10);
    if (sqlite3_column_bytes(st, 4) != 32)
        r.wg_public_key = zero;
    if (sqlite3_column_bytes(st, 10) != 32)
        r.machine_key = zero;
    if (!r.name || !r.tailnet_ip)
        return NULL;
    return nm_node_render(&r, slug, nm->srv->set.base_domain);
}

/* The current state of machine id: a rendered node, a tombstone when it is gone, NULL (ENOMEM
 * or a database error, logged). */
static struct nm_node *machine_load(struct netmap *nm, struct db_conn *c, int64_t id,
                                    const char *slug)
{
    sqlite3_stmt *st = db_stmt(c, SQL_ONE);
    struct nm_node *n = NULL;
    int rc;

    if (!st || db_bind_int64(st, 1, id) < 0)
        return NULL;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        n = row_render(nm, st, slug);
    else if (rc == SQLITE_DONE)
        n = nm_node_tombstone(id);
    else
        log_warn("netmap", "reading machine %" PRId64 ": %s", id, sqlite3_errstr(rc));
    sqlite3_reset(st);
    return n;
}

static int slug_load(struct db_conn *c, int64_t org_id, char *out, size_t size)
{
    sqlite3_stmt *st = db_stmt(c, SQL_SLUG);
    int rc, ret;

    if (!st || db_bind_int64(st, 1, org_id) < 0)
        return -EIO;
    rc = sqlite3_step(st);
    ret = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_rc_errno(rc);
    if (ret == 0)
        db_column_text_copy(st, 0, out, size);
    sqlite3_reset(st);
    return ret;
}

/* Renders every machine of org o into nodes[] (new references). */
static int org_machines_load(struct netmap *nm, struct db_conn *c, struct nm_org *o,
                             const char *slug, struct nm_node ***nodes, size_t *n)
{
    sqlite3_stmt *st = db_stmt(c, SQL_ORG_MACHINES);
    size_t cap = 0;
    int rc, ret = 0;

    *nodes = NULL;
    *n = 0;
    if (!st || db_bind_int64(st, 1, o->id) < 0)
        return -EIO;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct nm_node *node = row_render(nm, st, slug);

        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct nm_node **a = realloc(*nodes, ncap * sizeof(*a));

            if (!a) {
                nm_node_put(node);
                ret = -ENOMEM;
                break;
            }
            *nodes = a;
            cap = ncap;
        }
        if (!node) {
            ret = -ENOMEM;
            break;
        }
        (*nodes)[(*n)++] = node;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = db_rc_errno(rc);
    sqlite3_reset(st);
    return ret;
}

/* --- applying changes --------------------------------------------------------------------- */

static void nodes_put(struct nm_node **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        nm_node_put(v[i]);
    free(v);
}

/* The org's slug changed or the org went away: re-render every entry, and send every member a
 * full map (names and the dns object changed). */
static void org_reload(struct netmap *nm, struct db_conn *c, int64_t org_id)
{
    char slug[SRV_MAX_SLUG_BYTES + 1];
    struct nm_node **nodes = NULL;
    size_t n = 0;
    struct nm_org *o = org_find(nm, org_id);
    int ret = slug_load(c, org_id, slug, sizeof(slug));
    char *dns;

    if (!o)
        return; /* no map was ever asked of it: created on first use */
    if (ret == 0)
        ret = org_machines_load(nm, c, o, slug, &nodes, &n);
    dns = ret == 0 ? nm_dns_render(slug, nm->srv->set.base_domain) : NULL;
    if (ret == -ENOENT)
        ret = 0; /* deleted: every entry becomes a tombstone below */
    if (ret < 0 || (!dns && n)) {
        log_warn("netmap", "reloading org %" PRId64 " failed: %d", org_id, ret);
        nodes_put(nodes, n);
        free(dns);
        return;
    }
    pthread_rwlock_wrlock(&o->lock);
    int64_t v = ++o->version;
    size_t i = 0;
    /* Entries not in the reload are gone: tombstone them. */
    for (struct nm_slot *s = o->head, *next; s; s = next) {
        bool found = false;

        next = s->next;
        for (size_t j = 0; j < n && !found; j++)
            found = nodes[j]->id == s->id;
        if (!found && !s->node->removed) {
            struct nm_node *t = nm_node_tombstone(s->id);

            if (t) {
                t->changed_at = v;
                slot_publish(o, t);
            }
        }
    }
    for (; i < n; i++) {
        nodes[i]->changed_at = v;
        slot_publish(o, nodes[i]);
        nodes[i] = NULL;
    }
    if (dns) {
        free(o->dns);
        o->dns = dns;
        snprintf(o->slug, sizeof(o->slug), "%s", slug);
    }
    o->reset_at = v;
    tombstones_prune(o);
    pthread_rwlock_unlock(&o->lock);
    waiters_wake(o);
    free(nodes);
}

/* After machine id's entry changed: wakes the polls of the machines that may see it under the
 * policy (and its own), or every poll of the org (all, no policy, out of memory). Those it
 * leaves asleep are the ones whose next delta would carry nothing of it; a change of who may see
 * it reaches both sides as a policy link (netmap_policy_changed()). */
static void machine_wake(struct netmap *nm, struct nm_org *o, int64_t id, bool all)
{
    int64_t *ids = NULL;
    size_t n = 0;

    if (all || policy_glue_seers(nm->srv, o->id, id, &ids, &n) != 0) {
        waiters_wake(o);
        return;
    }
    pthread_rwlock_rdlock(&o->lock);
    for (size_t i = 0; i <= n; i++) {
        struct nm_slot *s = slot_find(o, i < n ? ids[i] : id);

        if (s)
            atomic_store(&s->held, true);
    }
    pthread_rwlock_unlock(&o->lock);
    free(ids);
    waiters_wake_some(o);
}

/* Loads one machine's current state and publishes it at a new version if it changed. */
static void machine_apply(struct netmap *nm, struct db_conn *c, int64_t org_id, int64_t id)
{
    char slug[SRV_MAX_SLUG_BYTES + 1];
    struct nm_org *o = org_find(nm, org_id);
    struct nm_node *node;

    if (!o) {
        if (slug_load(c, org_id, slug, sizeof(slug)) < 0)
            return; /* org gone (its own change row follows) */
        o = org_add(nm, org_id, slug);
        if (!o)
            return;
    }
    pthread_rwlock_rdlock(&o->lock);
    snprintf(slug, sizeof(slug), "%s", o->slug);
    pthread_rwlock_unlock(&o->lock);
    node = machine_load(nm, c, id, slug);
    if (!node)
        return;
    pthread_rwlock_wrlock(&o->lock);
    struct nm_slot *s = slot_find(o, id);
    if (s && nm_node_same(s->node, node)) {
        pthread_rwlock_unlock(&o->lock);
        nm_node_put(node);
        return;
    }
    if (!s && node->removed) {
        pthread_rwlock_unlock(&o->lock);
        nm_node_put(node); /* never seen: nothing to remove */
        return;
    }
    node->changed_at = ++o->version;
    /* a machine that leaves or expires: everyone who held it hears so */
    bool all = node->removed || node->expired || (s && s->node->expired);
    slot_publish(o, node);
    tombstones_prune(o);
    pthread_rwlock_unlock(&o->lock);
    machine_wake(nm, o, id, all);
}

struct change {
    int64_t seq, org_id, machine_id;
};

/* Reads up to NM_SYNC_BATCH rows after nm->last_seq. Returns the count or -errno. */
static int changes_read(struct netmap *nm, struct db_conn *c, struct change *out)
{
    sqlite3_stmt *st = db_stmt(c, SQL_CHANGES);
    int n = 0, rc;

    if (!st || db_bind_int64(st, 1, nm->last_seq) < 0)
        return -EIO;
    while (n < NM_SYNC_BATCH && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        out[n].seq = sqlite3_column_int64(st, 0);
        out[n].org_id = sqlite3_column_int64(st, 1);
        out[n].machine_id = sqlite3_column_int64(st, 2);
        n++;
    }
    sqlite3_reset(st);
    return n;
}

static void changes_prune(struct netmap *nm, struct db_conn *c)
{
    sqlite3_stmt *st;

    if (nm->last_seq - nm->pruned_seq < 1024)
        return;
    st = db_stmt(c, SQL_PRUNE);
    if (st && db_bind_int64(st, 1, nm->last_seq) == 0 && db_exec_stmt(st) == 0)
        nm->pruned_seq = nm->last_seq;
}

static void sync_locked(struct netmap *nm, struct db_conn *c)
{
    struct change batch[NM_SYNC_BATCH];
    int n;

    /* Bounded: a writer faster than us is caught up with at the next call. */
    for (int round = 0; round < 64; round++) {
        n = changes_read(nm, c, batch);
        if (n <= 0)
            break;
        for (int i = 0; i < n; i++) {
            bool dup = false;

            /* Several rows for one machine in a batch: apply once. */
            for (int j = i + 1; j < n && !dup; j++)
                dup = batch[j].org_id == batch[i].org_id &&
                      batch[j].machine_id == batch[i].machine_id;
            if (dup)
                continue;
            if (batch[i].machine_id)
                machine_apply(nm, c, batch[i].org_id, batch[i].machine_id);
            else
                org_reload(nm, c, batch[i].org_id);
        }
        nm->last_seq = batch[n - 1].seq;
        if (n < NM_SYNC_BATCH)
            break;
    }
    changes_prune(nm, c);
}

void netmap_sync(struct server *srv)
{
    struct netmap *nm = srv->netmap;
    struct db_conn *c;

    if (!nm)
        return;
    c = db_conn_get(srv->db);
    if (!c)
        return;
    pthread_mutex_lock(&nm->sync_lock);
    sync_locked(nm, c);
    pthread_mutex_unlock(&nm->sync_lock);
    db_conn_idle(c);
}

/* Under the write lock: `peer`'s visibility to s's machine is to be re-decided from version v. */
static void link_note(struct nm_slot *s, int64_t peer, int64_t v)
{
    int64_t acked = atomic_load(&s->acked);
    size_t drop = 0, j = 0;

    if (s->full_at == v)
        return; /* its whole map goes out anyway */
    /* what it already polled past is not needed again: older polls get a full map */
    while (drop < s->nlinks && s->links[drop].at <= acked)
        drop++;
    if (drop)
        s->links_floor = s->links[drop - 1].at;
    for (size_t i = drop; i < s->nlinks; i++)
        if (s->links[i].peer != peer)
            s->links[j++] = s->links[i];
    s->nlinks = j;
    if (s->nlinks == s->caplinks) {
        size_t nc = s->caplinks ? s->caplinks * 2 : 4;
        struct nm_link *nl = nc <= NM_LINKS_MAX ? realloc(s->links, nc * sizeof(*nl)) : NULL;

        if (!nl) {
            s->full_at = v;
            s->nlinks = 0;
            return;
        }
        s->links = nl;
        s->caplinks = nc;
    }
    s->links[s->nlinks++] = (struct nm_link){peer, v};
}

void netmap_policy_changed(struct server *srv, int64_t org_id, const int64_t *ids, size_t n,
                           const struct policy_link *links, size_t nlinks)
{
    struct netmap *nm = srv->netmap;
    struct nm_org *o = nm ? org_find(nm, org_id) : NULL;

    if (!o)
        return;
    pthread_rwlock_wrlock(&o->lock);
    int64_t v = ++o->version;
    if (!ids || n == 0) {
        o->reset_at = v;
        pthread_rwlock_unlock(&o->lock);
        waiters_wake(o);
        return;
    }
    /* Each named machine's next delta carries its own entry (with its quarantine) and filter;
     * each link, the peer re-decided on both sides. Only those machines' polls wake. */
    for (size_t i = 0; i < n; i++) {
        struct nm_slot *s = slot_find(o, ids[i]);

        if (s && !s->node->removed) {
            s->filter_at = v;
            atomic_store(&s->held, true);
        }
    }
    for (size_t i = 0; i < nlinks; i++) {
        struct nm_slot *a = slot_find(o, links[i].a), *b = slot_find(o, links[i].b);

        if (!a || !b || a->node->removed || b->node->removed)
            continue; /* a removal is news of its own */
        link_note(a, b->id, v);
        link_note(b, a->id, v);
        atomic_store(&a->held, true);
        atomic_store(&b->held, true);
    }
    pthread_rwlock_unlock(&o->lock);
    waiters_wake_some(o);
}

/* --- map-poll authentication from memory ------------------------------------------------ */

static size_t nonce_hash(int64_t id, const uint8_t nonce[static 16])
{
    uint64_t x;

    memcpy(&x, nonce, sizeof(x));
    return (size_t)((x ^ (uint64_t)id * 0x9E3779B97F4A7C15ull) & (NM_NONCE_BUCKETS - 1));
}

/* Records (id, nonce); -EEXIST if it was seen within the window. Entries leave in arrival order,
 * 2 windows after they came (a nonce is only valid while its timestamp is within one window). */
static int nonce_insert(struct netmap *nm, int64_t id, const uint8_t nonce[static 16], int64_t now)
{
    size_t h = nonce_hash(id, nonce);
    struct nm_nonce *e;
    int ret = 0;

    pthread_mutex_lock(&nm->nonce_lock);
    while (nm->nonce_head && nm->nonce_head->expires < now) {
        struct nm_nonce *old = nm->nonce_head, **pp;

        for (pp = &nm->nonces[nonce_hash(old->id, old->nonce)]; *pp != old; pp = &(*pp)->hnext)
            ;
        *pp = old->hnext;
        nm->nonce_head = old->qnext;
        if (!nm->nonce_head)
            nm->nonce_tail = NULL;
        free(old);
    }
    for (e = nm->nonces[h]; e && ret == 0; e = e->hnext) {
        if (e->id == id && memcmp(e->nonce, nonce, 16) == 0)
            ret = -EEXIST;
    }
    if (ret == 0 && !(e = calloc(1, sizeof(*e))))
        ret = -ENOMEM;
    if (ret == 0) {
        e->id = id;
        memcpy(e->nonce, nonce, 16);
        e->expires = now + 2 * CTL_AUTH_WINDOW_SECONDS + 1;
        e->hnext = nm->nonces[h];
        nm->nonces[h] = e;
        if (nm->nonce_tail)
            nm->nonce_tail->qnext = e;
        else
            nm->nonce_head = e;
        nm->nonce_tail = e;
    }
    pthread_mutex_unlock(&nm->nonce_lock);
    return ret;
}

int netmap_auth(struct server *srv, const char *header, const char *method, const char *target,
                const uint8_t *body, size_t body_len, int64_t *org_id, int64_t *machine_id)
{
    struct netmap *nm = srv->netmap;
    int64_t now = server_now();
    struct ctl_auth a;
    struct nm_key *k;
    bool found = false, expired = false;

    if (!nm || !header || !ctl_auth_header_parse(header, strlen(header), &a))
        return -EAGAIN;
    /* Nonces accepted before this run are only in SQLite: older requests take that path. */
    if (a.timestamp < nm->started)
        return -EAGAIN;
    pthread_mutex_lock(&nm->keys_lock);
    for (k = nm->keys[key_hash(a.machine_key)]; k && !found; k = k->next) {
        if (sodium_memcmp(k->key, a.machine_key, 32) == 0) {
            found = true;
            expired = k->expired;
            *org_id = k->org_id;
            *machine_id = k->id;
        }
    }
    pthread_mutex_unlock(&nm->keys_lock);
    if (!found || expired ||
        ctl_auth_verify(&a, method, target, body, body_len, now, CTL_AUTH_WINDOW_SECONDS) != 0)
        return -EAGAIN;
    return nonce_insert(nm, *machine_id, a.nonce, now);
}

/* --- the poll ----------------------------------------------------------------------------- */

#define NM_INLINE_NODES 8 /* a delta after one change: no allocation for its lists */

struct collected {
    enum nm_msg_type type;
    int64_t version;
    struct nm_node *self;
    struct nm_node **nodes; /* full: every live entry; delta: entries changed after since, then
                               the peers whose visibility the policy changed (the last nlinked) */
    size_t n, nlinked;
    bool filter_changed;          /* a delta that carries self and filter for the policy's sake */
    char *dns;
    struct nm_filter *filter;     /* reference to the recipient's cached filter, or NULL */
    struct nm_node *inline_nodes[NM_INLINE_NODES];
};

static void collected_free(struct collected *c)
{
    nm_node_put(c->self);
    for (size_t i = 0; i < c->n; i++)
        nm_node_put(c->nodes[i]);
    if (c->nodes != c->inline_nodes)
        free(c->nodes);
    free(c->dns);
    filter_put(c->filter);
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
    s = slot_find(o, machine_id);
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
    filter_put(f); /* not kept: nobody else has seen this reference */
}

/* The recipient's filter from the policy, as of c (a new reference), cached for the next
 * messages. NULL on ENOMEM. */
static struct nm_filter *filter_compute(struct server *srv, struct nm_org *o,
                                        const struct netmap_poll *p, const struct collected *c)
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
    f->text = text ? text : filter_null; /* kept as written: a server's is ~150 KB */
    filter_store(o, p->machine_id, f);
    return f;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* Under o->lock: references to what the answer needs. */
static int collect(struct nm_org *o, struct nm_slot *me, int64_t since, struct collected *c)
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
            collected_free(c);
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
            struct nm_slot *s = slot_find(o, lk[i]);

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
static char *answer(struct server *srv, struct nm_org *o, const struct netmap_poll *p,
                    struct collected *c, size_t *len, bool *empty)
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
    struct nm_org *o = nm ? org_find(nm, p->org_id) : NULL;
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
        struct collected c;
        bool empty;

        pthread_rwlock_rdlock(&o->lock);
        me = slot_find(o, p->machine_id);
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
            ret = collect(o, me, p->since, &c);
            pthread_rwlock_unlock(&o->lock);
            if (ret < 0)
                break;
            seen = c.version;
            *msg = answer(srv, o, p, &c, len, &empty);
            collected_free(&c);
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
            if (atomic_fetch_add(&nm->held, 1) >= srv->set.max_streams) {
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

void netmap_wake_counts(struct server *srv, uint64_t out[2])
{
    struct netmap *nm = srv ? srv->netmap : NULL;

    out[0] = nm ? atomic_load(&nm->wakes[0]) : 0;
    out[1] = nm ? atomic_load(&nm->wakes[1]) : 0;
}

void netmap_streams_release(struct server *srv)
{
    struct netmap *nm = srv ? srv->netmap : NULL;

    if (!nm)
        return;
    atomic_store(&nm->stopping, true);
    pthread_mutex_lock(&nm->orgs_lock);
    for (size_t i = 0; i < nm->norgs; i++)
        waiters_wake(nm->orgs[i]);
    pthread_mutex_unlock(&nm->orgs_lock);
}

/* --- module ------------------------------------------------------------------------------- */

/* Loads every org and machine in one read transaction, with the change-feed position. */
static int load_all(struct netmap *nm, struct db_conn *c)
{
    sqlite3_stmt *st;
    int ret = sqlite3_exec(db_conn_handle(c), "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
    int rc;

    if (ret < 0)
        return ret;
    st = db_stmt(c, SQL_MAX_SEQ);
    if (!st || sqlite3_step(st) != SQLITE_ROW) {
        ret = -EIO;
        goto out;
    }
    nm->last_seq = nm->pruned_seq = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    st = db_stmt(c, SQL_ORGS);
    while (st && ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!org_add(nm, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1)))
            ret = -ENOMEM;
    }
    if (st)
        sqlite3_reset(st);
    for (size_t i = 0; ret == 0 && i < nm->norgs; i++) {
        struct nm_org *o = nm->orgs[i];
        struct nm_node **nodes;
        size_t n;

        ret = org_machines_load(nm, c, o, o->slug, &nodes, &n);
        for (size_t j = 0; j < n; j++) {
            nodes[j]->changed_at = o->version;
            if (ret == 0)
                ret = slot_publish(o, nodes[j]);
            else
                nm_node_put(nodes[j]);
        }
        free(nodes);
    }
out:
    sqlite3_exec(db_conn_handle(c), "COMMIT", NULL, NULL, NULL); /* ends the read transaction */
    db_conn_idle(c);
    return ret;
}

static void *sweeper(void *arg)
{
    struct netmap *nm = arg;

    pthread_mutex_lock(&nm->tlock);
    while (!nm->tstop) {
        struct timespec until;

        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += NM_SWEEP_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&nm->twake, &nm->tlock, &until);
        if (nm->tstop)
            break;
        pthread_mutex_unlock(&nm->tlock);
        /* The sweep often finds an API write before that request's own netmap_sync() does: it
         * holds the wake-up too, and the request releases it after its reply (or a later sweep
         * does, NM_WAKE_HOLD_MS on; writers outside the API wake the polls themselves). */
        wakes_held = true;
        netmap_sync(nm->srv);
        wakes_held = wakes_pending = false;
        waiters_wake_held(nm, mono_ms() - NM_WAKE_HOLD_MS + 1); /* a reply slow to write */
        pthread_mutex_lock(&nm->tlock);
    }
    pthread_mutex_unlock(&nm->tlock);
    return NULL;
}

static void netmap_free(struct netmap *nm)
{
    for (size_t i = 0; i < nm->norgs; i++)
        org_free(nm->orgs[i]);
    free(nm->orgs);
    for (size_t i = 0; nm->keys && i < NM_KEY_BUCKETS; i++) {
        for (struct nm_key *k = nm->keys[i], *next; k; k = next) {
            next = k->next;
            free(k);
        }
    }
    for (struct nm_nonce *e = nm->nonce_head, *next; e; e = next) {
        next = e->qnext;
        free(e);
    }
    free(nm->keys);
    free(nm->nonces);
    pthread_cond_destroy(&nm->twake);
    pthread_mutex_destroy(&nm->tlock);
    pthread_mutex_destroy(&nm->orgs_lock);
    pthread_mutex_destroy(&nm->sync_lock);
    pthread_mutex_destroy(&nm->keys_lock);
    pthread_mutex_destroy(&nm->nonce_lock);
    free(nm);
}

int netmap_start(struct server *srv)
{
    struct netmap *nm = calloc(1, sizeof(*nm));
    struct db_conn *c = db_conn_get(srv->db);
    int ret;

    if (!nm)
        return -ENOMEM;
    if (!c) {
        free(nm);
        return -EIO;
    }
    nm->srv = srv;
    nm->base = now_us();
    nm->started = server_now();
    nm->keys = calloc(NM_KEY_BUCKETS, sizeof(*nm->keys));
    nm->nonces = calloc(NM_NONCE_BUCKETS, sizeof(*nm->nonces));
    pthread_mutex_init(&nm->keys_lock, NULL);
    pthread_mutex_init(&nm->nonce_lock, NULL);
    pthread_mutex_init(&nm->sync_lock, NULL);
    pthread_mutex_init(&nm->orgs_lock, NULL);
    pthread_mutex_init(&nm->tlock, NULL);
    pthread_cond_init(&nm->twake, NULL);
    ret = nm->keys && nm->nonces ? load_all(nm, c) : -ENOMEM;
    if (ret == 0) {
        srv->netmap = nm;
        ret = -pthread_create(&nm->thread, NULL, sweeper, nm);
    }
    if (ret < 0) {
        log_error("netmap", "start failed: %d", ret);
        srv->netmap = NULL;
        netmap_free(nm);
        return ret;
    }
    log_info("netmap", "%zu org(s) loaded at version %" PRId64 "; at most %lld held streams",
             nm->norgs, nm->base, (long long)srv->set.max_streams);
    return 0;
}

void netmap_stop(struct server *srv)
{
    struct netmap *nm = srv->netmap;

    if (!nm)
        return;
    netmap_streams_release(srv);
    pthread_mutex_lock(&nm->tlock);
    nm->tstop = true;
    pthread_cond_signal(&nm->twake);
    pthread_mutex_unlock(&nm->tlock);
    pthread_join(nm->thread, NULL);
    srv->netmap = NULL;
    netmap_free(nm);
}
