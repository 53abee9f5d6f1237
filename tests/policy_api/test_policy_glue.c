/* The policy side of the netmap contract (server/policy_glue.h) on a real database: the filter and
 * visibility answers, and the netmap_policy_changed() calls after a policy edit (incremental), a
 * JIT grant and its expiry by the timer, a retag, a removal, and a stored version that cannot load
 * (fail closed). This file's netmap_policy_changed() replaces the weak one in policy_glue.c and
 * records the calls. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/db.h"
#include "server/db_policy.h"
#include "server/jit.h"
#include "server/policy/compile.h"
#include "server/policy_fleet.h"
#include "server/policy_glue.h"
#include "server/policy_rt.h"
#include "server/server.h"
#include "tests/check.h"

static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int calls;
    bool all;
    int64_t ids[256];
    size_t n;
    struct policy_link links[256];
    size_t nlinks;
} rec;

void netmap_policy_changed(struct server *srv, int64_t org_id, const int64_t *ids, size_t n,
                           const struct policy_link *links, size_t nlinks)
{
    (void)srv;
    for (size_t i = 0; i < nlinks && rec.nlinks < 256; i++)
        rec.links[rec.nlinks++] = links[i];
    pthread_mutex_lock(&rec_lock);
    rec.calls++;
    if (org_id != 1)
        rec.calls += 1000; /* never for another org: fails the count checks */
    if (!ids)
        rec.all = true;
    for (size_t i = 0; i < n && rec.n < 256; i++)
        rec.ids[rec.n++] = ids[i];
    pthread_mutex_unlock(&rec_lock);
}

/* Linked with -Wl,--wrap for these two (tests/policy_api/CMakeLists.txt): when fail_next is set,
 * the next call fails with -ENOMEM and changes nothing, as an allocation failure inside the engine
 * would leave it (its results incomplete). */
struct policy_engine;
static bool fail_next;
int __real_policy_engine_grant_remove(struct policy_engine *e, int64_t grant_id);
int __real_policy_engine_machine_remove(struct policy_engine *e, int64_t id);
int __wrap_policy_engine_grant_remove(struct policy_engine *e, int64_t grant_id);
int __wrap_policy_engine_machine_remove(struct policy_engine *e, int64_t id);

int __wrap_policy_engine_grant_remove(struct policy_engine *e, int64_t grant_id)
{
    if (fail_next) {
        fail_next = false;
        return -ENOMEM;
    }
    return __real_policy_engine_grant_remove(e, grant_id);
}

int __wrap_policy_engine_machine_remove(struct policy_engine *e, int64_t id)
{
    if (fail_next) {
        fail_next = false;
        return -ENOMEM;
    }
    return __real_policy_engine_machine_remove(e, id);
}

static void rec_reset(void)
{
    pthread_mutex_lock(&rec_lock);
    memset(&rec, 0, sizeof(rec));
    pthread_mutex_unlock(&rec_lock);
}

static bool rec_has(int64_t id)
{
    bool r = false;
    pthread_mutex_lock(&rec_lock);
    for (size_t i = 0; i < rec.n; i++)
        r |= rec.ids[i] == id;
    pthread_mutex_unlock(&rec_lock);
    return r;
}

/* Was the pair a-b among the links (either order)? */
static bool rec_link(int64_t a, int64_t b)
{
    bool r = false;
    for (size_t i = 0; i < rec.nlinks; i++)
        r |= (rec.links[i].a == a && rec.links[i].b == b) ||
             (rec.links[i].a == b && rec.links[i].b == a);
    return r;
}

/* The filter as one string: "tcp 100.64.0.11/32 22-22,..."; "null" for allow all. */
static void filter_text(struct server *srv, int64_t m, char *out, size_t len)
{
    char *text = NULL;
    CHECK(policy_glue_node_filter(srv, 1, m, &text) == 0);
    out[0] = 0;
    if (!text) {
        snprintf(out, len, "null");
        return;
    }
    cJSON *f = cJSON_Parse(text);
    const cJSON *e;
    CHECK(f && cJSON_IsArray(cJSON_GetObjectItem(f, "entries")));
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(f, "entries"))
    {
        size_t l = strlen(out);
        snprintf(out + l, len - l, "%s%s", l ? "," : "", e->valuestring);
    }
    /* the text is what cJSON would print compact (the agent's parser takes either) */
    char *again = cJSON_PrintUnformatted(f);
    CHECK(again && !strcmp(again, text));
    free(again);
    cJSON_Delete(f);
    free(text);
}

