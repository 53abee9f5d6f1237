/* Policy scenario of the control-plane load tool (benchmark only; `ctl_load --policy`, see
 * ctl_load.c): issue 6's target end to end, "a single change applied and delivered to every
 * affected agent", over real HTTP.
 *
 *   ctl_load [--poll] --policy HOST PORT ADMIN_TOKEN ORG_ID ADMIN_EMAIL N SERVER_PID
 *
 * The fleet has the shape of bench/policy/bench_policy.c as far as the HTTP API allows:
 * 90% clients in 50 groups and 10% servers carrying one of up to 100 tags (10 per tag), 1,000
 * accept rules group -> tag:port (the same formulas as bench_policy) plus the autogroup:self
 * rule. Differences, printed with the figures:
 *  - the 50 groups are tags (tag:g0..tag:g49): 9,000 users would have to be invited and log in
 *    one by one; every machine registers with a reusable auth key carrying its tag, and the
 *    admin owns every tag in tagOwners;
 *  - PUT /api/orgs/{org}/policy takes at most 64 KiB of body (SRV_MAX_BODY_BYTES) and 1,000
 *    rule objects are ~75 KiB escaped, so rules 1..999 are written as one rule object per
 *    source group listing its destinations (the same compiled filter and peer sets); rule 0,
 *    the one edited, is an object of its own;
 *  - no posture conditions (the agents send no posture report). bench_policy puts posture:base
 *    on every 10th rule, among them every rule into tag:t0, and a third of its machines fail
 *    it: its retag changes 3,001 nodes, here 3,601 (the 20 groups with a rule into tag:t0 or
 *    tag:t1, 180 clients each, and the server).
 * Then: one full map of a server (size), N map streams (or, with --poll, long-polls) held at
 * the org's version, and
 *  A. one server retagged (admin PATCH .../machines/{id} {"tags"}, tag:t0 -> tag:t1),
 *  B. rule 0's port edited (PUT .../policy with If-Match),
 *  C. the server retagged back (the second message to most of A's streams),
 * each measured from sending the request until the last stream that receives a message has it
 * (2 s without a message, the server idle at the end, decide it was the last): how many streams
 * received one and what the policy says changed, message types and bytes, latency, the server's
 * CPU sampled at or after the last arrival (and until it was idle again). Every reply is
 * checked (a poll's HTTP 200 and signature, a stream's frame and batch signature; machine_id, a
 * filter). Then a follow-up message is anything that comes within 2 s: a stream's later frames,
 * or the reply to a poll sent again at the new version (as agents do). Every stream pings
 * before each change, so that no ping falls inside a measurement. The peer: K concurrent GET
 * /healthz for the K agents each change reached; lines starting "= " repeat each figure with
 * its ratio to the peer. Exit 1 only when the protocol misbehaves. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ctl_load.h"
#include "ctl_stream.h"

#define NGROUPS   50
#define MAXTAGS   100
#define NRULES    1000
#define QUIET_S   2.0
#define SELF_RULE \
    "{\"action\":\"accept\",\"src\":[\"autogroup:member\"],\"dst\":[\"autogroup:self:*\"]}"

static const char *token, *org, *email;
static int pid, ep, ntags, nclients, nservers;
static int *server_tag; /* current tag of each server */

static int rule_group(int r) { return (r * 31 + r / 100) % NGROUPS; }
static int rule_tag(int r) { return (r * 7) % ntags; }
static int rule_port(int r, int edited)
{
    return r == 0 && edited ? edited : 1000 + (r * 17 + r / 50) % 100;
}
static int client_group(int i) { return i % NGROUPS; }

static void add(char **s, size_t *n, size_t *cap, const char *fmt, ...)
{
    va_list ap;

    if (*cap - *n < 512) {
        *cap *= 2;
        *s = realloc(*s, *cap);
    }
    va_start(ap, fmt);
    *n += (size_t)vsnprintf(*s + *n, *cap - *n, fmt, ap);
    va_end(ap);
}

