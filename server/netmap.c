/* The in-memory netmap: its state, the change feed that keeps it and the module (see netmap.h;
 * polls wait and are answered in netmap_poll.c, authenticated in netmap_auth.c).
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
#include "server/netmap_int.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "server/db.h"
#include "server/policy/compile.h"
#include "server/policy_glue.h"

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

struct nm_slot *nm_slot_find(const struct nm_org *o, int64_t id)
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

char nm_filter_null[] = "null"; /* the text of "no policy": never freed */

void nm_filter_put(struct nm_filter *f)
{
    if (f && atomic_fetch_sub(&f->refs, 1) == 1) {
        if (f->text != nm_filter_null)
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
        nm_filter_put(f);
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
    nm_filter_put(atomic_load(&s->filter)); /* under the write lock */
    free(s->links);
    free(s);
    o->nslots--;
}

/* Publishes node (takes the reference) as the entry of node->id at node->changed_at. */
static int slot_publish(struct nm_org *o, struct nm_node *node)
{
    struct nm_slot *s = nm_slot_find(o, node->id);

    filters_retired_drop(o);

    nm_keys_update(o->nm, o->id, s ? s->node : NULL, node);
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
        if (!s->node->removed || atomic_load(&s->nwaiting) || atomic_load(&s->stream))
            continue; /* a poll still sleeps on it: dropped at a later prune */
        if (s->node->changed_at > o->floor)
            o->floor = s->node->changed_at;
        slot_free(o, s);
    }
}

/* --- orgs --------------------------------------------------------------------------------- */

struct nm_org *nm_org_at(struct netmap *nm, size_t i)
{
    struct nm_org *o = NULL;

    pthread_mutex_lock(&nm->orgs_lock);
    if (i < nm->norgs)
        o = nm->orgs[i]; /* an org lives until netmap_stop */
    pthread_mutex_unlock(&nm->orgs_lock);
    return o;
}

struct nm_org *nm_org_find(struct netmap *nm, int64_t id)
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
    struct nm_org *o = nm_org_find(nm, id);

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
    struct nm_org *o = nm_org_find(nm, org_id);
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
    nm_waiters_wake(o);
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
        nm_waiters_wake(o);
        return;
    }
    pthread_rwlock_rdlock(&o->lock);
    for (size_t i = 0; i <= n; i++) {
        struct nm_slot *s = nm_slot_find(o, i < n ? ids[i] : id);

        if (s)
            atomic_store(&s->held, true);
    }
    pthread_rwlock_unlock(&o->lock);
    free(ids);
    nm_waiters_wake_some(o);
}

/* Loads one machine's current state and publishes it at a new version if it changed. */
static void machine_apply(struct netmap *nm, struct db_conn *c, int64_t org_id, int64_t id)
{
    char slug[SRV_MAX_SLUG_BYTES + 1];
    struct nm_org *o = nm_org_find(nm, org_id);
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
    struct nm_slot *s = nm_slot_find(o, id);
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
    struct nm_org *o = nm ? nm_org_find(nm, org_id) : NULL;

    if (!o)
        return;
    pthread_rwlock_wrlock(&o->lock);
    int64_t v = ++o->version;
    if (!ids || n == 0) {
        o->reset_at = v;
        pthread_rwlock_unlock(&o->lock);
        nm_waiters_wake(o);
        return;
    }
    /* Each named machine's next delta carries its own entry (with its quarantine) and filter;
     * each link, the peer re-decided on both sides. Only those machines' polls wake. */
    for (size_t i = 0; i < n; i++) {
        struct nm_slot *s = nm_slot_find(o, ids[i]);

        if (s && !s->node->removed) {
            s->filter_at = v;
            atomic_store(&s->held, true);
        }
    }
    for (size_t i = 0; i < nlinks; i++) {
        struct nm_slot *a = nm_slot_find(o, links[i].a), *b = nm_slot_find(o, links[i].b);

        if (!a || !b || a->node->removed || b->node->removed)
            continue; /* a removal is news of its own */
        link_note(a, b->id, v);
        link_note(b, a->id, v);
        atomic_store(&a->held, true);
        atomic_store(&b->held, true);
    }
    pthread_rwlock_unlock(&o->lock);
    nm_waiters_wake_some(o);
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
        netmap_wakes_hold();
        netmap_sync(nm->srv);
        nm_wakes_release_late(nm); /* and a reply slow to write */
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
    nm_auth_free(nm);
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
        ret = nm_pump_start(nm);
        if (ret == 0 && (ret = -pthread_create(&nm->thread, NULL, sweeper, nm)) < 0)
            nm_pump_stop(nm);
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
    nm_pump_stop(nm); /* after the HTTP server: no stream is left to write to */
    srv->netmap = NULL;
    netmap_free(nm);
}
