/* Compiler vs the naive evaluator (explain) on random policies and fleets, incremental vs full
 * recompiles on random change sequences, explain messages, schedules at boundaries in several
 * time zones, posture staleness, JIT expiry, geo. */
#include "server/policy/compile.h"
#include "tests/check.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>

static uint64_t rs = 0x243f6a8885a308d3ULL;
static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}
#define RN(n) ((size_t)(rnd() % (n)))

/* --- text builder ------------------------------------------------------------------------- */
struct sb {
    char *s;
    size_t n, cap;
};
static void sbf(struct sb *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int k = vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if (b->s && (size_t)k < b->cap - b->n) {
            b->n += (size_t)k;
            return;
        }
        b->cap = b->cap * 2 + (size_t)k + 256;
        b->s = realloc(b->s, b->cap);
    }
}

/* --- random world ------------------------------------------------------------------------- */
#define NU 24
#define NM 48
#define NG 5
#define NT 4

static char emails[NU][32];
static const char *oidc[] = {"group:oidc:a", "group:oidc:b"};
static const char *tagnames[NT] = {"tag:t0", "tag:t1", "tag:t2", "tag:t3"};

struct world {
    struct fleet_user users[NU];
    const char *ugroups[NU][1];
    struct fleet_machine ms[NM + 16];
    const char *mtags[NM + 16][2];
    size_t nm;
    struct fleet_grant grants[32];
    size_t ng;
    int64_t next_id;
};

static const char *rand_src(void)
{
    static char buf[8][64];
    static int k;
    char *b = buf[k++ % 8];
    switch (RN(9)) {
    case 0: snprintf(b, 64, "%s", emails[RN(NU)]); break;
    case 1: case 2: snprintf(b, 64, "group:g%zu", RN(NG)); break;
    case 3: snprintf(b, 64, "%s", tagnames[RN(NT)]); break;
    case 4: snprintf(b, 64, "*"); break;
    case 5: snprintf(b, 64, "autogroup:member"); break;
    case 6: snprintf(b, 64, "100.64.0.%zu/%zu", RN(64), 26 + RN(7)); break;
    case 7: snprintf(b, 64, "%s", RN(2) ? "h0" : "h1"); break;
    default: snprintf(b, 64, "%s", oidc[RN(2)]); break;
    }
    return b;
}

static const char *rand_dst(void)
{
    static char buf[8][80];
    static int k;
    char *b = buf[k++ % 8];
    char ports[24];
    switch (RN(5)) {
    case 0: snprintf(ports, sizeof(ports), "*"); break;
    case 1: snprintf(ports, sizeof(ports), "%zu", 20 + RN(6)); break;
    case 2: snprintf(ports, sizeof(ports), "%zu-%zu", 20 + RN(3), 23 + RN(4)); break;
    default: snprintf(ports, sizeof(ports), "22,%zu", 80 + RN(3)); break;
    }
    const char *s = rand_src();
    if (RN(6) == 0)
        s = "autogroup:self";
    snprintf(b, 80, "%s:%s", s, ports);
    return b;
}

