/* The map stream client (see mapstream.h).
 *
 * States: IDLE -> CONNECTING (libcurl connects with CURLOPT_CONNECT_ONLY on a multi handle of
 * its own, TLS included; then we write the upgrade and read its answer) -> OPEN (frames) ->
 * IDLE. Timers, all checked by mapstream_tick(): the handshake must finish within
 * AGENT_STREAM_HANDSHAKE_S; once open, a ping goes out after AGENT_STREAM_PING_S without
 * sending (the server's HTTP layer drops a socket silent for 30 s), and the stream is dropped
 * after AGENT_STREAM_SILENCE_S without receiving anything (the server never sends keepalives,
 * but it answers pings).
 *
 * OPEN -> REOPENING -> CONNECTING: a close 1001 with no error frame before it is the server
 * going away (its shutdown), which a restart follows. Rather than have every agent fall back
 * to a poll at once, the stream opens again by itself after a random delay of
 * AGENT_STREAM_REOPEN_MIN_MS up to a window of AGENT_STREAM_REOPEN_MS, so that the agents come
 * back spread out. A reopening that finds no server yet (UNREACHABLE) or is sent away again
 * tries again with the window doubled; once the window is at AGENT_STREAM_REOPEN_MAX_MS the end
 * is reported, and the owner polls. A text message on the stream (a map, a pong) resets the
 * window.
 *
 * Once connected, the socket is ours: libcurl's curl_easy_send()/curl_easy_recv() (non-blocking,
 * CURLE_AGAIN) move the bytes, and a dup() of CURLINFO_ACTIVESOCKET sits in the loop. The dup
 * keeps our epoll registration apart from the one libcurl's socket callback manages for the
 * same socket. Callbacks may stop or restart the stream, so after each one the code checks
 * the generation it started with and leaves if it changed. */
#include "agent/daemon/mapstream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <sodium.h>

#include "agent/daemon/curlloop.h"
#include "agent/daemon/daemon.h"
#include "agent/daemon/http.h"
#include "agent/daemon/jfields.h"
#include "common/ctl/wsproto.h"
#include "common/log.h"

#define MS_PATH    "/api/machine/map/stream"
#define MS_RX_CHUNK 16384
#define MS_WHY_MAX 1100

struct ms_sock {
    struct loop_src src; /* first: freed through loop_release; fd is our dup of curl's socket */
    struct mapstream *ms;
};

struct mapstream {
    const struct mapstream_ops *ops;
    struct curlloop *cl;
    enum mapstream_state state;
    bool upgraded;        /* OPEN: the 101 was read */
    bool more;            /* the read budget ran out with bytes possibly left in TLS buffers */
    bool want_out;        /* EPOLLOUT registered */
    bool reopened;        /* opened by reopen(), not by the owner */
    unsigned gen;         /* changes at every start and stop */
    unsigned reopen_ms;   /* the window of the last reopening's delay; 0 since a message */
    uint64_t reopen_at;   /* REOPENING: when */
    CURL *easy;
    struct ms_sock *sock;
    char base[AGENT_URL_MAX], request[AGENT_STREAM_OUT_MAX], accept[WS_ACCEPT_LEN + 1];
    char errbuf[CURL_ERROR_SIZE];
    uint64_t started, last_rx, last_tx;
    char head[AGENT_STREAM_HEAD_MAX];
    size_t head_len;
    struct ws_parser parser;
    uint8_t out[AGENT_STREAM_OUT_MAX];
    size_t out_off, out_len;
    uint8_t rx[MS_RX_CHUNK];
};

static void connect_done(struct agent *a, CURL *easy, CURLcode result);

int mapstream_new(struct agent *a, const struct mapstream_ops *ops, struct mapstream **out)
{
    struct mapstream *ms = calloc(1, sizeof(*ms));
    int ret;

    if (!ms)
        return -ENOMEM;
    ms->ops = ops;
    ret = curlloop_new(a, connect_done, &ms->cl);
    if (ret) {
        free(ms);
        return ret;
    }
    *out = ms;
    return 0;
}

