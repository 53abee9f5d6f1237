/* Helpers every /api handler uses: replies, headers, params, roles, audit (see api.h). */
#include "server/api.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#if __has_include("server/audit.h")
#include "server/audit.h"
#define HAVE_AUDIT 1
#endif

const char *org_role_name(enum org_role r)
{
    switch (r) {
    case ROLE_OWNER:
        return "owner";
    case ROLE_ADMIN:
        return "admin";
    case ROLE_MEMBER:
        return "member";
    default:
        return "none";
    }
}

bool org_role_parse(const char *s, enum org_role *out)
{
    static const enum org_role roles[] = {ROLE_OWNER, ROLE_ADMIN, ROLE_MEMBER};

    for (size_t i = 0; s && i < sizeof(roles) / sizeof(roles[0]); i++) {
        if (strcmp(s, org_role_name(roles[i])) == 0) {
            *out = roles[i];
            return true;
        }
    }
    return false;
}

const char *api_auth_name(enum api_auth a)
{
    switch (a) {
    case API_AUTH_NONE:
        return "none";
    case API_AUTH_USER:
        return "user";
    case API_AUTH_ORG:
        return "org";
    case API_AUTH_CUSTOM:
    case API_AUTH_CUSTOM_NODB:
        return "custom";
    }
    return "none";
}

void api_reply_ok(struct api_ctx *ctx, int status, cJSON *data)
{
    free(ctx->raw_reply);
    ctx->raw_reply = NULL;
    cJSON_Delete(ctx->data);
    ctx->data = data;
    ctx->status = status;
    ctx->err_code[0] = '\0';
    ctx->err_msg[0] = '\0';
}

void api_reply_raw(struct api_ctx *ctx, int status, const char *content_type, char *data,
                   size_t len)
{
    cJSON_Delete(ctx->data);
    ctx->data = NULL;
    free(ctx->raw_reply);
    ctx->raw_reply = data;
    ctx->raw_reply_len = len;
    snprintf(ctx->raw_type, sizeof(ctx->raw_type), "%s", content_type);
    ctx->status = status;
    ctx->err_code[0] = '\0';
    ctx->err_msg[0] = '\0';
}

void api_reply_error(struct api_ctx *ctx, int status, const char *code, const char *fmt, ...)
{
    va_list ap;

    cJSON_Delete(ctx->data);
    ctx->data = NULL;
    free(ctx->raw_reply);
    ctx->raw_reply = NULL;
    ctx->status = status;
    snprintf(ctx->err_code, sizeof(ctx->err_code), "%s", code);
    va_start(ap, fmt);
    vsnprintf(ctx->err_msg, sizeof(ctx->err_msg), fmt, ap);
    va_end(ap);
}

void api_reply_errno(struct api_ctx *ctx, int err, const char *what)
{
    switch (err) {
    case -ENOENT:
        api_reply_error(ctx, 404, "NOT_FOUND", "%s not found", what);
        break;
    case -EEXIST:
        api_reply_error(ctx, 409, "CONFLICT", "%s already exists", what);
        break;
    case -EPERM:
    case -EACCES:
        api_reply_error(ctx, 403, "FORBIDDEN", "not allowed to change %s", what);
        break;
    case -EINVAL:
        api_reply_error(ctx, 400, "INVALID_FIELD", "invalid %s", what);
        break;
    case -EBUSY:
        api_reply_error(ctx, 503, "BUSY", "database busy, retry");
        break;
    default:
        log_error("api", "%s %s: %s failed: %d", ctx->method, ctx->route ? ctx->route->pattern : "",
                  what, err);
        api_reply_error(ctx, 500, "INTERNAL", "internal error");
        break;
    }
}

void api_header_add(struct api_ctx *ctx, const char *name, const char *fmt, ...)
{
    va_list ap;

    if (ctx->nhdr == SRV_MAX_EXTRA_HEADERS)
        return;
    snprintf(ctx->hdr[ctx->nhdr].name, sizeof(ctx->hdr[0].name), "%s", name);
    va_start(ap, fmt);
    vsnprintf(ctx->hdr[ctx->nhdr].value, sizeof(ctx->hdr[0].value), fmt, ap);
    va_end(ap);
    ctx->nhdr++;
}