static char *policy_text(int edited, int *objects)
{
    size_t cap = 65536, n = 0;
    char *s = malloc(cap);

    add(&s, &n, &cap, "{\"tagOwners\":{");
    for (int g = 0; g < NGROUPS; g++)
        add(&s, &n, &cap, "\"tag:g%d\":[\"%s\"],", g, email);
    for (int t = 0; t < (ntags < 2 ? 2 : ntags); t++)
        add(&s, &n, &cap, "\"tag:t%d\":[\"%s\"],", t, email);
    add(&s, &n, &cap, "},\"rules\":[");
    add(&s, &n, &cap, "{\"action\":\"accept\",\"src\":[\"tag:g%d\"],\"dst\":[\"tag:t%d:%d\"],"
        "\"proto\":\"tcp\"},", rule_group(0), rule_tag(0), rule_port(0, edited));
    *objects = 2;
    for (int g = 0; g < NGROUPS; g++) {
        bool any = false;

        for (int r = 1; r < NRULES; r++) {
            if (rule_group(r) != g)
                continue;
            if (!any)
                add(&s, &n, &cap, "{\"action\":\"accept\",\"src\":[\"tag:g%d\"],\"dst\":[", g);
            add(&s, &n, &cap, "\"tag:t%d:%d\",", rule_tag(r), rule_port(r, 0));
            any = true;
        }
        if (any) {
            add(&s, &n, &cap, "],\"proto\":\"tcp\"},");
            ++*objects;
        }
    }
    add(&s, &n, &cap, "%s]}", SELF_RULE);
    return s;
}

/* An admin request on a fresh connection: with fdout the request is only sent (the connection,
 * non-blocking, is returned for the caller to collect the reply), else the reply body. */
static char *admin_req(const char *method, const char *path, const char *body, int64_t ifmatch,
                       int *status, int *fdout)
{
    size_t blen = body ? strlen(body) : 0, cap = blen + 1024;
    char *req = malloc(cap), im[64] = "";
    int fd = dial(false);

    if (ifmatch >= 0)
        snprintf(im, sizeof(im), "If-Match: \"%lld\"\r\n", (long long)ifmatch);
    int n = snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: application/json\r\n%sContent-Length: %zu\r\n\r\n%s",
                     method, path, host, token, im, blen, body ? body : "");
    char *resp = NULL;

    *status = 0;
    if (fd >= 0 && fdout) {
        if (write_all(fd, req, (size_t)n) < 0) {
            close(fd);
            fd = -1;
        } else {
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        }
        *fdout = fd;
    } else if (fd >= 0) {
        resp = roundtrip(fd, req, (size_t)n, status);
        close(fd);
    }
    free(req);
    return resp;
}

static char *policy_body(int edited, size_t *doclen, int *objects)
{
    char *text = policy_text(edited, objects);
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "policy", text);
    char *body = cJSON_PrintUnformatted(o);
    *doclen = strlen(text);
    cJSON_Delete(o);
    free(text);
    return body;
}

static int64_t policy_version(void)
{
    char path[128];
    int status;

    snprintf(path, sizeof(path), "/api/orgs/%s/policy", org);
    char *r = admin_req("GET", path, NULL, -1, &status, NULL);
    int64_t v = status == 200 ? json_id(r, "version", NULL) : -1;

    free(r);
    return v;
}

static char *key_for(const char *tag)
{
    char path[128], body[160];
    int status;

    snprintf(path, sizeof(path), "/api/orgs/%s/auth-keys", org);
    snprintf(body, sizeof(body), "{\"reusable\":true,\"description\":\"bench\",\"tags\":[\"%s\"]}",
             tag);
    char *r = admin_req("POST", path, body, -1, &status, NULL), *key = NULL;
    cJSON *root = cJSON_Parse(r ? r : "");
    cJSON *k = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "data"), "key");

    if (status == 201 && cJSON_IsString(k))
        key = strdup(k->valuestring);
    else
        fprintf(stderr, "auth key for %s: HTTP %d %.200s\n", tag, status, r ? r : "");
    cJSON_Delete(root);
    free(r);
    return key;
}

/* The server's ztna_netmap_wakeups_total{outcome="message"|"nothing"} (held polls woken by a
 * change, or streams the pump looked at, with or without a message for their machine), -1 when
 * it has no such counter. */
