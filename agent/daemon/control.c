/* The control session. States: logged out (no registration) -> registered and down (no calls)
 * -> up: the map stream open (mapstream.c) or, when the server offers none or it failed, a map
 * long-poll always in flight (since=<version held>); a heartbeat every heartbeat_interval,
 * endpoints reported at start and every AGENT_ENDPOINTS_EVERY_S. A transport error backs off
 * (AGENT_BACKOFF_MIN_MS doubling to _MAX) without touching the data plane.
 *
 * The map's transport: the stream first (use_stream). A stream that cannot be opened or fails
 * makes the agent poll; it tries the stream again once a poll succeeded and AGENT_STREAM_RETRY_S
 * passed, so an old server or a proxy without WebSocket support just means polling. A stream
 * gone silent is opened again at once; one that brought a map to resync or to refuse is opened
 * again at since=0 or after the backoff, as a poll would be. A stream the server closed going
 * away (1001: its shutdown, a restart) opens again by itself after 0.5-3 s at random
 * (mapstream.c), without a poll in between; only if that keeps failing does the agent poll. */
#include "agent/daemon/control.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "agent/daemon/daemon.h"
#include "agent/daemon/http.h"
#include "agent/daemon/jfields.h"
#include "agent/daemon/mapstream.h"
#include "agent/daemon/posture_async.h"
#include "common/hex.h"
#include "common/log.h"

#define AGENT_ENDPOINTS_EVERY_S 300

struct ctl {
    ctl_reply_fn reply;
    struct http_req *poll, *hb, *ep, *op; /* op: login / logout / set tags (one at a time) */
    uint64_t op_conn;
    struct ctl_login login; /* the login in flight */
    uint64_t next_poll, next_hb, next_ep, poll_started;
    unsigned backoff_ms;
    bool force_full;
    bool connected;
    bool hb_collecting; /* posture being collected for the next heartbeat */
    int64_t connected_since, last_ok;
    /* the map stream */
    struct mapstream *ms;
    bool use_stream;          /* false: polling since the stream failed */
    bool polled_ok;           /* a poll succeeded since then */
    uint64_t stream_retry_at; /* the stream is tried again no earlier */
};

static const struct mapstream_ops stream_ops;

int ctl_init(struct agent *a, ctl_reply_fn reply)
{
    struct ctl *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->reply = reply;
    c->backoff_ms = AGENT_BACKOFF_MIN_MS;
    c->use_stream = true;
    int ret = mapstream_new(a, &stream_ops, &c->ms);
    if (ret) {
        free(c);
        return ret;
    }
    a->ctl = c;
    return 0;
}

void ctl_fini(struct agent *a)
{
    if (!a->ctl)
        return;
    mapstream_free(a, a->ctl->ms);
    free(a->ctl);
    a->ctl = NULL;
}

static bool active(const struct agent *a)
{
    return state_registered(&a->st) && a->st.want_up;
}

static void set_error(struct agent *a, const char *msg)
{
    snprintf(a->last_error, sizeof(a->last_error), "%s", msg);
}

/* The next map fetch waits for the backoff, which doubles. */
static void backoff(struct ctl *c)
{
    c->next_poll = agent_now_ms() + c->backoff_ms;
    c->backoff_ms = c->backoff_ms * 2 > AGENT_BACKOFF_MAX_MS ? AGENT_BACKOFF_MAX_MS : c->backoff_ms * 2;
}

/* A failed call: transport errors back off; machine errors are named. */
static void call_failed(struct agent *a, const struct http_result *res, const char *what)
{
    struct ctl *c = a->ctl;
    if (res->err[0]) {
        if (c->connected || strcmp(a->last_error, res->err) != 0)
            log_warn("control", "%s: %s (retrying with backoff)", what, res->err);
        set_error(a, res->err);
    } else {
        log_warn("control", "%s: %s: %s", what, res->code, res->message);
        snprintf(a->last_error, sizeof(a->last_error), "%s: %s", res->code, res->message);
        if (!strcmp(res->code, "MACHINE_UNKNOWN") || !strcmp(res->code, "MACHINE_EXPIRED")) {
            /* The server no longer knows us (deleted) or our key expired: our map is void. */
            engine_clear(a);
            netmap_free(a->nm);
            a->nm = NULL;
        }
    }
    c->connected = false;
    backoff(c);
}

