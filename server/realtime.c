/* The realtime WebSocket (see realtime.h for the protocol).
 *
 * A client's life: connect (slot reserved, or refused when --max-websockets are open) ->
 * ready (registered; authenticated at once when ?token= was given) -> frames (auth, subscribe,
 * ping) -> close (unregistered; waits until the sender thread no longer holds it).
 * The sender thread wakes on every publish and every RT_TICK_MS: it writes queued frames, and
 * closes sockets that never authenticated (RT_AUTH_TIMEOUT_S) or did not re-authenticate
 * (RT_REAUTH_GRACE_S after "reauth"). */
#include "server/realtime.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <civetweb.h>

#include "common/log.h"
#include "server/api.h"
#include "server/api_machines.h"
#include "server/auth.h"
#include "server/db.h"
#include "server/db_users.h"
#include "server/realtime_msg.h"

/* A weak reference: the machines API (and, through it, the control plane and netmap) links in
 * only when the program has it; test programs that link policy_glue.c or audit.c, which publish
 * here, stay free of them (and of their hooks, which such tests define themselves). */
#pragma weak machine_json

struct rt_client {
    struct mg_connection *conn; /* valid until close_handler returns */
    struct rt_client *next;
    int64_t opened_at;
    int64_t user_id;   /* 0 until authenticated */
    int64_t auth_until; /* the access token's lifetime, as far as we know it */
    int64_t checked_at; /* last re-validation of token by the sender thread */
    char token[SRV_TOKEN_TEXT_BYTES]; /* wiped on close */
    int64_t org_id;     /* 0 until subscribed */
    uint32_t wanted;    /* channels asked for */
    uint32_t channels;  /* of those, the ones the role may see (re-checked at every auth) */
    bool reauth_sent, overflow, closing;
    unsigned refs;      /* held by the sender thread while writing */
    char *queue[RT_QUEUE_MAX];
    size_t qhead, qlen;
};

struct realtime {
    struct server *srv;
    pthread_mutex_t lock; /* protects everything below and every client's fields */
    pthread_cond_t wake;  /* sender: work to do */
    pthread_cond_t idle;  /* close: a client's refs dropped */
    pthread_t thread;
    bool stop;
    struct rt_client *clients;
    size_t nclients;      /* including connecting ones */
    size_t max_clients;
};

/* From the sender thread and from the socket's worker (replies): mg_websocket_write() keeps
 * writers apart with mg_lock_connection(); a write that overlaps the worker's read of the next
 * frame is fine over plain TCP, and over the server's own TLS only because the TLS shim
 * (server/tlsshim/shim.c) locks each OpenSSL call per connection. */
static void send_text(struct mg_connection *conn, const char *text)
{
    mg_websocket_write(conn, MG_WEBSOCKET_OPCODE_TEXT, text, strlen(text));
}

/* Error frames go through cJSON: the messages quote field names. */
static void send_error(struct mg_connection *conn, const char *code, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    char *text;

    if (!o)
        return;
    cJSON_AddStringToObject(o, "type", "error");
    cJSON_AddStringToObject(o, "code", code);
    cJSON_AddStringToObject(o, "message", msg);
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text)
        send_text(conn, text);
    free(text);
}

/* Lock held. Takes ownership of text. */
static void enqueue(struct realtime *rt, struct rt_client *c, char *text)
{
    if (c->qlen == RT_QUEUE_MAX) {
        c->overflow = true;
        free(text);
        return;
    }
    c->queue[(c->qhead + c->qlen) % RT_QUEUE_MAX] = text;
    c->qlen++;
    pthread_cond_signal(&rt->wake);
}