static void wakeups(long long out[2])
{
    static const char *const names[2] = {"ztna_netmap_wakeups_total{outcome=\"message\"} ",
                                         "ztna_netmap_wakeups_total{outcome=\"nothing\"} "};
    int status;
    char *r = admin_req("GET", "/metrics", NULL, -1, &status, NULL);

    for (int k = 0; k < 2; k++) {
        const char *p = r && status == 200 ? strstr(r, names[k]) : NULL;

        out[k] = p ? atoll(p + strlen(names[k])) : -1;
    }
    free(r);
}

/* What the policy says a retag changes: the streams that see it (the machine itself, and every
 * client that may reach it before or after: its peer entry's tags changed) and, as bench_policy
 * counts, the nodes whose filter or peer set changes (the machine, and the clients that gain or
 * lose it). */
static void expected_retag(int from, int to, char *out, size_t cap)
{
    bool before[NGROUPS] = {false}, after[NGROUPS] = {false};
    int see = 1, changed = 1;

    for (int r = 0; r < NRULES; r++) {
        before[rule_group(r)] |= rule_tag(r) == from;
        after[rule_group(r)] |= rule_tag(r) == to;
    }
    for (int i = 0; i < nclients; i++) {
        see += before[client_group(i)] || after[client_group(i)];
        changed += before[client_group(i)] != after[client_group(i)];
    }
    snprintf(out, cap, "%d see the change, %d of them get another filter or peer set", see,
             changed);
}

static int expected_rule0(void)
{
    int n = 0;

    for (int j = 0; j < nservers; j++)
        n += server_tag[j] == rule_tag(0);
    return n;
}

struct tally {
    int full, delta, keepalive, bad;
    size_t bytes[3], max[3];
    long peers, removes;   /* peer entries (full: peers, delta: upsert) and removed ids */
    int with_self, bare;   /* deltas with self; deltas with no peer, remove or self (a filter) */
};

static void tally_one(struct tally *t, struct agent *a, int i, int m)
{
    struct map_info mi = {0};
    char why[512];
    size_t bytes;
    int k;

    if (!agent_message_check(a, m, 0, &mi, &bytes, why, sizeof(why))) {
        if (t->bad++ < 3)
            fprintf(stderr, "  agent %d (machine %lld): %s\n", i, (long long)a->id, why);
        return;
    }
    k = !strcmp(mi.type, "full") ? 0 : !strcmp(mi.type, "delta") ? 1 :
        !strcmp(mi.type, "keepalive") ? 2 : -1;
    if (k < 0 || (k < 2 && !mi.has_filter)) {
        if (t->bad++ < 3)
            fprintf(stderr, "  agent %d: a %s without a filter object\n", i, mi.type);
        return;
    }
    t->full += k == 0;
    t->delta += k == 1;
    t->peers += mi.upserts;
    t->removes += mi.removes;
    t->with_self += k == 1 && mi.self;
    t->bare += k == 1 && !mi.self && !mi.upserts && !mi.removes;
    t->keepalive += k == 2;
    t->bytes[k] += bytes;
    t->max[k] = bytes > t->max[k] ? bytes : t->max[k];
    a->version = mi.version > a->version ? mi.version : a->version;
}

/* Checks every reply or message in (done_at != 0): a poll's HTTP 200 and signature, a stream's
 * frame and batch signature, machine_id, a filter in every full map and delta; keeps each
 * agent's new version. A stream's messages after its first go to more (t when NULL). */
static void tally_replies(struct tally *t, struct tally *more)
{
    for (int i = 0; i < nagents; i++) {
        struct agent *a = &agents[i];
        int n = agent_messages(a);

        for (int m = 0; m < n; m++)
            tally_one(m && more ? more : t, a, i, m);
    }
}

static int tally_count(const struct tally *t)
{
    return t->full + t->delta + t->keepalive + t->bad;
}

static void print_tally(const char *what, const struct tally *t)
{
    const char *names[3] = {"full", "delta", "keepalive"};
    int counts[3] = {t->full, t->delta, t->keepalive};

    printf("  %s: %d full, %d delta, %d keepalive, %d failed the checks", what, t->full, t->delta,
           t->keepalive, t->bad);
    if (t->full + t->delta)
        printf("; %ld peer entries and %ld removals in all; deltas: %d with self, %d with only a "
               "filter", t->peers, t->removes, t->with_self, t->bare);
    for (int k = 0; k < 3; k++) {
        if (counts[k])
            printf("; %s avg %zu B max %zu B", names[k], t->bytes[k] / (size_t)counts[k],
                   t->max[k]);
    }
    printf("\n");
}