static void call_ok(struct agent *a)
{
    struct ctl *c = a->ctl;
    if (!c->connected) {
        c->connected_since = time(NULL);
        if (a->last_error[0])
            log_info("control", "connected to %s again", a->st.server_url);
    }
    c->connected = true;
    c->last_ok = time(NULL);
    c->backoff_ms = AGENT_BACKOFF_MIN_MS;
    a->last_error[0] = 0;
}

/* --- the map: one message, the long-poll, the stream ------------------------------------ */

static void self_changed(struct agent *a, const struct nm_node *self)
{
    struct agent_state *st = &a->st;
    char ip[16];
    inet_ntop(AF_INET, &self->ip, ip, sizeof(ip));
    bool diff = strcmp(st->fqdn, self->fqdn) || strcmp(st->tailnet_ip, ip) || st->n_tags != self->n_tags;
    for (size_t i = 0; !diff && i < self->n_tags; i++)
        diff = strcmp(st->tags[i], self->tags[i]) != 0;
    if (!diff)
        return;
    snprintf(st->fqdn, sizeof(st->fqdn), "%s", self->fqdn);
    snprintf(st->tailnet_ip, sizeof(st->tailnet_ip), "%s", ip);
    memcpy(st->tags, self->tags, sizeof(st->tags));
    st->n_tags = self->n_tags;
    state_save(a->state_dir, st);
}

/* A map message from either transport: verified, checked and applied, or why not. The
 * transport decides what to do next from the verdict. */
static enum nm_verdict map_received(struct agent *a, const char *data, size_t len)
{
    struct ctl *c = a->ctl;
    struct netmap *next = NULL;
    char why[256];
    why[0] = 0;
    enum nm_verdict v = netmap_receive(a->nm, a->st.server_key, a->st.machine_id, data, len, &next,
                                       why, sizeof(why));
    switch (v) {
    case NM_APPLIED:
        engine_apply(a, a->nm, next);
        netmap_free(a->nm);
        a->nm = next;
        a->last_map_at = time(NULL);
        c->force_full = false;
        self_changed(a, &next->self);
        if (next->self.expired)
            snprintf(a->last_error, sizeof(a->last_error),
                     "this machine's key has expired: log in again");
        log_debug("control", "map version %lld: %zu peers", (long long)next->version, next->n_peers);
        break;
    case NM_UNCHANGED:
        a->last_map_at = time(NULL);
        break;
    case NM_RESYNC:
        log_info("control", "map: %s; asking for a full map", why);
        c->force_full = true;
        break;
    case NM_REFUSED:
        a->maps_refused++;
        log_warn("control", "refused a map message: %s (keeping map version %lld)", why,
                 a->nm ? (long long)a->nm->version : -1ll);
        snprintf(a->last_error, sizeof(a->last_error), "refused a map message: %s", why);
        break;
    }
    return v;
}

static void poll_done(struct agent *a, struct http_req *r)
{
    struct ctl *c = a->ctl;
    c->poll = NULL;
    if (r->res.err[0] || !r->res.success || !r->res.raw_data) {
        call_failed(a, &r->res, "map poll");
        return;
    }
    call_ok(a);
    c->polled_ok = true;
    switch (map_received(a, r->res.raw_data, r->res.raw_data_len)) {
    case NM_APPLIED:
    case NM_RESYNC:
        c->next_poll = 0;
        break;
    case NM_UNCHANGED:
        /* a server that answers keepalives at once instead of holding the poll is not spun on */
        c->next_poll = c->poll_started + AGENT_POLL_MIN_GAP_MS;
        break;
    case NM_REFUSED:
        backoff(c);
        break;
    }
}