static char *rand_policy(int nrules, int edit_rule, uint64_t edit_seed)
{
    struct sb b = {0};
    sbf(&b, "{\"groups\": {");
    for (int g = 0; g < NG; g++) {
        sbf(&b, "\"group:g%d\": [", g);
        for (int i = 0; i < 5; i++)
            sbf(&b, "\"%s\",", emails[(g * 7 + i * 3) % NU]);
        if (g > 0)
            sbf(&b, "\"group:g%d\",", g - 1); /* nested, acyclic */
        if (g == 2)
            sbf(&b, "\"%s\",", oidc[0]);
        sbf(&b, "],");
    }
    sbf(&b, "}, \"tagOwners\": {\"tag:t0\": [\"group:g1\"], \"tag:t1\": [\"%s\"], \"tag:t2\": "
            "[\"group:g4\", \"%s\"], \"tag:t3\": [\"%s\"]},",
        emails[0], emails[5], oidc[1]);
    sbf(&b, "\"hosts\": {\"h0\": \"100.64.0.7\", \"h1\": \"100.64.0.32/28\"},");
    sbf(&b, "\"postures\": {\"posture:disk\": {\"diskEncryption\": true, \"maxReportAge\": \"2h\"},"
            "\"posture:os\": {\"os\": {\"linux\": \"6.1\", \"macos\": \"\"}, \"firewall\": true}},");
    sbf(&b, "\"schedules\": {\"wk\": {\"timezone\": \"Europe/Berlin\", \"days\": [\"weekdays\"], "
            "\"hours\": \"09:00-17:00\"}, \"night\": {\"timezone\": \"Asia/Tokyo\", \"days\": [\"*\"], "
            "\"hours\": \"00:00-06:00\"}},");
    sbf(&b, "\"rules\": [");
    uint64_t saved = rs;
    for (int r = 0; r < nrules; r++) {
        if (r == edit_rule)
            rs = edit_seed;
        sbf(&b, "{\"action\": \"accept\", \"src\": [");
        for (size_t i = 0, n = 1 + RN(3); i < n; i++)
            sbf(&b, "\"%s\",", rand_src());
        sbf(&b, "], \"dst\": [");
        for (size_t i = 0, n = 1 + RN(2); i < n; i++)
            sbf(&b, "\"%s\",", rand_dst());
        sbf(&b, "]");
        static const char *pr[] = {"tcp", "udp", "icmp", "*"};
        if (RN(2))
            sbf(&b, ", \"proto\": \"%s\"", pr[RN(4)]);
        if (RN(5) == 0)
            sbf(&b, ", \"posture\": [\"%s\"]", RN(2) ? "posture:disk" : "posture:os");
        if (RN(6) == 0)
            sbf(&b, ", \"schedule\": \"%s\"", RN(2) ? "wk" : "night");
        if (RN(7) == 0)
            sbf(&b, ", \"geo\": {\"countries\": [\"DE\"], \"cidrs\": [\"198.18.1.0/24\"]}");
        if (RN(6) == 0)
            sbf(&b, ", \"requireJit\": true");
        sbf(&b, "},");
        if (r == edit_rule)
            rs = saved;
    }
    sbf(&b, "]}");
    return b.s;
}

static void rand_machine(struct world *w, size_t i, int64_t now)
{
    struct fleet_machine *m = &w->ms[i];
    int64_t id = m->id ? m->id : ++w->next_id;
    memset(m, 0, sizeof(*m));
    m->id = id;
    m->name = "m";
    m->owner = w->users[RN(NU)].id;
    m->ntags = RN(4) == 0 ? 1 + RN(2) : 0;
    for (size_t k = 0; k < m->ntags; k++)
        w->mtags[i][k] = tagnames[RN(NT)];
    m->tags = w->mtags[i];
    m->has_ip4 = true;
    m->ip4[0] = 100; m->ip4[1] = 64; m->ip4[2] = (uint8_t)(id / 256); m->ip4[3] = (uint8_t)(id % 256);
    if (RN(3) == 0) {
        m->has_ip6 = true;
        m->ip6[0] = 0xfd; m->ip6[1] = 0x7a; m->ip6[14] = (uint8_t)(id / 256); m->ip6[15] = (uint8_t)id;
    }
    static const char *os[] = {"linux", "macos", "windows"};
    static const char *ver[] = {"5.10", "6.1.0", "6.5"};
    m->posture = (struct posture_report){.present = RN(8) != 0, .os = os[RN(3)], .os_version = ver[RN(3)],
                                         .disk_encryption = RN(3) != 0, .firewall = RN(3) != 0,
                                         .reported_at = now - (int64_t)RN(3 * 3600)};
    if (RN(3)) {
        m->seen_family = 4;
        m->seen_addr[0] = 198; m->seen_addr[1] = 18; m->seen_addr[2] = (uint8_t)RN(3); m->seen_addr[3] = 9;
    }
    static const char *cc[] = {"DE", "US", NULL};
    m->country = cc[RN(3)];
}