void realtime_publish(struct server *srv, int64_t org_id, const char *channel, const cJSON *data)
{
    struct realtime *rt = srv->realtime;
    int ch = rt_channel_find(channel);
    cJSON *o;
    char *text;

    if (!rt || ch < 0 || org_id <= 0)
        return;
    o = cJSON_CreateObject();
    if (!o)
        return;
    cJSON_AddStringToObject(o, "type", "event");
    cJSON_AddNumberToObject(o, "org", (double)org_id);
    cJSON_AddStringToObject(o, "channel", channel);
    cJSON_AddItemToObject(o, "data", data ? cJSON_Duplicate(data, true) : cJSON_CreateNull());
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        return;
    pthread_mutex_lock(&rt->lock);
    for (struct rt_client *c = rt->clients; c; c = c->next) {
        if (c->org_id != org_id || !(c->channels & (1u << ch)))
            continue; /* while a re-auth is pending, events queue (sent once it arrives) */
        char *copy = strdup(text);
        if (copy)
            enqueue(rt, c, copy);
        else
            c->overflow = true;
    }
    pthread_mutex_unlock(&rt->lock);
    free(text);
}

bool realtime_wants(struct server *srv, int64_t org_id, const char *channel)
{
    struct realtime *rt = srv->realtime;
    int ch = rt_channel_find(channel);
    bool yes = false;

    if (!rt || ch < 0)
        return false;
    pthread_mutex_lock(&rt->lock);
    for (struct rt_client *c = rt->clients; c && !yes; c = c->next)
        yes = c->org_id == org_id && (c->channels & (1u << ch));
    pthread_mutex_unlock(&rt->lock);
    return yes;
}

void realtime_machine_changed(struct server *srv, struct db_conn *db, int64_t org_id, int64_t id)
{
    char slug[SRV_MAX_SLUG_BYTES + 1];
    struct machine_row *m;
    cJSON *d;

    if (!machine_json || !realtime_wants(srv, org_id, "machines"))
        return;
    m = malloc(sizeof(*m));
    d = cJSON_CreateObject();
    if (m && d && db_machine_get(db, org_id, id, m) == 0 &&
        db_machine_org_slug(db, org_id, slug, sizeof(slug)) == 0) {
        cJSON_AddStringToObject(d, "event", "upsert");
        cJSON_AddNumberToObject(d, "id", (double)id);
        cJSON_AddItemToObject(d, "machine", machine_json(srv, m, slug));
        realtime_publish(srv, org_id, "machines", d);
    }
    cJSON_Delete(d);
    free(m);
}

void realtime_notice(struct server *srv, int64_t org_id, const char *channel, const char *event,
                     int64_t id)
{
    cJSON *d;

    if (!realtime_wants(srv, org_id, channel))
        return;
    d = cJSON_CreateObject();
    if (!d)
        return;
    cJSON_AddStringToObject(d, "event", event);
    cJSON_AddNumberToObject(d, "id", (double)id);
    realtime_publish(srv, org_id, channel, d);
    cJSON_Delete(d);
}

void realtime_machine_gone(struct server *srv, const char *event, int64_t org_id, int64_t id)
{
    cJSON *d;

    if (!realtime_wants(srv, org_id, "machines"))
        return;
    d = cJSON_CreateObject();
    if (!d)
        return;
    cJSON_AddStringToObject(d, "event", event);
    cJSON_AddNumberToObject(d, "id", (double)id);
    realtime_publish(srv, org_id, "machines", d);
    cJSON_Delete(d);
}

/* --- the sender thread ------------------------------------------------------------------------ */

static void close_socket(struct mg_connection *conn, const char *why)
{
    mg_websocket_write(conn, MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE, "\x03\xe8", 2);
    (void)why;
}

