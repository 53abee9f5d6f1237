/* Fixed scenarios for test_policy_compile.c: explain messages, schedule boundaries in several
 * time zones, posture staleness (quarantine), JIT expiry, geo. Included once. */

static const char *scen_policy =
    "{\"groups\": {\"group:eng\": [\"alice@example.com\"], \"group:dba\": [\"dana@example.com\"]},\n"
    " \"tagOwners\": {\"tag:prod\": [\"ops@example.com\"], \"tag:db\": [\"ops@example.com\"]},\n"
    " \"postures\": {\"posture:base\": {\"diskEncryption\": true, \"maxReportAge\": \"1h\"}},\n"
    " \"schedules\": {\"business-hours\": {\"timezone\": \"America/New_York\", \"days\": [\"weekdays\"],\n"
    "                \"hours\": \"09:00-17:00\"},\n"
    "               \"tokyo-morning\": {\"timezone\": \"Asia/Tokyo\", \"days\": [\"sat\"], \"hours\": \"06:30-07:00\"}},\n"
    " \"rules\": [\n"
    "  {\"action\": \"accept\", \"src\": [\"group:eng\"], \"dst\": [\"tag:prod:22\"], \"proto\": \"tcp\",\n"
    "   \"posture\": [\"posture:base\"]},\n"
    "  {\"action\": \"accept\", \"src\": [\"group:eng\"], \"dst\": [\"tag:prod:443\"], \"proto\": \"tcp\",\n"
    "   \"schedule\": \"business-hours\"},\n"
    "  {\"action\": \"accept\", \"src\": [\"group:dba\"], \"dst\": [\"tag:db:5432\"], \"proto\": \"tcp\",\n"
    "   \"requireJit\": true},\n"
    "  {\"action\": \"accept\", \"src\": [\"group:dba\"], \"dst\": [\"tag:db:9000\"],\n"
    "   \"geo\": {\"countries\": [\"FR\"]}},\n"
    "  {\"action\": \"accept\", \"src\": [\"tag:db\"], \"dst\": [\"tag:prod:8080\"], \"schedule\": \"tokyo-morning\"},\n"
    "  {\"action\": \"accept\", \"src\": [\"198.18.5.0/24\"], \"dst\": [\"tag:prod:8443\"], \"schedule\": \"business-hours\"},\n"
    " ]}\n";

/* Monday 2026-11-23 08:59:30 in New York (EST, UTC-5) = 13:59:30Z */
#define MON_0859 ((int64_t)1795442370)

static void scen_fleet(struct fleet *f, struct fleet_user *u, struct fleet_machine *m,
                       struct fleet_grant *g, int64_t report_at)
{
    static const char *prod[] = {"tag:prod"}, *db[] = {"tag:db"};
    u[0] = (struct fleet_user){.id = 1, .email = "alice@example.com"};
    u[1] = (struct fleet_user){.id = 2, .email = "dana@example.com"};
    u[2] = (struct fleet_user){.id = 3, .email = "ops@example.com"};
    m[0] = (struct fleet_machine){.id = 10, .name = "alice-laptop", .owner = 1, .has_ip4 = true,
                                  .ip4 = {100, 64, 0, 10},
                                  .posture = {.present = true, .disk_encryption = false,
                                              .reported_at = report_at},
                                  .seen_family = 4, .seen_addr = {198, 18, 0, 1}};
    m[1] = (struct fleet_machine){.id = 11, .name = "web", .owner = 3, .tags = prod, .ntags = 1,
                                  .has_ip4 = true, .ip4 = {100, 64, 0, 11}};
    m[2] = (struct fleet_machine){.id = 12, .name = "dana-laptop", .owner = 2, .has_ip4 = true,
                                  .ip4 = {100, 64, 0, 12}, .seen_family = 4,
                                  .seen_addr = {198, 18, 0, 2}};
    m[3] = (struct fleet_machine){.id = 13, .name = "db", .owner = 3, .tags = db, .ntags = 1,
                                  .has_ip4 = true, .ip4 = {100, 64, 0, 13}};
    g[0] = (struct fleet_grant){.id = 1, .requester = 2, .dst_machine = 13, .port = 5432,
                                .proto = 6, .expires_at = MON_0859 + 600};
    *f = (struct fleet){.users = u, .nusers = 3, .machines = m, .nmachines = 4, .grants = g,
                        .ngrants = 0};
}

