/* Map streams for the control-plane load tool (benchmark only): the client side of
 * GET /api/machine/map/stream?since=V (docs/control-protocol.md, "Map streams"), one WebSocket
 * (RFC 6455) per simulated agent, all under the tool's one epoll.
 *
 * A connection's states (agent.ws):
 *   WS_NONE       a plain HTTP connection: a poll, GET /healthz, an admin request;
 *   WS_UPGRADING  the signed upgrade request sent, the 101 not in yet;
 *   WS_OPEN       frames are read as they come: a text frame other than a pong is a message
 *                 (the first since the last stream_messages_drop() sets done_at); pongs and
 *                 control frames are cut out of the buffer on arrival;
 *   WS_CLOSED     refused, closed by the server (a close frame, EOF) or a frame no server may
 *                 send; a.err says which.
 * Client frames are masked (5.3). The server closes a socket that sent nothing for 30 s, so a
 * stream silent for WS_PING_AFTER s pings; the scenarios also ping every stream before each
 * change so that no ping falls inside a measurement.
 *
 * Messages are verified after a collection, not on arrival: the poll mode times a reply's
 * arrival too, and one thread verifying thousands of messages in turn would time the tool,
 * where N agents verify theirs in parallel. A message counts only once verified. */
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
#include "common/cursor.h"
#include "common/hex.h"

enum { OP_TEXT = 0x1, OP_BINARY = 0x2, OP_CLOSE = 0x8, OP_PING = 0x9, OP_PONG = 0xa };

#define ROOT_CACHE 64 /* batch roots (with their signature) verified lately */

struct ws_frame {
    uint8_t opcode;
    const uint8_t *payload; /* borrowed from the buffer parsed */
    size_t len, size;       /* payload, whole frame */
};

static struct {
    uint8_t root[ROOT_CACHE][32], sig[ROOT_CACHE][64];
    int n, next;
    long messages, signatures;
} verified;

/* One server frame at buf (RFC 6455 5.2): 1 and *f, 0 when it is not all in yet, -1 when no
 * server may send it here: masked (5.1), RSV bits without an extension, fragmented (the server
 * sends each message whole), a control frame over 125 bytes (5.5), longer than WS_FRAME_MAX. */
static int frame_parse(const uint8_t *buf, size_t len, struct ws_frame *f)
{
    struct cursor c = cursor_init(buf, len);
    uint8_t b0 = cursor_u8(&c), b1 = cursor_u8(&c);
    uint64_t n = b1 & 0x7f;

    if (!c.ok)
        return 0;
    if ((b0 & 0x70) || (b1 & 0x80) || !(b0 & 0x80) || (b0 & 0x0f) == 0)
        return -1;
    if (n == 126) {
        n = cursor_be16(&c);
    } else if (n == 127) {
        uint64_t hi = cursor_be32(&c);

        n = hi << 32 | cursor_be32(&c);
    }
    if (!c.ok)
        return 0;
    f->opcode = b0 & 0x0f;
    if (n > WS_FRAME_MAX || (f->opcode >= OP_CLOSE && n > 125))
        return -1;
    f->payload = cursor_take(&c, (size_t)n);
    if (!f->payload)
        return 0;
    f->len = (size_t)n;
    f->size = c.off;
    return 1;
}

/* A masked client frame (5.3) of at most 125 bytes. */
static int frame_send(struct agent *a, uint8_t opcode, const uint8_t *p, size_t n)
{
    uint8_t f[2 + 4 + 125];

    if (n > 125 || a->fd < 0)
        return -EINVAL;
    f[0] = (uint8_t)(0x80 | opcode);
    f[1] = (uint8_t)(0x80 | n);
    randombytes_buf(f + 2, 4);
    for (size_t i = 0; i < n; i++)
        f[6 + i] = p[i] ^ f[2 + i % 4];
    a->sent_at = now_s();
    return write_all(a->fd, (const char *)f, 6 + n);
}

