/* Map streams for the control-plane load tool (benchmark only): the client side of
 * GET /api/machine/map/stream?since=V (docs/control-protocol.md, "Map streams"), one WebSocket
 * (RFC 6455) per simulated agent, all under the tool's one epoll.
 *
 * A connection's states (agent.ws):
 *   WS_NONE       a plain HTTP connection: a poll, GET /healthz, an admin request;
 *   WS_UPGRADING  the signed upgrade request sent, the 101 not in yet;
 *   WS_OPEN       frames are parsed as they come (common/ctl/wsproto.h): a text message other
 *                 than a pong is kept (the first since the last stream_messages_drop() sets
 *                 done_at); pongs are counted, control frames answered;
 *   WS_CLOSED     refused (the 101 and its Sec-WebSocket-Accept checked as the agent does),
 *                 closed by the server (a close frame, EOF) or a frame no server may send;
 *                 a.err says which.
 * Client frames are masked (5.3). The server closes a socket that sent nothing for 30 s, so a
 * stream silent for WS_PING_AFTER s pings; the scenarios also ping every stream before each
 * change so that no ping falls inside a measurement.
 *
 * Messages are verified after a collection, not on arrival: the poll mode times a reply's
 * arrival too, and one thread verifying thousands of messages in turn would time the tool,
 * where N agents verify theirs in parallel. A message counts only once verified, as the agent
 * verifies it (map_batch_verify()), but with one Ed25519 check per batch, not per message. */
#include "ctl_stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "common/ctl/ctl_auth.h"
#include "common/ctl/map_batch.h"
#include "common/ctl/wsproto.h"
#include "common/hex.h"

/* A message kept in agent.kept, its bytes after it. */
struct kept_msg {
    size_t len;
    uint8_t opcode;
};

static struct {
    struct map_batch_seen seen; /* the batch roots verified lately */
    long messages;
} verified;

/* A masked client frame (5.3) of at most WS_CONTROL_MAX bytes. */
static int frame_send(struct agent *a, uint8_t opcode, const uint8_t *p, size_t n)
{
    uint8_t f[WS_HEADER_MAX + WS_CONTROL_MAX], mask[4];
    size_t len;

    if (a->fd < 0)
        return -EINVAL;
    randombytes_buf(mask, sizeof(mask));
    if (!(len = wsproto_frame_write(f, sizeof(f), opcode, p, n, mask)))
        return -EINVAL;
    a->sent_at = now_s();
    return write_all(a->fd, (const char *)f, len);
}

static int ping(struct agent *a)
{
    static const char text[] = "{\"type\":\"ping\"}";

    return frame_send(a, WS_OP_TEXT, (const uint8_t *)text, sizeof(text) - 1);
}

/* A pong is a short object; a map frame carries at least its 128-digit signature. */
static bool is_pong(const uint8_t *p, size_t n)
{
    cJSON *o, *t;
    bool pong;

    if (n > 64)
        return false;
    o = cJSON_ParseWithLength((const char *)p, n);
    t = cJSON_GetObjectItem(o, "type");
    pong = cJSON_IsString(t) && !strcmp(t->valuestring, "pong");
    cJSON_Delete(o);
    return pong;
}

static void cut(struct agent *a, size_t at, size_t n)
{
    memmove(a->in + at, a->in + at + n, a->inlen - at - n);
    a->inlen -= n;
    a->in[a->inlen] = '\0';
}

/* The 101 (RFC 6455 4.1), checked by wsproto_reply_check(): status, Upgrade, Connection and
 * the Sec-WebSocket-Accept that answers our key. */
static void upgrade_answer(struct agent *a)
{
    size_t head = wsproto_head_end(a->in, a->inlen);
    char why[200];
    long status;

    if (!head)
        return;
    if (wsproto_reply_check(a->in, head, a->accept, &status, why, sizeof(why))) {
        a->status = (int)status;
        a->ws = WS_CLOSED;
        a->err = "upgrade refused";
        return;
    }
    a->status = 101;
    a->ws = WS_OPEN;
    cut(a, 0, head);
}

