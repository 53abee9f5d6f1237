/* The policy runtime (policy_rt.h) and the answers it gives the netmap (policy_glue.h).
 *
 * Per org (struct porg, created on first use):
 *   - no policy stored     -> allow all: filter NULL, everyone visible;
 *   - policy in force      -> its engine answers; a machine the engine does not know gets an empty
 *                             filter and no peers;
 *   - policy that cannot be loaded (e.g. a time zone missing on this system) -> fail closed:
 *                             empty filters, nobody visible, logged.
 * Timer (POLICY_RT_TICK_MS): expires JIT grants whose time is up, then recompiles every engine
 * whose next time boundary has passed. */
#include "server/policy_glue.h"
#include "server/policy_glue_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "server/audit.h"
#include "server/db.h"
#include "server/db_policy.h"
#include "server/jit.h"
#include "server/policy/geo.h"
#include "server/policy_fleet.h"
#include "server/policy_rt.h"
#include "server/realtime.h"

/* The machines whose maps must be recomputed, gathered under the lock and sent after it. */
struct notice {
    int64_t org_id;
    bool all;
    int64_t *ids;
    size_t n, cap;
    struct policy_link *links; /* peer links made or broken (policy_engine_links()) */
    size_t nlinks, caplinks;
    int64_t *flips;            /* machines whose quarantine flipped: the dashboard hears of them */
    size_t nflips, capflips;
};

/* Until the netmap module links in, its hook is a no-op (a strong definition replaces this). */
__attribute__((weak)) void netmap_policy_changed(struct server *srv, int64_t org_id,
                                                 const int64_t *ids, size_t n,
                                                 const struct policy_link *links, size_t nlinks)
{
    (void)srv, (void)org_id, (void)ids, (void)n, (void)links, (void)nlinks;
}

/* Appends n items of sz bytes to the array *v (*len used, *cap allocated). On ENOMEM the list
 * is incomplete: the whole org is recomputed rather than a change missed. */
static void notice_append(struct notice *nt, void **v, size_t *len, size_t *cap, const void *src,
                          size_t n, size_t sz)
{
    if (nt->all || n == 0)
        return;
    if (*len + n > *cap) {
        size_t nc = (*len + n) * 2;
        void *p = realloc(*v, nc * sz);
        if (!p) {
            nt->all = true;
            return;
        }
        *v = p;
        *cap = nc;
    }
    memcpy((char *)*v + *len * sz, src, n * sz);
    *len += n;
}

static void notice_push(struct notice *nt, const int64_t *c, size_t n)
{
    void *v = nt->ids;
    notice_append(nt, &v, &nt->n, &nt->cap, c, n, sizeof(*c));
    nt->ids = v;
}

static void notice_add(struct notice *nt, struct policy_engine *e)
{
    size_t n, nl;
    /* a machine whose peers alone changed hears of it through the links */
    const int64_t *c = policy_engine_filters_changed(e, &n);
    const struct policy_link *l = policy_engine_links(e, &nl);
    notice_push(nt, c, n);
    if (nl && (!l || nt->nlinks + nl > POLICY_LINKS_MAX))
        nt->all = true; /* not all listed: every map may change */
    void *v = nt->links;
    notice_append(nt, &v, &nt->nlinks, &nt->caplinks, l, nl, sizeof(*l));
    nt->links = v;
}

/* --- quarantine ------------------------------------------------------------------------------
 * A machine is quarantined when a rule of the policy in force needs a posture and the machine's
 * report is missing or older than the smallest maxReportAge of those postures: it keeps its
 * address, every rule needing a posture denies it (eval.c). */

bool pg_posture_used(const struct policy *p, size_t ps)
{
    for (size_t r = 0; r < p->nrules; r++)
        for (size_t i = 0; i < p->rules[r].npostures; i++)
            if (p->rules[r].postures[i] == (int)ps)
                return true;
    return false;
}

