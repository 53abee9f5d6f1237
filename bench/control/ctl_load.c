/* Control-plane load tool (benchmark only): N simulated agents against a running ztna-server.
 *
 *   ctl_load [--poll] HOST PORT AUTH_KEY N SERVER_PID
 *
 * Agents hold map streams (GET /api/machine/map/stream?since=V, a WebSocket each: ctl_stream.c)
 * or, with --poll, long-polls (GET /api/machine/map?since=V&wait=55, one connection each), all
 * under one epoll. The same steps run either way, so a run can print both:
 * 1. registers N agents (fresh Ed25519 machine keys) over 8 keep-alive connections;
 * 2. one agent fetches its full map (size and time of a full map of N-1 peers);
 * 3. the floor: N connections each send GET /healthz at once; the time until every reply is in
 *    is what civetweb needs to answer N requests, whatever they are;
 * 4. opens N map streams or polls, signed, at the org's current version V (as reconnecting
 *    agents do), so the server holds them all; streams open WS_OPEN_WINDOW at a time;
 * 5. registers one more machine (the change) and measures the time from sending it until every
 *    agent has received its delta (p50 / p99 / max) and the CPU the server and this tool used
 *    in that time (steadier than wall time on a shared machine), then checks each one: a poll's
 *    HTTP 200 and signature, a stream's frame and its batch signature (Merkle path to a signed
 *    root), and a delta for that agent that lists the new machine. These agents never had a
 *    message from this server run: its per-machine caches are cold;
 * 6. a stream stays open (every one is pinged); a poll is sent again at the version it got (as
 *    agents do; on a new connection); a second machine registers: the same figures for a fleet
 *    whose agents already hold their maps (the steady state). CTL_LOAD_PAUSE=S waits S more
 *    seconds before each change (to attach a profiler).
 * Lines starting "= " repeat each figure with its ratio to the peer (run.sh gathers them).
 *
 *   ctl_load [--poll] --policy HOST PORT ADMIN_TOKEN ORG_ID ADMIN_EMAIL N SERVER_PID
 *
 * runs the policy scenario instead (ctl_policy.c): a fleet under a 1,000-rule policy, one
 * machine retagged and one rule edited, delivered to the affected agents' streams or polls.
 * Prints figures; never fails on time. Exit 1 only when the protocol misbehaves. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common/ctl/ctl_auth.h"
#include "common/hex.h"

#include "ctl_load.h"
#include "ctl_stream.h"

#define REG_THREADS 8

const char *host;
int port;
const char *auth_key;
struct agent *agents;
int nagents;
int64_t org_version;
uint8_t server_pk[32];
bool use_streams = true;

double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long rss_kib(int pid)
{
    char path[64], line[256];
    long kib = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    }
    if (f)
        fclose(f);
    return kib;
}

/* CPU seconds the process has used so far (every thread, user + system), or -1: its CPU-time
 * clock (nanoseconds), else utime + stime from /proc/PID/stat (clock ticks, 10 ms). */
double cpu_s(int pid)
{
    char path[64], line[1024], *p;
    unsigned long long ut = 0, st = 0;
    double ret = -1;
    struct timespec ts;
    clockid_t cid;
    FILE *f;

    if (clock_getcpuclockid((pid_t)pid, &cid) == 0 && clock_gettime(cid, &ts) == 0)
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    f = fopen(path, "r");
    /* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    if (f && fgets(line, sizeof(line), f) && (p = strrchr(line, ')')) &&
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
        ret = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    if (f)
        fclose(f);
    return ret;
}

int dial(bool nonblock)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);

    if (fd < 0)
        return -1;
    inet_pton(AF_INET, host, &a.sin_addr);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            usleep(200);
            continue;
        }
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Offset of the body if buf holds a whole response, else 0. */
size_t response_complete(const char *buf, size_t len, int *status)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4), *cl;
    size_t head;
    long body;

    if (!end)
        return 0;
    head = (size_t)(end - buf) + 4;
    cl = memmem(buf, head, "Content-Length:", 15);
    body = cl ? strtol(cl + 15, NULL, 10) : 0;
    if (len < head + (size_t)body)
        return 0;
    *status = atoi(buf + 9);
    return head;
}