/* What to ask the map from: the version held, or 0 for a full map. */
static int64_t map_since(const struct agent *a)
{
    return !a->nm || a->ctl->force_full ? 0 : a->nm->version;
}

static void start_poll(struct agent *a)
{
    struct ctl *c = a->ctl;
    char path[96];
    snprintf(path, sizeof(path), "/api/machine/map?since=%lld&wait=%d", (long long)map_since(a),
             AGENT_POLL_WAIT_S);
    c->poll_started = agent_now_ms();
    c->poll = http_start(a, a->st.server_url, "GET", path, NULL, true, NULL,
                         AGENT_POLL_WAIT_S + 15, AGENT_MAP_MAX_BYTES, poll_done, NULL);
    if (!c->poll)
        c->next_poll = agent_now_ms() + AGENT_BACKOFF_MAX_MS;
}

/* Polling from now on; the stream is tried again after a successful poll, and not before
 * AGENT_STREAM_RETRY_S. */
static void stream_fall_back(struct ctl *c)
{
    c->use_stream = false;
    c->polled_ok = false;
    c->stream_retry_at = agent_now_ms() + AGENT_STREAM_RETRY_S * 1000u;
}

static void start_stream(struct agent *a)
{
    struct ctl *c = a->ctl;
    int ret = mapstream_start(a, c->ms, a->st.server_url, map_since(a));
    if (ret) {
        log_warn("control", "map stream: cannot start (%s): polling", strerror(-ret));
        stream_fall_back(c);
        c->next_poll = 0;
    }
}

static void stream_opened(struct agent *a)
{
    log_info("control", "map stream open at %s", a->st.server_url);
    call_ok(a);
}

/* As poll_done() does with a reply, without the reply's own keepalive pacing: the server sends
 * only what changed. */
static void stream_map_received(struct agent *a, const char *msg, size_t len)
{
    struct ctl *c = a->ctl;
    call_ok(a);
    switch (map_received(a, msg, len)) {
    case NM_APPLIED:
    case NM_UNCHANGED:
        break;
    case NM_RESYNC: /* opened again at since=0 by the next tick */
        mapstream_stop(a, c->ms);
        c->next_poll = 0;
        break;
    case NM_REFUSED:
        mapstream_stop(a, c->ms);
        backoff(c);
        break;
    }
}

/* The answer to our ping: the server is there (heartbeats wait for that after a failure). */
static void stream_pong_received(struct agent *a)
{
    call_ok(a);
}

static void stream_ended(struct agent *a, enum mapstream_end how, const char *code, const char *why)
{
    struct ctl *c = a->ctl;
    struct http_result res;
    memset(&res, 0, sizeof(res));
    switch (how) {
    case MAPSTREAM_SILENT: /* a dead path, not a server without streams */
        log_warn("control", "%s: reconnecting", why);
        c->next_poll = 0;
        return;
    case MAPSTREAM_UNREACHABLE: /* a transport error, as a failed call: back off, then poll */
        snprintf(res.err, sizeof(res.err), "%s", why);
        call_failed(a, &res, "map stream");
        break;
    case MAPSTREAM_MACHINE_GONE: /* as a poll's MACHINE_UNKNOWN / MACHINE_EXPIRED */
        snprintf(res.code, sizeof(res.code), "%s", code);
        snprintf(res.message, sizeof(res.message), "%s", why);
        call_failed(a, &res, "map stream");
        break;
    case MAPSTREAM_REFUSED: /* UNAUTHORIZED, BUSY, ...: a poll says precisely why, or works */
    case MAPSTREAM_BROKEN:
        if (code[0])
            log_info("control", "map stream refused (%s: %s): polling the map", code, why);
        else
            log_info("control", "%s: polling the map", why);
        c->next_poll = 0;
        break;
    }
    stream_fall_back(c);
}

/* The server went away and the stream opens again (mapstream.c); meanwhile the stream is not
 * idle, so no poll starts. */
static int64_t stream_reopening(struct agent *a)
{
    return map_since(a);
}