static void world_init(struct world *w, int64_t now)
{
    memset(w, 0, sizeof(*w));
    for (int i = 0; i < NU; i++) {
        snprintf(emails[i], sizeof(emails[i]), "u%d@example.com", i);
        w->users[i].id = 1000 + i;
        w->users[i].email = emails[i];
        if (RN(4) == 0) {
            w->ugroups[i][0] = oidc[RN(2)];
            w->users[i].groups = w->ugroups[i];
            w->users[i].ngroups = 1;
        }
    }
    w->nm = NM;
    for (size_t i = 0; i < NM; i++)
        rand_machine(w, i, now);
    for (int k = 0; k < 10; k++) {
        struct fleet_grant *g = &w->grants[w->ng++];
        *g = (struct fleet_grant){.id = 500 + k, .requester = w->users[RN(NU)].id,
                                  .dst_machine = w->ms[RN(NM)].id, .port = (uint16_t)(20 + RN(6)),
                                  .proto = RN(2) ? 6 : 0, .expires_at = now - 100 + (int64_t)RN(2000)};
    }
}

static struct fleet world_fleet(struct world *w)
{
    return (struct fleet){.users = w->users, .nusers = NU, .machines = w->ms, .nmachines = w->nm,
                          .grants = w->grants, .ngrants = w->ng};
}

/* Every (src, dst, port, proto) the filter of dst admits iff explain accepts; peers agree. */
static int compare_naive(struct policy_engine *e, const struct policy *p, const struct fleet *f,
                         const struct policy_geo *geo, int64_t now, int queries)
{
    int bad = 0;
    static const uint8_t protos[] = {6, 17, 1};
    struct filter **built = calloc(f->nmachines, sizeof(*built)); /* per destination, lazily */
    for (int q = 0; q < queries && bad < 5; q++) {
        size_t di = RN(f->nmachines);
        const struct fleet_machine *d = &f->machines[di];
        const struct fleet_machine *s = &f->machines[RN(f->nmachines)];
        if (s == d)
            continue;
        struct policy_query pq = {.src_machine = s->id, .dst_machine = d->id,
                                  .port = (uint16_t)(18 + RN(66)), .proto = protos[RN(3)]};
        uint8_t fam = 4, addr[16] = {0};
        memcpy(addr, s->ip4, 4);
        if (s->has_ip6 && RN(2)) {
            fam = 6;
            memcpy(addr, s->ip6, 16);
        }
        if (RN(6) == 0) { /* a bare address that is no machine */
            pq.src_machine = 0;
            fam = 4;
            addr[0] = 100; addr[1] = 64; addr[2] = 0; addr[3] = (uint8_t)(200 + RN(50));
            pq.src_family = 4;
            memcpy(pq.src_addr, addr, 16);
        }
        struct policy_verdict v;
        CHECK(policy_explain(p, f, geo, now, &pq, &v) == 0);
        const struct policy_node *n = policy_engine_node(e, d->id);
        CHECK(n != NULL);
        if (!n)
            break;
        if (!built[di])
            CHECK(filter_build(&built[di], n->entries, n->nentries) == 0);
        const struct filter *flt = built[di];
        uint8_t ipp = fam == 6 && pq.proto == 1 ? 58 : pq.proto; /* ICMPv6 */
        bool got = filter_allows(flt, fam, addr, ipp, pq.port);
        if (got != v.accept) {
            fprintf(stderr, "mismatch: src %lld dst %lld port %u proto %u: naive %d (%s) compiled %d\n",
                    (long long)pq.src_machine, (long long)d->id, pq.port, pq.proto, v.accept,
                    v.reason, got);
            bad++;
            if (getenv("POL_DEBUG")) {
                for (size_t i = 0; i < n->nentries; i++) {
                    char t[96];
                    filter_entry_format(&n->entries[i], t, sizeof(t));
                    if (n->entries[i].addr[3] == addr[3] || n->entries[i].plen < 32)
                        fprintf(stderr, "  entry %s\n", t);
                }
                if (v.rule >= 0) {
                    const struct policy_rule *rr = &p->rules[v.rule];
                    fprintf(stderr, "  rule proto %u nsrc %zu src0 %s ndst %zu dst0 %s %u-%u jit %d sched %d\n",
                            rr->proto, rr->nsrc, rr->src[0].name, rr->ndst, rr->dst[0].sel.name,
                            rr->dst[0].port_lo, rr->dst[0].port_hi, rr->require_jit, rr->schedule);
                }
            }
        }
        if (v.accept && pq.src_machine) {
            const struct policy_node *sn = policy_engine_node(e, s->id);
            bool p1 = false, p2 = false;
            for (size_t i = 0; i < n->npeers; i++)
                p1 = p1 || n->peers[i] == s->id;
            for (size_t i = 0; sn && i < sn->npeers; i++)
                p2 = p2 || sn->peers[i] == d->id;
            if (!p1 || !p2) {
                fprintf(stderr, "peers: %lld -> %lld accepted but not peers (%d %d)\n",
                        (long long)s->id, (long long)d->id, p1, p2);
                bad++;
            }
        }
    }
    for (size_t i = 0; i < f->nmachines; i++)
        filter_free(built[i]);
    free(built);
    CHECK(bad == 0);
    return bad;
}