bool pg_quarantine_of(const struct policy *p, const struct fleet_machine *m, int64_t now,
                          char *reason, size_t rl)
{
    int64_t limit = INT64_MAX;
    for (size_t ps = 0; ps < p->npostures; ps++)
        if (p->postures[ps].max_age < limit && pg_posture_used(p, ps))
            limit = p->postures[ps].max_age;
    if (reason)
        reason[0] = 0;
    if (limit == INT64_MAX)
        return false;
    if (!m->posture.present) {
        if (reason)
            snprintf(reason, rl, "no posture report received yet");
        return true;
    }
    int64_t age = now - m->posture.reported_at;
    if (age <= limit)
        return false;
    if (reason)
        snprintf(reason, rl, "posture report stale (last %" PRId64 " s ago, limit %" PRId64 " s)",
                 age, limit);
    return true;
}

static bool q_find(const struct porg *o, int64_t id, size_t *at)
{
    for (size_t i = 0; i < o->nq; i++)
        if (o->qids[i] == id) {
            *at = i;
            return true;
        }
    return false;
}

/* Records machine id's quarantine state; a flip goes into nt (its own map says it). */
static void q_note(struct porg *o, struct notice *nt, int64_t id, bool q)
{
    size_t at;
    bool was = q_find(o, id, &at);
    if (was == q)
        return;
    if (was) {
        o->qids[at] = o->qids[--o->nq];
    } else {
        if (o->nq == o->capq) {
            size_t nc = o->capq ? o->capq * 2 : 16;
            int64_t *np = realloc(o->qids, nc * sizeof(*np));
            if (!np)
                return; /* noted on a later change */
            o->qids = np;
            o->capq = nc;
        }
        o->qids[o->nq++] = id;
    }
    if (!nt)
        return;
    notice_push(nt, &id, 1);
    if (nt->nflips == nt->capflips) {
        size_t nc = nt->capflips ? nt->capflips * 2 : 8;
        int64_t *np = realloc(nt->flips, nc * sizeof(*np));
        if (!np)
            return; /* the dashboard shows it at its next load */
        nt->flips = np;
        nt->capflips = nc;
    }
    nt->flips[nt->nflips++] = id;
}

static void q_note_machine(struct porg *o, struct notice *nt, int64_t id, int64_t now)
{
    const struct fleet_machine *m = o->e && o->p ? policy_engine_machine(o->e, id) : NULL;
    q_note(o, nt, id, m && pg_quarantine_of(o->p, m, now, NULL, 0));
}

static void q_note_all(struct porg *o, struct notice *nt, const struct fleet *f, int64_t now)
{
    for (size_t i = 0; f && o->p && i < f->nmachines; i++)
        q_note(o, nt, f->machines[i].id, pg_quarantine_of(o->p, &f->machines[i], now, NULL, 0));
}

static void notice_send(struct server *srv, struct notice *nt)
{
    if (nt->all)
        netmap_policy_changed(srv, nt->org_id, NULL, 0, NULL, 0);
    else if (nt->n)
        netmap_policy_changed(srv, nt->org_id, nt->ids, nt->n, nt->links, nt->nlinks);
    struct db_conn *db = nt->nflips ? db_conn_get(srv->db) : NULL;
    for (size_t i = 0; db && i < nt->nflips; i++)
        realtime_machine_changed(srv, db, nt->org_id, nt->flips[i]);
    free(nt->ids);
    free(nt->links);
    free(nt->flips);
    nt->ids = nt->flips = NULL;
    nt->links = NULL;
    nt->n = nt->cap = nt->nflips = nt->capflips = nt->nlinks = nt->caplinks = 0;
}

static bool seen_get(void *arg, int64_t id, uint8_t *family, uint8_t addr[16])
{
    struct policy_rt *rt = arg;
    for (size_t i = 0; i < rt->nseen; i++)
        if (rt->seen[i].id == id) {
            *family = rt->seen[i].family;
            memcpy(addr, rt->seen[i].addr, 16);
            return true;
        }
    return false;
}