static void expect(const struct policy *p, const struct fleet *f, const struct policy_geo *geo,
                   int64_t now, int64_t src, int64_t dst, uint16_t port, bool accept, const char *reason)
{
    struct policy_query q = {.src_machine = src, .dst_machine = dst, .port = port, .proto = 6};
    struct policy_verdict v;
    CHECK(policy_explain(p, f, geo, now, &q, &v) == 0);
    if (v.accept != accept || strcmp(v.reason, reason)) {
        fprintf(stderr, "explain %lld->%lld:%u: got %d \"%s\", want %d \"%s\"\n", (long long)src,
                (long long)dst, port, v.accept, v.reason, accept, reason);
        CHECK(!"explain");
    }
}

static bool node_allows(struct policy_engine *e, int64_t dst, const uint8_t ip[4], uint16_t port)
{
    const struct policy_node *n = policy_engine_node(e, dst);
    struct filter *flt = NULL;
    uint8_t a[16] = {0};
    memcpy(a, ip, 4);
    if (!n || filter_build(&flt, n->entries, n->nentries))
        return false;
    bool r = filter_allows(flt, 4, a, 6, port);
    filter_free(flt);
    return r;
}

static bool changed_has(struct policy_engine *e, int64_t id)
{
    size_t n;
    const int64_t *c = policy_engine_changed(e, &n);
    for (size_t i = 0; i < n; i++)
        if (c[i] == id)
            return true;
    return false;
}

/* Each posture check by name, versions compared numerically (6.10 > 6.9). */
static void test_posture_reasons(void)
{
    const char *doc = "{\"postures\": {\"posture:strict\": {\"os\": {\"linux\": \"6.9\", \"macos\": \"\"},\n"
                      "  \"agentVersion\": \"1.2\", \"screenLock\": true, \"antivirus\": true, \"firewall\": true}},\n"
                      " \"rules\": [{\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"*:22\"], \"posture\": [\"posture:strict\"]}]}";
    struct policy *p = NULL;
    struct policy_error err;
    CHECK(policy_parse(doc, strlen(doc), &p, &err) == 0);
    if (!p)
        return;
    struct fleet_user u = {.id = 1, .email = "a@b.c"};
    struct posture_report good = {.present = true, .os = "linux", .os_version = "6.10.2",
                                  .screen_lock = true, .antivirus = true, .firewall = true,
                                  .agent_version = "1.10", .reported_at = 1000};
    struct fleet_machine m[2] = {{.id = 1, .owner = 1, .posture = good},
                                 {.id = 2, .owner = 1, .posture = good}};
    struct fleet f = {.users = &u, .nusers = 1, .machines = m, .nmachines = 2};
    struct policy_query q = {.src_machine = 1, .dst_machine = 2, .port = 22, .proto = 6};
    struct policy_verdict v;
#define POSTURE_CASE(stmt, want)                                                       \
    do {                                                                               \
        m[0].posture = good;                                                           \
        stmt;                                                                          \
        CHECK(policy_explain(p, &f, NULL, 1060, &q, &v) == 0);                          \
        if (strcmp(v.reason, want))                                                    \
            fprintf(stderr, "posture case: got \"%s\" want \"%s\"\n", v.reason, want); \
        CHECK(!strcmp(v.reason, want));                                                \
    } while (0)
    POSTURE_CASE((void)0, "accepted by rule 0 (line 3)");
    POSTURE_CASE(m[0].posture.os = "windows", "rule 0 (line 3): posture \"posture:strict\" failed: os windows not allowed");
    POSTURE_CASE(m[0].posture.os_version = "6.8.12", "rule 0 (line 3): posture \"posture:strict\" failed: os_version 6.8.12 < 6.9");
    POSTURE_CASE((m[0].posture.os = "macos", m[0].posture.os_version = "1"), "accepted by rule 0 (line 3)");
    POSTURE_CASE(m[0].posture.agent_version = "1.1.9", "rule 0 (line 3): posture \"posture:strict\" failed: agent_version 1.1.9 < 1.2");
    POSTURE_CASE(m[0].posture.screen_lock = false, "rule 0 (line 3): posture \"posture:strict\" failed: screen_lock");
    POSTURE_CASE(m[0].posture.antivirus = false, "rule 0 (line 3): posture \"posture:strict\" failed: antivirus");
    POSTURE_CASE(m[0].posture.firewall = false, "rule 0 (line 3): posture \"posture:strict\" failed: firewall");
    POSTURE_CASE(m[0].posture.present = false, "rule 0 (line 3): posture \"posture:strict\" failed: no posture report");
    POSTURE_CASE(m[0].posture.reported_at = 1060 - 86401,
                 "rule 0 (line 3): posture \"posture:strict\" failed: quarantined, report is 86401s old (max 86400s)");
#undef POSTURE_CASE
    policy_free(p);
}

