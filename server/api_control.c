/* Machine-facing control calls after registration (docs/control-protocol.md), each signed with
 * the machine key (machine_auth.h) over the raw request bytes:
 *   GET  /api/machine/map?since=V&wait=S   the signed netmap, long-polled (netmap.h)
 *   POST /api/machine/endpoints            the addresses where the machine's WireGuard listens
 *   POST /api/machine/logout               the machine deletes itself
 * and the control data of the admin machine view (api_control.h). */
#include "server/api_control.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ctl/ctl_auth.h"
#include "common/hex.h"
#include "server/db.h"
#include "server/db_control.h"
#include "server/db_machines.h"
#include "server/janitor.h"
#include "server/machine_auth.h"
#include "server/netmap.h"
#include "server/netmap_parse.h"
#include "server/policy_rt.h"

#define NM_BUSY_RETRY_SECONDS 5

/* Authenticates the signed request inside a write transaction (so that the nonce and what the
 * handler writes commit together). On failure the reply is set, and the nonce / audit rows of a
 * failure are kept. */
static bool signed_begin(struct api_ctx *ctx, struct machine_row *m)
{
    int ret;

    machines_write_lock(ctx->srv);
    ret = db_begin(ctx->db);
    if (ret) {
        machines_write_unlock(ctx->srv);
        api_reply_errno(ctx, ret, "request");
        return false;
    }
    if (machine_auth_request(ctx, ctx->raw_body, ctx->raw_body_len, m))
        return true;
    if (db_commit(ctx->db) != 0)
        db_rollback(ctx->db);
    machines_write_unlock(ctx->srv);
    return false;
}

/* Commits (or, on an error reply, keeps only the auth rows) and unlocks. */
static void signed_end(struct api_ctx *ctx)
{
    if (db_commit(ctx->db) != 0) {
        db_rollback(ctx->db);
        if (ctx->status < 300)
            api_reply_errno(ctx, -EIO, "request");
    }
    machines_write_unlock(ctx->srv);
}

/* Is name=... among the query's parameters (whatever its value)? */
static bool query_has(const char *q, const char *name)
{
    size_t n = strlen(name);

    for (; q && *q; q = strchr(q, '&') ? strchr(q, '&') + 1 : NULL) {
        if (strncmp(q, name, n) == 0 && q[n] == '=')
            return true;
    }
    return false;
}

/* A decimal query parameter within [lo, hi]; def when absent; false (400 sent) when bad. */
static bool query_number(struct api_ctx *ctx, const char *name, int64_t lo, int64_t hi,
                         int64_t def, int64_t *out)
{
    char buf[32];

    if (!query_has(ctx->query, name)) {
        *out = def;
        return true;
    }
    if (api_query_get(ctx, name, buf, sizeof(buf)) && nm_parse_decimal(buf, lo, hi, out))
        return true;
    api_reply_error(ctx, 400, "INVALID_QUERY", "%s must be a decimal integer in %lld..%lld", name,
                    (long long)lo, (long long)hi);
    return false;
}

/* The whole reply envelope of a map message, as api_envelope_render() would write it for
 * data = {"payload": base64(payload), "sig": hex(Ed25519 over msg)}, but written directly: it goes
 * to every held stream after each change, and a cJSON tree for a string that needs no escaping
 * (base64 and hex) was a measurable part of that. New string (free()); *out_len its length. */