/* Streams: what comes within QUIET_S after the messages were tallied is a follow-up message
 * (tallied; 3 rounds). */
static int listen_on(struct tally *t)
{
    int follow = 0;

    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < nagents; i++) {
            if (agents[i].done_at != 0)
                agent_messages_drop(&agents[i]);
        }
        struct collect c = {.quiet = QUIET_S, .pid = pid};
        fanout_collect(ep, now_s() + 30, &c);
        if (!c.got)
            break;
        int before = tally_count(t);
        tally_replies(t, NULL);
        follow += tally_count(t) - before;
    }
    for (int i = 0; i < nagents; i++) {
        if (agents[i].done_at != 0)
            agent_messages_drop(&agents[i]);
    }
    return follow;
}

/* Polls: the agents that received a message poll again at their version on a fresh connection;
 * what is answered within QUIET_S is a follow-up message (tallied, then polled again; 3
 * rounds). */
static int repoll(struct tally *t)
{
    int *idx, follow = 0;
    char req[1024];

    if (use_streams)
        return listen_on(t);
    idx = malloc(sizeof(int) * (size_t)nagents);

    for (int round = 0; round < 3; round++) {
        int n = 0;

        for (int i = 0; i < nagents; i++) {
            struct epoll_event e = {.events = EPOLLIN, .data.ptr = &agents[i]};

            if (agents[i].done_at == 0)
                continue;
            agent_conn_reset(ep, &agents[i]);
            agents[i].fd = dial(true);
            if (agents[i].fd >= 0) {
                epoll_ctl(ep, EPOLL_CTL_ADD, agents[i].fd, &e);
                idx[n++] = i;
            }
        }
        if (!n)
            break;
        usleep(200000); /* let the non-blocking connects finish */
        for (int j = 0; j < n; j++) {
            struct agent *a = &agents[idx[j]];
            int len = map_request(a, a->version, STREAM_WAIT, req, sizeof(req));

            if (len > 0)
                write_all(a->fd, req, (size_t)len);
        }
        struct collect c = {.quiet = QUIET_S, .pid = pid};
        fanout_collect(ep, now_s() + 30, &c);
        if (!c.got)
            break;
        follow += c.got;
        tally_replies(t, NULL);
    }
    free(idx);
    return follow;
}

/* Waits (max_s at most) until the server uses under 10% of a core over 0.5 s; returns the wait. */
static double server_settle(double max_s)
{
    double t0 = now_s(), t = t0, cpu = cpu_s(pid);

    while (now_s() - t0 < max_s) {
        usleep(500000);
        double t1 = now_s(), c1 = cpu_s(pid);

        if ((c1 - cpu) / (t1 - t) < 0.1)
            break;
        t = t1;
        cpu = c1;
    }
    return now_s() - t0;
}

/* One change: the admin request (method path body) is sent and the held streams are read until
 * QUIET_S after the last message. Returns the count of streams that received one (-1: the request
 * failed); *bad counts protocol failures; fig: the last arrival and the server's CPU until it,
 * in ms. */