/* Back to IDLE. The connection ends now: a close frame if it was open (best effort, section
 * 7.1.1), and a shutdown of the socket, since curl closes its own copy only when it next prunes
 * its pool. */
static void teardown(struct agent *a, struct mapstream *ms)
{
    if (ms->sock) {
        if (ms->upgraded) {
            uint8_t f[WS_HEADER_MAX + 2], mask[4], code[2] = {0x03, 0xe8}; /* 1000 normal */
            size_t n, sent = 0;

            randombytes_buf(mask, sizeof(mask));
            n = wsproto_frame_write(f, sizeof(f), WS_OP_CLOSE, code, 2, mask);
            if (ms->out_off == ms->out_len) /* never in the middle of another frame */
                (void)curl_easy_send(ms->easy, f, n, &sent);
        }
        shutdown(ms->sock->src.fd, SHUT_RDWR);
        loop_release(a, &ms->sock->src);
        ms->sock = NULL;
    }
    if (ms->easy) {
        curl_multi_remove_handle(curlloop_multi(ms->cl), ms->easy);
        curl_easy_cleanup(ms->easy);
        ms->easy = NULL;
    }
    wsproto_parser_fini(&ms->parser);
    ms->state = MAPSTREAM_IDLE;
    ms->upgraded = ms->more = ms->want_out = false;
    ms->head_len = ms->out_off = ms->out_len = 0;
    ms->gen++;
}

void mapstream_stop(struct agent *a, struct mapstream *ms)
{
    if (ms && ms->state != MAPSTREAM_IDLE)
        teardown(a, ms);
}

void mapstream_free(struct agent *a, struct mapstream *ms)
{
    if (!ms)
        return;
    mapstream_stop(a, ms);
    curlloop_free(a, ms->cl);
    free(ms);
}

enum mapstream_state mapstream_state(const struct mapstream *ms)
{
    return ms->state;
}

/* The server went away, or was not back yet when we reopened: REOPENING after a random delay
 * in a window that doubles at each try (see the top). false, with nothing done, once the window
 * is at its cap. */
static bool reopen_later(struct agent *a, struct mapstream *ms, const char *why)
{
    unsigned delay;

    if (ms->reopen_ms >= AGENT_STREAM_REOPEN_MAX_MS)
        return false;
    ms->reopen_ms = !ms->reopen_ms ? AGENT_STREAM_REOPEN_MS
                    : ms->reopen_ms * 2 > AGENT_STREAM_REOPEN_MAX_MS ? AGENT_STREAM_REOPEN_MAX_MS
                                                                     : ms->reopen_ms * 2;
    delay = AGENT_STREAM_REOPEN_MIN_MS +
            randombytes_uniform(ms->reopen_ms - AGENT_STREAM_REOPEN_MIN_MS + 1);
    teardown(a, ms);
    ms->state = MAPSTREAM_REOPENING;
    ms->reopen_at = agent_now_ms() + delay;
    log_info("control", "%s: opening the stream again in %u ms", why, delay);
    return true;
}

/* The stream ended by itself: idle again (with a close frame, section 7.1.7, if it was open),
 * then the owner hears why, last, since it may start the stream again. A reopening that found
 * no server tries again instead, while it may. */
static void end(struct agent *a, struct mapstream *ms, enum mapstream_end how, const char *code,
                const char *why)
{
    if (how == MAPSTREAM_UNREACHABLE && ms->reopened && reopen_later(a, ms, why))
        return;
    teardown(a, ms);
    ms->reopen_ms = 0;
    ms->ops->ended(a, how, code, why);
}

static void want_out(struct agent *a, struct mapstream *ms, bool on)
{
    if (ms->want_out == on)
        return;
    ms->want_out = on;
    loop_mod(a, &ms->sock->src, EPOLLIN | (on ? EPOLLOUT : 0));
}

/* Sends what is queued. Bytes stay where they are until sent: a TLS write that returned
 * CURLE_AGAIN must be repeated with the same bytes. 0 or -EIO. */
