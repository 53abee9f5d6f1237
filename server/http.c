/* civetweb glue: reads the request, hands it to api_dispatch(), writes the envelope with
 * security headers (see http.h). Nothing here knows about routes or JSON fields. */
#include "server/http.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <civetweb.h>

#include "common/log.h"
#include "common/strbuf.h"
#include "server/api.h"
#include "server/db.h"
#include "server/web.h"
#include "server/metrics.h"
#include "server/netmap.h"

static const char *const security_headers[][2] = {
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "no-referrer"},
    {"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
    {"Cross-Origin-Resource-Policy", "same-origin"},
    {"Cache-Control", "no-store"},
};

static const char *header_get(void *transport, const char *name)
{
    return mg_get_header(transport, name);
}

/* Is token among the comma-separated options of a header value (case-insensitive)? */
static bool header_has_token(const char *v, const char *token)
{
    size_t n = strlen(token);

    while (v && *v) {
        v += strspn(v, " \t,");
        size_t len = strcspn(v, ",");
        while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
            len--;
        if (len == n && strncasecmp(v, token, n) == 0)
            return true;
        v = strchr(v, ',');
    }
    return false;
}

/* The Connection header civetweb would send: it keeps the connection after the reply unless the
 * reply closes it, the status is 401, or the request asked for close (or is HTTP/1.0 without
 * keep-alive). */
static const char *connection_value(struct mg_connection *conn, int status, bool close_conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *h = mg_get_header(conn, "Connection");
    bool keep = !close_conn && status != 401 &&
                (h ? header_has_token(h, "keep-alive")
                   : ri->http_version && strcmp(ri->http_version, "1.1") == 0);

    return keep ? "keep-alive" : "close";
}

static void header_line(struct strbuf *b, const char *name, const char *value)
{
    strbuf_adds(b, name);
    strbuf_add(b, ": ", 2);
    strbuf_adds(b, value);
    strbuf_add(b, "\r\n", 2);
}

/* The Date header's value, formatted once per second per thread (gmtime_r and strftime take
 * glibc-wide locks; at 10,000 streams woken at once that showed). */
static const char *http_date(void)
{
    static _Thread_local time_t last = -1;
    static _Thread_local char date[40];
    time_t now = time(NULL);
    struct tm tm;

    if (now != last && gmtime_r(&now, &tm) &&
        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm))
        last = now;
    return date;
}

/* The whole reply (status line, headers, body) goes out in one mg_write(): civetweb's own header
 * writer sends one TCP segment per header line (tcp_nodelay is on), a dozen syscalls and packets
 * per reply, which was most of the cost of delivering a map change to 10,000 held streams. It is
 * assembled with memcpy into one buffer sized for the body (no stdio stream: open_memstream and
 * fprintf take a lock shared by every thread). */
static void write_reply(struct mg_connection *conn, const struct api_ctx *ctx, bool close_conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    bool raw = ctx->raw_reply != NULL;
    char *text = raw ? NULL : api_envelope_render(ctx);
    const char *body = raw ? ctx->raw_reply : text;
    size_t body_len = raw ? ctx->raw_reply_len : text ? strlen(text) : 0;
    struct strbuf b = {0};
    char num[64];

    if (!strbuf_reserve(&b, body_len + 1024)) {
        free(text);
        return;
    }
    strbuf_adds(&b, "HTTP/");
    strbuf_adds(&b, ri->http_version ? ri->http_version : "1.1");
    snprintf(num, sizeof(num), " %d ", ctx->status);
    strbuf_adds(&b, num);
    strbuf_adds(&b, mg_get_response_code_text(conn, ctx->status));
    strbuf_add(&b, "\r\n", 2);
    header_line(&b, "Content-Type", raw ? ctx->raw_type : "application/json");
    for (size_t i = 0; i < sizeof(security_headers) / sizeof(security_headers[0]); i++)
        header_line(&b, security_headers[i][0], security_headers[i][1]);
    if (ctx->is_tls)
        header_line(&b, "Strict-Transport-Security", "max-age=31536000");
    for (size_t i = 0; i < ctx->nhdr; i++)
        header_line(&b, ctx->hdr[i].name, ctx->hdr[i].value);
    snprintf(num, sizeof(num), "%zu", body_len);
    header_line(&b, "Content-Length", num);
    header_line(&b, "Date", http_date());
    header_line(&b, "Connection", connection_value(conn, ctx->status, close_conn));
    strbuf_add(&b, "\r\n", 2);
    if (body_len)
        strbuf_add(&b, body, body_len);
    if (!b.failed)
        mg_write(conn, b.p, b.len);
    free(b.p);
    free(text);
}