static void expect_filter(struct server *srv, int64_t m, const char *want)
{
    char got[1024];
    filter_text(srv, m, got, sizeof(got));
    if (strcmp(got, want)) {
        fprintf(stderr, "filter of %lld: got \"%s\", want \"%s\"\n", (long long)m, got, want);
        CHECK(!"filter");
    }
}

static const char *fleet_sql =
    "INSERT INTO orgs(id, name, slug, created_at) VALUES (1, 'Acme', 'acme', 0), (2, 'B', 'b', 0),"
    " (3, 'C', 'c', 0);"
    "INSERT INTO users(id, email, created_at) VALUES (1, 'owner@example.com', 0),"
    " (2, 'alice@example.com', 0), (3, 'dana@example.com', 0);"
    "INSERT INTO org_members VALUES (1, 1, 'owner', 0), (1, 2, 'admin', 0), (1, 3, 'member', 0);"
    "INSERT INTO auth_keys(id, org_id, key_hash, key_prefix, reusable, ephemeral, tags, created_by,"
    " created_at) VALUES (1, 1, x'01', 'k', 1, 0, '[\"tag:prod\"]', 1, 0);"
    "INSERT INTO machines(id, org_id, user_id, auth_key_id, machine_key, wg_public_key, hostname,"
    " name, ip_num, tailnet_ip, tags, created_at) VALUES"
    " (10, 1, NULL, 1, randomblob(32), randomblob(32), 'web', 'web', 1, '100.64.0.10', '[\"tag:prod\"]', 0),"
    " (11, 1, 2, NULL, randomblob(32), randomblob(32), 'a', 'alice-laptop', 2, '100.64.0.11', '[]', 0),"
    " (12, 1, 3, NULL, randomblob(32), randomblob(32), 'd', 'dana-laptop', 3, '100.64.0.12', '[]', 0);";

static const char *policy_v1 =
    "{\"groups\": {\"group:eng\": [\"alice@example.com\"], \"group:dba\": [\"dana@example.com\"]},\n"
    " \"tagOwners\": {\"tag:prod\": [\"owner@example.com\"]},\n"
    " \"rules\": [\n"
    "  {\"action\": \"accept\", \"src\": [\"group:eng\"], \"dst\": [\"tag:prod:22\"], \"proto\": \"tcp\"},\n"
    "  {\"action\": \"accept\", \"src\": [\"group:dba\"], \"dst\": [\"tag:prod:5432\"], \"proto\": \"tcp\",\n"
    "   \"requireJit\": true},\n"
    " ]}\n";

static void store(struct db_conn *c, int64_t version, const char *text)
{
    struct policy_version v = {.org_id = 1, .version = version, .author_id = 1,
                               .created_at = 1, .text = (char *)text};
    CHECK(db_policy_insert(c, &v) == 0);
}

/* The fleet as pfleet_load() reads it: members, then owners who are not members (a machine's
 * user, or the creator of the key it registered with) ordered by id; tags read directly or,
 * when not in the simple shape, through cJSON; posture "{}" is a report with nothing in it. */