static const struct mapstream_ops stream_ops = {
    .opened = stream_opened,
    .map_received = stream_map_received,
    .pong_received = stream_pong_received,
    .ended = stream_ended,
    .reopening = stream_reopening,
};

/* --- heartbeat, endpoints -------------------------------------------------------------- */

static void hb_done(struct agent *a, struct http_req *r)
{
    struct ctl *c = a->ctl;
    c->hb = NULL;
    if (r->res.err[0] || !r->res.success) {
        call_failed(a, &r->res, "heartbeat");
        c->next_hb = agent_now_ms() + 5000;
        return;
    }
    call_ok(a);
    const cJSON *hi = cJSON_GetObjectItemCaseSensitive(r->res.data, "heartbeat_interval");
    if (cJSON_IsNumber(hi) && hi->valuedouble >= 1 && hi->valuedouble <= 86400)
        a->st.heartbeat_interval = (int64_t)hi->valuedouble;
}

/* The posture collection finished: send the heartbeat with it and the new denials. */
void ctl_posture_ready(struct agent *a, cJSON *p)
{
    struct ctl *c = a->ctl;
    cJSON *body = cJSON_CreateObject(), *d;
    c->hb_collecting = false;
    if (!active(a) || !body || !p) {
        cJSON_Delete(body);
        cJSON_Delete(p);
        return;
    }
    d = pktpath_take_denials(a);
    cJSON_AddItemToObject(body, "posture", p);
    if (d)
        cJSON_AddItemToObject(body, "denials", d);
    cJSON *stats = engine_stats(a);
    if (stats)
        cJSON_AddItemToObject(body, "stats", stats);
    char *txt = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    if (!txt)
        return;
    c->hb = http_start(a, a->st.server_url, "POST", "/api/machine-heartbeat", txt, true, NULL,
                       AGENT_HTTP_TIMEOUT_S, AGENT_HTTP_MAX_BYTES, hb_done, NULL);
    free(txt);
}

static void start_heartbeat(struct agent *a, uint64_t now)
{
    struct ctl *c = a->ctl;
    int64_t every = a->st.heartbeat_interval > 0 ? a->st.heartbeat_interval : AGENT_HEARTBEAT_DEFAULT_S;
    c->next_hb = now + (uint64_t)every * 1000u;
    c->hb_collecting = true;
    if (posture_async_start(a) != 0)
        ctl_posture_ready(a, posture_minimal());
}

static void ep_done(struct agent *a, struct http_req *r)
{
    struct ctl *c = a->ctl;
    c->ep = NULL;
    if (r->res.err[0] || !r->res.success) {
        call_failed(a, &r->res, "endpoint report");
        c->next_ep = agent_now_ms() + 10000;
    }
}

/* Our local addresses with the WireGuard port: every IPv4 address on an interface that is up,
 * except loopback and the tailnet itself. */
static cJSON *local_endpoints(const struct agent *a)
{
    struct ifaddrs *ifa = NULL;
    cJSON *arr = cJSON_CreateArray();
    if (!arr || getifaddrs(&ifa) < 0)
        return arr;
    for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
            (i->ifa_flags & IFF_LOOPBACK) || !strcmp(i->ifa_name, a->tun))
            continue;
        const struct sockaddr_in *sin = (const struct sockaddr_in *)i->ifa_addr;
        uint32_t h = ntohl(sin->sin_addr.s_addr);
        if ((h & 0xffc00000u) == 0x64400000u) /* 100.64.0.0/10 */
            continue;
        char ip[16], ep[AGENT_ENDPOINT_MAX];
        inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
        snprintf(ep, sizeof(ep), "%s:%u", ip, a->listen_port);
        if (cJSON_GetArraySize(arr) < AGENT_MAX_ENDPOINTS)
            cJSON_AddItemToArray(arr, cJSON_CreateString(ep));
    }
    freeifaddrs(ifa);
    return arr;
}