/* Lock held: the next client with something to do, with a ref taken; *text / *action set. */
static struct rt_client *next_work(struct realtime *rt, int64_t now, char **text, int *action)
{
    for (struct rt_client *c = rt->clients; c; c = c->next) {
        if (c->closing)
            continue;
        if (c->user_id == 0 && now - c->opened_at > RT_AUTH_TIMEOUT_S) {
            *action = 1; /* never authenticated */
        } else if (c->user_id && c->reauth_sent && now > c->auth_until + RT_REAUTH_GRACE_S) {
            *action = 1;
        } else if (c->user_id && !c->reauth_sent && now >= c->auth_until) {
            c->reauth_sent = true;
            *text = strdup("{\"type\":\"reauth\"}");
            *action = 0;
        } else if (c->overflow) {
            c->overflow = false;
            for (; c->qlen; c->qlen--, c->qhead = (c->qhead + 1) % RT_QUEUE_MAX)
                free(c->queue[c->qhead]);
            *text = strdup("{\"type\":\"resync\"}");
            *action = 0;
        } else if (c->qlen && !c->reauth_sent) {
            *text = c->queue[c->qhead];
            c->qhead = (c->qhead + 1) % RT_QUEUE_MAX;
            c->qlen--;
            *action = 0;
        } else {
            continue;
        }
        if (*action == 1)
            c->closing = true;
        c->refs++;
        return c;
    }
    return NULL;
}

/* Lock held on entry and exit. Re-validates every socket's token each RT_RECHECK_S, so that
 * a logout (its tokens revoked) or an expiry stops the events within seconds: a token that no
 * longer checks out gets "reauth" at once (events held, closed after the grace period). */
static void sweep(struct realtime *rt, int64_t now)
{
    for (;;) {
        char tok[SRV_TOKEN_TEXT_BYTES];
        struct auth_ctx a = {0};
        struct rt_client *c;
        struct db_conn *db;
        int ret;

        for (c = rt->clients; c; c = c->next)
            if (c->user_id && !c->reauth_sent && !c->closing && c->checked_at + RT_RECHECK_S <= now)
                break;
        if (!c)
            return;
        c->checked_at = now;
        c->refs++;
        memcpy(tok, c->token, sizeof(tok));
        pthread_mutex_unlock(&rt->lock);
        db = db_conn_get(rt->srv->db);
        ret = db ? auth_access_check(db, tok, &a) : -EIO;
        if (db)
            db_conn_idle(db);
        sodium_memzero(tok, sizeof(tok));
        pthread_mutex_lock(&rt->lock);
        c->refs--;
        pthread_cond_broadcast(&rt->idle);
        if (ret == -ENOENT && c->auth_until > now)
            c->auth_until = now; /* next_work sends "reauth" */
    }
}

static void *sender_main(void *arg)
{
    struct realtime *rt = arg;
    int64_t swept = 0;

    pthread_mutex_lock(&rt->lock);
    while (!rt->stop) {
        char *text = NULL;
        int action = 0;
        int64_t now = server_now();
        struct rt_client *c;

        if (now != swept) {
            sweep(rt, now);
            swept = now;
        }
        c = next_work(rt, now, &text, &action);

        if (!c) {
            struct timespec dl;

            clock_gettime(CLOCK_MONOTONIC, &dl);
            dl.tv_sec += RT_TICK_MS / 1000;
            pthread_cond_timedwait(&rt->wake, &rt->lock, &dl);
            continue;
        }
        pthread_mutex_unlock(&rt->lock);
        if (action == 1)
            close_socket(c->conn, "authentication timeout");
        else if (text)
            send_text(c->conn, text);
        free(text);
        pthread_mutex_lock(&rt->lock);
        c->refs--;
        pthread_cond_broadcast(&rt->idle);
    }
    pthread_mutex_unlock(&rt->lock);
    return NULL;
}

/* --- civetweb handlers (worker threads) ---------------------------------------------------- */

static int64_t token_ttl(struct realtime *rt)
{
    return rt->srv->set.access_token_ttl;
}

/* The channels of wanted that role may see. */
static uint32_t channels_allowed(enum org_role role, uint32_t wanted)
{
    uint32_t allowed = 0;

    for (size_t i = 0; role != ROLE_NONE && i < rt_channels_count; i++)
        if ((wanted & (1u << i)) && (int)role >= rt_channels[i].min_role)
            allowed |= 1u << i;
    return allowed;
}