static void fleet_load_check(struct db_conn *c)
{
    static const char sql[] =
        "INSERT INTO users(id, email, created_at) VALUES (4, 'Gone@Example.com', 0);"
        "INSERT INTO org_members VALUES (2, 2, 'owner', 0);"
        "INSERT INTO auth_keys(id, org_id, key_hash, key_prefix, reusable, ephemeral, tags,"
        " created_by, created_at) VALUES (2, 2, x'02', 'k2', 1, 0, '[]', 4, 0);"
        "INSERT INTO machines(id, org_id, user_id, auth_key_id, machine_key, wg_public_key,"
        " hostname, name, ip_num, tailnet_ip, tags, posture, posture_at, created_at) VALUES"
        " (20, 2, NULL, 2, randomblob(32), randomblob(32), 'a', 'a', 20, '100.64.0.20',"
        "  '[\"tag:a\",\"tag:b\"]', '{}', 5, 0),"
        " (21, 2, 3, NULL, randomblob(32), randomblob(32), 'b', 'b', 21, '100.64.0.21',"
        "  '[ \"tag:x\" ]', '{\"os\":\"windows\",\"firewall\":true}', 7, 0),"
        " (22, 2, NULL, NULL, randomblob(32), randomblob(32), 'c', 'c', 22, '100.64.0.22',"
        "  '[\"tag:a\\u0062\",7]', '{}', 0, 0),"
        " (23, 2, 2, NULL, randomblob(32), randomblob(32), 'd', 'd', 23, '100.64.0.23', '[]',"
        "  '{}', 0, 0);";
    struct fleet_store fs = {0};
    CHECK(sqlite3_exec(db_conn_handle(c), sql, NULL, NULL, NULL) == SQLITE_OK);
    CHECK(pfleet_load(c, 2, 100, NULL, NULL, &fs) == 0);
    CHECK(fs.f.nusers == 3);
    CHECK(fs.f.users[0].id == 2 && !strcmp(fs.f.users[0].email, "alice@example.com"));
    CHECK(fs.f.users[1].id == 3 && !strcmp(fs.f.users[1].email, "dana@example.com"));
    CHECK(fs.f.users[2].id == 4 && !strcmp(fs.f.users[2].email, "gone@example.com"));
    CHECK(fs.f.nmachines == 4);
    const struct fleet_machine *m = fs.f.machines;
    CHECK(m[0].id == 20 && m[0].owner == 4 && m[0].ntags == 2 && !strcmp(m[0].tags[0], "tag:a") &&
          !strcmp(m[0].tags[1], "tag:b") && m[0].tags[2] == NULL);
    CHECK(m[0].posture.present && m[0].posture.reported_at == 5 && !m[0].posture.firewall);
    CHECK(m[1].id == 21 && m[1].owner == 3 && m[1].ntags == 1 && !strcmp(m[1].tags[0], "tag:x"));
    CHECK(m[1].posture.present && m[1].posture.firewall && !strcmp(m[1].posture.os, "windows"));
    CHECK(m[2].id == 22 && m[2].owner == 0 && m[2].ntags == 1 && !strcmp(m[2].tags[0], "tag:ab"));
    CHECK(!m[2].posture.present);
    CHECK(m[3].id == 23 && m[3].owner == 2 && m[3].ntags == 0);
    pfleet_free(&fs);
    CHECK(sqlite3_exec(db_conn_handle(c), "DELETE FROM machines WHERE org_id = 2;"
                       "DELETE FROM auth_keys WHERE id = 2; DELETE FROM org_members WHERE org_id = 2;"
                       "DELETE FROM users WHERE id = 4;", NULL, NULL, NULL) == SQLITE_OK);
}

