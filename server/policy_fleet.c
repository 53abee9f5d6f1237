/* The fleet model from the database (see policy_fleet.h). SQL is literals with placeholders. */
#include "server/policy_fleet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "server/db.h"
#include "server/jit.h"

/* A machine's owner is its user, else the admin whose pre-auth key registered it (that admin
 * applied the key's tags, so tagOwners is checked against them). */
#define OWNER "coalesce(m.user_id, (SELECT created_by FROM auth_keys k WHERE k.id = m.auth_key_id), 0)"

/* The members; owners of machines who are not members are read one by one after the machines
 * (asking for every machine's owner in SQL took 12 ms at 10,000 machines, at every policy save) */
static const char SQL_MEMBERS[] =
    "SELECT id, lower(email) FROM users WHERE id IN (SELECT user_id FROM org_members WHERE "
    "org_id = ?1)";
static const char SQL_USER[] = "SELECT id, lower(email) FROM users WHERE id = ?";
/* The identity provider's groups of a user in the org (stored at each SSO login, db_oidc.c). */
static const char SQL_OIDC_GROUPS[] =
    "SELECT group_name FROM oidc_user_groups WHERE org_id = ? AND user_id = ? ORDER BY group_name";
/* ?2 = 0: every machine of the org */
static const char SQL_MACHINES[] =
    "SELECT m.id, " OWNER ", m.name, m.tailnet_ip, m.tags, m.os, m.os_version, m.posture, "
    "coalesce(m.posture_at, 0) FROM machines m WHERE m.org_id = ?1 AND m.expired_at IS NULL AND "
    "(?2 = 0 OR m.id = ?2) ORDER BY m.id";

static const char SQL_MACHINES_COUNT[] =
    "SELECT count(*) FROM machines WHERE org_id = ?1 AND expired_at IS NULL";

static void *keep(struct fleet_store *s, void *p)
{
    if (!p)
        return NULL;
    if (s->nowned == s->capowned) {
        size_t nc = s->capowned ? s->capowned * 2 : 64;
        void **n = realloc(s->owned, nc * sizeof(*n));
        if (!n) {
            free(p);
            return NULL;
        }
        s->owned = n;
        s->capowned = nc;
    }
    s->owned[s->nowned++] = p;
    return p;
}

/* n bytes (8-aligned) that live as long as the store: from 64 KiB chunks, so that the fleet's
 * tens of thousands of short strings are not as many mallocs (and entries in owned). */
#define ARENA_CHUNK 65536
static void *arena_get(struct fleet_store *s, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (n > ARENA_CHUNK / 4)
        return keep(s, malloc(n));
    if (n > s->arena_left) {
        char *c = keep(s, malloc(ARENA_CHUNK));
        if (!c)
            return NULL;
        s->arena = c;
        s->arena_left = ARENA_CHUNK;
    }
    void *p = s->arena;
    s->arena += n;
    s->arena_left -= n;
    return p;
}

static char *kstrn(struct fleet_store *s, const char *t, size_t len)
{
    char *p = arena_get(s, len + 1);
    if (p) {
        memcpy(p, t, len);
        p[len] = '\0';
    }
    return p;
}

static const char *kstr(struct fleet_store *s, const char *t)
{
    t = t ? t : "";
    return kstrn(s, t, strlen(t));
}

/* An array of n + 1 NULL pointers from the arena. */
static const char **kvec(struct fleet_store *s, size_t n)
{
    const char **v = arena_get(s, (n + 1) * sizeof(*v));
    if (v)
        memset(v, 0, (n + 1) * sizeof(*v));
    return v;
}

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, nc * elem);
    if (!p)
        return -ENOMEM;
    memset((char *)p + *cap * elem, 0, (nc - *cap) * elem);
    *arr = p;
    *cap = nc;
    return 0;
}

static int users_read(sqlite3_stmt *st, struct fleet_store *s)
{
    int rc = SQLITE_DONE, ret = 0;
    while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        ret = grow((void **)&s->users, &s->capu, s->f.nusers, sizeof(*s->users));
        if (ret)
            break;
        struct fleet_user *u = &s->users[s->f.nusers];
        u->id = sqlite3_column_int64(st, 0);
        u->email = kstr(s, (const char *)sqlite3_column_text(st, 1));
        if (!u->email)
            ret = -ENOMEM;
        else
            s->f.nusers++;
    }
    if (!ret && rc != SQLITE_DONE)
        ret = db_rc_errno(rc);
    sqlite3_reset(st);
    s->f.users = s->users;
    return ret;
}