static int flush(struct agent *a, struct mapstream *ms)
{
    while (ms->out_off < ms->out_len) {
        size_t n = 0;
        CURLcode rc = curl_easy_send(ms->easy, ms->out + ms->out_off, ms->out_len - ms->out_off, &n);

        if (rc == CURLE_AGAIN) {
            want_out(a, ms, true);
            return 0;
        }
        if (rc != CURLE_OK)
            return -EIO;
        ms->out_off += n;
    }
    ms->out_off = ms->out_len = 0;
    want_out(a, ms, false);
    return 0;
}

/* Queues bytes (the upgrade request) or a masked frame, and sends what it can. 0 or -errno. */
static int queue(struct agent *a, struct mapstream *ms, int opcode, const void *data, size_t len)
{
    size_t room = sizeof(ms->out) - ms->out_len, n;

    if (opcode < 0) {
        if (len > room)
            return -ENOSPC;
        memcpy(ms->out + ms->out_len, data, len);
        n = len;
    } else {
        uint8_t mask[4];

        randombytes_buf(mask, sizeof(mask)); /* section 5.3: a fresh key per frame */
        n = wsproto_frame_write(ms->out + ms->out_len, room, (uint8_t)opcode, data, len, mask);
        if (!n)
            return -ENOSPC;
    }
    ms->out_len += n;
    ms->last_tx = agent_now_ms();
    return flush(a, ms);
}

static void sock_ready(struct agent *a, struct loop_src *src, uint32_t events);

/* The request line's target and the Host header from the server URL. The signature covers the
 * stream's path as a poll's covers its own: without the URL's path prefix, if it has one. */
static int request_build(struct agent *a, struct mapstream *ms, int64_t since, char *key)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *path = NULL, signed_path[96], auth[HTTP_AUTH_LINE_MAX];
    int ret = -EINVAL, n;

    if (!u || curl_url_set(u, CURLUPART_URL, ms->base, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
        goto out;
    (void)curl_url_get(u, CURLUPART_PORT, &port, 0); /* only when the URL names one */
    size_t plen = strlen(path);
    while (plen && path[plen - 1] == '/')
        plen--;
    snprintf(signed_path, sizeof(signed_path), MS_PATH "?since=%lld", (long long)since);
    if ((ret = http_auth_header(a, "GET", signed_path, NULL, auth, sizeof(auth))))
        goto out;
    wsproto_key_new(key);
    wsproto_accept(ms->accept, key);
    n = snprintf(ms->request, sizeof(ms->request),
                 "GET %.*s%s HTTP/1.1\r\nHost: %s%s%s\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                 "%s\r\nUser-Agent: ztna/" ZTNA_VERSION "\r\n\r\n",
                 (int)plen, path, signed_path, host, port ? ":" : "", port ? port : "", key, auth);
    ret = n > 0 && (size_t)n < sizeof(ms->request) ? 0 : -ENAMETOOLONG;
out:
    sodium_memzero(auth, sizeof(auth));
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
    return ret;
}

/* Connects to ms->base; the upgrade goes out from connect_done(). 0 or -errno. */
static int open_stream(struct agent *a, struct mapstream *ms, int64_t since)
{
    char key[WS_KEY_LEN + 1];
    const char *ca = getenv("ZTNA_CA_FILE");
    CURL *e;
    int ret;

    if ((ret = request_build(a, ms, since, key)))
        return ret;
    if (!(e = curl_easy_init()))
        return -ENOMEM;
    curl_easy_setopt(e, CURLOPT_URL, ms->base);
    curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, ms);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, ms->errbuf);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)AGENT_STREAM_HANDSHAKE_S);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    /* through a proxy the upgrade needs a tunnel: a plain HTTP proxy would not pass it on */
    curl_easy_setopt(e, CURLOPT_HTTPPROXYTUNNEL, 1L);
    if (ca && *ca)
        curl_easy_setopt(e, CURLOPT_CAINFO, ca);
    ms->errbuf[0] = 0;
    if (curl_multi_add_handle(curlloop_multi(ms->cl), e) != CURLM_OK) {
        curl_easy_cleanup(e);
        return -ENOMEM;
    }
    ms->easy = e;
    wsproto_parser_init(&ms->parser, AGENT_MAP_MAX_BYTES, false);
    ms->state = MAPSTREAM_CONNECTING;
    ms->started = ms->last_rx = ms->last_tx = agent_now_ms();
    ms->gen++;
    return 0;
}