int main(void)
{
    char dir[] = "/tmp/ztna-policy-glue-XXXXXX", cmd[128];
    struct server srv = {0};
    if (!mkdtemp(dir))
        return 1;
    snprintf(srv.set.data_dir, sizeof(srv.set.data_dir), "%s", dir);
    CHECK(server_init(&srv) == 0);
    struct db_conn *c = db_conn_get(srv.db);
    CHECK(c && sqlite3_exec(db_conn_handle(c), fleet_sql, NULL, NULL, NULL) == SQLITE_OK);
    fleet_load_check(c);
    CHECK(policy_rt_start(&srv) == 0);

    /* no policy: allow all, nothing to tell */
    expect_filter(&srv, 10, "null");
    CHECK(policy_glue_visible(&srv, 1, 11, 12));

    /* the first version: every map of the org */
    rec_reset();
    store(c, 1, policy_v1);
    policy_rt_policy_changed(&srv, 1);
    CHECK(rec.calls == 1 && rec.all);
    expect_filter(&srv, 10, "tcp 100.64.0.11/32 22-22");
    expect_filter(&srv, 11, "");
    expect_filter(&srv, 99, ""); /* unknown machine: nothing in */
    CHECK(policy_glue_visible(&srv, 1, 10, 11) && policy_glue_visible(&srv, 1, 11, 10));
    CHECK(!policy_glue_visible(&srv, 1, 11, 12));
    CHECK(!policy_glue_visible(&srv, 1, 12, 10)); /* JIT only, no grant */
    CHECK(policy_glue_visible(&srv, 2, 11, 12)); /* another org has no policy */
    /* the many-at-once form answers as the one-by-one form, for each viewer and org */
    for (int64_t org = 1; org <= 2; org++)
        for (int64_t viewer = 10; viewer <= 12; viewer++) {
            const int64_t ids[] = {10, 11, 12, 99};
            bool vis[4];
            policy_glue_visible_many(&srv, org, viewer, ids, 4, vis);
            for (size_t i = 0; i < 4; i++)
                CHECK(vis[i] == policy_glue_visible(&srv, org, ids[i], viewer));
        }

    /* an approved grant for dana, two seconds long: web and dana's laptop change */
    struct jit_row g = {.org_id = 1, .requester_id = 3, .machine_id = 10, .port = 5432, .proto = 6,
                        .duration = 2, .created_at = server_now()};
    snprintf(g.reason, sizeof(g.reason), "test");
    CHECK(jit_db_insert(c, &g) == 0);
    CHECK(jit_db_transition(c, 1, g.id, "pending", "approved", 1, server_now()) == 0);
    CHECK(jit_db_get(c, 1, g.id, &g) == 0);
    rec_reset();
    policy_rt_grant_added(&srv, &g);
    /* web's filter changed; dana's laptop only came to see it: a link, not a filter change */
    CHECK(rec.calls == 1 && !rec.all && rec_has(10) && !rec_has(12) && !rec_has(11));
    CHECK(rec_link(10, 12) && !rec_link(10, 11) && !rec_link(11, 12));
    expect_filter(&srv, 10, "tcp 100.64.0.11/32 22-22,tcp 100.64.0.12/32 5432-5432");
    CHECK(policy_glue_visible(&srv, 1, 12, 10));
    /* the timer expires it (bounded wait) */
    rec_reset();
    for (int i = 0; i < 100 && !(jit_db_get(c, 1, g.id, &g) == 0 && !strcmp(g.state, "expired")); i++)
        usleep(100 * 1000);
    db_conn_idle(c);
    CHECK(!strcmp(g.state, "expired"));
    CHECK(rec_has(10) && rec_link(10, 12));
    expect_filter(&srv, 10, "tcp 100.64.0.11/32 22-22");
    CHECK(!policy_glue_visible(&srv, 1, 12, 10));

    /* an edited rule: only the nodes it touches, not the whole org */
    rec_reset();
    char *v2 = strdup(policy_v1);
    memcpy(strstr(v2, "tag:prod:22\""), "tag:prod:23\"", 12);
    store(c, 2, v2);
    policy_rt_policy_changed(&srv, 1);
    CHECK(rec.calls == 1 && !rec.all && rec_has(10) && !rec_has(12));
    expect_filter(&srv, 10, "tcp 100.64.0.11/32 23-23");

    /* web loses its tag */
    rec_reset();
    CHECK(sqlite3_exec(db_conn_handle(c), "UPDATE machines SET tags = '[]' WHERE id = 10", NULL,
                       NULL, NULL) == SQLITE_OK);
    policy_rt_machine_changed(&srv, 1, 10, "198.18.0.7");
    CHECK(rec.calls == 1 && rec_has(10) && rec_link(10, 11));
    expect_filter(&srv, 10, "");
    CHECK(!policy_glue_visible(&srv, 1, 10, 11));
    CHECK(sqlite3_exec(db_conn_handle(c), "UPDATE machines SET tags = '[\"tag:prod\"]' WHERE id = 10",
                       NULL, NULL, NULL) == SQLITE_OK);
    policy_rt_machine_changed(&srv, 1, 10, NULL);
    expect_filter(&srv, 10, "tcp 100.64.0.11/32 23-23");
    expect_filter(&srv, 10, "tcp 100.64.0.11/32 23-23");

    /* an update that fails half way (the machine cannot be read): the engine is rebuilt from the
     * database, which fails the same way here, so the org fails closed and every map is told;
     * once the table is back, the next policy event rebuilds it */
    rec_reset();
    CHECK(sqlite3_exec(db_conn_handle(c), "ALTER TABLE machines RENAME TO machines_gone", NULL,
                       NULL, NULL) == SQLITE_OK);
    policy_rt_machine_changed(&srv, 1, 10, NULL);
    CHECK(rec.calls == 1 && rec.all);
    expect_filter(&srv, 10, "");
    CHECK(!policy_glue_visible(&srv, 1, 10, 11));
    /* an org not loaded yet cannot be: an error (the map reply fails and nothing is cached), not
     * "allow all" nor a deny-all that would outlive the database error; the next call loads it */
    char *f3 = (char *)1;
    CHECK(sqlite3_exec(db_conn_handle(c), "ALTER TABLE policies RENAME TO policies_gone", NULL,
                       NULL, NULL) == SQLITE_OK);
    CHECK(policy_glue_node_filter(&srv, 3, 99, &f3) == -EIO && f3 == NULL);
    CHECK(sqlite3_exec(db_conn_handle(c), "ALTER TABLE policies_gone RENAME TO policies", NULL,
                       NULL, NULL) == SQLITE_OK);
    CHECK(policy_glue_node_filter(&srv, 3, 99, &f3) == 0 && f3 == NULL); /* no policy: allow all */
    CHECK(sqlite3_exec(db_conn_handle(c), "ALTER TABLE machines_gone RENAME TO machines", NULL,
                       NULL, NULL) == SQLITE_OK);
    rec_reset();
    policy_rt_policy_changed(&srv, 1);
    CHECK(rec.calls == 1 && rec.all);
    expect_filter(&srv, 10, "tcp 100.64.0.11/32 23-23");

    /* a revoked grant whose removal fails inside the engine: not left open, the org is rebuilt
     * from the database (where the grant is revoked) and every map told */
    struct jit_row g2 = {.org_id = 1, .requester_id = 3, .machine_id = 10, .port = 5432,
                         .proto = 6, .duration = 600, .created_at = server_now()};
    snprintf(g2.reason, sizeof(g2.reason), "test 2");
    CHECK(jit_db_insert(c, &g2) == 0);
    CHECK(jit_db_transition(c, 1, g2.id, "pending", "approved", 1, server_now()) == 0);
    CHECK(jit_db_get(c, 1, g2.id, &g2) == 0);
    policy_rt_grant_added(&srv, &g2);
    expect_filter(&srv, 10, "tcp 100.64.0.11/32 23-23,tcp 100.64.0.12/32 5432-5432");
    CHECK(jit_db_transition(c, 1, g2.id, "approved", "revoked", 1, server_now()) == 0);
    db_conn_idle(c);
    rec_reset();
    fail_next = true;
    policy_rt_grant_removed(&srv, 1, g2.id);
    CHECK(!fail_next && rec.calls == 1 && rec.all);
    expect_filter(&srv, 10, "tcp 100.64.0.11/32 23-23");
    /* a grant the engine does not hold (-ENOENT): nothing changes, nobody is told */
    rec_reset();
    policy_rt_grant_removed(&srv, 1, g2.id + 1000);
    CHECK(rec.calls == 0);

    /* alice's laptop is deleted, and the engine fails to remove it: rebuilt, not left allowed */
    rec_reset();
    CHECK(sqlite3_exec(db_conn_handle(c), "DELETE FROM machines WHERE id = 11", NULL, NULL, NULL) ==
          SQLITE_OK);
    fail_next = true;
    policy_rt_machine_removed(&srv, 1, 11);
    CHECK(!fail_next && rec.calls == 1 && rec.all);
    expect_filter(&srv, 10, "");

    /* a stored version that does not load (unknown time zone): fail closed, whole org told */
    rec_reset();
    store(c, 3, "{\"schedules\": {\"s\": {\"timezone\": \"Mars/Olympus_Mons\", \"days\": [\"*\"],"
                " \"hours\": \"00:00-24:00\"}}, \"rules\": [{\"action\": \"accept\", \"src\": [\"*\"],"
                " \"dst\": [\"*:*\"]}]}");
    policy_rt_policy_changed(&srv, 1);
    CHECK(rec.calls == 1 && rec.all);
    expect_filter(&srv, 10, "");
    CHECK(!policy_glue_visible(&srv, 1, 10, 12));

    db_conn_idle(c);
    policy_rt_stop(&srv);
    server_free(&srv);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(v2);
    return check_finish("test_policy_glue");
}