/* Blocking request/response on a keep-alive connection; returns the body (new) and status. */
char *roundtrip(int fd, const char *req, size_t reqlen, int *status)
{
    size_t cap = 65536, len = 0, head;
    char *buf = malloc(cap + 1);

    if (!buf || write_all(fd, req, reqlen) < 0) {
        free(buf);
        return NULL;
    }
    for (;;) {
        ssize_t n;

        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
        n = read(fd, buf + len, cap - len);
        if (n <= 0) {
            free(buf);
            return NULL;
        }
        len += (size_t)n;
        buf[len] = '\0';
        if ((head = response_complete(buf, len, status))) {
            memmove(buf, buf + head, len - head + 1);
            return buf;
        }
    }
}

static char *register_one(int fd, struct agent *a, int idx)
{
    char body[512], req[1024], mk[65], wg[65];
    uint8_t wgk[32];
    int n, status = 0;

    crypto_sign_keypair(a->pk, a->sk);
    randombytes_buf(wgk, sizeof(wgk));
    hex_encode(mk, a->pk, 32);
    hex_encode(wg, wgk, 32);
    n = snprintf(body, sizeof(body),
                 "{\"machine_key\":\"%s\",\"wg_public_key\":\"%s\",\"hostname\":\"load-%d\"}", mk,
                 wg, idx);
    n = snprintf(req, sizeof(req),
                 "POST /api/register-machine HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                 "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                 host, a->key ? a->key : auth_key, n, body);
    char *resp = roundtrip(fd, req, (size_t)n, &status);
    if (resp && status != 201 && status != 200) {
        fprintf(stderr, "register %d: HTTP %d %s\n", idx, status, resp);
        free(resp);
        return NULL;
    }
    return resp;
}

int64_t json_id(const char *resp, const char *key, char *spk_hex)
{
    cJSON *root = cJSON_Parse(resp), *d = cJSON_GetObjectItem(root, "data");
    cJSON *v = cJSON_GetObjectItem(d, key), *k = cJSON_GetObjectItem(d, "server_signing_key");
    int64_t id = cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;

    if (spk_hex && cJSON_IsString(k))
        snprintf(spk_hex, 65, "%s", k->valuestring);
    cJSON_Delete(root);
    return id;
}