/* u->groups: the user's OIDC groups in the org as "group:oidc:<name>" (fleet.h). */
static int user_groups_read(struct db_conn *db, int64_t org_id, struct fleet_store *s,
                            struct fleet_user *u)
{
    const char **gv = NULL;
    size_t n = 0, cap = 0;
    int rc = SQLITE_DONE, ret;
    sqlite3_stmt *st = db_stmt(db, SQL_OIDC_GROUPS);

    ret = st ? db_bind_int64(st, 1, org_id) ?: db_bind_int64(st, 2, u->id) : -EIO;
    while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *g = (const char *)sqlite3_column_text(st, 0);
        size_t len = g ? strlen(g) : 0;
        char *name;
        if (!len)
            continue;
        if (n + 1 >= cap) {
            size_t nc = cap ? cap * 2 : 8;
            const char **p = realloc(gv, nc * sizeof(*p));
            if (!p) {
                ret = -ENOMEM;
                break;
            }
            gv = p;
            cap = nc;
        }
        name = keep(s, malloc(len + sizeof("group:oidc:")));
        if (!name) {
            ret = -ENOMEM;
            break;
        }
        memcpy(name, "group:oidc:", sizeof("group:oidc:") - 1);
        memcpy(name + sizeof("group:oidc:") - 1, g, len + 1);
        gv[n++] = name;
    }
    if (!ret && rc != SQLITE_DONE)
        ret = db_rc_errno(rc);
    if (st)
        sqlite3_reset(st);
    if (ret || !gv) {
        free(gv);
        return ret;
    }
    if (!keep(s, gv))
        return -ENOMEM;
    u->groups = gv;
    u->ngroups = n;
    return 0;
}

/* Every user read so far gets their OIDC groups in org_id. */
static int users_groups(struct db_conn *db, int64_t org_id, struct fleet_store *s)
{
    int ret = 0;
    for (size_t i = 0; !ret && i < s->f.nusers; i++)
        ret = user_groups_read(db, org_id, s, &s->users[i]);
    return ret;
}

static bool jbool(const cJSON *o, const char *k)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static const char *jstr(struct fleet_store *s, const cJSON *o, const char *k, const char *def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return kstr(s, cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : def);
}

/* m->tags from the stored JSON array. Tags are "tag:" and [A-Za-z0-9_-] (validated on every
 * write), so the array is read directly; anything else (an escape, odd spacing) goes through
 * cJSON, which reads any JSON. Non-strings are skipped. */
static int tags_read(struct fleet_store *s, const char *text, struct fleet_machine *m)
{
    const char *p = text;
    size_t nt = 0;
    bool simple = p && *p == '[' && !strchr(p, '\\');

    if (simple) { /* count, and check the shape: [] or ["a","b"] */
        p++;
        if (*p == ']') {
            simple = p[1] == '\0';
        } else {
            for (;;) {
                const char *q = *p == '"' ? strchr(p + 1, '"') : NULL;
                if (!q) {
                    simple = false;
                    break;
                }
                nt++;
                p = q + 1;
                if (*p == ']') {
                    simple = p[1] == '\0';
                    break;
                }
                if (*p++ != ',') {
                    simple = false;
                    break;
                }
            }
        }
    }
    if (!simple) {
        cJSON *tags = cJSON_Parse(text);
        int n = cJSON_IsArray(tags) ? cJSON_GetArraySize(tags) : 0;
        const char **tv = kvec(s, (size_t)n);
        const cJSON *t;
        if (!tv) {
            cJSON_Delete(tags);
            return -ENOMEM;
        }
        cJSON_ArrayForEach(t, tags)
        {
            if (cJSON_IsString(t) && (tv[m->ntags] = kstr(s, t->valuestring)))
                m->ntags++;
        }
        m->tags = tv;
        cJSON_Delete(tags);
        return 0;
    }
    const char **tv = kvec(s, nt);
    if (!tv)
        return -ENOMEM;
    p = text + 1;
    for (size_t i = 0; i < nt; i++) {
        const char *q = strchr(p + 1, '"');
        char *t = kstrn(s, p + 1, (size_t)(q - p - 1));
        if (!t)
            return -ENOMEM;
        tv[m->ntags++] = t;
        p = q + 2; /* past the quote and the comma */
    }
    m->tags = tv;
    return 0;
}