static int ping(struct agent *a)
{
    static const char text[] = "{\"type\":\"ping\"}";

    return frame_send(a, OP_TEXT, (const uint8_t *)text, sizeof(text) - 1);
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

/* The 101 (RFC 6455 4.1): status and "Upgrade: websocket". Sec-WebSocket-Accept is only
 * required present: checking its value needs SHA-1, which libsodium has not. */
static void upgrade_answer(struct agent *a)
{
    const char *end = memmem(a->in, a->inlen, "\r\n\r\n", 4), *up;
    size_t head;

    if (!end)
        return;
    head = (size_t)(end - a->in) + 4;
    a->status = a->inlen > 12 && !strncmp(a->in, "HTTP/1.1 ", 9) ? atoi(a->in + 9) : 0;
    up = strcasestr(a->in, "\r\nUpgrade:");
    if (a->status != 101 || !up || up > end || !strcasestr(up, "websocket") ||
        !strcasestr(a->in, "\r\nSec-WebSocket-Accept:") ||
        strcasestr(a->in, "\r\nSec-WebSocket-Accept:") > end) {
        a->ws = WS_CLOSED;
        a->err = "upgrade refused";
        return;
    }
    a->ws = WS_OPEN;
    cut(a, 0, head);
    a->scan = 0;
}

bool stream_input(int ep, struct agent *a, bool closed)
{
    bool now = false;

    if (a->ws == WS_UPGRADING)
        upgrade_answer(a);
    while (a->ws == WS_OPEN && a->scan < a->inlen) {
        struct ws_frame f;
        int r = frame_parse((const uint8_t *)a->in + a->scan, a->inlen - a->scan, &f);

        if (r == 0)
            break;
        if (r < 0) {
            a->ws = WS_CLOSED;
            a->err = "a frame no server may send (RFC 6455 5.1, 5.2, 5.5)";
            break;
        }
        if (f.opcode == OP_TEXT && is_pong(f.payload, f.len)) {
            a->pongs++;
            cut(a, a->scan, f.size);
        } else if (f.opcode == OP_TEXT || f.opcode == OP_BINARY) {
            a->scan += f.size;
            a->msgs++;
            if (a->done_at == 0) {
                a->done_at = now_s();
                now = true;
            }
        } else {
            if (f.opcode == OP_PING)
                frame_send(a, OP_PONG, f.payload, f.len);
            if (f.opcode == OP_CLOSE) { /* echo the status code (5.5.1) */
                frame_send(a, OP_CLOSE, f.payload, f.len < 2 ? 0 : 2);
                a->ws = WS_CLOSED;
                a->err = "closed by the server";
            }
            cut(a, a->scan, f.size);
        }
    }
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
    char target[96], hdr[CTL_AUTH_HEADER_MAX], key[sodium_base64_ENCODED_LEN(16,
                                                    sodium_base64_VARIANT_ORIGINAL)], req[1024];
    uint8_t nonce[16];
    struct ctl_auth au;
    int n;

    snprintf(target, sizeof(target), "/api/machine/map/stream?since=%lld", (long long)since);
    randombytes_buf(nonce, sizeof(nonce));
    sodium_bin2base64(key, sizeof(key), nonce, sizeof(nonce), sodium_base64_VARIANT_ORIGINAL);
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

/* Ed25519 over MAP_BATCH_TAG || root, once per (root, signature) seen. */
static bool root_signed(const uint8_t root[static 32], const uint8_t sig[static 64])
{
    uint8_t msg[64];
    size_t n;

    for (int i = 0; i < verified.n; i++) {
        if (!memcmp(verified.root[i], root, 32) && !memcmp(verified.sig[i], sig, 64))
            return true;
    }
    n = map_batch_signed(msg, sizeof(msg), root);
    verified.signatures++;
    if (!n || crypto_sign_verify_detached(sig, msg, n, server_pk) != 0)
        return false;
    memcpy(verified.root[verified.next], root, 32);
    memcpy(verified.sig[verified.next], sig, 64);
    verified.next = (verified.next + 1) % ROOT_CACHE;
    verified.n += verified.n < ROOT_CACHE;
    return true;
}

/* A map frame's JSON: the payload's leaf folded along its path to a signed root. */
static bool frame_verify(const char *text, size_t len, int64_t want_id, struct map_info *mi,
                         int64_t must_list, char *why, size_t whycap)
{
    cJSON *o = cJSON_ParseWithLength(text, len), *e;
    cJSON *t = cJSON_GetObjectItem(o, "type"), *p = cJSON_GetObjectItem(o, "payload");
    cJSON *s = cJSON_GetObjectItem(o, "sig"), *path = cJSON_GetObjectItem(o, "path");
    struct map_batch_step steps[MAP_BATCH_DEPTH_MAX];
    size_t depth = 0, plen, n = 0, pre = strlen(MAP_SIG_PREFIX);
    uint8_t *msg = NULL, sig[64], leaf[32], root[32];
    bool ok = false;

    if (!cJSON_IsString(t) || strcmp(t->valuestring, "map")) {
        cJSON *c = cJSON_GetObjectItem(o, "code"), *m = cJSON_GetObjectItem(o, "message");

        snprintf(why, whycap, "a \"%s\" frame: %s %s", cJSON_IsString(t) ? t->valuestring : "?",
                 cJSON_IsString(c) ? c->valuestring : "", cJSON_IsString(m) ? m->valuestring : "");
        goto out;
    }
    if (!cJSON_IsString(p) || !cJSON_IsString(s) || !cJSON_IsArray(path) ||
        cJSON_GetArraySize(path) > MAP_BATCH_DEPTH_MAX || strlen(s->valuestring) != 128 ||
        !hex_decode(sig, 64, s->valuestring)) {
        snprintf(why, whycap, "a map frame without payload, sig or path: %.*s",
                 (int)(len < 200 ? len : 200), text);
        goto out;
    }
    cJSON_ArrayForEach(e, path)
    {
        if (!cJSON_IsString(e) ||
            !map_batch_step_parse(&steps[depth++], e->valuestring, strlen(e->valuestring))) {
            snprintf(why, whycap, "a bad path step");
            goto out;
        }
    }
    plen = strlen(p->valuestring);
    msg = malloc(pre + plen + 1);
    if (!msg)
        goto out;
    memcpy(msg, MAP_SIG_PREFIX, pre);
    if (sodium_base642bin(msg + pre, plen, p->valuestring, plen, NULL, &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        snprintf(why, whycap, "a payload that is not base64");
        goto out;
    }
    map_batch_leaf(leaf, msg, pre + n);
    if (!map_batch_root(root, leaf, steps, depth) || !root_signed(root, sig)) {
        snprintf(why, whycap, "the path does not lead to a root the server signed");
        goto out;
    }
    ok = map_payload_check((const char *)msg + pre, n, want_id, mi, must_list);
    if (!ok)
        snprintf(why, whycap, "a signed map not for machine %lld%s: %.*s", (long long)want_id,
                 must_list ? " or not listing the new machine" : "", (int)(n < 200 ? n : 200),
                 (const char *)msg + pre);
out:
    verified.messages += ok;
    free(msg);
    cJSON_Delete(o);
    return ok;
}

bool stream_message_verify(const struct agent *a, int k, int64_t must_list, struct map_info *mi,
                           size_t *bytes, char *why, size_t whycap)
{
    size_t off = 0;
    struct ws_frame f;

    *bytes = 0;
    for (int i = 0; off < a->scan; i++) {
        if (frame_parse((const uint8_t *)a->in + off, a->scan - off, &f) != 1)
            break;
        if (i == k) {
            *bytes = f.len;
            if (f.opcode != OP_TEXT) {
                snprintf(why, whycap, "a binary frame");
                return false;
            }
            return frame_verify((const char *)f.payload, f.len, a->id, mi, must_list, why,
                                whycap);
        }
        off += f.size;
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
    } else if (a->scan) {
        cut(a, 0, a->scan);
    }
    a->scan = 0;
    a->msgs = 0;
    a->done_at = 0;
}

void stream_verify_stats(long *messages, long *signatures)
{
    *messages = verified.messages;
    *signatures = verified.signatures;
}