static void *register_thread(void *arg)
{
    intptr_t t = (intptr_t)arg;
    int fd = dial(false);
    char spk[65] = "";
    int retries = 0;

    for (int i = (int)t; i < nagents && fd >= 0; i += REG_THREADS) {
        char *resp = register_one(fd, &agents[i], i);

        if (!resp) {
            close(fd);
            fd = dial(false);
            if (++retries <= 3)
                i -= REG_THREADS; /* retry on a fresh connection */
            continue;
        }
        agents[i].id = json_id(resp, "machine_id", spk);
        if (i == 0)
            hex_decode(server_pk, 32, spk);
        free(resp);
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}


int register_all(void)
{
    pthread_t th[REG_THREADS];
    int bad = 0;

    for (intptr_t t = 0; t < REG_THREADS; t++)
        pthread_create(&th[t], NULL, register_thread, (void *)t);
    for (int t = 0; t < REG_THREADS; t++)
        pthread_join(th[t], NULL);
    for (int i = 0; i < nagents; i++)
        bad += agents[i].id <= 0;
    return bad;
}

int map_request(struct agent *a, int64_t since, int wait, char *out, size_t cap)
{
    char target[96], hdr[CTL_AUTH_HEADER_MAX];
    struct ctl_auth au;

    snprintf(target, sizeof(target), "/api/machine/map?since=%lld&wait=%d", (long long)since, wait);
    if (ctl_auth_sign(&au, a->sk, "GET", target, NULL, 0, time(NULL)) < 0 ||
        ctl_auth_header_format(&au, hdr, sizeof(hdr)) < 0)
        return -1;
    return snprintf(out, cap, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\n\r\n", target,
                    host, hdr);
}

bool map_payload_check(const char *payload, size_t n, int64_t want_id, struct map_info *mi,
                       int64_t must_list)
{
    cJSON *pl = cJSON_ParseWithLength(payload, n);
    cJSON *t = cJSON_GetObjectItem(pl, "type"), *v = cJSON_GetObjectItem(pl, "version");
    cJSON *mid = cJSON_GetObjectItem(pl, "machine_id"), *up = cJSON_GetObjectItem(pl, "upsert");
    bool listed = must_list == 0, mine = cJSON_IsNumber(mid) && mid->valuedouble == want_id;
    cJSON *e;

    cJSON_ArrayForEach(e, up)
    {
        cJSON *id = cJSON_GetObjectItem(e, "id");

        if (cJSON_IsNumber(id) && id->valuedouble == must_list)
            listed = true;
    }
    if (cJSON_IsString(t))
        snprintf(mi->type, sizeof(mi->type), "%s", t->valuestring);
    if (cJSON_IsNumber(v))
        mi->version = (int64_t)v->valuedouble;
    mi->has_filter = cJSON_IsObject(cJSON_GetObjectItem(pl, "filter"));
    mi->self = cJSON_GetObjectItem(pl, "self") != NULL;
    mi->upserts = cJSON_GetArraySize(up) + cJSON_GetArraySize(cJSON_GetObjectItem(pl, "peers"));
    mi->removes = cJSON_GetArraySize(cJSON_GetObjectItem(pl, "remove"));
    cJSON_Delete(pl);
    return listed && mine;
}

bool map_verify(const char *body, int64_t want_id, struct map_info *mi, int64_t must_list)
{
    cJSON *root = cJSON_Parse(body), *d = cJSON_GetObjectItem(root, "data");
    cJSON *p = cJSON_GetObjectItem(d, "payload"), *s = cJSON_GetObjectItem(d, "sig");
    size_t pre = strlen(MAP_SIG_PREFIX);
    bool ok = false;

    if (cJSON_IsString(p) && cJSON_IsString(s)) {
        size_t plen = strlen(p->valuestring), n = 0;
        uint8_t *msg = malloc(pre + plen + 1), sig[64];

        memcpy(msg, MAP_SIG_PREFIX, pre);
        if (sodium_base642bin(msg + pre, plen, p->valuestring, plen, NULL, &n, NULL,
                              sodium_base64_VARIANT_ORIGINAL) == 0 &&
            hex_decode(sig, 64, s->valuestring) &&
            crypto_sign_verify_detached(sig, msg, pre + n, server_pk) == 0)
            ok = map_payload_check((const char *)msg + pre, n, want_id, mi, must_list);
        free(msg);
    }
    cJSON_Delete(root);
    return ok;
}

int full_map_settle(void)
{
    struct map_info mi = {0};
    char req[1024];
    int status, fd = dial(false), n = map_request(&agents[0], 0, 1, req, sizeof(req));
    double t0 = now_s();
    char *body = roundtrip(fd, req, (size_t)n, &status);
    double t1 = now_s();

    if (!body || status != 200 || !map_verify(body, agents[0].id, &mi, 0) ||
        strcmp(mi.type, "full")) {
        fprintf(stderr, "full map: HTTP %d, not a verified full map\n", status);
        return -1;
    }
    org_version = mi.version;
    printf("  full map of agent 0 (%d other machines in the org): %zu bytes in %.1f ms "
           "(signature verified)\n", nagents - 1,
           strlen(body), (t1 - t0) * 1e3);
    free(body);
    /* Quiescence: the server may still be applying the last registrations; follow the deltas
     * until a keepalive says org_version is current. */
    for (int i = 0, redials = 0; i < 30; i++) {
        mi.version = org_version;
        n = map_request(&agents[0], org_version, 1, req, sizeof(req));
        body = roundtrip(fd, req, (size_t)n, &status);
        if (!body && redials++ < 3) {
            /* the server may close a keep-alive connection (a loaded machine): a fresh one */
            close(fd);
            fd = dial(false);
            i--;
            continue;
        }
        if (!body || status != 200 || !map_verify(body, agents[0].id, &mi, 0)) {
            fprintf(stderr, "settling poll: HTTP %d, not verified: %.300s\n", status,
                    body ? body : "(no reply)");
            return -1;
        }
        free(body);
        if (!strcmp(mi.type, "keepalive"))
            break;
        org_version = mi.version;
    }
    close(fd);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

bool conn_read(int ep, struct agent *a)
{
    bool closed = false;
    int status;

    for (;;) {
        ssize_t n;

        if (a->incap - a->inlen < 4096) {
            a->incap = a->incap ? a->incap * 2 : 16384;
            a->in = realloc(a->in, a->incap + 1);
        }
        n = read(a->fd, a->in + a->inlen, a->incap - a->inlen);
        closed = n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
        if (n <= 0)
            break;
        a->inlen += (size_t)n;
        a->in[a->inlen] = '\0';
    }
    if (a->ws != WS_NONE)
        return stream_input(ep, a, closed);
    if (a->done_at == 0 && response_complete(a->in, a->inlen, &status)) {
        a->done_at = now_s();
        return true;
    }
    if (closed) {
        /* off epoll (level-triggered, a closed connection would be reported forever: civetweb
         * closes a keep-alive connection idle 500 ms, also after a reply we hold) */
        epoll_ctl(ep, EPOLL_CTL_DEL, a->fd, NULL);
        if (a->done_at == 0) {
            /* closed before a whole reply: counted (no latency), reported by the check */
            a->done_at = -1;
            return true;
        }
    }
    return false;
}

/* One CPU sample of the server (and this tool) into c; returns what it cost. Reading a process's
 * CPU time walks its threads: ~10 ms with 10,000 of them on a loaded machine. */
static double sample(struct collect *c)
{
    double t = now_s();

    c->cpu_last = cpu_s(c->pid);
    c->self_last = cpu_s(getpid());
    c->sample_at = now_s();
    c->samples++;
    return c->sample_at - t;
}

int fanout_collect(int ep, double deadline, struct collect *c)
{
    struct epoll_event ev[256];
    int done = 0, want = 0;
    bool pending = false, extra_in = !c || !c->extra;
    double start = now_s(), ref_t = 0, ref_cpu = 0, every = 0.002, ka = start;

    for (int i = 0; i < nagents; i++) {
        want += agents[i].fd >= 0;
        done += agents[i].fd >= 0 && agents[i].done_at != 0;
    }
    if (c) {
        c->got = 0;
        c->last_at = 0;
        c->samples = 0;
        c->sample_at = start;
        c->cpu_before = c->cpu_last;
    }
    while ((done < want || !extra_in) && now_s() < deadline) {
        double quiet_from = c && c->last_at > start ? c->last_at : start;

        /* quiet: no reply for c->quiet s, and the server idle (under 10% of a core over 0.5 s:
         * a busy server may still be working on the change) */
        if (c && c->quiet > 0 && extra_in && !pending && now_s() - quiet_from >= c->quiet &&
            (c->extra == NULL || now_s() - c->extra->done_at >= c->quiet) &&
            (ref_t == 0 || now_s() - ref_t >= 0.5)) {
            double t = now_s(), cpu = cpu_s(c->pid); /* not the sample kept in c */

            if (ref_t > 0 && (cpu - ref_cpu) / (t - ref_t) < 0.1)
                break;
            ref_t = t;
            ref_cpu = cpu;
        }
        if (use_streams && now_s() - ka >= 1.0) { /* a long collection: streams stay alive */
            streams_keepalive(WS_PING_AFTER);
            ka = now_s();
        }
        int k = epoll_wait(ep, ev, 256, pending ? 2 : 100);
        for (int j = 0; j < k; j++) {
            struct agent *a = ev[j].data.ptr;

            if (!conn_read(ep, a))
                continue;
            if (c && a == c->extra) {
                extra_in = true;
                continue;
            }
            done++;
            if (c && a->done_at > 0) {
                ref_t = 0;
                c->got++;
                c->last_at = a->done_at;
                if (c->quiet > 0 && !pending)
                    c->cpu_before = c->cpu_last; /* the last sample before this reply */
                pending = c->quiet > 0;
            }
        }
        /* sampling costs the server too (it walks its threads): at most 10% of the time */
        if (pending && (now_s() - c->sample_at >= every || done >= want)) {
            double cost = sample(c);

            every = cost * 10 > 0.002 ? cost * 10 : 0.002;
            pending = false;
        }
    }
    if (pending) /* the deadline came first */
        sample(c);
    return done;
}

void agent_conn_reset(int ep, struct agent *a)
{
    if (a->fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, a->fd, NULL);
        close(a->fd);
    }
    a->fd = -1;
    a->inlen = 0;
    a->done_at = 0;
    a->ws = WS_NONE;
    wsproto_parser_fini(&a->parser);
    a->kept.len = 0;
    a->msgs = a->pongs = a->status = 0;
    a->err = NULL;
}

void conns_reset(int ep)
{
    for (int i = 0; i < nagents; i++)
        agent_conn_reset(ep, &agents[i]);
}

int conns_open(int ep, int count)
{
    int open = 0;

    for (int i = 0; i < count; i++) {
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = &agents[i]};

        agents[i].fd = dial(true);
        if (agents[i].fd < 0) {
            fprintf(stderr, "connect %d: %s\n", i, strerror(errno));
            continue;
        }
        epoll_ctl(ep, EPOLL_CTL_ADD, agents[i].fd, &e);
        open++;
    }
    usleep(200000); /* let the non-blocking connects finish */
    return open;
}