static void start_endpoints(struct agent *a, uint64_t now)
{
    struct ctl *c = a->ctl;
    cJSON *body = cJSON_CreateObject();
    c->next_ep = now + AGENT_ENDPOINTS_EVERY_S * 1000u;
    if (!body)
        return;
    cJSON_AddNumberToObject(body, "listen_port", a->listen_port);
    cJSON_AddItemToObject(body, "endpoints", local_endpoints(a));
    char *txt = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    if (!txt)
        return;
    c->ep = http_start(a, a->st.server_url, "POST", "/api/machine/endpoints", txt, true, NULL,
                       AGENT_HTTP_TIMEOUT_S, AGENT_HTTP_MAX_BYTES, ep_done, NULL);
    free(txt);
}

void ctl_tick(struct agent *a, uint64_t now)
{
    struct ctl *c = a->ctl;
    if (!active(a))
        return;
    mapstream_tick(a, c->ms, now);
    if (!c->poll && mapstream_state(c->ms) == MAPSTREAM_IDLE && now >= c->next_poll) {
        if (!c->use_stream && c->polled_ok && now >= c->stream_retry_at)
            c->use_stream = true;
        if (c->use_stream)
            start_stream(a);
        else
            start_poll(a);
    }
    /* heartbeats and endpoint reports wait for the server to answer (a poll, the stream) */
    if (!c->connected)
        return;
    if (!c->hb && !c->hb_collecting && now >= c->next_hb)
        start_heartbeat(a, now);
    if (!c->ep && now >= c->next_ep)
        start_endpoints(a, now);
}

static void session_restart(struct agent *a)
{
    struct ctl *c = a->ctl;
    http_cancel(a, c->poll);
    http_cancel(a, c->hb);
    http_cancel(a, c->ep);
    mapstream_stop(a, c->ms);
    c->poll = c->hb = c->ep = NULL;
    c->use_stream = true;
    c->polled_ok = false;
    c->next_poll = c->next_hb = c->next_ep = 0;
    c->backoff_ms = AGENT_BACKOFF_MIN_MS;
    c->connected = false;
}

void ctl_set_up(struct agent *a, bool up)
{
    session_restart(a);
    if (!up) {
        engine_clear(a);
        netmap_free(a->nm);
        a->nm = NULL;
    }
    if (a->st.want_up != up) {
        a->st.want_up = up;
        if (state_registered(&a->st))
            state_save(a->state_dir, &a->st);
    }
}

/* --- login, logout, tags ------------------------------------------------------------------ */

/* "auth key expired" for the codes of docs/control-protocol.md, else the server's message. */
static void describe_failure(const struct http_result *res, char *out, size_t cap)
{
    static const struct {
        const char *code, *text;
    } known[] = {
        {"AUTH_KEY_EXPIRED", "auth key expired"},
        {"AUTH_KEY_INVALID", "auth key invalid (unknown or revoked)"},
        {"AUTH_KEY_USED", "auth key already used"},
        {"MACHINE_EXPIRED", "machine key expired: log in again"},
        {"MACHINE_UNKNOWN", "the server does not know this machine (deleted?): log in again"},
    };
    /* the browser login's exchange (docs/control-protocol.md, CLI browser login) */
    static const char *const code_refusals[] = {"INVALID_CODE", "CODE_USED", "INVALID_VERIFIER",
                                                "NOT_APPROVED", "EXPIRED"};
    if (res->err[0]) {
        snprintf(out, cap, "%s", res->err);
        return;
    }
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (!strcmp(res->code, known[i].code)) {
            snprintf(out, cap, "%s", known[i].text);
            return;
        }
    }
    for (size_t i = 0; i < sizeof(code_refusals) / sizeof(code_refusals[0]); i++) {
        if (!strcmp(res->code, code_refusals[i])) {
            snprintf(out, cap, "login code rejected: %s (%s)",
                     res->message[0] ? res->message : "refused", res->code);
            return;
        }
    }
    snprintf(out, cap, "%s (%s, HTTP %ld)", res->message[0] ? res->message : "request refused",
             res->code, res->status);
}