static char *map_sealed(const struct server *srv, const char *msg, size_t len, size_t *out_len)
{
    static const char head[] = "{\"success\":true,\"data\":{\"payload\":\"";
    static const char mid[] = "\",\"sig\":\"";
    static const char tail[] = "\"},\"error\":null}";
    const size_t plen = strlen(NETMAP_SIG_PREFIX);
    uint8_t sig[crypto_sign_BYTES];
    size_t b64_len = sodium_base64_ENCODED_LEN(len - plen, sodium_base64_VARIANT_ORIGINAL);
    size_t cap = sizeof(head) + b64_len + sizeof(mid) + 2 * crypto_sign_BYTES + sizeof(tail);
    char *out = malloc(cap), *p = out;

    if (!out)
        return NULL;
    crypto_sign_detached(sig, NULL, (const uint8_t *)msg, len, srv->sign_sk);
    memcpy(p, head, sizeof(head) - 1);
    p += sizeof(head) - 1;
    p += base64_encode_public(p, (const uint8_t *)msg + plen, len - plen);
    memcpy(p, mid, sizeof(mid) - 1);
    p += sizeof(mid) - 1;
    hex_encode(p, sig, sizeof(sig));
    p += 2 * crypto_sign_BYTES;
    memcpy(p, tail, sizeof(tail)); /* with its NUL */
    *out_len = (size_t)(p - out) + sizeof(tail) - 1;
    return out;
}

/* GET /api/machine/map/stream without an upgrade: say how to use it (the stream itself is
 * netmap_stream.c's WebSocket handler). */
void api_machine_map_stream_info(struct api_ctx *ctx)
{
    api_header_add(ctx, "Upgrade", "websocket");
    api_reply_error(ctx, 426, "UPGRADE_REQUIRED",
                    "/api/machine/map/stream is a WebSocket: connect with an Upgrade request "
                    "signed like GET /api/machine/map, or long-poll GET /api/machine/map");
}

void api_machine_map(struct api_ctx *ctx)
{
    struct machine_row *m = malloc(sizeof(*m));
    struct netmap_poll p = {0};
    int64_t since, wait;
    char *msg = NULL;
    size_t len = 0;
    int ret;

    if (!m) {
        api_reply_errno(ctx, -ENOMEM, "map");
        return;
    }
    /* Polls come by the thousand after every change: authenticate them from memory, and only
     * what memory cannot decide (and every failure, for its message and audit) through SQLite. */
    char target[CTL_AUTH_PATH_MAX + 1];
    ret = machine_auth_target(ctx, target, sizeof(target))
              ? netmap_auth(ctx->srv, api_header(ctx, CTL_AUTH_HEADER), ctx->method, target,
                            (const uint8_t *)ctx->raw_body, ctx->raw_body_len, &p.org_id,
                            &p.machine_id)
              : -EAGAIN;
    if (ret == -EEXIST) {
        api_header_add(ctx, "WWW-Authenticate", "%s", CTL_AUTH_SCHEME);
        api_reply_error(ctx, 401, "UNAUTHORIZED", "replayed request: nonce already used");
        goto out;
    }
    if (ret < 0) {
        /* The route is API_AUTH_CUSTOM_NODB: the connection is only taken here. */
        ctx->db = db_conn_get(ctx->srv->db);
        if (!ctx->db) {
            api_reply_error(ctx, 503, "BUSY", "database busy, retry");
            goto out;
        }
        /* The nonce insert is the only write: serialise it with the module's other writers. */
        machines_write_lock(ctx->srv);
        bool ok = machine_auth_request(ctx, ctx->raw_body, ctx->raw_body_len, m);
        machines_write_unlock(ctx->srv);
        if (!ok)
            goto out;
        p.org_id = m->org_id;
        p.machine_id = m->id;
    }
    ctx->auth.machine_id = p.machine_id;
    ctx->auth.org_id = p.org_id;
    if (!query_number(ctx, "since", 0, (1LL << 53), 0, &since) ||
        !query_number(ctx, "wait", NM_WAIT_MIN, NM_WAIT_MAX, NM_WAIT_DEFAULT, &wait))
        goto out;
    /* Nothing below touches SQLite: give the connection (if any) back before waiting. */
    if (ctx->db) {
        db_conn_idle(ctx->db);
        db_conn_release(ctx->srv->db);
        ctx->db = NULL;
    }
    p.since = since;
    p.wait = (int)wait;
    ret = netmap_poll(ctx->srv, &p, &msg, &len);
    if (ret == -ENOENT) {
        api_reply_error(ctx, 404, "MACHINE_UNKNOWN", "this machine is no longer registered");
    } else if (ret == -EBUSY) {
        api_header_add(ctx, "Retry-After", "%d", NM_BUSY_RETRY_SECONDS);
        api_reply_error(ctx, 503, "BUSY", "the server holds its maximum of map streams; "
                        "retry after %d s", NM_BUSY_RETRY_SECONDS);
    } else if (ret < 0) {
        api_reply_errno(ctx, ret, "map");
    } else {
        size_t reply_len = 0;
        char *reply = map_sealed(ctx->srv, msg, len, &reply_len);

        if (reply)
            api_reply_raw(ctx, 200, "application/json", reply, reply_len);
        else
            api_reply_errno(ctx, -ENOMEM, "map");
    }
out:
    free(msg);
    free(m);
}