int mapstream_start(struct agent *a, struct mapstream *ms, const char *base_url, int64_t since)
{
    mapstream_stop(a, ms);
    ms->reopened = false;
    ms->reopen_ms = 0;
    if ((size_t)snprintf(ms->base, sizeof(ms->base), "%s", base_url) >= sizeof(ms->base))
        return -ENAMETOOLONG;
    return open_stream(a, ms, since);
}

/* REOPENING is due: the same server, at the version the owner holds now. */
static void reopen(struct agent *a, struct mapstream *ms)
{
    char why[MS_WHY_MAX];
    int ret;

    ms->state = MAPSTREAM_IDLE;
    ms->reopened = true;
    if ((ret = open_stream(a, ms, ms->ops->reopening(a)))) {
        snprintf(why, sizeof(why), "map stream: cannot open it again (%s)", strerror(-ret));
        end(a, ms, MAPSTREAM_UNREACHABLE, "", why);
    }
}

/* libcurl connected (or could not): the socket joins the loop and the upgrade goes out. */
static void connect_done(struct agent *a, CURL *easy, CURLcode result)
{
    struct mapstream *ms = NULL;
    curl_socket_t s = CURL_SOCKET_BAD;
    char why[MS_WHY_MAX];
    int fd = -1;

    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&ms);
    if (!ms || ms->easy != easy)
        return;
    if (result != CURLE_OK) {
        http_transport_error(easy, result, ms->errbuf, ms->base, why, sizeof(why));
        end(a, ms, MAPSTREAM_UNREACHABLE, "", why);
        return;
    }
    if (curl_easy_getinfo(easy, CURLINFO_ACTIVESOCKET, &s) != CURLE_OK || s == CURL_SOCKET_BAD ||
        (fd = fcntl(s, F_DUPFD_CLOEXEC, 0)) < 0 || !(ms->sock = calloc(1, sizeof(*ms->sock)))) {
        if (fd >= 0)
            close(fd);
        snprintf(why, sizeof(why), "map stream: no socket after connecting to %s", ms->base);
        end(a, ms, MAPSTREAM_UNREACHABLE, "", why);
        return;
    }
    ms->sock->src.fd = fd;
    ms->sock->src.fn = sock_ready;
    ms->sock->ms = ms;
    if (loop_add(a, &ms->sock->src, EPOLLIN) < 0 ||
        queue(a, ms, -1, ms->request, strlen(ms->request)) < 0) {
        snprintf(why, sizeof(why), "map stream: cannot send the upgrade to %s", ms->base);
        end(a, ms, MAPSTREAM_UNREACHABLE, "", why);
    }
}

struct frame_in {
    char type[32], code[48], message[200];
};

/* A text message: {"type":"map"|"pong"|"error", ...}; other types are ignored (a newer
 * server may add some). */