/* Reads at most SRV_MAX_BODY_BYTES + 1 bytes: one more than allowed is enough to say 413. */
static char *body_read(struct mg_connection *conn, long long content_length, size_t *len,
                       bool *complete)
{
    size_t cap = SRV_MAX_BODY_BYTES + 1;
    char *buf;

    *len = 0;
    *complete = true;
    if (content_length == 0)
        return NULL;
    if (content_length > SRV_MAX_BODY_BYTES) {
        *complete = false;
        return NULL;
    }
    buf = malloc(cap);
    if (!buf) {
        *complete = false;
        return NULL;
    }
    while (*len < cap) {
        int n = mg_read(conn, buf + *len, cap - *len);

        if (n <= 0)
            break;
        *len += (size_t)n;
    }
    if (*len > SRV_MAX_BODY_BYTES)
        *complete = false;
    return buf;
}

/* The path as the client sent it (still percent-encoded), without the query string. */
static void raw_path(const struct mg_request_info *ri, char *out, size_t size)
{
    const char *u = ri->request_uri ? ri->request_uri : "";
    size_t n = strcspn(u, "?#");

    if (n >= size)
        n = size - 1;
    memcpy(out, u, n);
    out[n] = '\0';
}

/* API requests between entry and the end of their reply. http_stop() lets them finish before
 * mg_stop(): once civetweb's stop flag is set it drops what a handler writes, and a client (a
 * held map poll released for the shutdown, typically) would get a torn reply. */
static atomic_int api_in_flight;

static int api_handler(struct mg_connection *conn, void *cbdata)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    struct api_ctx ctx = {0};
    char path[SRV_MAX_PATH_BYTES + 2];
    size_t len = 0;
    bool complete;
    char *body;

    atomic_fetch_add(&api_in_flight, 1);
    ctx.srv = cbdata;
    ctx.header_get = header_get;
    ctx.transport = conn;
    ctx.is_tls = ri->is_ssl;
    ctx.query = ri->query_string;
    snprintf(ctx.source_addr, sizeof(ctx.source_addr), "%s", ri->remote_addr);
    raw_path(ri, path, sizeof(path));
    body = body_read(conn, ri->content_length, &len, &complete);
    netmap_wakes_hold(); /* the map polls this request's writes release wait for its reply */
    api_dispatch(&ctx, ri->request_method, path, body, len,
                 complete ? (long long)len : (long long)SRV_MAX_BODY_BYTES + 1);
    write_reply(conn, &ctx, !complete);
    netmap_wakes_release(ctx.srv);
    api_ctx_release(&ctx);
    free(body);
    atomic_fetch_sub(&api_in_flight, 1);
    return ctx.status;
}

static int healthz_handler(struct mg_connection *conn, void *cbdata)
{
    struct server *srv = cbdata;
    struct api_ctx ctx = {0};
    struct db_conn *c = db_conn_get(srv->db);
    sqlite3_stmt *st = c ? db_stmt(c, "SELECT 1") : NULL;
    bool ok = st && sqlite3_step(st) == SQLITE_ROW;

    if (st)
        sqlite3_reset(st);
    db_conn_release(srv->db);
    ctx.is_tls = mg_get_request_info(conn)->is_ssl;
    if (ok) {
        cJSON *d = cJSON_CreateObject();

        cJSON_AddStringToObject(d, "status", "ok");
        cJSON_AddStringToObject(d, "version", ZTNA_VERSION);
        cJSON_AddNumberToObject(d, "uptime", (double)(server_now() - srv->started_at));
        api_reply_ok(&ctx, 200, d);
    } else {
        api_reply_error(&ctx, 503, "UNAVAILABLE", "database not reachable");
    }
    write_reply(conn, &ctx, false);
    api_ctx_release(&ctx);
    return ctx.status;
}