struct reg_in {
    int64_t machine_id, org_id, heartbeat_interval;
    char tailnet_ip[16], key[65], name[AGENT_FQDN_MAX];
};

static void register_done(struct agent *a, struct http_req *r)
{
    static const struct jfield f[] = {
        {"machine_id", JF_I64, true, offsetof(struct reg_in, machine_id), 0, 0, 0, 1, INT64_MAX},
        {"org_id", JF_I64, false, offsetof(struct reg_in, org_id), 0, 0, 0, 0, INT64_MAX},
        {"heartbeat_interval", JF_I64, false, offsetof(struct reg_in, heartbeat_interval), 0, 0, 0, 0, 86400},
        {"tailnet_ip", JF_STR, true, offsetof(struct reg_in, tailnet_ip), 16, 0, 0, 1, 0},
        {"server_signing_key", JF_STR, true, offsetof(struct reg_in, key), 65, 0, 0, 1, 0},
        {"name", JF_STR, false, offsetof(struct reg_in, name), AGENT_FQDN_MAX, 0, 0, 0, 0},
    };
    struct ctl *c = a->ctl;
    struct reg_in in;
    char why[1100];
    uint8_t spk[32];
    c->op = NULL;
    if (r->res.err[0] || !r->res.success) {
        describe_failure(&r->res, why, sizeof(why));
        log_warn("control", "login failed: %s", why);
        c->reply(a, c->op_conn, NULL, why);
        return;
    }
    memset(&in, 0, sizeof(in));
    if (jfields_parse(r->res.data, f, sizeof(f) / sizeof(f[0]), &in, NULL, why, sizeof(why)) ||
        strlen(in.key) != 64 || !hex_decode(spk, 32, in.key)) {
        char msg[1200];
        snprintf(msg, sizeof(msg), "the server's registration reply is malformed: %s",
                 in.key[0] ? why : "server_signing_key missing");
        c->reply(a, c->op_conn, NULL, msg);
        return;
    }
    /* A new registration replaces the old one, map included. */
    session_restart(a);
    engine_clear(a);
    netmap_free(a->nm);
    a->nm = NULL;
    struct agent_state *st = &a->st;
    memset(st, 0, sizeof(*st));
    snprintf(st->server_url, sizeof(st->server_url), "%s", c->login.server);
    memcpy(st->server_key, spk, 32);
    st->machine_id = in.machine_id;
    st->org_id = in.org_id;
    st->heartbeat_interval = in.heartbeat_interval ? in.heartbeat_interval : AGENT_HEARTBEAT_DEFAULT_S;
    snprintf(st->tailnet_ip, sizeof(st->tailnet_ip), "%s", in.tailnet_ip);
    snprintf(st->fqdn, sizeof(st->fqdn), "%s", in.name);
    snprintf(st->hostname, sizeof(st->hostname), "%s", c->login.hostname);
    memcpy(st->tags, c->login.tags, sizeof(st->tags));
    st->n_tags = c->login.n_tags;
    st->want_up = true;
    int ret = state_save(a->state_dir, st);
    if (ret) {
        snprintf(why, sizeof(why), "registered, but cannot save the state in %s: %s", a->state_dir,
                 strerror(-ret));
        c->reply(a, c->op_conn, NULL, why);
        return;
    }
    log_info("control", "registered with %s as machine %lld (%s)", st->server_url,
             (long long)st->machine_id, st->tailnet_ip);
    cJSON *d = cJSON_CreateObject();
    if (d) {
        cJSON_AddNumberToObject(d, "machine_id", (double)st->machine_id);
        cJSON_AddStringToObject(d, "tailnet_ip", st->tailnet_ip);
        cJSON_AddStringToObject(d, "name", st->fqdn);
    }
    c->reply(a, c->op_conn, d, NULL);
}