static void seen_set(struct policy_rt *rt, int64_t id, const char *text)
{
    struct seen s = {.id = id};
    if (inet_pton(AF_INET, text, s.addr) == 1)
        s.family = 4;
    else if (inet_pton(AF_INET6, text, s.addr) == 1)
        s.family = 6;
    else
        return;
    for (size_t i = 0; i < rt->nseen; i++)
        if (rt->seen[i].id == id) {
            rt->seen[i] = s;
            return;
        }
    if (rt->nseen == rt->capseen) {
        size_t nc = rt->capseen ? rt->capseen * 2 : 64;
        struct seen *p = realloc(rt->seen, nc * sizeof(*p));
        if (!p)
            return; /* geo then treats the machine as "location unknown" */
        rt->seen = p;
        rt->capseen = nc;
    }
    rt->seen[rt->nseen++] = s;
}

static void seen_del(struct policy_rt *rt, int64_t id)
{
    for (size_t i = 0; i < rt->nseen; i++)
        if (rt->seen[i].id == id) {
            rt->seen[i] = rt->seen[--rt->nseen];
            return;
        }
}

static void porg_clear(struct porg *o)
{
    policy_engine_free(o->e);
    policy_free(o->p);
    free(o->qids);
    o->qids = NULL;
    o->nq = o->capq = 0;
    o->e = NULL;
    o->p = NULL;
    o->has_policy = false;
    o->version = 0;
}

/* (Re)builds o from the database: the policy in force and a fresh engine over the fleet. */
static int porg_load(struct policy_rt *rt, struct db_conn *db, struct porg *o)
{
    struct policy_version v;
    struct policy_error err;
    struct fleet_store fs = {.ip6 = &rt->srv->set.ip6};
    int64_t now = server_now();
    int ret = db_policy_current(db, o->org_id, &v);
    porg_clear(o);
    if (ret == -ENOENT)
        return 0;
    if (ret)
        return ret;
    o->has_policy = true;
    o->version = v.version;
    ret = policy_parse(v.text, strlen(v.text), &o->p, &err);
    free(v.text);
    if (ret) {
        log_error("policy", "org %" PRId64 ": policy version %" PRId64 " does not load (%s); "
                  "failing closed", o->org_id, o->version, err.msg);
        return 0;
    }
    ret = pfleet_load(db, o->org_id, now, seen_get, rt, &fs);
    if (!ret)
        ret = policy_engine_new(&o->e, o->p, rt->geo, &fs.f, now);
    if (!ret)
        q_note_all(o, NULL, &fs.f, now); /* whoever loads the org sends whole maps */
    pfleet_free(&fs);
    if (ret)
        log_error("policy", "org %" PRId64 ": engine build failed: %d; failing closed", o->org_id, ret);
    return 0;
}

/* An incremental change to po's engine failed (ret != 0; 0: nothing to do): its results are
 * incomplete, so the org is rebuilt from the database and every map recomputed. */
static void rebuild_on_error(struct policy_rt *rt, struct db_conn *db, struct porg *po,
                             struct notice *nt, int ret, const char *what)
{
    if (!ret)
        return;
    log_warn("policy", "org %" PRId64 ": %s update failed (%d); rebuilding", po->org_id, what, ret);
    porg_load(rt, db, po);
    nt->all = true;
}

/* After a direct engine change (ret): the nodes it changed join nt; -ENOENT (no such machine or
 * grant) changed nothing; any other failure left the engine's results incomplete (maybe a grant
 * or a removed machine still allowed), so the org is rebuilt, or without a database connection
 * fails closed until the next event rebuilds it. */
