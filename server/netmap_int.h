/* Internals of the netmap shared by its files (see netmap.h): netmap.c (the state, the change
 * feed, the module), netmap_poll.c (waiting and answering polls), netmap_auth.c (authenticating
 * polls from memory). Nothing outside these files includes it. */
#ifndef ZTNA_SERVER_NETMAP_INT_H
#define ZTNA_SERVER_NETMAP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/netmap.h"
#include "server/netmap_msg.h"

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
    /* The machine's map stream (netmap_stream.c), or NULL: set and cleared by the stream's
     * handlers under the org's read lock; a slot with a stream is never freed. stream_dirty: a
     * change may have something for it (read and cleared by the pump). */
    _Atomic(struct nm_stream *) stream;
    atomic_bool stream_dirty;
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
    /* Map streams of the org's machines, and what the pump must look at: every stream (all),
     * or those whose slot is marked stream_dirty (some). */
    atomic_int nstreams;
    atomic_bool stream_all, stream_some;
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
    struct nm_pump *pump;        /* netmap_stream.c */
    atomic_int nstreams;         /* open map streams, all orgs */
};

/* netmap.c */
struct nm_slot *nm_slot_find(const struct nm_org *o, int64_t id);   /* under o->lock */
struct nm_org *nm_org_find(struct netmap *nm, int64_t id);          /* NULL: not loaded */
struct nm_org *nm_org_at(struct netmap *nm, size_t i);  /* the i-th org, NULL past the last */
void nm_filter_put(struct nm_filter *f);
extern char nm_filter_null[]; /* a filter text that is not freed: "null" (no policy) */

/* netmap_poll.c: wake-ups of the polls waiting on o (all, or the slots marked `held`), and of
 * those held since before `before` (CLOCK_MONOTONIC ms); the sweep's release of what it held. */
void nm_waiters_wake(struct nm_org *o);
void nm_waiters_wake_some(struct nm_org *o);
void nm_waiters_wake_held(struct netmap *nm, int64_t before);
void nm_wakes_release_late(struct netmap *nm);

/* netmap_poll.c: what a message to one machine needs, taken under o->lock by nm_collect() (0
 * or -ENOMEM; me is the recipient's slot, since the version it holds), then rendered outside the
 * lock by nm_answer(): the message (new, free()), or NULL with *empty when a delta has nothing
 * for this machine, or NULL on ENOMEM. */
#define NM_INLINE_NODES 8 /* a delta after one change: no allocation for its lists */

struct nm_collected {
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

int nm_collect(struct nm_org *o, struct nm_slot *me, int64_t since, struct nm_collected *c);
char *nm_answer(struct server *srv, struct nm_org *o, const struct netmap_poll *p,
                struct nm_collected *c, size_t *len, bool *empty);
void nm_collected_free(struct nm_collected *c);

/* netmap_stream.c: the pump that writes changes to map streams; nm_streams_kick() tells it o
 * has work (after stream_all/stream_some and the slots' stream_dirty were set). */
int nm_pump_start(struct netmap *nm);
void nm_pump_stop(struct netmap *nm);
void nm_streams_kick(struct nm_org *o);
void nm_streams_close_all(struct netmap *nm);

/* netmap_auth.c: the key index follows a slot going from old (may be NULL) to node; frees the
 * index and the replay cache. */
void nm_keys_update(struct netmap *nm, int64_t org_id, const struct nm_node *old,
                    const struct nm_node *node);
void nm_auth_free(struct netmap *nm);

#endif