/* GET /metrics: Prometheus text exposition (metrics.h), outside /api and its envelope. */
static int metrics_handler(struct mg_connection *conn, void *cbdata)
{
    struct server *srv = cbdata;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    struct api_ctx ctx = {0};

    ctx.is_tls = ri->is_ssl;
    if (strcmp(ri->request_method, "GET") != 0) {
        api_header_add(&ctx, "Allow", "GET");
        api_reply_error(&ctx, 405, "METHOD_NOT_ALLOWED", "method %s not allowed here (allowed: GET)",
                        ri->request_method);
    } else {
        char *text = metrics_render(srv);

        if (text)
            api_reply_raw(&ctx, 200, METRICS_CONTENT_TYPE, text, strlen(text));
        else
            api_reply_error(&ctx, 500, "INTERNAL", "out of memory");
    }
    write_reply(conn, &ctx, false);
    api_ctx_release(&ctx);
    return ctx.status;
}

static int fallback_handler(struct mg_connection *conn, void *cbdata)
{
    struct api_ctx ctx = {0};

    (void)cbdata;
    ctx.is_tls = mg_get_request_info(conn)->is_ssl;
    api_reply_error(&ctx, 404, "NOT_FOUND", "no such path");
    write_reply(conn, &ctx, false);
    return 404;
}

static int log_message(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    log_warn("http", "%s", message);
    return 1;
}

/* See server/tlsshim/shim.c: load the shim that answers civetweb's dlopen("libssl.so"). It is
 * looked for beside the binary (build tree) and in ../lib/ztna/ (installed layout). A shim
 * without ztna_tls_shim_ready() (an older build) would let civetweb's threads call SSL_read and
 * SSL_write at once on a WebSocket: refused like a missing one. */
static int tls_shim_load(void)
{
    static const char *const where[] = {"", "/../lib/ztna"};
    char exe[512], path[600];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash;

    if (n <= 0)
        return -errno;
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
        void *h;
        int (*ready)(void);

        snprintf(path, sizeof(path), "%s%s/libztna-tls-shim.so", exe, where[i]);
        h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
        if (!h)
            continue;
        ready = (int (*)(void))dlsym(h, "ztna_tls_shim_ready");
        if (ready && ready() == 0)
            return 0;
        log_error("http", "%s does not serialise TLS calls (an older build, or libssl not "
                  "found from it); refusing to start", path);
        return -ENOENT;
    }
    log_error("http", "cannot load libztna-tls-shim.so beside %s or in ../lib/ztna (%s); TLS "
              "would crash civetweb, refusing to start", exe, dlerror());
    return -ENOENT;
}

/* civetweb wants the key and certificate in one PEM: write DATA_DIR/tls.pem (0600). */
static int tls_bundle(const struct server *srv, char *out, size_t size)
{
    const char *parts[] = {srv->set.tls_key, srv->set.tls_cert};
    int fd, ret = 0;

    snprintf(out, size, "%s/tls.pem", srv->set.data_dir);
    fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    for (size_t i = 0; i < 2 && ret == 0; i++) {
        char buf[4096];
        ssize_t n;
        int in = open(parts[i], O_RDONLY | O_CLOEXEC);

        if (in < 0) {
            ret = -errno;
            log_error("http", "cannot read %s: %s", parts[i], strerror(errno));
            break;
        }
        while ((n = read(in, buf, sizeof(buf))) > 0) {
            if (write(fd, buf, (size_t)n) != n) {
                ret = -EIO;
                break;
            }
        }
        if (n < 0)
            ret = -errno;
        close(in);
        if (ret == 0 && write(fd, "\n", 1) != 1)
            ret = -EIO;
    }
    close(fd);
    return ret;
}

/* Every held map stream is one civetweb connection and one descriptor: raise the soft limit on
 * open files to the hard limit so that --max-streams is not capped at 1024 by a default. */
static void nofile_raise(const struct server *srv)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)(srv->set.http_threads + srv->set.max_streams +
                           srv->set.max_websockets) + 256;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
        log_warn("http", "open-file limit %llu is below the %llu that --max-streams %lld needs",
                 (unsigned long long)rl.rlim_cur, (unsigned long long)want,
                 (long long)srv->set.max_streams);
}

/* Held map streams sleep on futexes (netmap.c): since Linux 6.16 a process's private futexes
 * hash into a table of its own, sized by default for min(threads, CPUs) -- 16 buckets on a small
 * machine -- so 10,000 waiting polls meant every FUTEX_WAKE walked a chain of ~1,250 waiters
 * under a contended lock (a third of a policy change's server CPU at 10,000 agents). Size it for
 * every thread the pool can have, two futexes each. Older kernels share the global table: EINVAL,
 * nothing to do. */
