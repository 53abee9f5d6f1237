/* /api/orgs/{org}/jit-requests: just-in-time access (see jit.h for the states).
 *
 *   POST   .../jit-requests {dst, port, proto?, duration, reason}   any member, for themselves
 *   GET    .../jit-requests[/{request}]       admins see all, members their own; the list is
 *                                             paged (limit, cursor: jit.h)
 *   POST   .../jit-requests/{request}/approve an admin, or an approver named by a requireJit rule
 *                                             covering the access (never the requester): the
 *                                             grant runs from now for `duration`
 *   POST   .../jit-requests/{request}/deny    the same deciders
 *   POST   .../jit-requests/{request}/revoke  the requester or an admin, pending or approved
 * The core of create, list and revoke (jit.h) also serves the machine-signed routes a machine
 * calls for its owner (api_control_jit.c). */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "server/api.h"
#include "server/ip6.h"
#include "server/realtime.h"
#include "server/jit.h"
#include "server/policy_rt.h"
#include "server/validate.h"

static const struct field_spec jit_fields[] = {
    {"dst", FIELD_STRING, true, offsetof(struct jit_request_in, dst), 1, SRV_MAX_NAME_BYTES, 0},
    {"port", FIELD_INT, true, offsetof(struct jit_request_in, port), 1, 65535, 0},
    {"proto", FIELD_STRING, false, offsetof(struct jit_request_in, proto), 1, 8, 0},
    {"duration", FIELD_INT, true, offsetof(struct jit_request_in, duration), 1, JIT_MAX_DURATION, 0},
    {"reason", FIELD_STRING, true, offsetof(struct jit_request_in, reason), 1, JIT_MAX_REASON, 0},
};
const struct body_spec jit_request_body = BODY_SPEC(struct jit_request_in, jit_fields);

/* A time or a user id: 0 is "not set", null. */
static void add_or_null(cJSON *o, const char *k, int64_t t)
{
    if (t)
        cJSON_AddNumberToObject(o, k, (double)t);
    else
        cJSON_AddNullToObject(o, k);
}

cJSON *jit_row_json(const struct jit_row *r, enum jit_json_view view)
{
    bool api = view == JIT_JSON_API;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "id", (double)r->id);
    if (api)
        cJSON_AddNumberToObject(o, "requester_id", (double)r->requester_id);
    cJSON_AddStringToObject(o, "requester_email", r->requester_email);
    cJSON_AddNumberToObject(o, "machine_id", (double)r->machine_id);
    cJSON_AddStringToObject(o, "machine_name", r->machine_name);
    cJSON_AddNumberToObject(o, "port", r->port);
    cJSON_AddStringToObject(o, "proto", r->proto == 6 ? "tcp" : r->proto == 17 ? "udp" : "*");
    cJSON_AddNumberToObject(o, "duration", (double)r->duration);
    cJSON_AddStringToObject(o, "reason", r->reason);
    cJSON_AddStringToObject(o, "state", r->state);
    if (api) {
        add_or_null(o, "created_at", r->created_at);
        add_or_null(o, "decided_at", r->decided_at);
        add_or_null(o, "decided_by", r->decided_by);
    }
    add_or_null(o, "expires_at", r->expires_at);
    if (api)
        add_or_null(o, "ended_at", r->ended_at);
    return o;
}

static void audit_jit(struct api_ctx *ctx, const char *action, const struct jit_row *r)
{
    char id[24], detail[160 + JIT_MAX_REASON * 2];
    snprintf(id, sizeof(id), "%" PRId64, r->id);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "requester_id", (double)r->requester_id);
    cJSON_AddNumberToObject(d, "machine_id", (double)r->machine_id);
    cJSON_AddNumberToObject(d, "port", r->port);
    cJSON_AddNumberToObject(d, "duration", (double)r->duration);
    cJSON_AddStringToObject(d, "reason", r->reason);
    if (r->expires_at)
        cJSON_AddNumberToObject(d, "expires_at", (double)r->expires_at);
    char *t = cJSON_PrintUnformatted(d);
    snprintf(detail, sizeof(detail), "%s", t ? t : "{}");
    api_audit(ctx, ctx->auth.org_id, action, "jit_request", id, detail);
    cJSON_free(t);
    cJSON_Delete(d);
}