static void engine_changed(struct policy_rt *rt, struct porg *po, struct notice *nt, int ret,
                           const char *what)
{
    struct db_conn *db;
    if (!ret) {
        notice_add(nt, po->e);
        return;
    }
    if (ret == -ENOENT)
        return;
    if ((db = db_conn_get(rt->srv->db))) {
        rebuild_on_error(rt, db, po, nt, ret, what);
        return;
    }
    log_error("policy", "org %" PRId64 ": %s update failed (%d) and no database connection to "
              "rebuild; failing closed", po->org_id, what, ret);
    policy_engine_free(po->e);
    po->e = NULL;
    nt->all = true;
}

/* Puts into po's engine what pfleet_machine() or pfleet_user() (its result: ret) read into f: the
 * user and the machine it holds, or removes machine_id (0: none asked for) when f lacks it. The
 * nodes that changed join nt; on any failure the org is rebuilt (rebuild_on_error). */
static void engine_update(struct policy_rt *rt, struct db_conn *db, struct porg *po,
                          struct notice *nt, int ret, const struct fleet *f, int64_t machine_id,
                          const char *what)
{
    if (!ret && machine_id && f->nmachines == 0) {
        ret = policy_engine_machine_remove(po->e, machine_id);
        if (!ret)
            notice_add(nt, po->e);
        ret = ret == -ENOENT ? 0 : ret;
    }
    if (!ret && f->nusers && !(ret = policy_engine_user_upsert(po->e, &f->users[0])))
        notice_add(nt, po->e);
    if (!ret && f->nmachines && !(ret = policy_engine_machine_upsert(po->e, &f->machines[0])))
        notice_add(nt, po->e);
    if (!ret && f->nmachines)
        q_note_machine(po, nt, f->machines[0].id, server_now());
    rebuild_on_error(rt, db, po, nt, ret, what);
}

/* The org's state, loaded on first use. NULL on a database error (callers fail closed). */
struct porg *pg_porg_get(struct policy_rt *rt, int64_t org_id, bool *fresh)
{
    *fresh = false;
    for (struct porg *o = rt->orgs; o; o = o->next)
        if (o->org_id == org_id)
            return o;
    struct db_conn *db = db_conn_get(rt->srv->db);
    struct porg *o = calloc(1, sizeof(*o));
    if (!db || !o) {
        free(o);
        return NULL;
    }
    o->org_id = org_id;
    if (porg_load(rt, db, o)) {
        porg_clear(o);
        free(o);
        return NULL;
    }
    o->next = rt->orgs;
    rt->orgs = o;
    *fresh = true;
    return o;
}

static struct porg *porg_find(struct policy_rt *rt, int64_t org_id)
{
    for (struct porg *o = rt->orgs; o; o = o->next)
        if (o->org_id == org_id)
            return o;
    return NULL;
}

/* Takes rt->lock to read org_id's state: shared when the org is loaded already, else exclusive
 * (it is loaded here). Returns it (NULL: could not be loaded); pthread_rwlock_unlock() after. */
struct porg *pg_porg_read(struct policy_rt *rt, int64_t org_id)
{
    bool fresh;
    pthread_rwlock_rdlock(&rt->lock);
    struct porg *po = porg_find(rt, org_id);
    if (po)
        return po;
    pthread_rwlock_unlock(&rt->lock);
    pthread_rwlock_wrlock(&rt->lock);
    return pg_porg_get(rt, org_id, &fresh);
}

int policy_glue_node_filter(struct server *srv, int64_t org_id, int64_t machine_id, char **out)
{
    struct policy_rt *rt = srv->policy;
    int ret = 0;
    *out = NULL;
    if (!rt)
        return 0;
    struct porg *po = pg_porg_read(rt, org_id);
    if (!po) {
        ret = -EIO; /* the org could not be loaded (database): an error, so nothing caches it */
    } else if (po->has_policy) {
        const struct policy_node *n = po->e ? policy_engine_node(po->e, machine_id) : NULL;
        /* written straight from the entries: thousands for a server, at every change of them */
        ret = filter_json_write(n ? n->entries : NULL, n ? n->nentries : 0, out);
    }
    pthread_rwlock_unlock(&rt->lock);
    return ret;
}