/* {"type":"subscribed","org","role","channels"} as new text, or NULL. */
static char *subscribed_text(int64_t org, enum org_role role, uint32_t allowed)
{
    cJSON *o = cJSON_CreateObject(), *arr;
    char *text;

    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "type", "subscribed");
    cJSON_AddNumberToObject(o, "org", (double)org);
    cJSON_AddStringToObject(o, "role", org_role_name(role));
    arr = cJSON_AddArrayToObject(o, "channels");
    for (size_t i = 0; arr && i < rt_channels_count; i++)
        if (allowed & (1u << i))
            cJSON_AddItemToArray(arr, cJSON_CreateString(rt_channels[i].name));
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

void realtime_member_changed(struct server *srv, struct db_conn *db, int64_t org_id,
                             int64_t user_id, const char *event)
{
    struct realtime *rt = srv->realtime;
    enum org_role role = ROLE_NONE;

    if (!rt || org_id <= 0)
        return;
    if (db_member_role(db, org_id, user_id, &role) < 0)
        role = ROLE_NONE; /* removed (or unreadable: fail closed) */
    pthread_mutex_lock(&rt->lock);
    for (struct rt_client *c = rt->clients; c; c = c->next) {
        char *text;

        if (c->user_id != user_id || c->org_id != org_id)
            continue;
        /* The user's own sockets follow the new role at once (no admin channel after a
         * demotion, nothing of the org after a removal) and are told what they now get. */
        c->channels = channels_allowed(role, c->wanted);
        if (role == ROLE_NONE) {
            c->org_id = 0;
            text = strdup("{\"type\":\"error\",\"code\":\"NOT_FOUND\","
                          "\"message\":\"you are no longer a member of this org\"}");
        } else {
            text = subscribed_text(org_id, role, c->channels);
        }
        if (text)
            enqueue(rt, c, text);
        else
            c->overflow = true;
    }
    pthread_mutex_unlock(&rt->lock);
    realtime_notice(srv, org_id, "members", event, user_id);
}

/* Sets c's org and the channels of wanted its role may see; the role, or ROLE_NONE (then the
 * subscription is dropped) when the user is not a member. */
static enum org_role channels_grant(struct realtime *rt, struct rt_client *c, int64_t org,
                                    uint32_t wanted)
{
    struct db_conn *db = db_conn_get(rt->srv->db);
    enum org_role role = ROLE_NONE;
    uint32_t allowed;
    int64_t user;

    pthread_mutex_lock(&rt->lock);
    user = c->user_id;
    pthread_mutex_unlock(&rt->lock);
    if (!db || db_member_role(db, org, user, &role) < 0)
        role = ROLE_NONE;
    if (db)
        db_conn_idle(db);
    allowed = channels_allowed(role, wanted);
    pthread_mutex_lock(&rt->lock);
    c->org_id = role != ROLE_NONE ? org : 0;
    c->wanted = wanted;
    c->channels = allowed;
    pthread_mutex_unlock(&rt->lock);
    return role;
}