const char *api_header(const struct api_ctx *ctx, const char *name)
{
    return ctx->header_get ? ctx->header_get(ctx->transport, name) : NULL;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

bool api_query_get(const struct api_ctx *ctx, const char *name, char *buf, size_t size)
{
    const char *q = ctx->query;
    size_t nlen = strlen(name);

    while (q && *q) {
        const char *end = strchr(q, '&');
        size_t len = end ? (size_t)(end - q) : strlen(q);

        if (len > nlen && strncmp(q, name, nlen) == 0 && q[nlen] == '=') {
            size_t o = 0;

            for (size_t i = nlen + 1; i < len; i++) {
                int ch = (unsigned char)q[i];

                if (ch == '+')
                    ch = ' ';
                else if (ch == '%') {
                    if (i + 2 >= len || hexval(q[i + 1]) < 0 || hexval(q[i + 2]) < 0)
                        return false;
                    ch = hexval(q[i + 1]) << 4 | hexval(q[i + 2]);
                    i += 2;
                }
                if (ch == 0 || o + 1 >= size)
                    return false;
                buf[o++] = (char)ch;
            }
            buf[o] = '\0';
            return true;
        }
        q = end ? end + 1 : NULL;
    }
    return false;
}

/* Does the query string name `name` at all (name= or a bare name)? */
static bool query_names(const char *q, const char *name)
{
    size_t nlen = strlen(name);
    while (q && *q) {
        if (!strncmp(q, name, nlen) && (q[nlen] == '=' || q[nlen] == '&' || !q[nlen]))
            return true;
        q = strchr(q, '&');
        q = q ? q + 1 : NULL;
    }
    return false;
}

bool api_query_int(struct api_ctx *ctx, const char *name, int64_t lo, int64_t hi, int64_t def,
                   int64_t *out)
{
    char buf[24], *end;
    bool got = api_query_get(ctx, name, buf, sizeof(buf));
    if (!got && !query_names(ctx->query, name)) {
        *out = def;
        return true;
    }
    /* present but too long, badly percent-encoded or empty: an error, not the default */
    long long v = got ? strtoll(buf, &end, 10) : 0;
    if (!got || !buf[0] || *end || v < lo || v > hi) {
        api_reply_error(ctx, 400, "INVALID_QUERY", "%s must be an integer in [%lld, %lld]", name,
                        (long long)lo, (long long)hi);
        return false;
    }
    *out = v;
    return true;
}

const char *api_param(const struct api_ctx *ctx, const char *name)
{
    return router_param(&ctx->params, name);
}

int64_t api_param_id(const struct api_ctx *ctx, const char *name)
{
    const char *s = api_param(ctx, name);
    int64_t v = 0;

    if (!s || !*s || s[0] == '0' || strlen(s) > 15)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

bool api_require_role(struct api_ctx *ctx, enum org_role min)
{
    if (ctx->auth.role >= min)
        return true;
    api_reply_error(ctx, 403, "FORBIDDEN", "this needs the %s role in the org", org_role_name(min));
    return false;
}

void api_audit(struct api_ctx *ctx, int64_t org_id, const char *action, const char *target_type,
               const char *target_id, const char *detail_json)
{
#ifdef HAVE_AUDIT
    struct audit_event ev = {
        .org_id = org_id,
        .actor_type = ctx->auth.user_id ? "user" : ctx->auth.machine_id ? "machine" : "anonymous",
        .actor_id = ctx->auth.user_id ? ctx->auth.user_id : ctx->auth.machine_id,
        .actor_name = ctx->auth.email[0] ? ctx->auth.email : NULL,
        .action = action,
        .target_type = target_type,
        .target_id = target_id,
        .source_addr = ctx->source_addr,
        .detail_json = detail_json,
    };
    int ret = audit_record(ctx->srv, &ev);

    if (ret < 0)
        log_error("api", "audit_record(%s) failed: %d", action, ret);
#else
    log_debug("audit", "org=%lld action=%s target=%s/%s src=%s", (long long)org_id, action,
              target_type ? target_type : "-", target_id ? target_id : "-", ctx->source_addr);
    (void)detail_json;
#endif
}

char *api_envelope_render(const struct api_ctx *ctx)
{
    cJSON *env = cJSON_CreateObject();
    char *text = NULL;
    bool ok = ctx->status >= 200 && ctx->status < 300;

    if (!env)
        return NULL;
    cJSON_AddBoolToObject(env, "success", ok);
    if (ok && ctx->data)
        cJSON_AddItemReferenceToObject(env, "data", ctx->data);
    else
        cJSON_AddNullToObject(env, "data");
    if (ok) {
        cJSON_AddNullToObject(env, "error");
    } else {
        cJSON *err = cJSON_AddObjectToObject(env, "error");

        if (err) {
            cJSON_AddStringToObject(err, "code", ctx->err_code[0] ? ctx->err_code : "INTERNAL");
            cJSON_AddStringToObject(err, "message", ctx->err_msg);
        }
    }
    text = cJSON_PrintUnformatted(env);
    cJSON_Delete(env);
    return text;
}

void api_ctx_release(struct api_ctx *ctx)
{
    cJSON_Delete(ctx->data);
    ctx->data = NULL;
    free(ctx->raw_reply);
    ctx->raw_reply = NULL;
}