int ctl_login(struct agent *a, const struct ctl_login *req, uint64_t conn_id)
{
    struct ctl *c = a->ctl;
    char mk[65], wg[64], auth[300];
    if (c->op)
        return -EBUSY;
    c->login = *req;
    size_t n = strlen(c->login.server);
    while (n && c->login.server[n - 1] == '/')
        c->login.server[--n] = 0;
    hex_encode(mk, a->keys.machine_pk, 32);
    sodium_bin2base64(wg, sizeof(wg), a->keys.wg_pub, 32, sodium_base64_VARIANT_ORIGINAL);
    cJSON *b = cJSON_CreateObject(), *tags;
    char osv[128];
    if (!b)
        return -ENOMEM;
    posture_os_release(osv, sizeof(osv));
    cJSON_AddStringToObject(b, "machine_key", mk);
    cJSON_AddStringToObject(b, "wg_public_key", wg);
    cJSON_AddStringToObject(b, "hostname", req->hostname);
    cJSON_AddStringToObject(b, "os", "linux");
    cJSON_AddStringToObject(b, "os_version", osv);
    if (req->n_tags && (tags = cJSON_AddArrayToObject(b, "tags")))
        for (size_t i = 0; i < req->n_tags; i++)
            cJSON_AddItemToArray(tags, cJSON_CreateString(req->tags[i]));
    bool by_code = req->code[0] != 0;
    if (by_code) {
        cJSON_AddStringToObject(b, "request_id", req->request_id);
        cJSON_AddStringToObject(b, "code", req->code);
        cJSON_AddStringToObject(b, "code_verifier", req->code_verifier);
    }
    char *txt = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    if (!txt)
        return -ENOMEM;
    /* The pre-auth key goes as a Bearer token (server/api_machines.c; the body has no auth_key). */
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", req->auth_key);
    /* The browser login: the code and its verifier in the body stand for the key. */
    c->op = http_start(a, c->login.server, "POST",
                       by_code ? "/api/cli-login/exchange" : "/api/register-machine", txt, false,
                       by_code ? NULL : auth, AGENT_HTTP_TIMEOUT_S, AGENT_HTTP_MAX_BYTES,
                       register_done, NULL);
    sodium_memzero(auth, sizeof(auth));
    sodium_memzero(txt, strlen(txt));
    free(txt);
    sodium_memzero(c->login.auth_key, sizeof(c->login.auth_key));
    sodium_memzero(c->login.code, sizeof(c->login.code));
    sodium_memzero(c->login.code_verifier, sizeof(c->login.code_verifier));
    if (!c->op)
        return -ENOMEM;
    c->op_conn = conn_id;
    return 0;
}

static void forget(struct agent *a)
{
    session_restart(a);
    engine_clear(a);
    netmap_free(a->nm);
    a->nm = NULL;
    memset(&a->st, 0, sizeof(a->st));
    state_clear(a->state_dir);
}

static void logout_done(struct agent *a, struct http_req *r)
{
    struct ctl *c = a->ctl;
    char why[1100];
    c->op = NULL;
    if (r->res.err[0] || (!r->res.success && strcmp(r->res.code, "MACHINE_UNKNOWN") &&
                          strcmp(r->res.code, "MACHINE_EXPIRED"))) {
        describe_failure(&r->res, why, sizeof(why));
        c->reply(a, c->op_conn, NULL, why);
        return;
    }
    log_info("control", "logged out of %s", a->st.server_url);
    forget(a);
    c->reply(a, c->op_conn, cJSON_CreateObject(), NULL);
}

int ctl_logout(struct agent *a, uint64_t conn_id)
{
    struct ctl *c = a->ctl;
    if (c->op)
        return -EBUSY;
    if (!state_registered(&a->st))
        return -ENOTCONN;
    c->op = http_start(a, a->st.server_url, "POST", "/api/machine/logout", "{}", true, NULL,
                       AGENT_HTTP_TIMEOUT_S, AGENT_HTTP_MAX_BYTES, logout_done, NULL);
    if (!c->op)
        return -ENOMEM;
    c->op_conn = conn_id;
    return 0;
}