struct endpoints_body {
    int64_t listen_port;
    struct json_strv endpoints;
};
static const struct field_spec endpoints_fields[] = {
    {"listen_port", FIELD_INT, true, offsetof(struct endpoints_body, listen_port), 1, 65535, 0},
    {"endpoints", FIELD_STRV, true, offsetof(struct endpoints_body, endpoints), 0,
     NM_MAX_ENDPOINTS, 0},
};
const struct body_spec machine_endpoints_body = BODY_SPEC(struct endpoints_body, endpoints_fields);

/* The canonical list: the address the server observed (with listen_port) first, then the
 * reported ones, without duplicates. NULL with a 400 reply set on a bad endpoint. */
static cJSON *endpoints_list(struct api_ctx *ctx, const struct endpoints_body *b)
{
    char ep[NM_MAX_ENDPOINTS + 1][NM_ENDPOINT_MAX];
    size_t n = 0;
    cJSON *arr;

    if (nm_endpoint_format(ctx->source_addr, (int)b->listen_port, ep[n]))
        n++;
    for (size_t i = 0; i < b->endpoints.n; i++) {
        bool dup = false;

        if (!nm_endpoint_parse(b->endpoints.v[i], ep[n])) {
            api_reply_error(ctx, 400, "INVALID_FIELD", "endpoints[%zu]: \"%.64s\" is not "
                            "ip:port or [ipv6]:port", i, b->endpoints.v[i]);
            return NULL;
        }
        for (size_t j = 0; j < n && !dup; j++)
            dup = strcmp(ep[j], ep[n]) == 0;
        if (!dup)
            n++;
    }
    arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) {
        if (!cJSON_AddItemToArray(arr, cJSON_CreateString(ep[i]))) {
            cJSON_Delete(arr);
            arr = NULL;
        }
    }
    if (!arr)
        api_reply_errno(ctx, -ENOMEM, "endpoints");
    return arr;
}

void api_machine_endpoints(struct api_ctx *ctx)
{
    const struct endpoints_body *b = ctx->body;
    struct machine_row *m = malloc(sizeof(*m));
    cJSON *list = NULL, *d;
    char *text = NULL;
    int ret;

    if (!m) {
        api_reply_errno(ctx, -ENOMEM, "endpoints");
        return;
    }
    if (!signed_begin(ctx, m))
        goto out;
    list = endpoints_list(ctx, b);
    text = list ? cJSON_PrintUnformatted(list) : NULL;
    if (list && !text)
        api_reply_errno(ctx, -ENOMEM, "endpoints");
    if (text) {
        ret = db_control_set_endpoints(ctx->db, m->id, b->listen_port, text, server_now());
        d = ret ? NULL : cJSON_CreateObject();
        if (d) {
            cJSON_AddItemToObject(d, "endpoints", list);
            list = NULL;
            api_reply_ok(ctx, 200, d);
        } else {
            api_reply_errno(ctx, ret ? ret : -ENOMEM, "endpoints");
        }
    }
    signed_end(ctx);
out:
    cJSON_Delete(list);
    free(text);
    free(m);
}