static bool peer_of(const struct policy_node *n, int64_t id)
{
    return policy_node_has_peer(n, id);
}

void policy_glue_visible_many(struct server *srv, int64_t org_id, int64_t viewer,
                              const int64_t *ids, size_t n, bool *out)
{
    struct policy_rt *rt = srv->policy;
    struct porg *po = rt ? pg_porg_read(rt, org_id) : NULL;
    const struct policy_node *me = po && po->e ? policy_engine_node(po->e, viewer) : NULL;
    for (size_t i = 0; i < n; i++)
        out[i] = !rt || (po && !po->has_policy) ||
                 (po && po->e &&
                  /* either list says it (peers are symmetric); the node's first: after a
                   * change, one node's list is asked for by every viewer and stays cached */
                  (peer_of(policy_engine_node(po->e, ids[i]), viewer) || peer_of(me, ids[i])));
    if (rt)
        pthread_rwlock_unlock(&rt->lock);
}

bool policy_glue_visible(struct server *srv, int64_t org_id, int64_t a, int64_t b)
{
    bool vis;
    policy_glue_visible_many(srv, org_id, b, &a, 1, &vis);
    return vis;
}

int policy_glue_seers(struct server *srv, int64_t org_id, int64_t id, int64_t **out, size_t *n)
{
    struct policy_rt *rt = srv->policy;
    int ret = 0;
    *out = NULL;
    *n = 0;
    if (!rt)
        return 1;
    struct porg *po = pg_porg_read(rt, org_id);
    if (!po || !po->has_policy)
        ret = 1;
    else if (po->e && (ret = policy_engine_seers(po->e, id, out, n)) == -ENOENT)
        ret = 0; /* unknown to the policy: nobody sees it (nor without an engine: fail closed) */
    pthread_rwlock_unlock(&rt->lock);
    return ret;
}

void policy_rt_machine_changed(struct server *srv, int64_t org_id, int64_t machine_id,
                               const char *source_addr)
{
    struct policy_rt *rt = srv->policy;
    struct notice nt = {.org_id = org_id};
    struct fleet_store fs = {.ip6 = &srv->set.ip6};
    if (!rt)
        return;
    pthread_rwlock_wrlock(&rt->lock);
    if (source_addr)
        seen_set(rt, machine_id, source_addr);
    struct porg *po = porg_find(rt, org_id);
    struct db_conn *db = db_conn_get(srv->db);
    if (po && po->e && db) {
        int ret = pfleet_machine(db, org_id, machine_id, seen_get, rt, &fs);
        engine_update(rt, db, po, &nt, ret, &fs.f, machine_id, "machine");
    }
    pfleet_free(&fs);
    pthread_rwlock_unlock(&rt->lock);
    notice_send(srv, &nt);
}

/* A user's OIDC groups (or email) may have changed: the engine re-reads the user, and
 * recompiles what depends on them only if something it reads differs. */
void policy_rt_user_changed(struct server *srv, int64_t org_id, int64_t user_id)
{
    struct policy_rt *rt = srv->policy;
    struct notice nt = {.org_id = org_id};
    struct fleet_store fs = {0};
    if (!rt)
        return;
    pthread_rwlock_wrlock(&rt->lock);
    struct porg *po = porg_find(rt, org_id);
    struct db_conn *db = db_conn_get(srv->db);
    if (po && po->e && db) {
        int ret = pfleet_user(db, org_id, user_id, &fs);
        engine_update(rt, db, po, &nt, ret, &fs.f, 0, "user");
    }
    pfleet_free(&fs);
    pthread_rwlock_unlock(&rt->lock);
    notice_send(srv, &nt);
}

