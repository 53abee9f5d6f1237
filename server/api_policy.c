/* /api/orgs/{org}/policy: the org's policy document (docs/policy.md), versioned.
 *
 *   GET    .../policy                    the version in force (ETag: "N"; version 0 = none)
 *   PUT    .../policy {policy}           admin; If-Match: "N" required (428), must be the version
 *                                        in force (412); the document must parse, fit the fleet
 *                                        and pass its own tests (400, with line and column), else
 *                                        nothing changes and the previous version stays in force
 *   POST   .../policy/validate {policy}  the same checks, nothing saved
 *   GET    .../policy/history[/{version}]
 *   POST   .../policy/explain {src, dst, port, proto?, at?}
 * Every accepted version and every refused one is audited (policy.update, policy.reject). */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/api.h"
#include "server/db.h"
#include "server/db_policy.h"
#include "server/policy_rt.h"
#include "server/realtime.h"

struct policy_body {
    const char *policy;
};
static const struct field_spec policy_fields[] = {
    {"policy", FIELD_STRING, true, offsetof(struct policy_body, policy), 1, SRV_MAX_BODY_BYTES, 0},
};
const struct body_spec policy_set_body = BODY_SPEC(struct policy_body, policy_fields);

struct explain_body {
    const char *src, *dst, *proto, *at;
    int64_t port;
};
static const struct field_spec explain_fields[] = {
    {"src", FIELD_STRING, true, offsetof(struct explain_body, src), 1, SRV_MAX_EMAIL_BYTES, 0},
    {"dst", FIELD_STRING, true, offsetof(struct explain_body, dst), 1, SRV_MAX_NAME_BYTES, 0},
    {"port", FIELD_INT, false, offsetof(struct explain_body, port), 0, 65535, 0},
    {"proto", FIELD_STRING, false, offsetof(struct explain_body, proto), 1, 8, 0},
    {"at", FIELD_STRING, false, offsetof(struct explain_body, at), 1, 40, 0},
};
const struct body_spec policy_explain_body = BODY_SPEC(struct explain_body, explain_fields);

static void set_etag(struct api_ctx *ctx, int64_t version)
{
    api_header_add(ctx, "ETag", "\"%" PRId64 "\"", version);
}

/* The one serializer of a policy version (text only when present). */
static cJSON *version_json(const struct policy_version *v)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "version", (double)v->version);
    if (v->version) {
        cJSON_AddNumberToObject(o, "author_id", (double)v->author_id);
        cJSON_AddStringToObject(o, "author_email", v->author_email);
        cJSON_AddNumberToObject(o, "created_at", (double)v->created_at);
    } else {
        cJSON_AddNullToObject(o, "author_id");
        cJSON_AddNullToObject(o, "author_email");
        cJSON_AddNullToObject(o, "created_at");
    }
    if (v->text)
        cJSON_AddStringToObject(o, "policy", v->text);
    else if (!v->version)
        cJSON_AddNullToObject(o, "policy");
    return o;
}

void api_policy_get(struct api_ctx *ctx)
{
    struct policy_version v = {0};
    int ret = db_policy_current(ctx->db, ctx->auth.org_id, &v);
    if (ret && ret != -ENOENT) {
        api_reply_errno(ctx, ret, "policy");
        return;
    }
    set_etag(ctx, v.version);
    api_reply_ok(ctx, 200, version_json(&v));
    free(v.text);
}

/* Parses, checks against the fleet and runs the embedded tests. On failure replies 400 and
 * returns false; *out is new on success (policy_free). */