void jit_request_create(struct api_ctx *ctx, int64_t requester_id, const struct jit_request_in *b)
{
    struct jit_row r = {.org_id = ctx->auth.org_id, .requester_id = requester_id,
                        .port = (uint16_t)b->port, .proto = 6, .duration = b->duration,
                        .created_at = server_now()};
    if (b->proto && !strcmp(b->proto, "udp"))
        r.proto = 17;
    else if (b->proto && !strcmp(b->proto, "*"))
        r.proto = 0;
    else if (b->proto && strcmp(b->proto, "tcp")) {
        api_reply_error(ctx, 400, "INVALID_FIELD", "proto must be tcp, udp or *");
        return;
    }
    if (b->duration < ctx->srv->set.jit_min_duration) {
        api_reply_error(ctx, 400, "INVALID_FIELD", "duration must be at least %" PRId64
                        " seconds", ctx->srv->set.jit_min_duration);
        return;
    }
    if (!validate_text(b->reason)) {
        api_reply_error(ctx, 400, "INVALID_FIELD", "reason must be printable text");
        return;
    }
    char ip4[16];
    /* a machine's IPv6 tailnet address names it like its IPv4 one (derived: server/ip6.h) */
    const char *dst = ip6_tailnet_ip4(&ctx->srv->set.ip6, b->dst, ip4) ? ip4 : b->dst;
    int ret = jit_db_machine_resolve(ctx->db, ctx->auth.org_id, ctx->srv->set.base_domain, dst,
                                     &r.machine_id);
    if (ret == -ENOENT) {
        api_reply_error(ctx, 400, "INVALID_FIELD", "dst: no machine \"%.64s\" in this org", b->dst);
        return;
    }
    snprintf(r.reason, sizeof(r.reason), "%s", b->reason);
    if (!ret)
        ret = jit_db_insert(ctx->db, &r);
    if (!ret)
        ret = jit_db_get(ctx->db, ctx->auth.org_id, r.id, &r);
    if (ret) {
        api_reply_errno(ctx, ret, "jit request");
        return;
    }
    api_reply_ok(ctx, 201, jit_row_json(&r, JIT_JSON_API));
    audit_jit(ctx, "jit.request", &r);
    realtime_notice(ctx->srv, ctx->auth.org_id, "jit", "request", r.id);
    policy_rt_jit_event(ctx->srv, "jit.request", &r);
}

void api_jit_create(struct api_ctx *ctx)
{
    jit_request_create(ctx, ctx->auth.user_id, ctx->body);
}

struct list_ctx {
    cJSON *arr;
    int64_t n, last_id;
};

static int list_one(const struct jit_row *r, void *arg)
{
    struct list_ctx *l = arg;
    cJSON *o = jit_row_json(r, JIT_JSON_API);
    if (!o)
        return -ENOMEM;
    cJSON_AddItemToArray(l->arr, o);
    l->n++;
    l->last_id = r->id;
    return 0;
}

void jit_reply_list(struct api_ctx *ctx, int64_t requester)
{
    int64_t limit, before;
    if (!api_query_int(ctx, "limit", 1, JIT_LIST_MAX, JIT_LIST_DEFAULT, &limit) ||
        !api_query_int(ctx, "cursor", 1, INT64_MAX, 0, &before))
        return;
    struct list_ctx l = {.arr = cJSON_CreateArray()};
    int ret = l.arr ? jit_db_list(ctx->db, ctx->auth.org_id, requester, before, limit, list_one, &l)
                    : -ENOMEM;
    cJSON *d = ret ? NULL : cJSON_CreateObject();
    if (!d) {
        cJSON_Delete(l.arr);
        api_reply_errno(ctx, ret ? ret : -ENOMEM, "jit requests");
        return;
    }
    cJSON_AddItemToObject(d, "requests", l.arr);
    /* A full page may have more behind it (as the audit list). */
    if (l.n == limit)
        cJSON_AddNumberToObject(d, "next_cursor", (double)l.last_id);
    else
        cJSON_AddNullToObject(d, "next_cursor");
    api_reply_ok(ctx, 200, d);
}