/* One whole message from the parser; true when it set done_at. */
static bool msg_received(struct agent *a, const struct ws_msg *m)
{
    struct kept_msg k = {m->len, m->opcode};

    switch (m->opcode) {
    case WS_OP_TEXT:
    case WS_OP_BINARY:
        if (m->opcode == WS_OP_TEXT && is_pong(m->data, m->len)) {
            a->pongs++;
            return false;
        }
        strbuf_add(&a->kept, (const char *)&k, sizeof(k));
        strbuf_add(&a->kept, (const char *)m->data, m->len);
        a->msgs++;
        if (a->done_at != 0)
            return false;
        a->done_at = now_s();
        return true;
    case WS_OP_PING:
        frame_send(a, WS_OP_PONG, m->data, m->len);
        return false;
    case WS_OP_CLOSE: /* echo the status code (5.5.1) */
        frame_send(a, WS_OP_CLOSE, m->data, m->len < 2 ? 0 : 2);
        a->ws = WS_CLOSED;
        a->err = "closed by the server";
        return false;
    default: /* a pong frame */
        return false;
    }
}

bool stream_input(int ep, struct agent *a, bool closed)
{
    bool now = false;
    size_t off = 0;

    if (a->ws == WS_UPGRADING)
        upgrade_answer(a);
    while (a->ws == WS_OPEN && off < a->inlen) {
        struct ws_msg m;
        size_t used = 0;
        char why[200];
        int r = wsproto_parser_feed(&a->parser, (const uint8_t *)a->in + off, a->inlen - off,
                                    &used, &m, why, sizeof(why));

        off += used;
        if (r < 0) {
            a->ws = WS_CLOSED;
            a->err = "a frame no server may send (RFC 6455 5.1, 5.2, 5.5)";
        } else if (r == 1) {
            now |= msg_received(a, &m);
        }
    }
    if (off)
        cut(a, 0, off); /* taken by the parser */
    if (closed && a->ws != WS_CLOSED) {
        a->ws = WS_CLOSED;
        a->err = "the connection ended";
    }
    if (a->ws == WS_CLOSED) {
        /* level-triggered: an ended socket would be reported forever */
        epoll_ctl(ep, EPOLL_CTL_DEL, a->fd, NULL);
        if (a->done_at == 0) {
            a->done_at = -1;
            now = true;
        }
    }
    return now;
}

static int upgrade_send(struct agent *a, int64_t since)
{
    char target[96], hdr[CTL_AUTH_HEADER_MAX], key[WS_KEY_LEN + 1], req[1024];
    struct ctl_auth au;
    int n;

    snprintf(target, sizeof(target), "/api/machine/map/stream?since=%lld", (long long)since);
    wsproto_key_new(key);
    wsproto_accept(a->accept, key);
    wsproto_parser_fini(&a->parser);
    wsproto_parser_init(&a->parser, WS_MSG_MAX, false);
    if (ctl_auth_sign(&au, a->sk, "GET", target, NULL, 0, time(NULL)) < 0 ||
        ctl_auth_header_format(&au, hdr, sizeof(hdr)) < 0)
        return -EINVAL;
    n = snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\nAuthorization: %s\r\n\r\n",
                 target, host, port, key, hdr);
    a->ws = WS_UPGRADING;
    a->sent_at = now_s();
    return write_all(a->fd, req, (size_t)n);
}

/* Reads every ready connection for up to ms; returns the count of events. */
static int pump(int ep, int ms)
{
    struct epoll_event ev[256];
    int k = epoll_wait(ep, ev, 256, ms);

    for (int j = 0; j < k; j++)
        conn_read(ep, ev[j].data.ptr);
    return k;
}