int streams_hold(int ep, int count, int64_t version, int *refused)
{
    char req[1024];
    int early = 0;

    if (use_streams)
        return streams_open(ep, count, version, refused);
    *refused = 0;
    conns_open(ep, count);
    for (int i = 0; i < count; i++) {
        int64_t since = agents[i].version ? agents[i].version : version;
        int n = map_request(&agents[i], since, STREAM_WAIT, req, sizeof(req));

        if (agents[i].fd >= 0 && since > 0)
            write_all(agents[i].fd, req, (size_t)n);
    }
    /* every poll is authenticated (one SQLite lookup and nonce) before it waits: let them */
    sleep((unsigned)(2 + count / 2000));
    for (int i = 0; i < count; i++)
        early += agents[i].inlen > 0;
    return early;
}

double print_latency(const char *what, double t0)
{
    double *lat = malloc(sizeof(double) * (size_t)nagents);
    int n = 0, want = 0;

    for (int i = 0; i < nagents; i++) {
        want += agents[i].fd >= 0 || agents[i].done_at != 0;
        if (agents[i].done_at > 0)
            lat[n++] = agents[i].done_at - t0;
    }
    qsort(lat, (size_t)n, sizeof(double), cmp_double);
    if (n)
        printf("  %s: %d/%d replies; p50 %.1f ms, p99 %.1f ms, all %.1f ms\n", what, n, want,
               lat[n / 2] * 1e3, lat[(n * 99) / 100] * 1e3, lat[n - 1] * 1e3);
    else
        printf("  %s: no replies\n", what);
    double all = n ? lat[n - 1] * 1e3 : -1;
    free(lat);
    return all;
}