#ifndef PR_FUTEX_HASH
#define PR_FUTEX_HASH 78
#define PR_FUTEX_HASH_SET_SLOTS 1
#endif
#define FUTEX_SLOTS_MAX (1L << 18)

static void futex_hash_size(const struct server *srv)
{
    long want = 2 * (long)(srv->set.http_threads + srv->set.max_streams + srv->set.max_websockets);
    long slots = 256;

    while (slots < want && slots < FUTEX_SLOTS_MAX)
        slots <<= 1;
    if (prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_SET_SLOTS, slots, 0, 0) != 0 && errno != EINVAL)
        log_debug("http", "futex hash of %ld slots: %s", slots, strerror(errno));
}

int http_start(struct server *srv, struct mg_context **out)
{
    char ports[SRV_MAX_SETTING_BYTES + 2], threads[24], pem[SRV_MAX_SETTING_BYTES + 16];
    char queue[24];
    const char *opts[24];
    struct mg_callbacks cb = {0};
    struct mg_context *ctx;
    size_t n = 0;
    bool tls = srv->set.tls_cert[0] != '\0';
    int ret;

    if (tls) {
        ret = tls_shim_load();
        if (ret < 0)
            return ret;
    }
    mg_init_library(tls ? MG_FEATURES_SSL : 0);
    snprintf(ports, sizeof(ports), "%s%s", srv->set.listen, tls ? "s" : "");
    /* Map streams and held polls (GET /api/machine/map[/stream]) and dashboard WebSockets each
     * keep a worker: the pool is http_threads for the normal API plus max_streams plus
     * max_websockets, and the netmap never holds more than max_streams (netmap.h) nor the
     * realtime hub more than max_websockets sockets (realtime.h), so neither agents nor open
     * tabs can starve the API. */
    snprintf(threads, sizeof(threads), "%lld",
             (long long)(srv->set.http_threads + srv->set.max_streams + srv->set.max_websockets));
    snprintf(queue, sizeof(queue), "%lld", (long long)(srv->set.max_streams / 4 + 32));
    nofile_raise(srv);
    futex_hash_size(srv);
    opts[n++] = "listening_ports";
    opts[n++] = ports;
    opts[n++] = "num_threads";
    opts[n++] = threads;
    opts[n++] = "enable_keep_alive";
    opts[n++] = "yes";
    opts[n++] = "request_timeout_ms";
    opts[n++] = "30000";
    /* Replies are written as header + body: without this, Nagle meets the client's delayed ACK
     * and every keep-alive reply stalls ~40 ms. */
    opts[n++] = "tcp_nodelay";
    opts[n++] = "1";
    opts[n++] = "connection_queue";
    opts[n++] = queue;
    opts[n++] = "listen_backlog";
    opts[n++] = "4096";
    /* Keep the path percent-encoded: the router decodes per segment, so "%2f" or "%00" cannot
     * change which route matches. */
    opts[n++] = "decode_url";
    opts[n++] = "no";
    if (tls) {
        ret = tls_bundle(srv, pem, sizeof(pem));
        if (ret < 0)
            return ret;
        opts[n++] = "ssl_certificate";
        opts[n++] = pem;
        opts[n++] = "ssl_protocol_version";
        opts[n++] = "4"; /* TLS 1.2+ */
    }
    opts[n] = NULL;
    cb.log_message = log_message;
    ctx = mg_start(&cb, srv, opts);
    if (!ctx) {
        log_error("http", "cannot listen on %s", ports);
        return -EADDRINUSE;
    }
    mg_set_request_handler(ctx, "/api", api_handler, srv);
    mg_set_request_handler(ctx, "/healthz", healthz_handler, srv);
    mg_set_request_handler(ctx, "/metrics$", metrics_handler, srv);
    mg_set_request_handler(ctx, "/", fallback_handler, srv);
    web_register(ctx, srv); /* the dashboard replaces the fallback on "/"; /api/ws (web.h) */
    netmap_stream_register(ctx, srv); /* GET /api/machine/map/stream (a WebSocket) */
    *out = ctx;
    return 0;
}

void http_stop(struct mg_context *ctx)
{
    if (!ctx)
        return;
    /* Held map streams answer at once, so that mg_stop() does not wait out their long-poll. */
    netmap_streams_release(mg_get_user_data(ctx));
    /* ... and every request in progress finishes its reply first (bounded: 2 s). */
    for (int i = 0; i < 2000 && atomic_load(&api_in_flight) > 0; i++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    mg_stop(ctx);
}