/* A heartbeat that changes nothing the policy reads (only the report time) reports no change,
 * and its report time still counts for staleness; a posture change reaches the destinations of
 * its rule. (The engine now skips recompiling a machine's peers for such heartbeats; the random
 * incremental-vs-full comparison above checks that this skips nothing that matters.) */
static void test_heartbeat_upsert(void)
{
    struct policy *p = NULL;
    struct policy_error err;
    struct fleet f;
    struct fleet_user u[3];
    struct fleet_machine m[4];
    struct fleet_grant g[1];
    struct policy_engine *e = NULL;
    size_t n;
    CHECK(policy_parse(scen_policy, strlen(scen_policy), &p, &err) == 0);
    scen_fleet(&f, u, m, g, MON_0859 - 60);
    m[0].posture.disk_encryption = true;
    CHECK(p && policy_engine_new(&e, p, NULL, &f, MON_0859) == 0);
    if (!e) {
        policy_free(p);
        return;
    }
    const uint8_t alice[4] = {100, 64, 0, 10};
    CHECK(node_allows(e, 11, alice, 22));
    for (int i = 1; i <= 3; i++) { /* three heartbeats, a minute apart */
        m[0].posture.reported_at = MON_0859 + 60 * i;
        CHECK(policy_engine_user_upsert(e, &u[0]) == 0);
        CHECK(policy_engine_changed(e, &n) && n == 0);
        CHECK(policy_engine_machine_upsert(e, &m[0]) == 0);
        policy_engine_changed(e, &n);
        CHECK(n == 0);
    }
    /* the last report (at +180 s) keeps it fresh past the first one's max age (1 h) */
    CHECK(policy_engine_set_now(e, MON_0859 + 3600) == 0);
    CHECK(node_allows(e, 11, alice, 22));
    CHECK(policy_engine_set_now(e, MON_0859 + 3600 + 181) == 0);
    CHECK(!node_allows(e, 11, alice, 22) && changed_has(e, 11));
    m[0].posture.reported_at = MON_0859 + 3600 + 181;
    m[0].posture.disk_encryption = false;
    CHECK(policy_engine_machine_upsert(e, &m[0]) == 0);
    CHECK(!node_allows(e, 11, alice, 22));
    m[0].posture.disk_encryption = true;
    CHECK(policy_engine_machine_upsert(e, &m[0]) == 0);
    CHECK(node_allows(e, 11, alice, 22) && changed_has(e, 11));
    policy_engine_free(e);
    policy_free(p);
}