void policy_rt_machine_removed(struct server *srv, int64_t org_id, int64_t machine_id)
{
    struct policy_rt *rt = srv->policy;
    struct notice nt = {.org_id = org_id};
    if (!rt)
        return;
    pthread_rwlock_wrlock(&rt->lock);
    seen_del(rt, machine_id);
    struct porg *po = porg_find(rt, org_id);
    if (po && po->e)
        engine_changed(rt, po, &nt, policy_engine_machine_remove(po->e, machine_id), "machine removal");
    if (po)
        q_note(po, NULL, machine_id, false);
    pthread_rwlock_unlock(&rt->lock);
    notice_send(srv, &nt);
}

/* Under rt->lock: puts *np (version) in force in po's engine, incrementally; takes *np (NULL
 * after) when it does. A failure rebuilds the org from the database. */
static void policy_apply(struct policy_rt *rt, struct db_conn *db, struct porg *po,
                         struct policy **np, int64_t version, struct notice *nt)
{
    int ret = policy_engine_set_policy(po->e, *np);
    if (!ret) {
        policy_free(po->p);
        po->p = *np;
        *np = NULL;
        po->version = version;
        nt->all = false;
        notice_add(nt, po->e);
        q_note_all(po, nt, policy_engine_fleet(po->e), server_now());
    }
    rebuild_on_error(rt, db, po, nt, ret, "policy"); /* the engine may reference *np until here */
}

void policy_rt_policy_saved(struct server *srv, int64_t org_id, int64_t version,
                            struct policy **p)
{
    struct policy_rt *rt = srv->policy;
    struct notice nt = {.org_id = org_id, .all = true};
    bool fresh;
    if (!rt)
        return;
    pthread_rwlock_wrlock(&rt->lock);
    struct porg *po = pg_porg_get(rt, org_id, &fresh);
    struct db_conn *db = db_conn_get(srv->db);
    struct policy_version v;
    struct policy *np = NULL;
    struct policy_error err;
    if (po && !fresh && p && version <= po->version) {
        nt.all = false; /* a later save is in force already */
    } else if (po && !fresh && po->e && db && p) {
        policy_apply(rt, db, po, p, version, &nt); /* the text the API parsed: not again */
    } else if (po && !fresh && po->e && db && db_policy_current(db, org_id, &v) == 0) {
        /* incremental: only the nodes the edit affects */
        int ret = policy_parse(v.text, strlen(v.text), &np, &err);
        if (!ret)
            policy_apply(rt, db, po, &np, v.version, &nt);
        else
            rebuild_on_error(rt, db, po, &nt, ret, "policy");
        policy_free(np);
        free(v.text);
    } else if (po && !fresh && db) {
        porg_load(rt, db, po);
    }
    pthread_rwlock_unlock(&rt->lock);
    notice_send(srv, &nt);
}

void policy_rt_policy_changed(struct server *srv, int64_t org_id)
{
    policy_rt_policy_saved(srv, org_id, 0, NULL);
}

void policy_rt_grant_added(struct server *srv, const struct jit_row *r)
{
    struct policy_rt *rt = srv->policy;
    struct notice nt = {.org_id = r->org_id};
    struct fleet_grant g = {.id = r->id, .requester = r->requester_id,
                            .dst_machine = r->machine_id, .port = r->port, .proto = r->proto,
                            .expires_at = r->expires_at};
    if (!rt)
        return;
    pthread_rwlock_wrlock(&rt->lock);
    struct porg *po = porg_find(rt, r->org_id);
    if (po && po->e)
        engine_changed(rt, po, &nt, policy_engine_grant_add(po->e, &g), "grant");
    pthread_rwlock_unlock(&rt->lock);
    notice_send(srv, &nt);
}

void policy_rt_grant_removed(struct server *srv, int64_t org_id, int64_t grant_id)
{
    struct policy_rt *rt = srv->policy;
    struct notice nt = {.org_id = org_id};
    if (!rt)
        return;
    pthread_rwlock_wrlock(&rt->lock);
    struct porg *po = porg_find(rt, org_id);
    if (po && po->e)
        engine_changed(rt, po, &nt, policy_engine_grant_remove(po->e, grant_id), "grant removal");
    pthread_rwlock_unlock(&rt->lock);
    notice_send(srv, &nt);
}