static int machine_read(sqlite3_stmt *st, struct fleet_store *s, pfleet_seen_fn seen, void *arg)
{
    int ret = grow((void **)&s->machines, &s->capm, s->f.nmachines, sizeof(*s->machines));
    if (ret)
        return ret;
    struct fleet_machine *m = &s->machines[s->f.nmachines];
    memset(m, 0, sizeof(*m));
    m->id = sqlite3_column_int64(st, 0);
    m->owner = sqlite3_column_int64(st, 1);
    m->name = kstr(s, (const char *)sqlite3_column_text(st, 2));
    const char *ip = (const char *)sqlite3_column_text(st, 3);
    m->has_ip4 = ip && inet_pton(AF_INET, ip, m->ip4) == 1;
    if (m->has_ip4 && s->ip6 && s->ip6->on) {
        ip6_tailnet_addr(s->ip6, (uint32_t)m->ip4[0] << 24 | (uint32_t)m->ip4[1] << 16 |
                                     (uint32_t)m->ip4[2] << 8 | m->ip4[3], m->ip6);
        m->has_ip6 = true;
    }
    if (!m->name)
        return -ENOMEM;
    ret = tags_read(s, (const char *)sqlite3_column_text(st, 4), m);
    if (ret)
        return ret;
    int64_t at = sqlite3_column_int64(st, 8);
    const char *ptext = (const char *)sqlite3_column_text(st, 7);
    bool empty = ptext && !strcmp(ptext, "{}"); /* no report yet: nothing to parse */
    cJSON *p = empty ? NULL : cJSON_Parse(ptext);
    m->posture = (struct posture_report){
        .present = at > 0 && (empty || cJSON_IsObject(p)),
        .os = jstr(s, p, "os", (const char *)sqlite3_column_text(st, 5)),
        .os_version = jstr(s, p, "os_version", (const char *)sqlite3_column_text(st, 6)),
        .disk_encryption = jbool(p, "disk_encryption"),
        .firewall = jbool(p, "firewall"),
        .screen_lock = jbool(p, "screen_lock"),
        .antivirus = jbool(p, "antivirus"),
        .agent_version = jstr(s, p, "agent_version", ""),
        .reported_at = at,
    };
    cJSON_Delete(p);
    if (!m->posture.os || !m->posture.os_version || !m->posture.agent_version)
        return -ENOMEM;
    if (seen && !seen(arg, m->id, &m->seen_family, m->seen_addr))
        m->seen_family = 0;
    s->f.nmachines++;
    s->f.machines = s->machines;
    return 0;
}

static int machines_read(struct db_conn *db, int64_t org_id, int64_t id, pfleet_seen_fn seen,
                         void *arg, struct fleet_store *s)
{
    sqlite3_stmt *st = id ? NULL : db_stmt(db, SQL_MACHINES_COUNT);
    int ret = 0;
    /* the whole org: the array sized once (doubling it copied and cleared ~2 MB at 10,000) */
    if (st && db_bind_int64(st, 1, org_id) == 0 && sqlite3_step(st) == SQLITE_ROW) {
        int64_t want = sqlite3_column_int64(st, 0) + (int64_t)s->f.nmachines;
        if (want > (int64_t)s->capm) {
            struct fleet_machine *n = realloc(s->machines, (size_t)want * sizeof(*n));
            if (!n)
                ret = -ENOMEM;
            else {
                memset(n + s->capm, 0, ((size_t)want - s->capm) * sizeof(*n));
                s->machines = n;
                s->capm = (size_t)want;
                s->f.machines = n;
            }
        }
    }
    if (st)
        sqlite3_reset(st);
    if (ret)
        return ret;
    st = db_stmt(db, SQL_MACHINES);
    ret = st ? db_bind_int64(st, 1, org_id) : -EIO;
    int rc = SQLITE_DONE;
    if (!ret)
        ret = db_bind_int64(st, 2, id);
    while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW)
        ret = machine_read(st, s, seen, arg);
    if (!ret && rc != SQLITE_DONE)
        ret = db_rc_errno(rc);
    if (st)
        sqlite3_reset(st);
    return ret;
}

