/* Internals of the policy runtime shared by its files: policy_glue.c (the runtime, the netmap's
 * questions, the timer) and policy_view.c (a machine's status and explain). Nothing else
 * includes it. */
#ifndef ZTNA_SERVER_POLICY_GLUE_INT_H
#define ZTNA_SERVER_POLICY_GLUE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/policy/compile.h"
#include "server/server.h"

struct porg {
    int64_t org_id;
    bool has_policy;
    int64_t version;
    struct policy *p;          /* NULL: none, or failed to load */
    struct policy_engine *e;   /* NULL: none, or failed to build (fail closed) */
    int64_t *qids;             /* machines last seen quarantined (their maps were told so) */
    size_t nq, capq;
    struct porg *next;
};

struct seen {
    int64_t id;
    uint8_t family, addr[16];
};

struct policy_rt {
    struct server *srv;
    /* Protects orgs and seen, and every engine. Written by changes; read (shared) by the maps'
     * questions (filter, visibility, quarantine), thousands at once after a change. */
    pthread_rwlock_t lock;
    struct porg *orgs;
    struct seen *seen;
    size_t nseen, capseen;
    struct policy_geo *geo;    /* set at start, read-only after */
    struct jit_webhook *wh;    /* NULL without --jit-webhook; thread-safe */
    pthread_t thread;
    pthread_mutex_t tlock;     /* protects stop */
    pthread_cond_t wake;
    bool stop;
};

/* Under rt->lock, written: the org's state, loaded on first use (*fresh then); NULL on a
 * database error (callers fail closed). pg_porg_read takes rt->lock itself, shared when the org
 * is loaded already, else exclusive (it is loaded then); the caller unlocks in either case. */
struct porg *pg_porg_get(struct policy_rt *rt, int64_t org_id, bool *fresh);
struct porg *pg_porg_read(struct policy_rt *rt, int64_t org_id);
/* Does a rule of p need posture ps? Is m quarantined under p at now (reason, if not NULL, gets
 * why in rl bytes)? */
bool pg_posture_used(const struct policy *p, size_t ps);
bool pg_quarantine_of(const struct policy *p, const struct fleet_machine *m, int64_t now,
                      char *reason, size_t rl);

#endif