static void text_received(struct agent *a, struct mapstream *ms, const uint8_t *data, size_t len)
{
    static const struct jfield f[] = {
        {"type", JF_STR, true, offsetof(struct frame_in, type), 32, 0, 0, 1, 0},
        {"code", JF_STR, false, offsetof(struct frame_in, code), 48, 0, 0, 0, 0},
        {"message", JF_STR, false, offsetof(struct frame_in, message), 200, 0, 0, 0, 0},
    };
    struct frame_in in;
    char why[MS_WHY_MAX], sub[200];
    cJSON *root = cJSON_ParseWithLength((const char *)data, len);

    memset(&in, 0, sizeof(in));
    if (jfields_parse(root, f, 1, &in, NULL, sub, sizeof(sub))) {
        cJSON_Delete(root);
        snprintf(why, sizeof(why), "map stream: a frame that is not a message (%s)", sub);
        end(a, ms, MAPSTREAM_BROKEN, "", why);
        return;
    }
    if (!strcmp(in.type, "map")) {
        cJSON_Delete(root);
        ms->ops->map_received(a, (const char *)data, len);
        return;
    }
    if (!strcmp(in.type, "error")) {
        /* the server's words, shortened or dropped if they will not fit our table */
        (void)jfields_parse(root, f + 1, 1, &in, NULL, sub, sizeof(sub));
        (void)jfields_parse(root, f + 2, 1, &in, NULL, sub, sizeof(sub));
        snprintf(why, sizeof(why), "%s", in.message[0] ? in.message : "no reason given");
        if (!in.code[0])
            snprintf(in.code, sizeof(in.code), "ERROR");
        cJSON_Delete(root);
        end(a, ms,
            !strcmp(in.code, "MACHINE_UNKNOWN") || !strcmp(in.code, "MACHINE_EXPIRED")
                ? MAPSTREAM_MACHINE_GONE
                : MAPSTREAM_REFUSED,
            in.code, why);
        return;
    }
    cJSON_Delete(root);
    if (!strcmp(in.type, "pong"))
        ms->ops->pong_received(a);
    /* other types are newer than us: being alive is all they say */
}

/* One whole message from the parser. */
static void msg_received(struct agent *a, struct mapstream *ms, const struct ws_msg *m)
{
    char why[MS_WHY_MAX];

    switch (m->opcode) {
    case WS_OP_TEXT:
        ms->reopen_ms = 0; /* the server is back and serving (an error frame ends it anyway) */
        text_received(a, ms, m->data, m->len);
        break;
    case WS_OP_PING: /* section 5.5.3: a pong with the same payload */
        if (queue(a, ms, WS_OP_PONG, m->data, m->len) < 0)
            end(a, ms, MAPSTREAM_BROKEN, "", "map stream: cannot answer a ping");
        break;
    case WS_OP_CLOSE: {
        unsigned code = m->len >= 2 ? (unsigned)m->data[0] << 8 | m->data[1] : 1005;

        /* section 5.5.1: answered with a close (teardown() sends it). An error frame before
         * the close ended the stream already: a 1001 here is a clean one, the server's
         * shutdown (section 7.4.1), not BUSY. */
        snprintf(why, sizeof(why), "map stream closed by the server (%u%s)", code,
                 code == 1001 ? ", going away" : "");
        if (code != 1001 || !reopen_later(a, ms, why))
            end(a, ms, MAPSTREAM_BROKEN, "", why);
        break;
    }
    default: /* binary messages and pongs carry nothing for us */
        break;
    }
}

/* Frames in buf: each whole message handled in order while the stream stays the same. */
static void frames_received(struct agent *a, struct mapstream *ms, const uint8_t *buf, size_t len)
{
    unsigned gen = ms->gen;
    char why[MS_WHY_MAX], sub[200];

    while (len) {
        struct ws_msg m;
        size_t used = 0;
        int ret = wsproto_parser_feed(&ms->parser, buf, len, &used, &m, sub, sizeof(sub));

        if (ret < 0) {
            snprintf(why, sizeof(why), "map stream: %s", sub);
            end(a, ms, MAPSTREAM_BROKEN, "", why);
            return;
        }
        buf += used;
        len -= used;
        if (ret == 1)
            msg_received(a, ms, &m);
        if (ms->gen != gen)
            return;
    }
}

/* The answer to the upgrade: its head, then (in the same bytes, maybe) the first frames. */
static void head_received(struct agent *a, struct mapstream *ms)
{
    size_t end_at = wsproto_head_end(ms->head, ms->head_len);
    unsigned gen = ms->gen;
    char why[MS_WHY_MAX], sub[200];
    long status;

    if (!end_at) {
        if (ms->head_len == sizeof(ms->head))
            end(a, ms, MAPSTREAM_REFUSED, "", "map stream: the reply's head is too long");
        return;
    }
    if (wsproto_reply_check(ms->head, end_at, ms->accept, &status, sub, sizeof(sub))) {
        snprintf(why, sizeof(why), "map stream not offered at %s: %s", ms->base, sub);
        end(a, ms, MAPSTREAM_REFUSED, "", why);
        return;
    }
    ms->upgraded = true;
    ms->state = MAPSTREAM_OPEN;
    ms->ops->opened(a);
    if (ms->gen == gen && ms->head_len > end_at)
        frames_received(a, ms, (const uint8_t *)ms->head + end_at, ms->head_len - end_at);
}