int streams_open(int ep, int count, int64_t version, int *refused)
{
    double t0 = now_s(), deadline = t0 + WS_OPEN_BASE_S + count / WS_OPEN_RATE, ka = t0;
    int next = 0, inflight = 0, open = 0, late = 0, early = 0;
    char why[256];

    *refused = 0;
    while ((next < count || inflight > 0) && now_s() < deadline) {
        while (next < count && inflight < WS_OPEN_WINDOW) {
            struct agent *a = &agents[next++];
            struct epoll_event e = {.events = EPOLLIN, .data.ptr = a};
            int64_t since = a->version ? a->version : version;

            agent_conn_reset(ep, a);
            if (since <= 0) /* no verified version: holds nothing, as in the poll mode */
                continue;
            a->fd = dial(true);
            if (a->fd < 0) {
                fprintf(stderr, "connect %d: %s\n", next - 1, strerror(errno));
                continue;
            }
            epoll_ctl(ep, EPOLL_CTL_ADD, a->fd, &e);
            if (upgrade_send(a, since) < 0) {
                agent_conn_reset(ep, a);
                continue;
            }
            inflight++;
        }
        struct epoll_event ev[256];
        int k = epoll_wait(ep, ev, 256, 20);

        for (int j = 0; j < k; j++) {
            struct agent *a = ev[j].data.ptr;
            bool was = a->ws == WS_UPGRADING;

            conn_read(ep, a);
            inflight -= was && a->ws != WS_UPGRADING;
        }
        if (now_s() - ka >= 1.0) { /* the first streams may wait long for the last ones */
            streams_keepalive(WS_PING_AFTER);
            ka = now_s();
        }
    }
    /* what the server sends at once (nothing at the current version; an error frame if it
     * refuses after the 101) */
    for (double until = now_s() + 1.0; now_s() < until;)
        pump(ep, 50);
    for (int i = 0; i < count; i++) {
        struct agent *a = &agents[i];
        struct map_info mi = {0};
        size_t bytes;

        if (a->ws == WS_UPGRADING) {
            late++;
            agent_conn_reset(ep, a);
            continue;
        }
        if (a->ws == WS_NONE)
            continue;
        if (a->done_at == 0) {
            open++;
            continue;
        }
        /* a message at once: a map is early (counted), anything else a refusal */
        bool map = a->msgs > 0 && stream_message_verify(a, 0, 0, &mi, &bytes, why, sizeof(why));
        if (map && a->ws == WS_OPEN) {
            early++;
            open++;
            continue;
        }
        if (map)
            snprintf(why, sizeof(why), "a map, then %s", a->err);
        else if (a->msgs == 0)
            snprintf(why, sizeof(why), "%s: HTTP %d %.200s", a->err, a->status, a->in ? a->in : "");
        if ((*refused)++ < 3)
            fprintf(stderr, "  stream of agent %d (machine %lld): %s\n", i, (long long)a->id, why);
        agent_conn_reset(ep, a);
    }
    printf("  streams: %d upgrades (%d at a time) in %.2f s: %d open, %d refused, %d not answered "
           "by the deadline\n", count, WS_OPEN_WINDOW, now_s() - t0, open, *refused, late);
    return early;
}

void streams_keepalive(double older_than)
{
    double t = now_s();

    for (int i = 0; i < nagents; i++) {
        if (agents[i].ws == WS_OPEN && t - agents[i].sent_at >= older_than)
            ping(&agents[i]);
    }
}

int streams_ping(int ep, double deadline, int *open)
{
    int got = 0;

    *open = 0;
    for (int i = 0; i < nagents; i++) {
        agents[i].pongs = 0;
        if (agents[i].ws == WS_OPEN && ping(&agents[i]) == 0)
            ++*open;
    }
    while (got < *open && now_s() < deadline) {
        struct epoll_event ev[256];
        int k = epoll_wait(ep, ev, 256, 20);

        for (int j = 0; j < k; j++) {
            struct agent *a = ev[j].data.ptr;
            int before = a->pongs;

            conn_read(ep, a);
            got += before == 0 && a->pongs > 0;
        }
    }
    return got;
}

