/* The /api framework: route-table types, the per-request context, envelope writers, auth context
 * and role checks. One civetweb handler (http.c) does, for every /api request and in this order:
 * path split + route match (404 / 405), auth (401 / 404 for another org / 403 FORBIDDEN), body
 * size (413), body parsing through the route's body_spec (400), then calls the handler, then
 * writes the envelope {"success", "data", "error": {"code", "message"}} with security headers.
 *
 * A handler fills the response through api_reply_ok() / api_reply_error(); it never touches
 * civetweb. Org-scoped routes (auth API_AUTH_ORG, pattern containing {org}) get ctx->auth.org_id
 * and ctx->auth.role already checked against route->min_role. Orgs are addressed by numeric id. */
#ifndef ZTNA_SERVER_API_H
#define ZTNA_SERVER_API_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "server/json_body.h"
#include "server/limits.h"
#include "server/router.h"
#include "server/server.h"

struct db_conn;

enum org_role { ROLE_NONE = 0, ROLE_MEMBER = 1, ROLE_ADMIN = 2, ROLE_OWNER = 3 };
const char *org_role_name(enum org_role r);              /* "owner", "admin", "member", "none" */
bool org_role_parse(const char *s, enum org_role *out);  /* owner/admin/member only */

enum api_auth {
    API_AUTH_NONE,   /* public */
    API_AUTH_USER,   /* Authorization: Bearer <access token> */
    API_AUTH_ORG,    /* user token + membership of {org} with role >= min_role */
    API_AUTH_CUSTOM, /* the handler authenticates (e.g. machine-signed requests) */
    API_AUTH_CUSTOM_NODB, /* the same, and ctx->db starts NULL: the handler calls db_conn_get()
                           * only if it needs SQLite (held map polls mostly do not) */
};
const char *api_auth_name(enum api_auth a); /* "none", "user", "org", "custom" (both) */

struct auth_ctx {
    int64_t user_id;   /* 0 if not a user request */
    char email[SRV_MAX_EMAIL_BYTES + 1];
    int64_t family_id; /* refresh-token family the access token belongs to */
    int64_t org_id;    /* API_AUTH_ORG: the {org} in the path */
    enum org_role role;
    int64_t machine_id; /* for API_AUTH_CUSTOM handlers that authenticate a machine */
};

struct api_ctx;
typedef void (*api_handler_fn)(struct api_ctx *ctx);

struct api_route {
    const char *method;     /* "GET", "POST", "PATCH", "DELETE", "PUT" */
    const char *pattern;    /* "/api/orgs/{org}/users/{user}" */
    api_handler_fn handler;
    enum api_auth auth;
    enum org_role min_role; /* API_AUTH_ORG only */
    const struct body_spec *body; /* NULL: the request must not carry a JSON body */
    const char *summary;
};

/* routes.c: the ONE static route table. */
extern const struct api_route api_routes[];
extern const size_t api_routes_count;

struct api_header {
    char name[32];
    char value[SRV_MAX_HEADER_BYTES];
};

struct api_ctx {
    struct server *srv;
    struct db_conn *db;            /* this thread's connection */
    const struct api_route *route;
    const char *method;
    char source_addr[48];
    struct route_params params;
    const char *query;             /* raw query string (no '?') or NULL */
    struct auth_ctx auth;
    const void *body;              /* the route's typed struct, or NULL */
    const char *raw_body;          /* the request body bytes as received (not NUL-terminated;
                                    * machine signatures cover these), or NULL when empty */
    size_t raw_body_len;
    uint32_t body_present;         /* bit i: body field i was present */
    /* request headers, through the transport (keeps civetweb out of handlers) */
    const char *(*header_get)(void *transport, const char *name);
    void *transport;
    bool is_tls;
    /* response, filled by api_reply_* */
    int status;                    /* 0 until a reply is set */
    cJSON *data;                   /* owned; freed by the dispatcher */
    char err_code[32];
    char err_msg[SRV_MAX_ERRMSG_BYTES];
    struct api_header hdr[SRV_MAX_EXTRA_HEADERS];
    size_t nhdr;
    /* a raw (non-envelope) success reply, set by api_reply_raw(); owned, freed on release */
    char *raw_reply;
    size_t raw_reply_len;
    char raw_type[64];
};

/* Sets a success reply; takes ownership of data (NULL -> JSON null). */
void api_reply_ok(struct api_ctx *ctx, int status, cJSON *data);
/* Sets a raw success reply (a file download, not the envelope): takes ownership of data (malloc'd,
 * len bytes) and sends it with content_type. Security headers and api_header_add() headers
 * (e.g. Content-Disposition) still apply. */
void api_reply_raw(struct api_ctx *ctx, int status, const char *content_type, char *data,
                   size_t len);
/* Sets an error reply: code like "NOT_FOUND", "FORBIDDEN", "CONFLICT", "INVALID_FIELD". */
void api_reply_error(struct api_ctx *ctx, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Maps -errno to a reply: ENOENT 404, EEXIST 409, EPERM/EACCES 403, EINVAL 400, EBUSY 503,
 * anything else 500 INTERNAL (the detail is logged, not sent). */
void api_reply_errno(struct api_ctx *ctx, int err, const char *what);

/* Adds a response header (e.g. Set-Cookie, Retry-After); silently drops beyond the limit. */
void api_header_add(struct api_ctx *ctx, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *api_header(const struct api_ctx *ctx, const char *name); /* borrowed or NULL */
/* Decoded query parameter into buf; false if absent or too long. */
bool api_query_get(const struct api_ctx *ctx, const char *name, char *buf, size_t size);
/* Decimal query parameter within [lo, hi] into *out, def when absent; false after replying 400
 * INVALID_QUERY "NAME must be an integer in [lo, hi]" when it is not. */
bool api_query_int(struct api_ctx *ctx, const char *name, int64_t lo, int64_t hi, int64_t def,
                   int64_t *out);

const char *api_param(const struct api_ctx *ctx, const char *name); /* borrowed or NULL */
/* The capture as a positive decimal id, or -1 if absent or not a canonical id. */
int64_t api_param_id(const struct api_ctx *ctx, const char *name);

/* True if ctx->auth.role >= min; otherwise sets 403 FORBIDDEN and returns false. */
bool api_require_role(struct api_ctx *ctx, enum org_role min);

/* Records an audit event for this request (actor = authenticated user/machine or anonymous,
 * source = ctx->source_addr). target_id and detail_json may be NULL. Never fails the request. */
void api_audit(struct api_ctx *ctx, int64_t org_id, const char *action, const char *target_type,
               const char *target_id, const char *detail_json);

/* Dispatches one request (used by http.c and by tests): method, raw path, body bytes. Fills the
 * reply fields of ctx; the caller serialises with api_envelope_render() and frees with
 * api_ctx_release(). ctx must be zeroed with srv, header_get/transport, source_addr set. */
void api_dispatch(struct api_ctx *ctx, const char *method, const char *raw_path,
                  const char *body, size_t body_len, long long content_length);
/* New string (free with free()): the envelope JSON for ctx's reply. */
char *api_envelope_render(const struct api_ctx *ctx);
void api_ctx_release(struct api_ctx *ctx);

#endif