static bool candidate_check(struct api_ctx *ctx, const char *text, int64_t now, struct policy **out)
{
    struct policy_error err = {0};
    struct policy *p = NULL;
    int ret = policy_parse(text, strlen(text), &p, &err);
    if (!ret)
        ret = policy_rt_check(ctx->srv, ctx->db, ctx->auth.org_id, p, now, &err);
    *out = NULL;
    if (ret == -EINVAL) {
        bool tests = strstr(err.msg, "test failed") != NULL;
        api_reply_error(ctx, 400, tests ? "POLICY_TESTS_FAILED" : "INVALID_POLICY", "%s", err.msg);
    } else if (ret) {
        api_reply_errno(ctx, ret, "policy");
    }
    if (ret) {
        policy_free(p);
        return false;
    }
    *out = p;
    return true;
}

/* If-Match: "N", W/"N" or N. -1 when unparsable. */
static int64_t if_match_version(const char *h)
{
    char *end;
    if (!strncmp(h, "W/", 2))
        h += 2;
    bool q = *h == '"';
    long long v = strtoll(h + q, &end, 10);
    if (end == h + q || v < 0 || (q && *end++ != '"') || *end)
        return -1;
    return v;
}

static void audit_reject(struct api_ctx *ctx, int64_t based_on)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "status", ctx->status);
    cJSON_AddNumberToObject(d, "if_match", (double)based_on);
    cJSON_AddStringToObject(d, "error", ctx->err_msg);
    char *t = cJSON_PrintUnformatted(d);
    api_audit(ctx, ctx->auth.org_id, "policy.reject", "policy", NULL, t);
    free(t);
    cJSON_Delete(d);
}

void api_policy_set(struct api_ctx *ctx)
{
    const struct policy_body *b = ctx->body;
    const char *h = api_header(ctx, "If-Match");
    struct policy_version cur = {0};
    struct policy *p = NULL;
    int64_t now = server_now(), want;
    char id[24], detail[96];
    if (!h || !*h) {
        api_reply_error(ctx, 428, "PRECONDITION_REQUIRED", "If-Match with the version in force is "
                        "required (GET .../policy returns it as the ETag)");
        return;
    }
    if ((want = if_match_version(h)) < 0) {
        api_reply_error(ctx, 400, "INVALID_FIELD", "If-Match must be a version like \"3\"");
        return;
    }
    if (!candidate_check(ctx, b->policy, now, &p)) {
        audit_reject(ctx, want);
        return;
    }
    int ret = db_begin(ctx->db);
    if (!ret)
        ret = db_policy_current(ctx->db, ctx->auth.org_id, &cur);
    if (ret == -ENOENT)
        ret = 0;
    if (ret) {
        api_reply_errno(ctx, ret, "policy");
        goto out;
    }
    if (cur.version != want) {
        api_reply_error(ctx, 412, "PRECONDITION_FAILED", "the policy in force is version %" PRId64
                        ", not %" PRId64 ": fetch it again and re-apply your change",
                        cur.version, want);
        set_etag(ctx, cur.version);
        db_rollback(ctx->db);
        audit_reject(ctx, want);
        goto out;
    }
    struct policy_version nv = {.org_id = ctx->auth.org_id, .version = cur.version + 1,
                                .author_id = ctx->auth.user_id, .created_at = now,
                                .text = (char *)b->policy};
    snprintf(nv.author_email, sizeof(nv.author_email), "%s", ctx->auth.email);
    ret = db_policy_insert(ctx->db, &nv);
    if (!ret) {
        snprintf(id, sizeof(id), "%" PRId64, nv.version);
        snprintf(detail, sizeof(detail), "{\"version\":%" PRId64 ",\"previous\":%" PRId64
                 ",\"rules\":%zu,\"tests\":%zu}", nv.version, cur.version, p->nrules, p->ntests);
        api_audit(ctx, ctx->auth.org_id, "policy.update", "policy", id, detail);
        ret = db_commit(ctx->db);
    }
    if (ret) {
        db_rollback(ctx->db);
        if (ret == -EEXIST)
            api_reply_error(ctx, 412, "PRECONDITION_FAILED", "another version was saved at the "
                            "same time: fetch it again and re-apply your change");
        else
            api_reply_errno(ctx, ret, "policy");
        goto out;
    }
    policy_rt_policy_saved(ctx->srv, ctx->auth.org_id, nv.version, &p);
    nv.text = NULL;
    set_etag(ctx, nv.version);
    api_reply_ok(ctx, 200, version_json(&nv));
    realtime_notice(ctx->srv, ctx->auth.org_id, "policy", "update", nv.version);
out:
    free(cur.text);
    policy_free(p);
}

