/* The one /api dispatcher: route match, auth, body size and parsing, handler, metrics.
 * Transport-free (http.c feeds it civetweb requests; tests may feed it directly). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/db.h"
#include "server/db_users.h"
#include "server/netmap.h"

#if __has_include("server/metrics.h")
#include "server/metrics.h"
#define observe(srv, pat, st, secs) metrics_observe_request((srv), (pat), (st), (secs))
#else
/* Until server/metrics.h exists: a no-op with the same contract. */
static void observe(struct server *srv, const char *pat, int status, double secs)
{
    (void)srv;
    (void)pat;
    (void)status;
    (void)secs;
}
#endif

static const struct body_spec empty_body = {NULL, 0, 0};

/* Finds the route; 404 if no pattern matches, 405 (with Allow) if only the method is wrong. */
static const struct api_route *route_find(struct api_ctx *ctx, const char *method,
                                          const struct path_segs *segs)
{
    char allow[128] = "";
    size_t used = 0;

    for (size_t i = 0; i < api_routes_count; i++) {
        const struct api_route *r = &api_routes[i];

        if (!router_match(r->pattern, segs, NULL))
            continue;
        if (strcmp(r->method, method) == 0) {
            router_match(r->pattern, segs, &ctx->params);
            return r;
        }
        if (used + strlen(r->method) + 3 < sizeof(allow))
            used += (size_t)snprintf(allow + used, sizeof(allow) - used, "%s%s",
                                     used ? ", " : "", r->method);
    }
    if (used) {
        api_header_add(ctx, "Allow", "%s", allow);
        api_reply_error(ctx, 405, "METHOD_NOT_ALLOWED", "method %s not allowed here (allowed: %s)",
                        method, allow);
    } else {
        api_reply_error(ctx, 404, "NOT_FOUND", "no such API endpoint");
    }
    return NULL;
}

static bool authenticate(struct api_ctx *ctx, const struct api_route *r)
{
    const char *h;
    int64_t org_id;
    int ret;

    if (r->auth == API_AUTH_NONE || r->auth == API_AUTH_CUSTOM || r->auth == API_AUTH_CUSTOM_NODB)
        return true;
    h = api_header(ctx, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0 || strlen(h + 7) != SRV_TOKEN_TEXT_BYTES - 1) {
        api_header_add(ctx, "WWW-Authenticate", "Bearer");
        api_reply_error(ctx, 401, "UNAUTHORIZED", "missing or malformed bearer token");
        return false;
    }
    ret = auth_access_check(ctx->db, h + 7, &ctx->auth);
    if (ret < 0) {
        if (ret != -ENOENT) {
            api_reply_errno(ctx, ret, "session");
            return false;
        }
        api_header_add(ctx, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
        api_reply_error(ctx, 401, "UNAUTHORIZED", "invalid or expired access token");
        return false;
    }
    if (r->auth != API_AUTH_ORG)
        return true;
    /* Another org's resources are 404, never 403: existence must not leak. */
    org_id = api_param_id(ctx, "org");
    ret = org_id > 0 ? db_member_role(ctx->db, org_id, ctx->auth.user_id, &ctx->auth.role) : -ENOENT;
    if (ret < 0) {
        api_reply_errno(ctx, ret, "org");
        return false;
    }
    ctx->auth.org_id = org_id;
    return api_require_role(ctx, r->min_role);
}

static bool parse_body(struct api_ctx *ctx, const struct api_route *r, const char *body,
                       size_t len, long long content_length, void *typed, cJSON **tree)
{
    const struct body_spec *spec = r->body ? r->body : &empty_body;
    struct json_body_error err = {0};
    int ret;

    if (content_length > SRV_MAX_BODY_BYTES || len > SRV_MAX_BODY_BYTES) {
        api_reply_error(ctx, 413, "PAYLOAD_TOO_LARGE", "request body larger than %d bytes",
                        SRV_MAX_BODY_BYTES);
        return false;
    }
    if (len == 0) {
        if (!r->body)
            return true;
        api_reply_error(ctx, 400, "INVALID_JSON", "a JSON request body is required");
        return false;
    }
    ret = json_body_parse(spec, body, len, typed, tree, &ctx->body_present, &err);
    if (ret == -ENOMEM) {
        api_reply_errno(ctx, ret, "body");
        return false;
    }
    if (ret < 0) {
        api_reply_error(ctx, 400, err.code, "%s", err.message);
        return false;
    }
    ctx->body = r->body ? typed : NULL;
    ctx->raw_body = body;
    ctx->raw_body_len = len;
    return true;
}

void api_dispatch(struct api_ctx *ctx, const char *method, const char *raw_path,
                  const char *body, size_t body_len, long long content_length)
{
    _Alignas(max_align_t) unsigned char typed[4096]; /* the largest body struct; checked below */
    struct path_segs *segs = NULL;
    const struct api_route *r = NULL;
    cJSON *tree = NULL;
    struct timespec t0, t1;
    bool lazy;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    ctx->method = method;
    segs = malloc(sizeof(*segs));
    if (!segs) {
        api_reply_error(ctx, 500, "INTERNAL", "out of memory");
        goto out;
    }
    if (router_path_split(raw_path, segs) < 0) {
        api_reply_error(ctx, 400, "INVALID_PATH", "malformed request path");
        goto out;
    }
    r = route_find(ctx, method, segs);
    if (!r)
        goto out;
    ctx->route = r;
    if (r->body && r->body->size > sizeof(typed)) {
        log_error("api", "body struct of %s %s too large", r->method, r->pattern);
        api_reply_error(ctx, 500, "INTERNAL", "internal error");
        goto out;
    }
    /* API_AUTH_CUSTOM_NODB: the handler takes its connection itself, if it needs one. */
    lazy = r->auth == API_AUTH_CUSTOM_NODB;
    ctx->db = lazy ? NULL : db_conn_get(ctx->srv->db);
    if (!ctx->db && !lazy) {
        api_reply_error(ctx, 500, "INTERNAL", "database unavailable");
        goto out;
    }
    if (!authenticate(ctx, r))
        goto out;
    if (!parse_body(ctx, r, body, body_len, content_length, typed, &tree))
        goto out;
    r->handler(ctx);
    if (ctx->status == 0) {
        log_error("api", "%s %s set no reply", r->method, r->pattern);
        api_reply_error(ctx, 500, "INTERNAL", "internal error");
    }
out:
    if (ctx->db)
        db_conn_idle(ctx->db);
    /* A successful write may have changed what the netmaps show: let them catch up now rather
     * than at their next sweep (cheap when nothing changed; see netmap.h). */
    if (r && strcmp(method, "GET") != 0 && ctx->status >= 200 && ctx->status < 300)
        netmap_sync(ctx->srv);
    db_conn_release(ctx->srv->db); /* back to the pool: see db.h */
    ctx->db = NULL;
    ctx->body = NULL;
    ctx->raw_body = NULL;
    ctx->raw_body_len = 0;
    cJSON_Delete(tree);
    free(segs);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    observe(ctx->srv, r ? r->pattern : "unmatched", ctx->status,
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
}