static void test_random_vs_naive(void)
{
    struct policy_geo *geo;
    struct policy_error err;
    const char *csv = "# test db\n198.18.0.0/24,DE\n198.18.2.0/24,us\n";
    CHECK(policy_geo_parse(csv, strlen(csv), &geo, &err) == 0);
    for (int round = 0; round < 40; round++) {
        int64_t now = 1795000000 + (int64_t)RN(7 * 86400);
        struct world *w = calloc(1, sizeof(*w));
        world_init(w, now);
        char *text = rand_policy(6 + (int)RN(12), -1, 0);
        struct policy *p = NULL;
        int r = policy_parse(text, strlen(text), &p, &err);
        if (r)
            fprintf(stderr, "%s\n%.300s\n", err.msg, text);
        CHECK(r == 0);
        struct fleet f = world_fleet(w);
        struct policy_engine *e = NULL;
        CHECK(p && policy_engine_new(&e, p, geo, &f, now) == 0);
        if (e)
            compare_naive(e, p, &f, geo, now, 1500);
        policy_engine_free(e);
        policy_free(p);
        free(text);
        free(w);
    }
    policy_geo_free(geo);
}

/* A node's result as one number (FNV-1a): of its filter alone, or of its filter and peers. */
static uint64_t node_fp(const struct policy_node *n, bool with_peers)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    const uint8_t *b = (const uint8_t *)n->entries;
    for (size_t i = 0; i < n->nentries * sizeof(*n->entries); i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    h ^= n->nentries * 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; with_peers && i < n->npeers; i++)
        h = (h ^ (uint64_t)n->peers[i]) * 0x100000001b3ULL;
    return with_peers ? h ^ n->npeers : h;
}

static bool same_results(struct policy_engine *a, struct policy_engine *b, const struct fleet *f)
{
    for (size_t i = 0; i < f->nmachines; i++) {
        const struct policy_node *x = policy_engine_node(a, f->machines[i].id);
        const struct policy_node *y = policy_engine_node(b, f->machines[i].id);
        if (!x || !y || x->nentries != y->nentries || x->npeers != y->npeers ||
            (x->nentries && memcmp(x->entries, y->entries, x->nentries * sizeof(*x->entries))) ||
            (x->npeers && memcmp(x->peers, y->peers, x->npeers * sizeof(*x->peers)))) {
            fprintf(stderr, "node %lld differs\n", (long long)f->machines[i].id);
            return false;
        }
        /* peers are symmetric ("may reach or be reached by"): policy_engine_seers() relies on
         * it, and says who sees x from x's own list */
        for (size_t k = 0; k < x->npeers; k++)
            if (!policy_node_has_peer(policy_engine_node(a, x->peers[k]), f->machines[i].id)) {
                fprintf(stderr, "node %lld has peer %lld but not back\n",
                        (long long)f->machines[i].id, (long long)x->peers[k]);
                return false;
            }
        /* peer lists are ascending (lookups bsearch them), also when slots are out of id
         * order: the fleet here is, after a removal moved the last machine into its place */
        for (size_t k = 1; k < x->npeers; k++)
            if (x->peers[k - 1] >= x->peers[k] || y->peers[k - 1] >= y->peers[k]) {
                fprintf(stderr, "node %lld: peers out of order\n", (long long)f->machines[i].id);
                return false;
            }
    }
    return true;
}

