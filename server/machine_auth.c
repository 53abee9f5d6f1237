/* Machine request authentication (see machine_auth.h and common/ctl/ctl_auth.h). */
#include "server/machine_auth.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/ctl/ctl_auth.h"
#include "common/log.h"
#include "server/audit.h"

bool machine_auth_target(const struct api_ctx *ctx, char *out, size_t size)
{
    const char *p = ctx->route ? ctx->route->pattern : NULL;
    size_t o = 0;
    if (!p || size == 0)
        return false;
    while (*p) {
        const char *piece = p;
        size_t n = 1;
        char name[32];
        if (*p == '{') {
            const char *close = strchr(p, '}');
            if (!close || (size_t)(close - p - 1) >= sizeof(name))
                return false;
            memcpy(name, p + 1, (size_t)(close - p - 1));
            name[close - p - 1] = '\0';
            piece = api_param(ctx, name);
            if (!piece)
                return false;
            n = strlen(piece);
            p = close + 1;
        } else {
            p++;
        }
        if (o + n >= size)
            return false;
        memcpy(out + o, piece, n);
        o += n;
    }
    if (ctx->query && *ctx->query) {
        int k = snprintf(out + o, size - o, "?%s", ctx->query);
        if (k < 0 || (size_t)k >= size - o)
            return false;
        o += (size_t)k;
    }
    out[o] = '\0';
    return true;
}

static void audit_failure(struct api_ctx *ctx, const struct machine_row *m, const char *why)
{
    char id[24], detail[96];
    snprintf(id, sizeof(id), "%" PRId64, m->id);
    snprintf(detail, sizeof(detail), "{\"reason\":\"%s\"}", why); /* why: fixed literals */
    struct audit_event ev = {.org_id = m->org_id, .actor_type = "machine", .actor_id = m->id,
                             .actor_name = m->name, .action = "machine.auth.failure",
                             .target_type = "machine", .target_id = id,
                             .source_addr = ctx->source_addr, .detail_json = detail};
    audit_record(ctx->srv, &ev);
}

static bool fail(struct api_ctx *ctx, const char *msg)
{
    api_header_add(ctx, "WWW-Authenticate", "%s", CTL_AUTH_SCHEME);
    api_reply_error(ctx, 401, "UNAUTHORIZED", "%s", msg);
    return false;
}

bool machine_auth_request(struct api_ctx *ctx, const char *body, size_t body_len,
                          struct machine_row *m)
{
    struct ctl_auth a;
    char target[CTL_AUTH_PATH_MAX + 1];
    const char *h = api_header(ctx, CTL_AUTH_HEADER);
    int64_t now = server_now();

    if (!h || !ctl_auth_header_parse(h, strlen(h), &a))
        return fail(ctx, "missing or malformed machine signature (Authorization: " CTL_AUTH_SCHEME
                         " key=..,ts=..,nonce=..,sig=..)");
    int ret = db_machine_find_key(ctx->db, a.machine_key, m);
    if (ret == -ENOENT)
        return fail(ctx, "unknown machine key");
    if (ret) {
        api_reply_errno(ctx, ret, "machine");
        return false;
    }
    if (m->expired_at)
        return fail(ctx, "machine key expired: re-register the machine");
    if (!machine_auth_target(ctx, target, sizeof(target)))
        return fail(ctx, "request target too long to sign");
    ret = ctl_auth_verify(&a, ctx->method, target, (const uint8_t *)body, body_len, now,
                          CTL_AUTH_WINDOW_SECONDS);
    if (ret == -ETIME)
        return fail(ctx, "request timestamp outside the allowed window (60 s): check the clock");
    if (ret) {
        audit_failure(ctx, m, "bad signature");
        return fail(ctx, "bad request signature");
    }
    /* Remember the nonce until it can no longer pass the window check. */
    ret = db_machine_nonce_insert(ctx->db, m->id, a.nonce, a.timestamp + CTL_AUTH_WINDOW_SECONDS + 1);
    if (ret == -EEXIST) {
        audit_failure(ctx, m, "replayed nonce");
        return fail(ctx, "replayed request: nonce already used");
    }
    if (ret) {
        api_reply_errno(ctx, ret, "nonce");
        return false;
    }
    ctx->auth.machine_id = m->id;
    ctx->auth.org_id = m->org_id;
    return true;
}