void api_jit_list(struct api_ctx *ctx)
{
    jit_reply_list(ctx, ctx->auth.role >= ROLE_ADMIN ? 0 : ctx->auth.user_id);
}

/* The request in the path, if the caller may see it (admins: all; members: their own, and for a
 * decision those whose rule names them as approver). */
static bool load(struct api_ctx *ctx, struct jit_row *r, bool decide)
{
    int64_t id = api_param_id(ctx, "request");
    int ret = id > 0 ? jit_db_get(ctx->db, ctx->auth.org_id, id, r) : -ENOENT;
    if (!ret && decide && ctx->auth.role < ROLE_ADMIN) {
        if (r->requester_id == ctx->auth.user_id ||
            !policy_rt_may_approve(ctx->srv, ctx->db, ctx->auth.org_id, ctx->auth.user_id,
                                   r->machine_id, r->port, r->proto)) {
            api_reply_error(ctx, 403, "FORBIDDEN", "only an admin, or an approver the policy names "
                            "for this access (not the requester), may decide this request");
            return false;
        }
        return true;
    }
    if (!ret && ctx->auth.role < ROLE_ADMIN && r->requester_id != ctx->auth.user_id)
        ret = -ENOENT;
    if (ret == -ENOENT)
        api_reply_error(ctx, 404, "NOT_FOUND", "no such JIT request");
    else if (ret)
        api_reply_errno(ctx, ret, "jit request");
    return ret == 0;
}

void api_jit_get(struct api_ctx *ctx)
{
    struct jit_row r;
    if (load(ctx, &r, false))
        api_reply_ok(ctx, 200, jit_row_json(&r, JIT_JSON_API));
}

/* Moves the loaded request r from `from` (or from2) to `to`, by user `by`. */
static void move_row(struct api_ctx *ctx, struct jit_row *rp, const char *from, const char *from2,
                     const char *to, const char *action, int64_t by)
{
    struct jit_row r = *rp;
    int64_t now = server_now();
    bool was_active = !strcmp(r.state, "approved");
    int ret = jit_db_transition(ctx->db, ctx->auth.org_id, r.id, from, to, by, now);
    if (ret == -EALREADY && from2) {
        was_active = !strcmp(from2, "approved");
        ret = jit_db_transition(ctx->db, ctx->auth.org_id, r.id, from2, to, by, now);
    }
    if (!ret)
        ret = jit_db_get(ctx->db, ctx->auth.org_id, r.id, &r);
    if (ret == -EALREADY) {
        api_reply_error(ctx, 409, "CONFLICT", "the request is %s; it cannot become %s", r.state, to);
        return;
    }
    if (ret) {
        api_reply_errno(ctx, ret, "jit request");
        return;
    }
    if (!strcmp(to, "approved"))
        policy_rt_grant_added(ctx->srv, &r);
    else if (was_active)
        policy_rt_grant_removed(ctx->srv, r.org_id, r.id);
    api_reply_ok(ctx, 200, jit_row_json(&r, JIT_JSON_API));
    audit_jit(ctx, action, &r);
    realtime_notice(ctx->srv, ctx->auth.org_id, "jit", to, r.id);
    policy_rt_jit_event(ctx->srv, action, &r);
    *rp = r;
}

static void move(struct api_ctx *ctx, const char *from, const char *from2, const char *to,
                 const char *action)
{
    struct jit_row r;
    if (load(ctx, &r, strcmp(to, "revoked") != 0))
        move_row(ctx, &r, from, from2, to, action, ctx->auth.user_id);
}

void jit_request_revoke(struct api_ctx *ctx, struct jit_row *r, int64_t by)
{
    move_row(ctx, r, "approved", "pending", "revoked", "jit.revoke", by);
}

void api_jit_approve(struct api_ctx *ctx) { move(ctx, "pending", NULL, "approved", "jit.approve"); }
void api_jit_deny(struct api_ctx *ctx) { move(ctx, "pending", NULL, "denied", "jit.deny"); }
void api_jit_revoke(struct api_ctx *ctx) { move(ctx, "approved", "pending", "revoked", "jit.revoke"); }