void print_summary(const char *what, int count, double ms, double peer_ms)
{
    printf("= %s %s: ", use_streams ? "streams" : "polls", what);
    if (ms < 0)
        printf("none");
    else
        printf("%.1f ms, %d agents", ms, count);
    if (ms >= 0 && peer_ms > 0)
        printf(" (%.2fx the peer's %.1f ms)", ms / peer_ms, peer_ms);
    printf("\n");
}

int agent_messages(const struct agent *a)
{
    if (a->ws != WS_NONE && a->msgs > 0)
        return a->msgs;
    return a->done_at != 0;
}

bool agent_message_check(const struct agent *a, int k, int64_t must_list, struct map_info *mi,
                         size_t *bytes, char *why, size_t whycap)
{
    size_t head;
    int status = 0;

    if (a->ws != WS_NONE)
        return stream_message_verify(a, k, must_list, mi, bytes, why, whycap);
    head = a->in && k == 0 ? response_complete(a->in, a->inlen, &status) : 0;
    *bytes = head ? a->inlen - head : 0;
    if (!head || status != 200) {
        snprintf(why, whycap, "HTTP %d %.200s", head ? status : 0, head ? a->in + head :
                 "(incomplete)");
        return false;
    }
    if (!map_verify(a->in + head, a->id, mi, must_list)) {
        snprintf(why, whycap, "reply not verified%s: %.300s", must_list ? " or not listing the "
                 "new machine" : "", a->in + head);
        return false;
    }
    return true;
}

