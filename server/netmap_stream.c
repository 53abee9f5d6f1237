/* Map streams: GET /api/machine/map/stream?since=V, a WebSocket (docs/control-protocol.md).
 *
 * A held long-poll costs a worker thread's wake-up, a signature and a signed re-poll for every
 * message; after one policy change that is thousands of each. A stream is written by one
 * thread, the pump, which never wakes the connection's worker (it sits in civetweb's read loop)
 * and signs one Merkle root per batch (common/ctl/map_batch.h) instead of each message.
 *
 * Not over the server's own TLS (see connect_handler): agents of such a server poll.
 *
 * A stream's life: connect (authenticated from memory, counted against --max-streams) -> ready
 * (registered on its machine's slot, replacing an older stream of the same machine; marked for
 * the pump, which sends what is newer than `since`) -> messages from the pump; pings answered
 * by the worker -> close (unregistered; waits for a write of the pump in progress). An error
 * (bad signature, unknown machine, too many streams, machine removed or expired) is told as
 * {"type":"error","code","message"} and the socket closed.
 *
 * The pump wakes on nm_streams_kick(). For each org with work it reads, under the org's read
 * lock, the streams to look at (every one after a change all may see; else those marked), takes
 * what their messages need (nm_collect(), as a poll would), renders them outside the lock
 * (nm_answer()), signs the batch once and writes each frame under the stream's lock. */
#include "server/netmap_int.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include <civetweb.h>

#include "common/ctl/ctl_auth.h"
#include "common/ctl/map_batch.h"
#include "common/hex.h"
#include "common/log.h"
#include "server/netmap_parse.h"

struct nm_stream {
    struct netmap *nm;
    struct mg_connection *conn;  /* under lock; NULL once close_handler ran */
    int64_t org_id, machine_id;
    const char *err_code, *err_msg; /* connect's verdict, told by ready */
    pthread_mutex_t lock;        /* serialises writes to conn with its close */
    atomic_int refs;             /* the connection's, and the pump's while it works on it */
    /* The pump's alone (set by ready before the stream is published under the write lock): */
    int64_t since;               /* the version the agent holds: the next message's base */
    int64_t seen;                /* the org version last looked at for it */
    atomic_bool ended;           /* an error was told: nothing more goes out */
    bool counted;                /* in nm->nstreams (connect), until close */
};

struct nm_pump {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool pending, stop;          /* under lock */
};