/* Reads until the socket is empty or the budget is spent. */
static void read_some(struct agent *a, struct mapstream *ms)
{
    unsigned gen = ms->gen;
    size_t budget = AGENT_STREAM_READ_BUDGET;
    char why[MS_WHY_MAX];

    ms->more = false;
    while (budget) {
        bool upgrading = !ms->upgraded;
        uint8_t *dst = upgrading ? (uint8_t *)ms->head + ms->head_len : ms->rx;
        size_t cap = upgrading ? sizeof(ms->head) - ms->head_len : sizeof(ms->rx), n = 0;
        CURLcode rc = curl_easy_recv(ms->easy, dst, cap, &n);

        if (rc == CURLE_AGAIN)
            return;
        if (rc != CURLE_OK || n == 0) {
            snprintf(why, sizeof(why), "map stream: %s",
                     rc != CURLE_OK ? curl_easy_strerror(rc) : "the server closed the connection");
            end(a, ms, upgrading ? MAPSTREAM_REFUSED : MAPSTREAM_BROKEN, "", why);
            return;
        }
        ms->last_rx = agent_now_ms();
        budget = n < budget ? budget - n : 0;
        if (upgrading) {
            ms->head_len += n;
            head_received(a, ms);
        } else {
            frames_received(a, ms, ms->rx, n);
        }
        if (ms->gen != gen)
            return;
    }
    ms->more = true; /* the tick goes on from here */
}

static void sock_ready(struct agent *a, struct loop_src *src, uint32_t events)
{
    struct mapstream *ms = ((struct ms_sock *)src)->ms;
    unsigned gen = ms->gen;

    if ((events & EPOLLOUT) && flush(a, ms) < 0) {
        end(a, ms, ms->upgraded ? MAPSTREAM_BROKEN : MAPSTREAM_UNREACHABLE, "",
            "map stream: the connection failed while sending");
        return;
    }
    if (ms->gen == gen && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        read_some(a, ms);
}

void mapstream_tick(struct agent *a, struct mapstream *ms, uint64_t now)
{
    static const char ping[] = "{\"type\":\"ping\"}";
    char why[MS_WHY_MAX];

    if (ms->state == MAPSTREAM_REOPENING) {
        if (now >= ms->reopen_at)
            reopen(a, ms);
        return;
    }
    if (ms->state == MAPSTREAM_CONNECTING) {
        if (now >= ms->started + AGENT_STREAM_HANDSHAKE_S * 1000u) {
            snprintf(why, sizeof(why), "map stream: no answer to the upgrade from %s in %d s",
                     ms->base, AGENT_STREAM_HANDSHAKE_S);
            end(a, ms, MAPSTREAM_UNREACHABLE, "", why);
        }
        return;
    }
    if (ms->state != MAPSTREAM_OPEN)
        return;
    if (ms->more) {
        unsigned gen = ms->gen;

        read_some(a, ms);
        if (ms->gen != gen)
            return;
    }
    if (now >= ms->last_rx + AGENT_STREAM_SILENCE_S * 1000u) {
        snprintf(why, sizeof(why), "map stream: nothing from %s in %d s", ms->base,
                 AGENT_STREAM_SILENCE_S);
        end(a, ms, MAPSTREAM_SILENT, "", why);
        return;
    }
    if (now >= ms->last_tx + AGENT_STREAM_PING_S * 1000u &&
        queue(a, ms, WS_OP_TEXT, ping, sizeof(ping) - 1) < 0)
        end(a, ms, MAPSTREAM_BROKEN, "", "map stream: cannot send a ping");
}