static void tags_done(struct agent *a, struct http_req *r)
{
    struct ctl *c = a->ctl;
    char why[1100];
    c->op = NULL;
    if (r->res.err[0] || !r->res.success) {
        if (r->res.status == 404 && !strcmp(r->res.code, "NOT_FOUND"))
            snprintf(why, sizeof(why), "this server does not let machines change their own tags "
                     "(ask an admin to retag the machine)");
        else
            describe_failure(&r->res, why, sizeof(why));
        c->reply(a, c->op_conn, NULL, why);
        return;
    }
    c->force_full = false;
    /* the server's {id, name, tags}: the CLI prints the tags now in force */
    cJSON *d = r->res.data ? cJSON_Duplicate(r->res.data, true) : cJSON_CreateObject();
    c->reply(a, c->op_conn, d, d ? NULL : "out of memory");
}

int ctl_set_tags(struct agent *a, char tags[][AGENT_NAME_MAX], size_t n, uint64_t conn_id)
{
    struct ctl *c = a->ctl;
    if (c->op)
        return -EBUSY;
    if (!state_registered(&a->st))
        return -ENOTCONN;
    cJSON *b = cJSON_CreateObject(), *arr = b ? cJSON_AddArrayToObject(b, "tags") : NULL;
    if (!arr) {
        cJSON_Delete(b);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(tags[i]));
    char *txt = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    if (!txt)
        return -ENOMEM;
    c->op = http_start(a, a->st.server_url, "POST", "/api/machine/tags", txt, true, NULL,
                       AGENT_HTTP_TIMEOUT_S, AGENT_HTTP_MAX_BYTES, tags_done, NULL);
    free(txt);
    if (!c->op)
        return -ENOMEM;
    c->op_conn = conn_id;
    return 0;
}

/* A call for the machine's owner (JIT): the server's data goes back to the CLI as it is. */
static void relay_done(struct agent *a, struct http_req *r)
{
    struct ctl *c = a->ctl;
    char why[1100];
    c->op = NULL;
    if (r->res.err[0] || !r->res.success) {
        describe_failure(&r->res, why, sizeof(why));
        c->reply(a, c->op_conn, NULL, why);
        return;
    }
    cJSON *d = r->res.data ? cJSON_Duplicate(r->res.data, true) : cJSON_CreateObject();
    c->reply(a, c->op_conn, d, d ? NULL : "out of memory");
}

int ctl_machine_call(struct agent *a, const char *method, const char *path, const char *body,
                     uint64_t conn_id)
{
    struct ctl *c = a->ctl;
    if (c->op)
        return -EBUSY;
    if (!state_registered(&a->st))
        return -ENOTCONN;
    c->op = http_start(a, a->st.server_url, method, path, body, true, NULL, AGENT_HTTP_TIMEOUT_S,
                       AGENT_HTTP_MAX_BYTES, relay_done, NULL);
    if (!c->op)
        return -ENOMEM;
    c->op_conn = conn_id;
    return 0;
}

cJSON *ctl_status(struct agent *a)
{
    struct ctl *c = a->ctl;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    const char *state = !state_registered(&a->st) ? "logged-out"
                        : !a->st.want_up          ? "down"
                        : c->connected            ? "connected"
                                                  : "connecting";
    cJSON_AddStringToObject(o, "state", state);
    cJSON_AddStringToObject(o, "server", a->st.server_url);
    cJSON_AddBoolToObject(o, "connected", c->connected);
    cJSON_AddNumberToObject(o, "last_contact", (double)c->last_ok);
    cJSON_AddNumberToObject(o, "map_version", a->nm ? (double)a->nm->version : 0);
    cJSON_AddStringToObject(o, "map_transport",
                            mapstream_state(c->ms) == MAPSTREAM_OPEN ? "stream" : "poll");
    cJSON_AddNumberToObject(o, "last_map", (double)a->last_map_at);
    cJSON_AddNumberToObject(o, "maps_refused", (double)a->maps_refused);
    cJSON_AddStringToObject(o, "last_error", a->last_error);
    return o;
}