/* 0 and the user id, or -errno (a reply is sent on failure). */
static int authenticate(struct realtime *rt, struct mg_connection *conn, struct rt_client *c,
                        const char *token)
{
    struct db_conn *db = db_conn_get(rt->srv->db);
    struct auth_ctx a = {0};
    char buf[128];
    int ret = db ? auth_access_check(db, token, &a) : -EIO;

    if (db)
        db_conn_idle(db);
    if (ret < 0) {
        send_error(conn, "UNAUTHORIZED", "invalid or expired access token");
        return ret;
    }
    pthread_mutex_lock(&rt->lock);
    if (c->user_id && c->user_id != a.user_id) {
        pthread_mutex_unlock(&rt->lock);
        send_error(conn, "UNAUTHORIZED", "a socket stays with one user");
        return -EPERM;
    }
    c->user_id = a.user_id;
    c->auth_until = server_now() + token_ttl(rt);
    c->checked_at = server_now();
    memcpy(c->token, token, sizeof(c->token));
    pthread_mutex_unlock(&rt->lock);
    /* A re-auth re-checks the subscription: the role may have changed or been removed. */
    if (c->org_id)
        channels_grant(rt, c, c->org_id, c->wanted);
    pthread_mutex_lock(&rt->lock);
    c->reauth_sent = false;
    pthread_cond_signal(&rt->wake);
    pthread_mutex_unlock(&rt->lock);
    snprintf(buf, sizeof(buf), "{\"type\":\"ready\",\"user_id\":%" PRId64 ",\"expires_in\":%" PRId64 "}",
             a.user_id, token_ttl(rt));
    send_text(conn, buf);
    return 0;
}

static int subscribe(struct realtime *rt, struct mg_connection *conn, struct rt_client *c,
                     const struct rt_msg *m)
{
    enum org_role role = channels_grant(rt, c, m->org, m->channels);
    uint32_t allowed;
    char *text;

    if (role == ROLE_NONE) {
        send_error(conn, "NOT_FOUND", "no such org");
        return 0; /* the socket stays usable for another org */
    }
    pthread_mutex_lock(&rt->lock);
    allowed = c->channels;
    pthread_mutex_unlock(&rt->lock);
    text = subscribed_text(m->org, role, allowed);
    if (!text)
        return -ENOMEM;
    send_text(conn, text);
    free(text);
    return 0;
}

static int connect_handler(const struct mg_connection *conn, void *cbdata)
{
    struct server *srv = cbdata;
    struct realtime *rt = srv->realtime;
    struct rt_client *c;

    if (!rt)
        return 1;
    c = calloc(1, sizeof(*c));
    if (!c)
        return 1;
    pthread_mutex_lock(&rt->lock);
    if (rt->nclients >= rt->max_clients) {
        pthread_mutex_unlock(&rt->lock);
        free(c);
        log_warn("realtime", "refusing a WebSocket: %zu open (limit %zu, --max-websockets)",
                 rt->nclients, rt->max_clients);
        return 1;
    }
    rt->nclients++;
    pthread_mutex_unlock(&rt->lock);
    c->opened_at = server_now();
    mg_set_user_connection_data(conn, c);
    return 0;
}

static void ready_handler(struct mg_connection *conn, void *cbdata)
{
    struct server *srv = cbdata;
    struct realtime *rt = srv->realtime;
    struct rt_client *c = mg_get_user_connection_data(conn);
    const char *q = mg_get_request_info(conn)->query_string;
    char token[SRV_TOKEN_TEXT_BYTES + 1];

    c->conn = conn;
    pthread_mutex_lock(&rt->lock);
    c->next = rt->clients;
    rt->clients = c;
    pthread_mutex_unlock(&rt->lock);
    if (q && mg_get_var(q, strlen(q), "token", token, sizeof(token)) == SRV_TOKEN_TEXT_BYTES - 1) {
        struct rt_msg m;
        const char *why;
        char frame[SRV_TOKEN_TEXT_BYTES + 32];
        int n = snprintf(frame, sizeof(frame), "{\"type\":\"auth\",\"token\":\"%s\"}", token);

        if (rt_msg_parse(frame, (size_t)n, &m, &why) < 0 || authenticate(rt, conn, c, m.token) < 0)
            close_socket(conn, "bad token");
    }
}