int policy_rt_check(struct server *srv, struct db_conn *db, int64_t org_id, const struct policy *p,
                    int64_t now, struct policy_error *err)
{
    struct fleet_store fs = {.ip6 = &srv->set.ip6};
    struct policy_rt *rt = srv->policy;
    (void)rt;
    int ret = pfleet_load(db, org_id, now, NULL, NULL, &fs);
    if (!ret)
        ret = policy_fleet_check(p, &fs.f, err);
    if (!ret)
        ret = policy_tests_run(p, now, err);
    pfleet_free(&fs);
    return ret;
}

bool policy_rt_may_approve(struct server *srv, struct db_conn *db, int64_t org_id, int64_t user_id,
                           int64_t machine_id, uint16_t port, uint8_t proto)
{
    struct policy_rt *rt = srv->policy;
    struct fleet_store fs = {0};
    bool fresh, ok = false;
    if (!rt)
        return false;
    pthread_rwlock_wrlock(&rt->lock);
    struct porg *po = pg_porg_get(rt, org_id, &fresh);
    /* the fleet from the database: a member added since the engine was built counts too */
    if (po && po->p && pfleet_load(db, org_id, server_now(), NULL, NULL, &fs) == 0)
        ok = policy_jit_approver(po->p, &fs.f, user_id, machine_id, port, proto);
    pthread_rwlock_unlock(&rt->lock);
    pfleet_free(&fs);
    return ok;
}

/* --- timer ---------------------------------------------------------------------------------- */

struct due {
    struct jit_row *r;
    size_t n, cap;
};

static int due_one(const struct jit_row *r, void *arg)
{
    struct due *d = arg;
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 8;
        struct jit_row *p = realloc(d->r, nc * sizeof(*p));
        if (!p)
            return -ENOMEM;
        d->r = p;
        d->cap = nc;
    }
    d->r[d->n++] = *r;
    return 0;
}

void policy_rt_jit_event(struct server *srv, const char *event, const struct jit_row *r)
{
    if (srv->policy)
        jit_webhook_event(srv->policy->wh, event, r, server_now());
}

/* Grants whose time is up: marked expired, audited, removed from the engine. */
static void expire_grants(struct policy_rt *rt, struct db_conn *db, int64_t now)
{
    struct due d = {0};
    jit_db_due(db, now, due_one, &d);
    db_conn_idle(db);
    for (size_t i = 0; i < d.n; i++) {
        const struct jit_row *r = &d.r[i];
        char id[24], detail[160];
        if (jit_db_transition(db, r->org_id, r->id, "approved", "expired", 0, now))
            continue;
        snprintf(id, sizeof(id), "%" PRId64, r->id);
        snprintf(detail, sizeof(detail),
                 "{\"machine_id\":%" PRId64 ",\"port\":%u,\"requester_id\":%" PRId64
                 ",\"expires_at\":%" PRId64 "}",
                 r->machine_id, r->port, r->requester_id, r->expires_at);
        struct audit_event ev = {.org_id = r->org_id, .actor_type = "system",
                                 .action = "jit.expire", .target_type = "jit_request",
                                 .target_id = id, .detail_json = detail};
        audit_record(rt->srv, &ev);
        policy_rt_grant_removed(rt->srv, r->org_id, r->id);
        struct jit_row done = *r;
        snprintf(done.state, sizeof(done.state), "expired");
        jit_webhook_event(rt->wh, "jit.expire", &done, now);
        realtime_notice(rt->srv, r->org_id, "jit", "expired", r->id); /* JIT page countdowns */
    }
    free(d.r);
}