void agent_messages_drop(struct agent *a)
{
    if (a->ws != WS_NONE) {
        stream_messages_drop(a);
        return;
    }
    a->inlen = 0;
    a->done_at = 0;
}

void healthz_floor(int ep, int pid, int count, const char *label, double out[2])
{
    char req[256];
    int n = snprintf(req, sizeof(req), "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", host);

    conns_reset(ep);
    conns_open(ep, count);
    double cpu0 = cpu_s(pid), t0 = now_s();
    for (int i = 0; i < count; i++) {
        if (agents[i].fd >= 0)
            write_all(agents[i].fd, req, (size_t)n);
    }
    fanout_collect(ep, now_s() + 60, NULL);
    double cpu1 = cpu_s(pid), all = print_latency(label, t0);
    /* on connections opened just before: each request also reads its first bytes, and every
     * reply holds one SQLite "SELECT 1" (the map deltas need neither) */
    printf("  server CPU for those %d healthz replies: %.0f ms\n", count, (cpu1 - cpu0) * 1e3);
    if (out) {
        out[0] = all;
        out[1] = (cpu1 - cpu0) * 1e3;
    }
    conns_reset(ep);
}

/* One change (agent idx registers) delivered to the N held streams: latency, CPU, and a check of
 * every reply (a poll's HTTP 200, a stream's verified map frame: a delta for that agent listing
 * the new machine); each agent's version is kept for its next poll. Returns the count of
 * verified replies; fig: the last arrival and the server's CPU, in ms. */
static int change_round(int ep, int pid, int idx, const char *label, double fig[2])
{
    const char *pause = getenv("CTL_LOAD_PAUSE"); /* e.g. to attach a profiler to the server */
    int verified = 0, deltas = 0, bad = 0, more = 0;
    struct map_info mi = {0};
    char what[128], why[512];
    size_t bytes;

    if (pause && atoi(pause) > 0 && atoi(pause) <= 60)
        sleep((unsigned)atoi(pause));
    int fd = dial(false);
    double cpu0 = cpu_s(pid), self0 = cpu_s(getpid());
    double t0 = now_s();
    char *resp = register_one(fd, &agents[idx], idx);
    double t1 = now_s();
    int64_t new_id = resp ? json_id(resp, "machine_id", NULL) : -1;
    free(resp);
    close(fd);
    fanout_collect(ep, now_s() + 60, NULL);
    double cpu1 = cpu_s(pid), self1 = cpu_s(getpid());
    int got = 0;
    for (int i = 0; i < nagents; i++)
        got += agents[i].done_at > 0;
    printf("  %s: the registration answered in %.1f ms\n", label, (t1 - t0) * 1e3);
    snprintf(what, sizeof(what), "%s -> every stream has its delta", label);
    fig[0] = print_latency(what, t0);
    fig[1] = (cpu1 - cpu0) * 1e3;
    /* CPU is steadier than wall time on a shared machine: compare runs on both. */
    printf("  CPU used from the change until every delta was in: server %.0f ms, this tool "
           "%.0f ms\n", (cpu1 - cpu0) * 1e3, (self1 - self0) * 1e3);
    double v0 = now_s();
    for (int i = 0; i < nagents; i++) {
        struct agent *a = &agents[i];

        a->version = 0;
        if (agent_message_check(a, 0, new_id, &mi, &bytes, why, sizeof(why))) {
            verified++;
            deltas += strcmp(mi.type, "delta") == 0;
            a->version = mi.version;
        } else if (bad++ < 3) {
            fprintf(stderr, "  agent %d (machine %lld): %s\n", i, (long long)a->id, why);
        }
        if (a->ws != WS_NONE) {
            more += agent_messages(a) > 1 ? agent_messages(a) - 1 : 0;
            agent_messages_drop(a); /* the stream stays for the next change */
        }
    }
    printf("  replies: %d complete, %d signature-verified listing the new machine, %d deltas", got,
           verified, deltas);
    if (use_streams)
        printf(", %d more messages", more);
    printf(" (checked in %.0f ms); server RSS %.1f MiB\n", (now_s() - v0) * 1e3,
           rss_kib(pid) / 1024.0);
    return verified;
}