void api_machine_logout(struct api_ctx *ctx)
{
    struct machine_row *m = malloc(sizeof(*m));
    char mid[24], detail[160];
    int ret;

    if (!m) {
        api_reply_errno(ctx, -ENOMEM, "logout");
        return;
    }
    if (!signed_begin(ctx, m))
        goto out;
    ret = db_machine_delete(ctx->db, m->org_id, m->id);
    if (ret) {
        api_reply_errno(ctx, ret, "machine");
    } else {
        snprintf(mid, sizeof(mid), "%" PRId64, m->id);
        snprintf(detail, sizeof(detail), "{\"name\":\"%s\",\"ip\":\"%s\"}", m->name,
                 m->tailnet_ip); /* a DNS label and a dotted quad: no escaping needed */
        api_audit(ctx, m->org_id, "machine.logout", "machine", mid, detail);
        api_reply_ok(ctx, 200, cJSON_CreateObject());
    }
    signed_end(ctx);
    if (ctx->status == 200) /* committed: the machine leaves every filter (its IP may be reused) */
        policy_rt_machine_removed(ctx->srv, m->org_id, m->id);
out:
    free(m);
}

/* --- heartbeat reports and the admin view ---------------------------------------------------- */

/* A value of a report: scalar, or an object/array of scalars (one level), strings plain text. */
static bool report_value_ok(const cJSON *v, int depth)
{
    const cJSON *e;
    int n = 0;

    if (cJSON_IsString(v))
        return strlen(v->valuestring) <= 128;
    if (cJSON_IsNumber(v) || cJSON_IsBool(v) || cJSON_IsNull(v))
        return true;
    if (depth > 1 || !(cJSON_IsObject(v) || cJSON_IsArray(v)))
        return false;
    cJSON_ArrayForEach(e, v)
    {
        if (++n > 32 || (e->string && strlen(e->string) > 64) || !report_value_ok(e, depth + 1))
            return false;
    }
    return true;
}

int control_report_check(const cJSON *denials, const cJSON *stats, char **denials_json,
                         char **stats_json, const char **why)
{
    *denials_json = *stats_json = NULL;
    *why = NULL;
    if (denials && !report_value_ok(denials, 0)) {
        *why = "denials must be an array of at most 32 objects of scalar fields";
        return -EINVAL;
    }
    if (stats && !report_value_ok(stats, 0)) {
        *why = "stats must be an object of at most 32 scalar or one-level fields";
        return -EINVAL;
    }
    if (denials && !(*denials_json = cJSON_PrintUnformatted(denials)))
        return -ENOMEM;
    if (stats && !(*stats_json = cJSON_PrintUnformatted(stats)))
        return -ENOMEM;
    if ((*denials_json && strlen(*denials_json) >= DB_CONTROL_DENIALS_MAX) ||
        (*stats_json && strlen(*stats_json) >= DB_CONTROL_STATS_MAX)) {
        *why = "denials or stats too large";
        return -EINVAL;
    }
    return 0;
}

int control_json_add(struct db_conn *db, int64_t machine_id, cJSON *obj)
{
    struct control_row *r = malloc(sizeof(*r));
    int ret = r ? db_control_get(db, machine_id, r) : -ENOMEM;
    cJSON *ep, *den, *stats;

    if (ret == 0) {
        ep = cJSON_Parse(r->endpoints);
        den = cJSON_Parse(r->denials);
        stats = cJSON_Parse(r->stats);
        cJSON_AddItemToObject(obj, "endpoints", cJSON_IsArray(ep) ? ep : cJSON_CreateArray());
        cJSON_AddItemToObject(obj, "denials", cJSON_IsArray(den) ? den : cJSON_CreateArray());
        cJSON_AddItemToObject(obj, "stats", cJSON_IsObject(stats) ? stats : cJSON_CreateObject());
        if (!cJSON_IsArray(ep))
            cJSON_Delete(ep);
        if (!cJSON_IsArray(den))
            cJSON_Delete(den);
        if (!cJSON_IsObject(stats))
            cJSON_Delete(stats);
        if (r->reported_at)
            cJSON_AddNumberToObject(obj, "reported_at", (double)r->reported_at);
        else
            cJSON_AddNullToObject(obj, "reported_at");
    }
    free(r);
    return ret;
}