/* A map frame's JSON: its payload verified along its path to a root the server signed. */
static bool frame_verify(const char *text, size_t len, int64_t want_id, struct map_info *mi,
                         int64_t must_list, char *why, size_t whycap)
{
    cJSON *o = cJSON_ParseWithLength(text, len);
    cJSON *t = cJSON_GetObjectItem(o, "type"), *p = cJSON_GetObjectItem(o, "payload");
    cJSON *s = cJSON_GetObjectItem(o, "sig");
    uint8_t *payload = NULL, sig[64];
    size_t plen, n = 0;
    bool ok = false;

    if (!cJSON_IsString(t) || strcmp(t->valuestring, "map")) {
        cJSON *c = cJSON_GetObjectItem(o, "code"), *m = cJSON_GetObjectItem(o, "message");

        snprintf(why, whycap, "a \"%s\" frame: %s %s", cJSON_IsString(t) ? t->valuestring : "?",
                 cJSON_IsString(c) ? c->valuestring : "", cJSON_IsString(m) ? m->valuestring : "");
        goto out;
    }
    if (!cJSON_IsString(p) || !cJSON_IsString(s) || strlen(s->valuestring) != 128 ||
        !hex_decode(sig, 64, s->valuestring)) {
        snprintf(why, whycap, "a map frame without payload or sig: %.*s",
                 (int)(len < 200 ? len : 200), text);
        goto out;
    }
    plen = strlen(p->valuestring);
    if (!(payload = malloc(plen + 1)))
        goto out;
    if (sodium_base642bin(payload, plen, p->valuestring, plen, NULL, &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        snprintf(why, whycap, "a payload that is not base64");
        goto out;
    }
    if (map_batch_verify(payload, n, cJSON_GetObjectItem(o, "path"), sig, server_pk,
                         &verified.seen, why, whycap))
        goto out;
    ok = map_payload_check((const char *)payload, n, want_id, mi, must_list);
    if (!ok)
        snprintf(why, whycap, "a signed map not for machine %lld%s: %.*s", (long long)want_id,
                 must_list ? " or not listing the new machine" : "", (int)(n < 200 ? n : 200),
                 (const char *)payload);
out:
    verified.messages += ok;
    free(payload);
    cJSON_Delete(o);
    return ok;
}

bool stream_message_verify(const struct agent *a, int k, int64_t must_list, struct map_info *mi,
                           size_t *bytes, char *why, size_t whycap)
{
    struct kept_msg m;
    size_t off = 0;

    *bytes = 0;
    if (a->kept.failed) {
        snprintf(why, whycap, "out of memory keeping messages");
        return false;
    }
    for (int i = 0; off + sizeof(m) <= a->kept.len; i++) {
        memcpy(&m, a->kept.p + off, sizeof(m));
        off += sizeof(m);
        if (i == k) {
            *bytes = m.len;
            if (m.opcode != WS_OP_TEXT) {
                snprintf(why, whycap, "a binary frame");
                return false;
            }
            return frame_verify(a->kept.p + off, m.len, a->id, mi, must_list, why, whycap);
        }
        off += m.len;
    }
    snprintf(why, whycap, "no message: %s", a->err ? a->err : "none came");
    return false;
}

void stream_messages_drop(struct agent *a)
{
    if (a->ws == WS_CLOSED) { /* off epoll already; let it go */
        close(a->fd);
        a->fd = -1;
        a->ws = WS_NONE;
        a->inlen = 0;
    }
    a->kept.len = 0;
    a->msgs = 0;
    a->done_at = 0;
}

void stream_verify_stats(long *messages, long *signatures)
{
    *messages = verified.messages;
    *signatures = (long)verified.seen.checks;
}