static const char usage[] =
    "usage: ctl_load [--poll] HOST PORT AUTH_KEY N SERVER_PID\n"
    "       ctl_load [--poll] --policy HOST PORT ADMIN_TOKEN ORG_ID ADMIN_EMAIL N SERVER_PID\n"
    "--poll: agents hold long-polls (GET /api/machine/map?wait=) instead of map streams\n";

int main(int argc, char **argv)
{
    int pid, ep, bad, refused;
    double t0, t1, peer[2] = {-1, -1}, fig[2];

    setvbuf(stdout, NULL, _IOLBF, 0); /* progress lines as they come, also into a pipe */
    if (argc > 1 && !strcmp(argv[1], "--poll")) {
        use_streams = false;
        argc--;
        argv++;
    }
    if (argc > 1 && !strcmp(argv[1], "--policy"))
        return sodium_init() < 0 ? 2 : policy_main(argc - 1, argv + 1);
    if (argc != 6 || sodium_init() < 0) {
        fprintf(stderr, "%s", usage);
        return 2;
    }
    host = argv[1];
    port = atoi(argv[2]);
    auth_key = argv[3];
    nagents = atoi(argv[4]);
    pid = atoi(argv[5]);
    agents = calloc((size_t)nagents + 2, sizeof(*agents)); /* + the two changes */
    ep = epoll_create1(0);
    for (int i = 0; i <= nagents + 1; i++)
        agents[i].fd = -1;
    printf("  agents hold %s\n", use_streams ? "map streams (GET /api/machine/map/stream, "
           "WebSocket)" : "map polls (GET /api/machine/map?wait=55)");

    /* 1. registration */
    t0 = now_s();
    bad = register_all();
    t1 = now_s();
    printf("  registration: %d agents in %.2f s (%.0f/s), %d failed; server RSS %.1f MiB\n",
           nagents, t1 - t0, nagents / (t1 - t0), bad, rss_kib(pid) / 1024.0);
    if (bad)
        return 1;

    /* 2. one full map */
    if (full_map_settle() < 0)
        return 1;

    /* 3. the floor: N concurrent GET /healthz */
    healthz_floor(ep, pid, nagents, "peer: N concurrent GET /healthz (the HTTP floor)", peer);

    /* 4. N held streams at the current version */
    int early = streams_hold(ep, nagents, org_version, &refused), open = 0;
    for (int i = 0; i < nagents; i++)
        open += agents[i].fd >= 0;
    printf("  streams: %d open, %d answered before the change (should be 0); server RSS %.1f MiB\n",
           open, early, rss_kib(pid) / 1024.0);

    /* 5. the change: one more machine, delivered to streams that never had a message from this
     * server run (every per-machine cache is cold) */
    int verified = change_round(ep, pid, nagents, "first change", fig);
    print_summary("first change, last delta", nagents, fig[0], peer[0]);
    print_summary("first change, server CPU", nagents, fig[1], peer[1]);

    /* 6. the steady state of a fleet whose agents hold their maps: a stream stays open (pinged,
     * as agents do); a poll is sent again at the version it got, on a fresh connection (civetweb
     * closes a keep-alive connection idle for 500 ms, and checking 10,000 replies above takes
     * longer than that). An agent without a verified version holds nothing. */
    if (use_streams) {
        int pinged, pongs = streams_ping(ep, now_s() + WS_PONG_WAIT_S, &pinged);

        early = 0;
        for (int i = 0; i < nagents; i++)
            early += agents[i].done_at != 0;
        printf("  streams held on: %d/%d answered a ping, %d had a message before the change "
               "(should be 0)\n", pongs, pinged, early);
    } else {
        conns_reset(ep);
        for (int i = 0; i < nagents; i++)
            agents[i].version = agents[i].version ? agents[i].version : -1;
        early = streams_hold(ep, nagents, 0, &refused);
        printf("  streams polled again at the version they got: %d answered before the change "
               "(should be 0)\n", early);
    }
    int verified2 = change_round(ep, pid, nagents + 1, "second change (steady state)", fig);
    print_summary("second change, last delta", nagents, fig[0], peer[0]);
    print_summary("second change, server CPU", nagents, fig[1], peer[1]);
    conns_reset(ep);
    return verified == nagents && verified2 == nagents && !refused ? 0 : 1;
}