static int change(const char *label, const char *method, const char *path, const char *body,
                  int64_t ifmatch, const char *expected, int *bad, double fig[2])
{
    struct agent adm = {.fd = -1};
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = &adm};
    struct tally t = {0}, t2 = {0};
    int status = 0, got = 0;
    char what[160];

    int early = 0;
    fig[0] = fig[1] = -1;
    if (use_streams) { /* no ping inside the measurement: every stream sends one now */
        int pinged;
        double p0 = now_s();
        int pongs = streams_ping(ep, p0 + WS_PONG_WAIT_S, &pinged);

        double p1 = now_s();

        printf("  %s: first every stream pings: %d/%d pongs in %.1f ms, the server idle again "
               "%.1f s later\n", label, pongs, pinged, (p1 - p0) * 1e3, server_settle(5));
    }
    for (int i = 0; i < nagents; i++) {
        if (agents[i].done_at != 0) { /* a poll answered before the change: it is gone */
            agent_messages_drop(&agents[i]);
            early++;
        }
    }
    if (early)
        printf("  %s: %d streams had an unexpected message before it%s\n", label, early,
               use_streams ? "" : " (no longer held)");
    long long w0[2], w1[2];
    wakeups(w0);
    /* the server's idle rate just before (the 100 ms sweep, the janitor): subtracted from its
     * CPU over the whole collection */
    double idle0 = cpu_s(pid), it0 = now_s();
    usleep(500000);
    double cpu0 = cpu_s(pid), self0 = cpu_s(getpid()), t0 = now_s();
    double idle = (cpu0 - idle0) / (t0 - it0);
    admin_req(method, path, body, ifmatch, &status, &adm.fd);
    if (adm.fd < 0) {
        fprintf(stderr, "  %s: the request could not be sent\n", label);
        ++*bad;
        return -1;
    }
    epoll_ctl(ep, EPOLL_CTL_ADD, adm.fd, &e);
    struct collect c = {.quiet = QUIET_S, .pid = pid, .extra = &adm, .cpu_last = cpu0,
                        .self_last = self0};
    fanout_collect(ep, t0 + 2 * STREAM_WAIT, &c);
    double end = now_s(), cpu_end = cpu_s(pid);
    wakeups(w1);
    if (adm.done_at <= 0 || !response_complete(adm.in, adm.inlen, &status) || status != 200) {
        fprintf(stderr, "  %s: the request got HTTP %d: %.300s\n", label, status,
                adm.in ? adm.in : "(no reply)");
        ++*bad;
    }
    for (int i = 0; i < nagents; i++)
        got += agents[i].done_at > 0;
    printf("  %s: request answered in %.1f ms; %d/%d streams received a message; the policy "
           "says %s\n", label, adm.done_at > 0 ? (adm.done_at - t0) * 1e3 : -1.0, got, nagents,
           expected);
    snprintf(what, sizeof(what), "%s -> affected streams", label);
    fig[0] = print_latency(what, t0);
    if (getenv("ZTNA_BENCH_TRACE")) /* to cut a profile (perf record -k mono) to this change */
        printf("  trace %s: request at %.6f, last message at %.6f (CLOCK_MONOTONIC, s)\n", label,
               t0, c.last_at);
    if (got) {
        fig[1] = (c.cpu_last - cpu0) * 1e3;
        printf("  server CPU from the request until the last message: %.1f ms (the first sample "
               "after it, %.1f ms later; the last one before it: %.1f ms); this tool %.0f ms\n",
               (c.cpu_last - cpu0) * 1e3, (c.sample_at - c.last_at) * 1e3,
               (c.cpu_before - cpu0) * 1e3, (c.self_last - self0) * 1e3);
    }
    printf("  server CPU from the request until it was idle again (%.1f s, %.0f ms/s idle rate "
           "before it subtracted): %.1f ms\n", end - t0, idle * 1e3,
           (cpu_end - cpu0 - idle * (end - t0)) * 1e3);
    if (w0[0] >= 0 && w1[0] >= 0)
        printf("  %s (the server's ztna_netmap_wakeups_total): %lld with a message, %lld with "
               "nothing for their machine\n", use_streams ? "streams the pump looked at" :
               "held polls woken", w1[0] - w0[0], w1[1] - w0[1]);
    long m0, s0, m1, s1;
    stream_verify_stats(&m0, &s0);
    double v0 = now_s();
    tally_replies(&t, &t2);
    stream_verify_stats(&m1, &s1);
    print_tally("messages", &t);
    if (use_streams)
        printf("  this tool verified %ld messages in %.1f ms with %ld batch signature checks "
               "(Ed25519)\n", m1 - m0, (now_s() - v0) * 1e3, s1 - s0);
    *bad += t.bad;
    int follow = tally_count(&t2); /* a stream's messages after its first, in the collection */
    follow += repoll(&t2);
    printf("  %s: %d follow-up messages within %.0f s", use_streams ?
           "the streams kept open" : "polled again at their new version", follow, QUIET_S);
    if (follow)
        print_tally(" of which", &t2);
    else
        printf("\n");
    *bad += t2.bad;
    epoll_ctl(ep, EPOLL_CTL_DEL, adm.fd, NULL);
    close(adm.fd);
    free(adm.in);
    return got;
}