static int grant_one(const struct jit_row *r, void *arg)
{
    struct fleet_store *s = arg;
    int ret = grow((void **)&s->grants, &s->capg, s->f.ngrants, sizeof(*s->grants));
    if (ret)
        return ret;
    s->grants[s->f.ngrants++] = (struct fleet_grant){
        .id = r->id, .requester = r->requester_id, .dst_machine = r->machine_id, .port = r->port,
        .proto = r->proto, .expires_at = r->expires_at};
    s->f.grants = s->grants;
    return 0;
}

int pfleet_grants(struct db_conn *db, int64_t org_id, int64_t now, struct fleet_store *s)
{
    return jit_db_active(db, org_id, now, grant_one, s);
}

static int cmp_user(const void *a, const void *b)
{
    int64_t x = ((const struct fleet_user *)a)->id, y = ((const struct fleet_user *)b)->id;
    return (x > y) - (x < y);
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Adds the owners of s's machines who are not among its users yet (owners outside the org, e.g.
 * the admin of a pre-auth key who left), then orders the users by id. */
static int owners_add(struct db_conn *db, struct fleet_store *s)
{
    int64_t *miss = NULL;
    size_t nmiss = 0;
    int ret = 0;

    qsort(s->users, s->f.nusers, sizeof(*s->users), cmp_user);
    for (size_t i = 0; i < s->f.nmachines && !ret; i++) {
        struct fleet_user key = {.id = s->machines[i].owner};
        if (!key.id || bsearch(&key, s->users, s->f.nusers, sizeof(*s->users), cmp_user))
            continue;
        int64_t *n = realloc(miss, (nmiss + 1) * sizeof(*n));
        if (!n)
            ret = -ENOMEM;
        else
            (miss = n)[nmiss++] = key.id;
    }
    if (nmiss)
        qsort(miss, nmiss, sizeof(*miss), cmp_id);
    for (size_t i = 0; i < nmiss && !ret; i++) {
        if (i && miss[i] == miss[i - 1])
            continue;
        sqlite3_stmt *st = db_stmt(db, SQL_USER);
        ret = st ? db_bind_int64(st, 1, miss[i]) : -EIO;
        if (!ret)
            ret = users_read(st, s);
    }
    free(miss);
    if (!ret)
        qsort(s->users, s->f.nusers, sizeof(*s->users), cmp_user);
    return ret;
}

int pfleet_load(struct db_conn *db, int64_t org_id, int64_t now, pfleet_seen_fn seen, void *arg,
                struct fleet_store *s)
{
    sqlite3_stmt *st = db_stmt(db, SQL_MEMBERS);
    int ret = st ? db_bind_int64(st, 1, org_id) : -EIO;
    if (!ret)
        ret = users_read(st, s);
    if (!ret)
        ret = machines_read(db, org_id, 0, seen, arg, s);
    if (!ret)
        ret = owners_add(db, s);
    if (!ret)
        ret = users_groups(db, org_id, s);
    if (!ret)
        ret = pfleet_grants(db, org_id, now, s);
    return ret;
}

int pfleet_machine(struct db_conn *db, int64_t org_id, int64_t machine_id, pfleet_seen_fn seen,
                   void *arg, struct fleet_store *s)
{
    int ret = machines_read(db, org_id, machine_id, seen, arg, s);
    if (ret || s->f.nmachines == 0 || s->machines[0].owner == 0)
        return ret;
    return pfleet_user(db, org_id, s->machines[0].owner, s);
}

int pfleet_user(struct db_conn *db, int64_t org_id, int64_t user_id, struct fleet_store *s)
{
    sqlite3_stmt *st = db_stmt(db, SQL_USER);
    size_t first = s->f.nusers;
    int ret = st ? db_bind_int64(st, 1, user_id) : -EIO;
    if (!ret)
        ret = users_read(st, s);
    for (size_t i = first; !ret && i < s->f.nusers; i++)
        ret = user_groups_read(db, org_id, s, &s->users[i]);
    return ret;
}

void pfleet_free(struct fleet_store *s)
{
    for (size_t i = 0; i < s->nowned; i++)
        free(s->owned[i]);
    free(s->owned);
    free(s->users);
    free(s->machines);
    free(s->grants);
    const struct ip6_prefix *ip6 = s->ip6; /* the caller's setting outlives a reload */
    memset(s, 0, sizeof(*s));
    s->ip6 = ip6;
}