/* Is b among a's peers, or a among b's (what the netmap calls visible)? */
static bool node_sees(const struct policy_engine *e, int64_t a, int64_t b)
{
    const struct policy_node *x = policy_engine_node(e, a), *y = policy_engine_node(e, b);
    for (size_t i = 0; x && i < x->npeers; i++)
        if (x->peers[i] == b)
            return true;
    for (size_t i = 0; y && i < y->npeers; i++)
        if (y->peers[i] == a)
            return true;
    return false;
}

static void test_incremental(void)
{
    size_t nflipped = 0, nfiltered = 0, npeersonly = 0;
    struct policy_error err;
    for (int round = 0; round < 12; round++) {
        int64_t now = 1795000000 + (int64_t)RN(7 * 86400);
        struct world *w = calloc(1, sizeof(*w));
        world_init(w, now);
        int nrules = 8 + (int)RN(8);
        char *text = rand_policy(nrules, -1, 0);
        struct policy *p = NULL, *p2 = NULL;
        CHECK(policy_parse(text, strlen(text), &p, &err) == 0);
        struct fleet f = world_fleet(w);
        struct policy_engine *e = NULL;
        CHECK(policy_engine_new(&e, p, NULL, &f, now) == 0);
        if (!e)
            return;
        for (int step = 0; step < 25; step++) {
            /* remember every node's result to check the change list */
            uint64_t before[NM + 16], ebefore[NM + 16];
            int64_t ids[NM + 16];
            size_t nids = f.nmachines;
            static bool vis[NM + 16][NM + 16];
            for (size_t i = 0; i < f.nmachines; i++) {
                ids[i] = f.machines[i].id;
                before[i] = node_fp(policy_engine_node(e, ids[i]), true);
                ebefore[i] = node_fp(policy_engine_node(e, ids[i]), false);
            }
            for (size_t i = 0; i < nids; i++)
                for (size_t j = 0; j < nids; j++)
                    vis[i][j] = node_sees(e, ids[i], ids[j]);
            int kind = (int)RN(8);
            int rc = 0;
            if (kind == 0 || kind == 1) { /* retag / posture change */
                size_t i = RN(w->nm);
                rand_machine(w, i, now);
                rc = policy_engine_machine_upsert(e, &w->ms[i]);
            } else if (kind == 2 && w->nm < NM + 16) { /* add */
                w->ms[w->nm].id = 0;
                rand_machine(w, w->nm, now);
                rc = policy_engine_machine_upsert(e, &w->ms[w->nm]);
                w->nm++;
            } else if (kind == 3 && w->nm > 4) { /* remove */
                size_t i = RN(w->nm);
                rc = policy_engine_machine_remove(e, w->ms[i].id);
                w->ms[i] = w->ms[w->nm - 1];
                memcpy(w->mtags[i], w->mtags[w->nm - 1], sizeof(w->mtags[i]));
                w->ms[i].tags = w->mtags[i];
                w->nm--;
            } else if (kind == 4 && w->ng < 32) { /* grant added */
                struct fleet_grant *g = &w->grants[w->ng++];
                *g = (struct fleet_grant){.id = 900 + step, .requester = w->users[RN(NU)].id,
                                          .dst_machine = w->ms[RN(w->nm)].id,
                                          .port = (uint16_t)(20 + RN(6)), .expires_at = now + 50};
                rc = policy_engine_grant_add(e, g);
            } else if (kind == 5 && w->ng > 0) { /* grant expired / revoked */
                size_t i = RN(w->ng);
                rc = policy_engine_grant_remove(e, w->grants[i].id);
                w->grants[i] = w->grants[--w->ng];
            } else if (kind == 7) { /* time passes (schedules, staleness, expiry), or goes back */
                now += RN(4) ? (int64_t)RN(4 * 3600) : -(int64_t)RN(3600);
                rc = policy_engine_set_now(e, now);
            } else { /* one rule edited */
                char *t2 = rand_policy(nrules, (int)RN(nrules), rnd());
                policy_free(p2);
                p2 = NULL;
                CHECK(policy_parse(t2, strlen(t2), &p2, &err) == 0);
                rc = policy_engine_set_policy(e, p2);
                struct policy *tmp = p;
                p = p2;
                p2 = tmp; /* the engine borrows p now; p2 (old) freed next time */
                free(t2);
            }
            CHECK(rc == 0);
            f = world_fleet(w);
            struct policy_engine *full = NULL;
            CHECK(policy_engine_new(&full, p, NULL, &f, now) == 0);
            CHECK(full && same_results(e, full, &f));
            /* every node whose result changed is in the change list */
            size_t nch;
            const int64_t *ch = policy_engine_changed(e, &nch);
            for (size_t i = 0; i < nids; i++) {
                const struct policy_node *n = policy_engine_node(e, ids[i]);
                bool listed = false;
                for (size_t k = 0; k < nch; k++)
                    listed = listed || ch[k] == ids[i];
                if ((!n || node_fp(n, true) != before[i]) && !listed) {
                    fprintf(stderr, "step %d kind %d: node %lld changed but not listed\n", step,
                            kind, (long long)ids[i]);
                    CHECK(listed);
                }
                /* listed as a filter change exactly when its entries changed (or it is gone) */
                size_t nf;
                const int64_t *fc = policy_engine_filters_changed(e, &nf);
                bool flisted = false;
                for (size_t k = 0; k < nf; k++)
                    flisted = flisted || fc[k] == ids[i];
                CHECK(flisted == (!n || node_fp(n, false) != ebefore[i]));
                nfiltered += flisted;
                npeersonly += listed && !flisted;
            }
            /* every pair of machines (before and after) whose visibility flipped is a link */
            size_t nl;
            const struct policy_link *l = policy_engine_links(e, &nl);
            CHECK(l != NULL);
            for (size_t i = 0; l && i < nids; i++)
                for (size_t j = i + 1; j < nids; j++) {
                    if (!policy_engine_node(e, ids[i]) || !policy_engine_node(e, ids[j]) ||
                        vis[i][j] == node_sees(e, ids[i], ids[j]))
                        continue;
                    int64_t a = ids[i] < ids[j] ? ids[i] : ids[j], b = ids[i] ^ ids[j] ^ a;
                    bool listed = false;
                    for (size_t k = 0; k < nl && !listed; k++)
                        listed = l[k].a == a && l[k].b == b;
                    if (!listed)
                        fprintf(stderr, "step %d kind %d: link %lld-%lld flipped, not listed\n",
                                step, kind, (long long)a, (long long)b);
                    CHECK(listed);
                    nflipped++;
                }
            /* and nothing is listed that is no machine's peer change */
            for (size_t k = 0; l && k < nl; k++)
                CHECK(l[k].a < l[k].b);
            if (step % 8 == 0)
                compare_naive(e, p, &f, NULL, now, 300);
            policy_engine_free(full);
        }
        policy_engine_free(e);
        policy_free(p);
        policy_free(p2);
        free(text);
        free(w);
    }
    /* the random changes did flip links, so the check above was exercised */
    CHECK(nflipped > 20);
    /* and both kinds of change happened: filters, and peers alone */
    CHECK(nfiltered > 20 && npeersonly > 5);
}

#include "test_policy_scenarios.h"

int main(void)
{
    test_random_vs_naive();
    test_incremental();
    test_scenarios();
    return check_finish("test_policy_compile");
}