int policy_main(int argc, char **argv)
{
    char path[160], body[256];
    int status, bad = 0, objects;
    size_t doclen;
    double t0;

    if (argc != 8) {
        fprintf(stderr, "usage: ctl_load [--poll] --policy HOST PORT ADMIN_TOKEN ORG_ID "
                        "ADMIN_EMAIL N SERVER_PID\n");
        return 2;
    }
    host = argv[1];
    port = atoi(argv[2]);
    token = argv[3];
    org = argv[4];
    email = argv[5];
    nagents = atoi(argv[6]);
    pid = atoi(argv[7]);
    if (nagents < 20) {
        fprintf(stderr, "ctl_load --policy: N must be at least 20\n");
        return 2;
    }
    nservers = nagents / 10;
    nclients = nagents - nservers;
    ntags = nservers / 10 < 1 ? 1 : nservers / 10 > MAXTAGS ? MAXTAGS : nservers / 10;
    agents = calloc((size_t)nagents, sizeof(*agents));
    server_tag = calloc((size_t)nservers, sizeof(int));
    ep = epoll_create1(0);
    printf("  agents hold %s\n", use_streams ? "map streams (GET /api/machine/map/stream, "
           "WebSocket)" : "map polls (GET /api/machine/map?wait=55)");

    /* the policy, then one reusable tagged key per tag */
    char *pb = policy_body(0, &doclen, &objects);
    snprintf(path, sizeof(path), "/api/orgs/%s/policy", org);
    t0 = now_s();
    char *r = admin_req("PUT", path, pb, 0, &status, NULL);
    printf("  policy: %d rules (+ autogroup:self) over %d groups and %d tags as %d rule objects, "
           "%zu B (body %zu B of at most 65536), set in %.1f ms (HTTP %d)\n", NRULES, NGROUPS,
           ntags, objects, doclen, strlen(pb), (now_s() - t0) * 1e3, status);
    printf("  fleet: %d clients in %d groups (as tags tag:gN: no users over the API), %d servers "
           "in %d tags; rules 1..%d grouped by source (64 KiB body limit), no posture\n", nclients,
           NGROUPS, nservers, ntags, NRULES - 1);
    if (status != 200) {
        fprintf(stderr, "policy: HTTP %d %.300s\n", status, r ? r : "");
        return 1;
    }
    free(r);
    free(pb);
    char *gkeys[NGROUPS], *tkeys[MAXTAGS];
    for (int g = 0; g < NGROUPS; g++) {
        snprintf(body, sizeof(body), "tag:g%d", g);
        if (!(gkeys[g] = key_for(body)))
            return 1;
    }
    for (int tg = 0; tg < ntags; tg++) {
        snprintf(body, sizeof(body), "tag:t%d", tg);
        if (!(tkeys[tg] = key_for(body)))
            return 1;
    }
    for (int i = 0; i < nagents; i++) {
        agents[i].fd = -1;
        if (i < nclients) {
            agents[i].key = gkeys[client_group(i)];
        } else {
            server_tag[i - nclients] = (i - nclients) % ntags;
            agents[i].key = tkeys[server_tag[i - nclients]];
        }
    }

    /* registration, one full map (a client's) and quiescence */
    t0 = now_s();
    int failed = register_all();
    printf("  registration: %d agents in %.2f s (%.0f/s), %d failed; server RSS %.1f MiB\n",
           nagents, now_s() - t0, nagents / (now_s() - t0), failed, rss_kib(pid) / 1024.0);
    if (failed || full_map_settle() < 0)
        return 1;
    /* the server that will be retagged: its full map's size */
    struct agent *srv = &agents[nclients];
    char req[1024];
    int fd = dial(false), n = map_request(srv, 0, 1, req, sizeof(req));
    t0 = now_s();
    r = roundtrip(fd, req, (size_t)n, &status);
    close(fd);
    struct map_info mi = {0};
    if (!r || status != 200 || !map_verify(r, srv->id, &mi, 0) || !mi.has_filter) {
        fprintf(stderr, "server's full map: HTTP %d, not verified or no filter\n", status);
        return 1;
    }
    printf("  full map of a server (tag:t0): %zu bytes in %.1f ms (signature verified)\n",
           strlen(r), (now_s() - t0) * 1e3);
    free(r);

    int refused, held = 0, early = streams_hold(ep, nagents, org_version, &refused);
    for (int i = 0; i < nagents; i++)
        held += agents[i].fd >= 0;
    printf("  %s: %d held at version %lld, %d answered at once (should be 0); server RSS "
           "%.1f MiB\n", use_streams ? "streams" : "polls", held, (long long)org_version, early,
           rss_kib(pid) / 1024.0);
    bad += refused;

    /* A: the server moves from tag:t0 to tag:t1 */
    int got[3];
    double fig[3][2];
    snprintf(path, sizeof(path), "/api/orgs/%s/machines/%lld", org, (long long)srv->id);
    char exp[160];
    expected_retag(0, 1, exp, sizeof(exp));
    server_tag[0] = 1;
    got[0] = change("A. a server retagged tag:t0 -> tag:t1 (first message to these streams)",
                    "PATCH", path, "{\"tags\":[\"tag:t1\"]}", -1, exp, &bad, fig[0]);

    /* B: rule 0's port edited */
    int64_t v = policy_version();
    pb = policy_body(2222, &doclen, &objects);
    snprintf(path, sizeof(path), "/api/orgs/%s/policy", org);
    snprintf(exp, sizeof(exp), "%d get another filter (the servers tagged tag:t0)",
             expected_rule0());
    got[1] = change("B. one rule edited (rule 0: tag:g0 -> tag:t0, port 2222)", "PUT", path, pb, v,
                    exp, &bad, fig[1]);
    free(pb);

    /* C: the server moves back */
    snprintf(path, sizeof(path), "/api/orgs/%s/machines/%lld", org, (long long)srv->id);
    expected_retag(1, 0, exp, sizeof(exp));
    server_tag[0] = 0;
    got[2] = change("C. the server retagged back tag:t1 -> tag:t0 (steady state)", "PATCH", path,
                    "{\"tags\":[\"tag:t0\"]}", -1, exp, &bad, fig[2]);

    if (use_streams) {
        /* closing the streams frees their workers; the peer starts once the server is idle */
        conns_reset(ep);
        printf("  the streams closed; the server idle again after %.1f s\n", server_settle(30));
    } else {
        /* The peer needs free HTTP workers: a held poll keeps its worker until the server
         * answers it, also after its connection is closed. So the polls' keepalives are
         * awaited (STREAM_WAIT s at most) and checked first. */
        struct tally tk = {0};
        t0 = now_s();
        fanout_collect(ep, now_s() + STREAM_WAIT + 10, NULL);
        tally_replies(&tk, NULL);
        printf("  the held polls ended within %.1f s: ", now_s() - t0);
        print_tally("replies", &tk);
        bad += tk.bad;
    }

    /* the peer: as many concurrent GET /healthz as streams received a message, one per count */
    const char *names[3] = {"A", "B", "C"};
    const char *what[3] = {"A. retag", "B. rule edit", "C. retag back"};
    double peer[3][2];
    for (int k = 0; k < 3; k++) {
        char label[96], also[16] = "";
        int same = -1;

        peer[k][0] = peer[k][1] = -1;
        for (int j = 0; j < k && same < 0; j++)
            same = got[j] == got[k] ? j : -1;
        if (same >= 0) {
            peer[k][0] = peer[same][0];
            peer[k][1] = peer[same][1];
            continue;
        }
        if (got[k] <= 0)
            continue;
        for (int j = k + 1; j < 3; j++) {
            if (got[j] == got[k])
                snprintf(also + strlen(also), sizeof(also) - strlen(also), "/%s", names[j]);
        }
        snprintf(label, sizeof(label), "peer for %s%s: %d concurrent GET /healthz (the HTTP floor)",
                 names[k], also, got[k]);
        healthz_floor(ep, pid, got[k], label, peer[k]);
    }
    for (int k = 0; k < 3; k++) {
        char line[128];

        snprintf(line, sizeof(line), "policy %s, last message", what[k]);
        print_summary(line, got[k], fig[k][0], peer[k][0]);
        snprintf(line, sizeof(line), "policy %s, server CPU", what[k]);
        print_summary(line, got[k], fig[k][1], peer[k][1]);
    }
    conns_reset(ep);
    if (bad)
        fprintf(stderr, "  %d protocol failures\n", bad);
    return bad ? 1 : 0;
}