static void stream_put(struct nm_stream *st)
{
    if (!st || atomic_fetch_sub(&st->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&st->lock);
    free(st);
}

/* A WebSocket frame header for a server frame (unmasked, FIN) of len bytes; returns its size. */
static size_t frame_head(uint8_t out[static 10], uint8_t opcode, size_t len)
{
    out[0] = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

/* Writes one whole frame (buf holds 10 free bytes before data) unless the stream closed. */
static bool stream_write(struct nm_stream *st, uint8_t opcode, char *data, size_t len)
{
    uint8_t head[10];
    size_t hl = frame_head(head, opcode, len);
    char *start = data - hl;
    bool ok = false;

    memcpy(start, head, hl);
    pthread_mutex_lock(&st->lock);
    if (st->conn) {
        mg_lock_connection(st->conn);
        ok = mg_write(st->conn, start, hl + len) == (int)(hl + len);
        mg_unlock_connection(st->conn);
    }
    pthread_mutex_unlock(&st->lock);
    return ok;
}

static void stream_send_text(struct nm_stream *st, const char *text)
{
    size_t n = strlen(text);
    char *buf = malloc(10 + n);

    if (!buf)
        return;
    memcpy(buf + 10, text, n);
    stream_write(st, MG_WEBSOCKET_OPCODE_TEXT, buf + 10, n);
    free(buf);
}

/* Tells the error (code and message are literals: no escaping needed) and closes. */
static void stream_fail(struct nm_stream *st, const char *code, const char *msg)
{
    char text[320], close[10 + 2];

    snprintf(text, sizeof(text), "{\"type\":\"error\",\"code\":\"%s\",\"message\":\"%s\"}", code,
             msg);
    stream_send_text(st, text);
    close[10] = 0x03; /* 1008 policy violation; 1001 going away for BUSY */
    close[11] = (char)(strcmp(code, "BUSY") == 0 ? 0xe9 : 0xf0);
    stream_write(st, MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE, close + 10, 2);
    atomic_store(&st->ended, true);
}

/* --- the handlers (civetweb worker threads) --------------------------------------------- */

static int connect_handler(const struct mg_connection *conn, void *cbdata)
{
    struct server *srv = cbdata;
    struct netmap *nm = srv->netmap;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    struct nm_stream *st = calloc(1, sizeof(*st));
    char target[CTL_AUTH_PATH_MAX + 1], since[24];
    int ret;

    if (!st)
        return 1;
    pthread_mutex_init(&st->lock, NULL);
    atomic_init(&st->refs, 1);
    st->nm = nm;
    mg_set_user_connection_data(conn, st);
    if (!nm) {
        st->err_code = "UNAVAILABLE";
        st->err_msg = "the map is not loaded";
        return 0;
    }
    if (!ri->query_string || mg_get_var(ri->query_string, strlen(ri->query_string), "since", since,
                                        sizeof(since)) < 0 ||
        !nm_parse_decimal(since, 0, (1LL << 53), &st->since)) {
        st->err_code = "INVALID_QUERY";
        st->err_msg = "since must be a decimal integer in 0..9007199254740992";
        return 0;
    }
    st->seen = st->since;
    /* Over the server's own TLS the pump's SSL_write and the worker's SSL_read of a ping share
     * one SSL object: the TLS shim (server/tlsshim) runs each under the connection's lock. */
    if (snprintf(target, sizeof(target), "%s?%s", ri->local_uri_raw ? ri->local_uri_raw : "",
                 ri->query_string) >= (int)sizeof(target))
        ret = -EAGAIN;
    else
        ret = netmap_auth(srv, mg_get_header(conn, CTL_AUTH_HEADER), "GET", target, NULL, 0,
                          &st->org_id, &st->machine_id);
    if (ret < 0) {
        st->err_code = "UNAUTHORIZED";
        st->err_msg = ret == -EEXIST ? "replayed request: nonce already used"
                                     : "the stream could not be authenticated: GET "
                                       "/api/machine/map says why";
        return 0;
    }
    if (atomic_fetch_add(&nm->nstreams, 1) + atomic_load(&nm->held) >= srv->set.max_streams) {
        atomic_fetch_sub(&nm->nstreams, 1);
        log_warn("netmap", "refusing a map stream: the server holds --max-streams (%lld)",
                 (long long)srv->set.max_streams);
        st->err_code = "BUSY";
        st->err_msg = "the server holds its maximum of map streams; poll, or retry later";
        return 0;
    }
    st->counted = true;
    return 0;
}

static void ready_handler(struct mg_connection *conn, void *cbdata)
{
    struct nm_stream *st = mg_get_user_connection_data(conn), *old = NULL;
    struct nm_org *o;
    struct nm_slot *s;

    (void)cbdata;
    if (!st)
        return;
    st->conn = conn;
    if (st->err_code) {
        stream_fail(st, st->err_code, st->err_msg);
        return;
    }
    o = nm_org_find(st->nm, st->org_id);
    if (!o) {
        stream_fail(st, "MACHINE_UNKNOWN", "this machine is no longer registered");
        return;
    }
    pthread_rwlock_wrlock(&o->lock);
    s = nm_slot_find(o, st->machine_id);
    if (s && !s->node->removed) {
        atomic_fetch_add(&st->refs, 1); /* the slot's, dropped by whoever unpublishes it */
        old = atomic_exchange(&s->stream, st);
        if (!old)
            atomic_fetch_add(&o->nstreams, 1);
        atomic_store(&s->stream_dirty, true);
    }
    pthread_rwlock_unlock(&o->lock);
    if (!s || s->node->removed) {
        stream_fail(st, "MACHINE_UNKNOWN", "this machine is no longer registered");
        return;
    }
    if (old) { /* the machine opened a new stream: the old one ends */
        stream_fail(old, "REPLACED", "this machine opened another map stream");
        stream_put(old);
    }
    atomic_store(&o->stream_some, true);
    nm_streams_kick(o);
}

static int data_handler(struct mg_connection *conn, int bits, char *data, size_t len, void *cbdata)
{
    struct nm_stream *st = mg_get_user_connection_data(conn);
    int opcode = bits & 0x0f;

    (void)cbdata;
    if (opcode == MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE || !st)
        return 0;
    /* {"type":"ping"}: the agent's liveness check (and what keeps civetweb from closing an
     * idle socket); anything else is ignored */
    if (opcode == MG_WEBSOCKET_OPCODE_TEXT && len < 64 && memmem(data, len, "\"ping\"", 6))
        stream_send_text(st, "{\"type\":\"pong\"}");
    return 1;
}

static void close_handler(const struct mg_connection *conn, void *cbdata)
{
    struct nm_stream *st = mg_get_user_connection_data(conn);
    struct nm_org *o;
    bool unpublished = false;

    (void)cbdata;
    if (!st)
        return;
    o = st->counted ? nm_org_find(st->nm, st->org_id) : NULL;
    if (o) {
        pthread_rwlock_wrlock(&o->lock);
        struct nm_slot *s = nm_slot_find(o, st->machine_id);
        struct nm_stream *expected = st;

        if (s && atomic_compare_exchange_strong(&s->stream, &expected, NULL)) {
            atomic_fetch_sub(&o->nstreams, 1);
            unpublished = true;
        }
        pthread_rwlock_unlock(&o->lock);
    }
    pthread_mutex_lock(&st->lock);
    st->conn = NULL; /* after a pump write in progress */
    pthread_mutex_unlock(&st->lock);
    if (st->counted)
        atomic_fetch_sub(&st->nm->nstreams, 1);
    mg_set_user_connection_data(conn, NULL);
    if (unpublished)
        stream_put(st); /* the slot's */
    stream_put(st);     /* the connection's */
}

void netmap_stream_register(struct mg_context *ctx, struct server *srv)
{
    mg_set_websocket_handler(ctx, "/api/machine/map/stream$", connect_handler, ready_handler,
                             data_handler, close_handler, srv);
}

/* --- the pump ------------------------------------------------------------------------------ */

struct job {
    struct nm_stream *st;        /* a reference */
    struct nm_collected c;
    const char *err_code, *err_msg;
    char *msg;                   /* rendered: NETMAP_SIG_PREFIX || payload */
    size_t len;
    int64_t version;
};

/* The pump's working memory, kept from one change to the next: on the virtual machines we
 * measured on, first touching fresh pages costs ~20 us each, and a batch of 3,600 paths or a
 * full map's frame would fault in megabytes after every change. */
struct batch {
    struct job *v;
    size_t n, cap;
    uint8_t (*leaves)[32];
    struct map_batch_step *paths;  /* MAP_BATCH_DEPTH_MAX per leaf */
    size_t *depths;
    size_t tree_cap;               /* leaves the three arrays above hold */
    char *frame;                   /* the frame being written */
    size_t frame_cap;
};

static void batch_free(struct batch *b)
{
    free(b->v);
    free(b->leaves);
    free(b->paths);
    free(b->depths);
    free(b->frame);
}

/* Room for a tree of n leaves. */
static int batch_tree_reserve(struct batch *b, size_t n)
{
    if (n <= b->tree_cap)
        return 0;
    free(b->leaves);
    free(b->paths);
    free(b->depths);
    b->leaves = malloc(n * sizeof(*b->leaves));
    b->paths = malloc(n * MAP_BATCH_DEPTH_MAX * sizeof(*b->paths));
    b->depths = malloc(n * sizeof(*b->depths));
    b->tree_cap = b->leaves && b->paths && b->depths ? n : 0;
    return b->tree_cap ? 0 : -ENOMEM;
}

/* Room for n more jobs. Only before collecting: a job's collection may point into the job
 * itself (its inline nodes), so the array must not move once jobs are collected. */
static int batch_reserve(struct batch *b, size_t n)
{
    if (b->n + n <= b->cap)
        return 0;
    struct job *v = realloc(b->v, (b->n + n) * sizeof(*v));

    if (!v)
        return -ENOMEM;
    b->v = v;
    b->cap = b->n + n;
    return 0;
}

static struct job *batch_add(struct batch *b, struct nm_stream *st)
{
    if (b->n == b->cap)
        return NULL;
    struct job *j = &b->v[b->n++];

    memset(j, 0, sizeof(*j));
    j->st = st;
    atomic_fetch_add(&st->refs, 1);
    return j;
}

/* Under o->lock: the streams to look at and what their messages need. */
static void batch_collect(struct nm_org *o, bool all, struct batch *b)
{
    /* streams are published under the write lock: their number holds while we look */
    if (batch_reserve(b, (size_t)atomic_load(&o->nstreams)) < 0) {
        atomic_store(&o->stream_all, true); /* again at the next kick */
        return;
    }
    for (struct nm_slot *s = o->head; s; s = s->next) {
        struct nm_stream *st = atomic_load(&s->stream);
        bool dirty = st && atomic_exchange(&s->stream_dirty, false);

        if (!st || (!all && !dirty) || atomic_load(&st->ended))
            continue;
        if (s->node->removed || s->node->expired) {
            struct job *j = batch_add(b, st);

            if (j) {
                j->err_code = s->node->removed ? "MACHINE_UNKNOWN" : "MACHINE_EXPIRED";
                j->err_msg = s->node->removed ? "this machine is no longer registered"
                                              : "this machine's key has expired: log in again";
            }
            continue;
        }
        if (!(st->since == 0 || o->version > st->seen || st->since > o->version))
            continue;
        int64_t acked = atomic_load(&s->acked); /* as a poll at `since` says: it holds that */

        while (st->since > acked && st->since <= o->version &&
               !atomic_compare_exchange_weak(&s->acked, &acked, st->since))
            ;
        struct job *j = batch_add(b, st);

        if (j && nm_collect(o, s, st->since, &j->c) < 0) {
            stream_put(st);
            b->n--;
            atomic_store(&s->stream_dirty, true); /* tried again at the next change */
        }
    }
}

/* The frame of one message, {"type":"map","payload","sig","path"}, into b->frame after 10
 * bytes left free for the header. NULL on ENOMEM. */
static char *frame_render(struct batch *b, const struct job *j, const char sig_hex[static 129],
                          const struct map_batch_step *path, size_t depth, size_t *out_len)
{
    static const char head[] = "{\"type\":\"map\",\"payload\":\"";
    const size_t plen = strlen(NETMAP_SIG_PREFIX);
    size_t b64 = sodium_base64_ENCODED_LEN(j->len - plen, sodium_base64_VARIANT_ORIGINAL);
    size_t cap = 10 + sizeof(head) + b64 + 16 + 128 + 16 + depth * (MAP_BATCH_STEP_TEXT + 3) + 4;
    char *p;

    if (cap > b->frame_cap) {
        char *f = realloc(b->frame, cap);

        if (!f)
            return NULL;
        b->frame = f;
        b->frame_cap = cap;
    }
    p = b->frame + 10;
    memcpy(p, head, sizeof(head) - 1);
    p += sizeof(head) - 1;
    p += base64_encode_public(p, (const uint8_t *)j->msg + plen, j->len - plen);
    memcpy(p, "\",\"sig\":\"", 9);
    p += 9;
    memcpy(p, sig_hex, 128);
    p += 128;
    memcpy(p, "\",\"path\":[", 10);
    p += 10;
    for (size_t i = 0; i < depth; i++) {
        if (i)
            *p++ = ',';
        *p++ = '"';
        map_batch_step_format(p, &path[i]);
        p += MAP_BATCH_STEP_TEXT;
        *p++ = '"';
    }
    memcpy(p, "]}", 2);
    p += 2;
    *out_len = (size_t)(p - (b->frame + 10));
    return b->frame + 10;
}

/* Outside the lock: renders, signs the batch once, writes. */
static void batch_send(struct netmap *nm, struct nm_org *o, struct batch *b)
{
    uint8_t root[32], signed_bytes[64], sig[64];
    size_t nmsg = 0;
    char sig_hex[129];

    for (size_t i = 0; i < b->n; i++) {
        struct job *j = &b->v[i];
        struct netmap_poll p = {.org_id = o->id, .machine_id = j->st->machine_id,
                                .since = j->st->since};
        bool empty = false;

        if (j->err_code)
            continue;
        j->version = j->c.version;
        j->msg = nm_answer(nm->srv, o, &p, &j->c, &j->len, &empty);
        nm_collected_free(&j->c);
        if (j->msg)
            nmsg++;
        else if (empty)
            j->st->seen = j->version; /* nothing for it up to here */
        else
            atomic_store(&o->stream_all, true); /* out of memory: again at the next kick */
        atomic_fetch_add(&nm->wakes[j->msg ? 0 : 1], j->msg || empty ? 1 : 0);
    }
    if (nmsg) {
        size_t k = 0;

        if (batch_tree_reserve(b, nmsg) == 0) {
            for (size_t i = 0; i < b->n; i++)
                if (b->v[i].msg)
                    map_batch_leaf(b->leaves[k++], (const uint8_t *)b->v[i].msg, b->v[i].len);
        }
        if (k < nmsg || map_batch_build(b->leaves, nmsg, root, b->paths, b->depths)) {
            log_warn("netmap", "out of memory signing a batch of %zu map messages", nmsg);
            atomic_store(&o->stream_all, true);
            nmsg = 0; /* the streams keep their base: the next change carries this one too */
        } else {
            size_t sl = map_batch_signed(signed_bytes, sizeof(signed_bytes), root);

            crypto_sign_detached(sig, NULL, signed_bytes, sl, nm->srv->sign_sk);
            hex_encode(sig_hex, sig, sizeof(sig));
        }
    }
    for (size_t i = 0, k = 0; i < b->n; i++) {
        struct job *j = &b->v[i];

        if (j->err_code) {
            stream_fail(j->st, j->err_code, j->err_msg);
        } else if (j->msg && nmsg) {
            size_t flen;
            char *frame = frame_render(b, j, sig_hex, &b->paths[k * MAP_BATCH_DEPTH_MAX],
                                       b->depths[k], &flen);

            k++;
            if (frame && stream_write(j->st, MG_WEBSOCKET_OPCODE_TEXT, frame, flen))
                j->st->since = j->st->seen = j->version;
            else if (!frame)
                atomic_store(&o->stream_all, true); /* retried at the next kick */
        }
        free(j->msg);
        stream_put(j->st);
    }
    b->n = 0;
}

/* Between rounds: room for a batch to every stream of the largest org, its pages touched. The
 * first change to reach thousands of streams would otherwise fault in megabytes (~450 B of
 * job, leaf and path per stream) on its own time; streams open 256 at a time, so the rounds
 * that answer them never grow the memory that far. */
static void batch_prefault(struct batch *b, size_t n)
{
    size_t old = b->cap;

    if (n > b->cap && batch_reserve(b, n > 2 * old ? n : 2 * old) == 0) /* as streams open */
        memset(b->v + old, 0, (b->cap - old) * sizeof(*b->v));
    if (n > b->tree_cap) {
        n = n > 2 * b->tree_cap ? n : 2 * b->tree_cap;
        if (batch_tree_reserve(b, n) == 0) {
            memset(b->leaves, 0, n * sizeof(*b->leaves));
            memset(b->paths, 0, n * MAP_BATCH_DEPTH_MAX * sizeof(*b->paths));
            memset(b->depths, 0, n * sizeof(*b->depths));
        }
    }
}

static void pump_round(struct netmap *nm, struct batch *b)
{
    size_t most = 0;

    for (size_t i = 0;; i++) {
        struct nm_org *o = nm_org_at(nm, i);

        if (!o)
            break;
        size_t ns = (size_t)atomic_load(&o->nstreams);

        most = ns > most ? ns : most;
        bool all = atomic_exchange(&o->stream_all, false);
        bool some = atomic_exchange(&o->stream_some, false);

        if (!all && !some)
            continue;
        pthread_rwlock_rdlock(&o->lock);
        batch_collect(o, all, b);
        pthread_rwlock_unlock(&o->lock);
        batch_send(nm, o, b);
    }
    batch_prefault(b, most);
}

static void *pump_main(void *arg)
{
    struct netmap *nm = arg;
    struct nm_pump *p = nm->pump;
    struct batch b = {0};

    pthread_setname_np(pthread_self(), "nm-pump");
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->pending && !p->stop)
            pthread_cond_wait(&p->wake, &p->lock);
        if (p->stop)
            break;
        p->pending = false;
        pthread_mutex_unlock(&p->lock);
        pump_round(nm, &b);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    batch_free(&b);
    return NULL;
}

void nm_streams_kick(struct nm_org *o)
{
    struct nm_pump *p = o->nm->pump;

    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->pending = true;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
}

void nm_streams_close_all(struct netmap *nm)
{
    struct batch b = {0};

    for (size_t i = 0;; i++) {
        struct nm_org *o = nm_org_at(nm, i);

        if (!o)
            break;
        pthread_rwlock_rdlock(&o->lock);
        if (batch_reserve(&b, (size_t)atomic_load(&o->nstreams)) < 0) {
            pthread_rwlock_unlock(&o->lock);
            continue; /* those sockets close with the server, without a close frame */
        }
        for (struct nm_slot *s = o->head; s; s = s->next) {
            struct nm_stream *st = atomic_load(&s->stream);

            if (st)
                batch_add(&b, st);
        }
        pthread_rwlock_unlock(&o->lock);
    }
    for (size_t i = 0; i < b.n; i++) {
        char close[10 + 2] = {0};

        close[10] = 0x03; /* 1001 going away */
        close[11] = (char)0xe9;
        stream_write(b.v[i].st, MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE, close + 10, 2);
        stream_put(b.v[i].st);
    }
    free(b.v);
}

int nm_pump_start(struct netmap *nm)
{
    struct nm_pump *p = calloc(1, sizeof(*p));
    int ret;

    if (!p)
        return -ENOMEM;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    nm->pump = p;
    ret = -pthread_create(&p->thread, NULL, pump_main, nm);
    if (ret) {
        nm->pump = NULL;
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
        free(p);
    }
    return ret;
}

void nm_pump_stop(struct netmap *nm)
{
    struct nm_pump *p = nm->pump;

    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    nm->pump = NULL;
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