static void tick(struct policy_rt *rt)
{
    int64_t now = server_now();
    struct db_conn *db = db_conn_get(rt->srv->db);
    if (db) {
        expire_grants(rt, db, now);
        db_conn_idle(db);
    }
    size_t norgs = 0, k = 0;
    pthread_rwlock_wrlock(&rt->lock);
    for (struct porg *o = rt->orgs; o; o = o->next)
        norgs++;
    struct notice *nts = calloc(norgs + 1, sizeof(*nts));
    for (struct porg *o = rt->orgs; o && nts; o = o->next) {
        if (!o->e || policy_engine_next_boundary(o->e) > now)
            continue;
        nts[k].org_id = o->org_id;
        if (policy_engine_set_now(o->e, now) == 0) {
            notice_add(&nts[k], o->e);
            q_note_all(o, &nts[k], policy_engine_fleet(o->e), now);
        } else if (db) {
            porg_load(rt, db, o);
            nts[k].all = true;
        }
        k++;
    }
    pthread_rwlock_unlock(&rt->lock);
    for (size_t i = 0; i < k; i++)
        notice_send(rt->srv, &nts[i]);
    free(nts);
}

static void *timer_main(void *arg)
{
    struct policy_rt *rt = arg;
    pthread_mutex_lock(&rt->tlock);
    while (!rt->stop) {
        pthread_mutex_unlock(&rt->tlock);
        tick(rt);
        pthread_mutex_lock(&rt->tlock);
        struct timespec dl;
        clock_gettime(CLOCK_MONOTONIC, &dl);
        dl.tv_nsec += POLICY_RT_TICK_MS * 1000000L;
        dl.tv_sec += dl.tv_nsec / 1000000000L;
        dl.tv_nsec %= 1000000000L;
        while (!rt->stop && pthread_cond_timedwait(&rt->wake, &rt->tlock, &dl) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&rt->tlock);
    return NULL;
}

int policy_rt_start(struct server *srv)
{
    struct policy_error err;
    pthread_condattr_t ca;
    struct policy_rt *rt = calloc(1, sizeof(*rt));
    int ret;
    if (!rt)
        return -ENOMEM;
    rt->srv = srv;
    if (srv->set.geo_db[0]) {
        ret = policy_geo_load(srv->set.geo_db, &rt->geo, &err);
        if (ret) {
            log_error("policy", "geo database %s: %s", srv->set.geo_db,
                      ret == -ENOENT ? "cannot open" : ret == -EINVAL ? err.msg : "load failed");
            free(rt);
            return ret;
        }
    }
    ret = jit_webhook_start(srv->set.jit_webhook, &rt->wh);
    if (ret) {
        policy_geo_free(rt->geo);
        free(rt);
        return ret;
    }
    /* a change waits for the readers in flight, not for every poll a burst wakes after it */
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&rt->lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&rt->tlock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&rt->wake, &ca);
    pthread_condattr_destroy(&ca);
    srv->policy = rt;
    ret = -pthread_create(&rt->thread, NULL, timer_main, rt);
    if (ret) {
        srv->policy = NULL;
        pthread_cond_destroy(&rt->wake);
        pthread_mutex_destroy(&rt->tlock);
        pthread_rwlock_destroy(&rt->lock);
        jit_webhook_stop(rt->wh);
        policy_geo_free(rt->geo);
        free(rt);
    }
    return ret;
}

void policy_rt_stop(struct server *srv)
{
    struct policy_rt *rt = srv->policy;
    if (!rt)
        return;
    pthread_mutex_lock(&rt->tlock);
    rt->stop = true;
    pthread_cond_signal(&rt->wake);
    pthread_mutex_unlock(&rt->tlock);
    pthread_join(rt->thread, NULL);
    srv->policy = NULL;
    while (rt->orgs) {
        struct porg *o = rt->orgs;
        rt->orgs = o->next;
        porg_clear(o);
        free(o);
    }
    free(rt->seen);
    jit_webhook_stop(rt->wh);
    policy_geo_free(rt->geo);
    pthread_cond_destroy(&rt->wake);
    pthread_mutex_destroy(&rt->tlock);
    pthread_rwlock_destroy(&rt->lock);
    free(rt);
}