static void test_scenarios(void)
{
    test_posture_reasons();
    test_heartbeat_upsert();
    struct policy *p = NULL;
    struct policy_error err;
    struct fleet f;
    struct fleet_user u[3];
    struct fleet_machine m[4];
    struct fleet_grant g[1];
    int r = policy_parse(scen_policy, strlen(scen_policy), &p, &err);
    if (r)
        fprintf(stderr, "%s\n", err.msg);
    CHECK(r == 0);
    if (!p)
        return;
    scen_fleet(&f, u, m, g, MON_0859 - 60);
    int64_t now = MON_0859;

    /* explain: each failing condition by name */
    expect(p, &f, NULL, now, 10, 11, 22, false,
           "rule 0 (line 8): posture \"posture:base\" failed: disk_encryption");
    expect(p, &f, NULL, now, 10, 11, 443, false,
           "rule 1 (line 10): outside schedule \"business-hours\"");
    expect(p, &f, NULL, now + 30, 10, 11, 443, true, "accepted by rule 1 (line 10)");
    expect(p, &f, NULL, now, 10, 11, 80, false, "no rule matches");
    expect(p, &f, NULL, now, 12, 13, 5432, false, "rule 2 (line 12): requires JIT access (no active grant)");
    expect(p, &f, NULL, now, 12, 13, 9000, false, "rule 3 (line 14): geo: source location unknown not allowed");
    m[0].posture.disk_encryption = true;
    expect(p, &f, NULL, now, 10, 11, 22, true, "accepted by rule 0 (line 8)");
    /* posture staleness: the report is 60 s old; max age 1h */
    expect(p, &f, NULL, now + 3540, 10, 11, 22, true, "accepted by rule 0 (line 8)");
    expect(p, &f, NULL, now + 3541, 10, 11, 22, false,
           "rule 0 (line 8): posture \"posture:base\" failed: quarantined, report is 3601s old (max 3600s)");

    /* geo by country database and by the machine's own country */
    struct policy_geo *geo = NULL;
    const char *csv = "198.18.0.0/16,DE\n198.18.0.2/32,FR\n";
    CHECK(policy_geo_parse(csv, strlen(csv), &geo, &err) == 0);
    expect(p, &f, geo, now, 12, 13, 9000, true, "accepted by rule 3 (line 14)");
    m[2].country = "US";
    expect(p, &f, geo, now, 12, 13, 9000, false, "rule 3 (line 14): geo: source country US not allowed");
    m[2].country = NULL;
    const char *badcsv = "198.18.0.0/16,DE\nnot-a-cidr,FR\n";
    struct policy_geo *g2 = NULL;
    CHECK(policy_geo_parse(badcsv, strlen(badcsv), &g2, &err) == -EINVAL && g2 == NULL);
    CHECK(!strcmp(err.msg, "geo database line 2: bad cidr or country"));

    /* explain for a user: any of the user's machines */
    struct policy_query uq = {.src_user = 1, .dst_machine = 11, .port = 22, .proto = 6};
    struct policy_verdict uv;
    CHECK(policy_explain(p, &f, NULL, now, &uq, &uv) == 0 && uv.accept);
    uq.port = 80;
    CHECK(policy_explain(p, &f, NULL, now, &uq, &uv) == 0 && !uv.accept);
    CHECK(!strcmp(uv.reason, "from alice-laptop: no rule matches"));
    uq.src_user = 3; /* ops owns only tagged servers, web excluded as the destination */
    CHECK(policy_explain(p, &f, NULL, now, &uq, &uv) == 0 && !uv.accept);

    /* compiled: schedule boundary in New York, next boundary reported */
    struct policy_engine *e = NULL;
    CHECK(policy_engine_new(&e, p, geo, &f, now) == 0);
    if (!e)
        goto out;
    CHECK(!node_allows(e, 11, m[0].ip4, 443));
    CHECK(node_allows(e, 11, m[0].ip4, 22));
    CHECK(policy_engine_next_boundary(e) == MON_0859 + 30); /* 09:00 New York */
    /* regression (raw CIDR sources outside schedule): a CIDR source of a scheduled rule compiles
     * to a prefix entry only while the schedule is on */
    const uint8_t outside[4] = {198, 18, 5, 7};
    CHECK(!node_allows(e, 11, outside, 8443));
    CHECK(policy_engine_set_now(e, MON_0859 + 30) == 0);
    CHECK(node_allows(e, 11, outside, 8443));
    CHECK(node_allows(e, 11, m[0].ip4, 443) && changed_has(e, 11));
    CHECK(!changed_has(e, 10)); /* its peers did not change: web was already one (rule 0) */
    CHECK(!changed_has(e, 12) && !changed_has(e, 13));
    /* next: alice's report goes stale (reported MON_0859 - 60, max age 1h) */
    CHECK(policy_engine_next_boundary(e) == MON_0859 - 60 + 3601);
    m[0].posture.reported_at = MON_0859 + 8 * 3600;
    CHECK(policy_engine_machine_upsert(e, &m[0]) == 0);
    /* then 17:00 New York = 22:00Z the same day; at 16:59:59 still in */
    CHECK(policy_engine_next_boundary(e) == MON_0859 + 30 + 8 * 3600);
    CHECK(policy_engine_set_now(e, MON_0859 + 30 + 8 * 3600 - 1) == 0);
    CHECK(node_allows(e, 11, m[0].ip4, 443));
    CHECK(policy_engine_set_now(e, MON_0859 + 30 + 8 * 3600) == 0);
    CHECK(!node_allows(e, 11, m[0].ip4, 443));

    /* Tokyo, Saturday 06:30-07:00 JST = Friday 21:30-22:00Z: from Friday 2026-11-27 21:00Z */
    int64_t fri2100 = 1795813200;
    CHECK(policy_engine_set_now(e, fri2100) == 0);
    CHECK(!node_allows(e, 11, m[3].ip4, 8080));
    int64_t nb = policy_engine_next_boundary(e);
    CHECK(nb == fri2100 + 1800);
    CHECK(policy_engine_set_now(e, nb) == 0);
    CHECK(node_allows(e, 11, m[3].ip4, 8080));

    /* posture staleness in the compiled filter: reported at MON_0859 - 60, max age 3600 */
    m[0].posture.reported_at = MON_0859 - 60;
    CHECK(policy_engine_machine_upsert(e, &m[0]) == 0);
    CHECK(policy_engine_set_now(e, now) == 0);
    CHECK(node_allows(e, 11, m[0].ip4, 22));
    CHECK(policy_engine_next_boundary(e) == MON_0859 + 30);
    CHECK(policy_engine_set_now(e, MON_0859 - 60 + 3600) == 0);
    CHECK(node_allows(e, 11, m[0].ip4, 22));
    CHECK(policy_engine_next_boundary(e) == MON_0859 - 60 + 3601);
    CHECK(policy_engine_set_now(e, MON_0859 - 60 + 3601) == 0);
    CHECK(!node_allows(e, 11, m[0].ip4, 22) && changed_has(e, 11));
    /* a fresh report ends the quarantine: one machine changed, only its peers recompiled */
    m[0].posture.reported_at = MON_0859 + 3000;
    CHECK(policy_engine_machine_upsert(e, &m[0]) == 0);
    CHECK(node_allows(e, 11, m[0].ip4, 22) && changed_has(e, 11) && !changed_has(e, 13));

    /* JIT: granted until expiry, then gone; the expiry is a boundary */
    CHECK(policy_engine_set_now(e, now) == 0);
    CHECK(!node_allows(e, 13, m[2].ip4, 5432));
    CHECK(policy_engine_grant_add(e, &g[0]) == 0);
    CHECK(node_allows(e, 13, m[2].ip4, 5432) && !node_allows(e, 13, m[2].ip4, 5433));
    CHECK(changed_has(e, 13) && !changed_has(e, 11));
    CHECK(!changed_has(e, 12)); /* db already was dana's peer through rule 3 */
    f.ngrants = 1;
    expect(p, &f, geo, now, 12, 13, 5432, true, "accepted by rule 2 (line 12)");
    expect(p, &f, geo, g[0].expires_at, 12, 13, 5432, false,
           "rule 2 (line 12): requires JIT access (no active grant)");
    CHECK(policy_engine_next_boundary(e) <= g[0].expires_at);
    CHECK(policy_engine_set_now(e, g[0].expires_at - 1) == 0);
    CHECK(node_allows(e, 13, m[2].ip4, 5432));
    CHECK(policy_engine_set_now(e, g[0].expires_at) == 0);
    CHECK(!node_allows(e, 13, m[2].ip4, 5432) && changed_has(e, 13));
    /* the engine's fleet view explains the same as the caller's fleet */
    const struct fleet *ef = policy_engine_fleet(e);
    struct policy_query eq = {.src_machine = 12, .dst_machine = 13, .port = 5432, .proto = 6};
    struct policy_verdict ev;
    CHECK(ef && ef->nmachines == 4 && policy_explain(p, ef, geo, g[0].expires_at, &eq, &ev) == 0);
    CHECK(!ev.accept && !strcmp(ev.reason, "rule 2 (line 12): requires JIT access (no active grant)"));
    /* netmap pruning: alice's laptop sees web (rules 0/1) but not db */
    const struct policy_node *n10 = policy_engine_node(e, 10);
    CHECK(n10 && n10->npeers == 1 && n10->peers[0] == 11);
    CHECK(policy_engine_node(e, 999) == NULL);
    CHECK(policy_engine_machine_remove(e, 999) == -ENOENT);
    CHECK(policy_engine_machine_remove(e, 10) == 0 && changed_has(e, 10) && changed_has(e, 11));
    CHECK(policy_engine_node(e, 10) == NULL);
    /* the JSON encoding of a node's filter round-trips */
    const struct policy_node *n13 = policy_engine_node(e, 13);
    char *js = NULL;
    struct filter_entry *back = NULL;
    size_t nb2 = 0;
    CHECK(n13 && filter_json_write(n13->entries, n13->nentries, &js) == 0);
    CHECK(js && filter_json_parse(js, &back, &nb2) == 0 && nb2 == n13->nentries);
    free(js);
    free(back);
out:
    policy_engine_free(e);
    policy_geo_free(geo);
    policy_free(p);
}