void api_policy_validate(struct api_ctx *ctx)
{
    const struct policy_body *b = ctx->body;
    struct policy *p = NULL;
    if (!candidate_check(ctx, b->policy, server_now(), &p))
        return;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddBoolToObject(d, "valid", true);
    cJSON_AddNumberToObject(d, "rules", (double)p->nrules);
    cJSON_AddNumberToObject(d, "tests", (double)p->ntests);
    api_reply_ok(ctx, 200, d);
    policy_free(p);
}

static int history_one(const struct policy_version *v, void *arg)
{
    cJSON *o = version_json(v);
    if (!o)
        return -ENOMEM;
    cJSON_AddItemToArray(arg, o);
    return 0;
}

void api_policy_history(struct api_ctx *ctx)
{
    cJSON *arr = cJSON_CreateArray();
    int ret = arr ? db_policy_history(ctx->db, ctx->auth.org_id, history_one, arr) : -ENOMEM;
    if (ret) {
        cJSON_Delete(arr);
        api_reply_errno(ctx, ret, "policy history");
        return;
    }
    cJSON *d = cJSON_CreateObject();
    cJSON_AddItemToObject(d, "versions", arr);
    api_reply_ok(ctx, 200, d);
}

void api_policy_version_get(struct api_ctx *ctx)
{
    struct policy_version v = {0};
    int64_t ver = api_param_id(ctx, "version");
    int ret = ver > 0 ? db_policy_get(ctx->db, ctx->auth.org_id, ver, &v) : -ENOENT;
    if (ret == -ENOENT) {
        api_reply_error(ctx, 404, "NOT_FOUND", "no such policy version");
        return;
    }
    if (ret) {
        api_reply_errno(ctx, ret, "policy");
        return;
    }
    api_reply_ok(ctx, 200, version_json(&v));
    free(v.text);
}

void api_policy_explain(struct api_ctx *ctx)
{
    const struct explain_body *b = ctx->body;
    struct policy_explain_req q = {.src = b->src, .dst = b->dst, .port = (uint16_t)b->port,
                                   .proto = 6, .at = server_now()};
    char why[SRV_MAX_ERRMSG_BYTES] = "";
    cJSON *out = NULL;
    if (b->proto && !strcmp(b->proto, "udp"))
        q.proto = 17;
    else if (b->proto && !strcmp(b->proto, "icmp"))
        q.proto = 1;
    else if (b->proto && strcmp(b->proto, "tcp")) {
        api_reply_error(ctx, 400, "INVALID_FIELD", "proto must be tcp, udp or icmp");
        return;
    }
    if (q.proto != 1 && b->port == 0) {
        api_reply_error(ctx, 400, "INVALID_FIELD", "port (1..65535) is required for tcp and udp");
        return;
    }
    if (b->at && policy_time_parse(b->at, &q.at)) {
        api_reply_error(ctx, 400, "INVALID_FIELD", "at must be RFC 3339 (2026-11-23T09:30:00Z) "
                        "or unix seconds");
        return;
    }
    int ret = policy_rt_explain(ctx->srv, ctx->auth.org_id, &q, &out, why, sizeof(why));
    if (ret == -ENOENT)
        api_reply_error(ctx, 400, "INVALID_FIELD", "%s", why);
    else if (ret == -EIO && why[0])
        api_reply_error(ctx, 503, "POLICY_UNAVAILABLE", "%s", why);
    else if (ret)
        api_reply_errno(ctx, ret, "explain");
    else
        api_reply_ok(ctx, 200, out);
}