static int data_handler(struct mg_connection *conn, int bits, char *data, size_t len, void *cbdata)
{
    struct server *srv = cbdata;
    struct realtime *rt = srv->realtime;
    struct rt_client *c = mg_get_user_connection_data(conn);
    int opcode = bits & 0x0f;
    struct rt_msg m;
    const char *why;
    bool authed;

    if (opcode == MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE)
        return 0;
    if (opcode == MG_WEBSOCKET_OPCODE_PING || opcode == MG_WEBSOCKET_OPCODE_PONG)
        return 1;
    if (opcode != MG_WEBSOCKET_OPCODE_TEXT || !(bits & 0x80)) {
        send_error(conn, "INVALID_FRAME", "send whole JSON text frames");
        return 0;
    }
    if (rt_msg_parse(data, len, &m, &why) < 0) {
        send_error(conn, "INVALID_MESSAGE", why);
        return 1;
    }
    pthread_mutex_lock(&rt->lock);
    authed = c->user_id != 0;
    pthread_mutex_unlock(&rt->lock);
    switch (m.type) {
    case RT_MSG_PING:
        send_text(conn, "{\"type\":\"pong\"}");
        return 1;
    case RT_MSG_AUTH:
        return authenticate(rt, conn, c, m.token) == 0;
    case RT_MSG_SUBSCRIBE:
        if (!authed) {
            send_error(conn, "UNAUTHORIZED", "authenticate first");
            return 0;
        }
        return subscribe(rt, conn, c, &m) == 0;
    }
    return 0;
}

static void close_handler(const struct mg_connection *conn, void *cbdata)
{
    struct server *srv = cbdata;
    struct realtime *rt = srv->realtime;
    struct rt_client *c = mg_get_user_connection_data(conn);

    if (!rt || !c)
        return;
    pthread_mutex_lock(&rt->lock);
    for (struct rt_client **p = &rt->clients; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    while (c->refs)
        pthread_cond_wait(&rt->idle, &rt->lock);
    rt->nclients--;
    pthread_mutex_unlock(&rt->lock);
    for (; c->qlen; c->qlen--, c->qhead = (c->qhead + 1) % RT_QUEUE_MAX)
        free(c->queue[c->qhead]);
    sodium_memzero(c->token, sizeof(c->token));
    mg_set_user_connection_data(conn, NULL);
    free(c);
}

void realtime_register(struct mg_context *ctx, struct server *srv)
{
    mg_set_websocket_handler(ctx, "/api/ws", connect_handler, ready_handler, data_handler,
                             close_handler, srv);
}

/* GET /api/ws without an upgrade: say how to use it (keeps the route in the table and docs). */
void api_ws_info(struct api_ctx *ctx)
{
    api_header_add(ctx, "Upgrade", "websocket");
    api_reply_error(ctx, 426, "UPGRADE_REQUIRED",
                    "/api/ws is a WebSocket: connect with an Upgrade request, then send "
                    "{\"type\":\"auth\",\"token\":...}");
}

int realtime_start(struct server *srv)
{
    pthread_condattr_t ca;
    struct realtime *rt = calloc(1, sizeof(*rt));
    int ret;

    if (!rt)
        return -ENOMEM;
    rt->srv = srv;
    rt->max_clients = (size_t)srv->set.max_websockets;
    pthread_mutex_init(&rt->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&rt->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&rt->idle, NULL);
    ret = -pthread_create(&rt->thread, NULL, sender_main, rt);
    if (ret) {
        pthread_cond_destroy(&rt->idle);
        pthread_cond_destroy(&rt->wake);
        pthread_mutex_destroy(&rt->lock);
        free(rt);
        return ret;
    }
    srv->realtime = rt;
    return 0;
}

void realtime_stop(struct server *srv)
{
    struct realtime *rt = srv->realtime;

    if (!rt)
        return;
    pthread_mutex_lock(&rt->lock);
    rt->stop = true;
    pthread_cond_signal(&rt->wake);
    pthread_mutex_unlock(&rt->lock);
    pthread_join(rt->thread, NULL);
    srv->realtime = NULL;
    /* The listener is stopped first (main.c), so every close handler has run. */
    pthread_cond_destroy(&rt->idle);
    pthread_cond_destroy(&rt->wake);
    pthread_mutex_destroy(&rt->lock);
    free(rt);
}
