/* /api/auth/{setup,login,refresh,logout} and /api/me.
 *
 * The refresh token travels only in the __Host-refresh_token cookie. Cookie-authenticated calls
 * (refresh, logout by cookie) are CSRF-protected twice: they need the custom header
 * X-ZTNA-CSRF: 1 (a cross-site form cannot set it, and a cross-site fetch with it needs a CORS
 * preflight we never grant) and an Origin, if sent, equal to our own origin. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/db.h"
#include "server/db_users.h"
#include "server/db_oidc.h"
#include "server/ratelimit.h"
#include "server/validate.h"

#define REFRESH_COOKIE "__Host-refresh_token"

struct setup_body {
    const char *email, *password, *name, *org_name, *org_slug;
};
static const struct field_spec setup_fields[] = {
    {"email", FIELD_STRING, true, offsetof(struct setup_body, email), 3, SRV_MAX_EMAIL_BYTES, 0},
    {"password", FIELD_STRING, true, offsetof(struct setup_body, password),
     SRV_MIN_PASSWORD_BYTES, SRV_MAX_PASSWORD_BYTES, 0},
    {"name", FIELD_STRING, false, offsetof(struct setup_body, name), 0, SRV_MAX_NAME_BYTES, 0},
    {"org_name", FIELD_STRING, true, offsetof(struct setup_body, org_name), 1, SRV_MAX_NAME_BYTES, 0},
    {"org_slug", FIELD_STRING, false, offsetof(struct setup_body, org_slug), 1, SRV_MAX_SLUG_BYTES, 0},
};
const struct body_spec auth_setup_body = BODY_SPEC(struct setup_body, setup_fields);

struct login_body {
    const char *email, *password;
};
static const struct field_spec login_fields[] = {
    {"email", FIELD_STRING, true, offsetof(struct login_body, email), 1, SRV_MAX_EMAIL_BYTES, 0},
    {"password", FIELD_STRING, true, offsetof(struct login_body, password), 1,
     SRV_MAX_PASSWORD_BYTES, 0},
};
const struct body_spec auth_login_body = BODY_SPEC(struct login_body, login_fields);

/* The session reply shared by setup, login and refresh; sets the rotated cookie. */
static void session_reply(struct api_ctx *ctx, int status, const struct db_user *u,
                          const struct auth_tokens *t)
{
    cJSON *d = cJSON_CreateObject();
    cJSON *orgs = db_orgs_of_user(ctx->db, u->id);

    if (!d || !orgs) {
        cJSON_Delete(d);
        cJSON_Delete(orgs);
        api_reply_errno(ctx, -ENOMEM, "session");
        return;
    }
    cJSON_AddStringToObject(d, "access_token", t->access);
    cJSON_AddStringToObject(d, "token_type", "Bearer");
    cJSON_AddNumberToObject(d, "expires_in", (double)ctx->srv->set.access_token_ttl);
    cJSON_AddItemToObject(d, "user", db_user_json(u));
    cJSON_AddItemToObject(d, "orgs", orgs);
    api_header_add(ctx, "Set-Cookie", REFRESH_COOKIE "=%s; HttpOnly; Secure; SameSite=Strict; "
                   "Path=/; Max-Age=%lld", t->refresh, (long long)ctx->srv->set.refresh_token_ttl);
    api_reply_ok(ctx, status, d);
}

static void cookie_clear(struct api_ctx *ctx)
{
    api_header_add(ctx, "Set-Cookie",
                   REFRESH_COOKIE "=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0");
}

void api_auth_setup(struct api_ctx *ctx)
{
    const struct setup_body *b = ctx->body;
    char hash[crypto_pwhash_STRBYTES];
    char slug[SRV_MAX_SLUG_BYTES + 1];
    struct auth_tokens t = {0};
    struct db_user u = {0};
    int64_t org_id = 0, n;
    int ret;

    if (!validate_email(b->email) || !validate_text(b->org_name) ||
        (b->name && !validate_text(b->name))) {
        api_reply_error(ctx, 400, "INVALID_FIELD", "email, name or org_name is malformed");
        return;
    }
    if (!validate_slug_or_derive(b->org_slug, b->org_name, slug)) {
        api_reply_error(ctx, 400, "INVALID_FIELD", "org_slug must be 1..63 of a-z, 0-9, '-'");
        return;
    }
    /* Hash before taking the write lock: argon2id is the slow part. */
    ret = auth_password_hash(ctx->srv, b->password, hash);
    if (ret < 0)
        goto out;
    ret = db_begin(ctx->db);
    if (ret < 0)
        goto out;
    n = db_user_count(ctx->db);
    if (n != 0) {
        db_rollback(ctx->db);
        if (n > 0)
            api_reply_error(ctx, 409, "CONFLICT", "setup is already done; log in instead");
        else
            api_reply_errno(ctx, (int)n, "setup");
        goto out_quiet;
    }
    ret = db_user_insert(ctx->db, b->email, b->name, hash, &u.id) ?:
          db_org_insert(ctx->db, b->org_name, slug, &org_id) ?:
          db_member_insert(ctx->db, org_id, u.id, ROLE_OWNER) ?: db_commit(ctx->db);
    if (ret < 0) {
        db_rollback(ctx->db);
        goto out;
    }
    ret = db_user_by_id(ctx->db, u.id, &u) ?: auth_session_create(ctx->srv, ctx->db, u.id, &t);
    if (ret < 0)
        goto out;
    ctx->auth.user_id = u.id;
    snprintf(ctx->auth.email, sizeof(ctx->auth.email), "%s", u.email);
    api_audit(ctx, org_id, "auth.setup", "org", NULL, NULL);
    session_reply(ctx, 201, &u, &t);
out:
    if (ret < 0)
        api_reply_errno(ctx, ret, "setup");
out_quiet:
    sodium_memzero(hash, sizeof(hash));
    sodium_memzero(&t, sizeof(t));
    sodium_memzero(u.password_hash, sizeof(u.password_hash));
}

void api_auth_login(struct api_ctx *ctx)
{
    const struct login_body *b = ctx->body;
    const struct server_settings *set = &ctx->srv->set;
    char ipkey[64], acctkey[SRV_MAX_EMAIL_BYTES + 8];
    struct auth_tokens t = {0};
    struct db_user u = {0};
    int64_t now = server_now(), retry = 0;
    bool ok;
    int ret;

    snprintf(ipkey, sizeof(ipkey), "ip:%s", ctx->source_addr);
    snprintf(acctkey, sizeof(acctkey), "acct:%s", b->email);
    for (char *p = acctkey; *p; p++)
        *p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
    if (ratelimit_blocked(ctx->srv->login_limit, ipkey, set->login_rate_ip,
                          set->login_rate_window, now, &retry) ||
        ratelimit_blocked(ctx->srv->login_limit, acctkey, set->login_rate_account,
                          set->login_rate_window, now, &retry)) {
        api_header_add(ctx, "Retry-After", "%lld", (long long)retry);
        api_audit(ctx, 0, "auth.login.rate_limited", "user", b->email, NULL);
        api_reply_error(ctx, 429, "RATE_LIMITED", "too many login attempts; retry in %lld s",
                        (long long)retry);
        return;
    }
    ratelimit_hit(ctx->srv->login_limit, ipkey, set->login_rate_window, now);
    ret = db_user_by_email(ctx->db, b->email, &u);
    if (ret == -ENOENT) {
        auth_password_dummy(ctx->srv);
        ok = false;
    } else if (ret < 0) {
        api_reply_errno(ctx, ret, "user");
        return;
    } else {
        ok = auth_password_verify(u.password_hash, b->password);
    }
    sodium_memzero(u.password_hash, sizeof(u.password_hash));
    if (!ok) {
        ratelimit_hit(ctx->srv->login_limit, acctkey, set->login_rate_window, now);
        api_audit(ctx, 0, "auth.login.failure", "user", b->email, NULL);
        api_reply_error(ctx, 401, "UNAUTHORIZED", "wrong email or password");
        return;
    }
    ratelimit_reset(ctx->srv->login_limit, acctkey);
    ret = auth_session_create(ctx->srv, ctx->db, u.id, &t);
    if (ret < 0) {
        api_reply_errno(ctx, ret, "session");
        return;
    }
    ctx->auth.user_id = u.id;
    snprintf(ctx->auth.email, sizeof(ctx->auth.email), "%s", u.email);
    {
        char id[24];

        snprintf(id, sizeof(id), "%lld", (long long)u.id);
        api_audit(ctx, 0, "auth.login.success", "user", id, NULL);
    }
    session_reply(ctx, 200, &u, &t);
    sodium_memzero(&t, sizeof(t));
}

/* Our own origin: --public-url if set, else the scheme and Host of this request. */
static bool origin_allowed(struct api_ctx *ctx, const char *origin)
{
    const char *host = api_header(ctx, "Host");
    char own[SRV_MAX_SETTING_BYTES + 16];

    if (ctx->srv->set.public_url[0] && strcasecmp(origin, ctx->srv->set.public_url) == 0)
        return true;
    if (!host)
        return false;
    snprintf(own, sizeof(own), "%s://%s", ctx->is_tls ? "https" : "http", host);
    return strcasecmp(origin, own) == 0;
}

/* CSRF defence for cookie-authenticated calls; sets a 403 reply and returns false on failure. */
static bool csrf_ok(struct api_ctx *ctx)
{
    const char *h = api_header(ctx, "X-ZTNA-CSRF");
    const char *origin = api_header(ctx, "Origin");
    const char *site = api_header(ctx, "Sec-Fetch-Site");

    if (!h || strcmp(h, "1") != 0) {
        api_reply_error(ctx, 403, "CSRF", "missing X-ZTNA-CSRF: 1 header");
        return false;
    }
    if ((origin && !origin_allowed(ctx, origin)) || (site && strcmp(site, "cross-site") == 0)) {
        api_reply_error(ctx, 403, "CSRF", "cross-site request refused");
        return false;
    }
    return true;
}

/* Copies the refresh cookie's value; false if absent or malformed. */
static bool refresh_cookie(struct api_ctx *ctx, char out[static SRV_TOKEN_TEXT_BYTES])
{
    const char *c = api_header(ctx, "Cookie");
    const size_t nl = strlen(REFRESH_COOKIE "=");

    while (c && *c) {
        while (*c == ' ' || *c == ';')
            c++;
        if (strncmp(c, REFRESH_COOKIE "=", nl) == 0) {
            size_t n = strcspn(c + nl, "; ");

            if (n != SRV_TOKEN_TEXT_BYTES - 1)
                return false;
            memcpy(out, c + nl, n);
            out[n] = '\0';
            return true;
        }
        c = strchr(c, ';');
    }
    return false;
}

void api_auth_refresh(struct api_ctx *ctx)
{
    char tok[SRV_TOKEN_TEXT_BYTES];
    struct auth_tokens t = {0};
    struct db_user u = {0};
    int ret;

    if (!csrf_ok(ctx))
        return;
    if (!refresh_cookie(ctx, tok)) {
        api_reply_error(ctx, 401, "UNAUTHORIZED", "no refresh token cookie");
        return;
    }
    ret = auth_session_refresh(ctx->srv, ctx->db, tok, &t);
    sodium_memzero(tok, sizeof(tok));
    if (ret == -EPERM) {
        char id[24];

        ctx->auth.user_id = t.user_id;
        snprintf(id, sizeof(id), "%lld", (long long)t.family_id);
        api_audit(ctx, 0, "auth.refresh.reuse", "session", id, NULL);
        cookie_clear(ctx);
        api_reply_error(ctx, 401, "TOKEN_REUSED",
                        "refresh token was already used; the session has been revoked");
        return;
    }
    if (ret == -ENOENT) {
        cookie_clear(ctx);
        api_reply_error(ctx, 401, "UNAUTHORIZED", "refresh token invalid or expired");
        return;
    }
    if (ret == 0)
        ret = db_user_by_id(ctx->db, t.user_id, &u);
    if (ret < 0) {
        api_reply_errno(ctx, ret, "session");
        return;
    }
    sodium_memzero(u.password_hash, sizeof(u.password_hash));
    session_reply(ctx, 200, &u, &t);
    sodium_memzero(&t, sizeof(t));
}

void api_auth_logout(struct api_ctx *ctx)
{
    char tok[SRV_TOKEN_TEXT_BYTES];
    const char *bearer = api_header(ctx, "Authorization");
    struct auth_ctx a = {0};
    int64_t family = 0;
    int ret = -ENOENT;

    if (refresh_cookie(ctx, tok)) {
        if (!csrf_ok(ctx))
            return;
        ret = auth_refresh_family(ctx->db, tok, &family);
        sodium_memzero(tok, sizeof(tok));
    } else if (bearer && strncasecmp(bearer, "Bearer ", 7) == 0) {
        ret = auth_access_check(ctx->db, bearer + 7, &a);
        family = a.family_id;
        ctx->auth.user_id = a.user_id;
    }
    if (ret == -ENOENT) {
        cookie_clear(ctx);
        api_reply_error(ctx, 401, "UNAUTHORIZED", "no session to log out of");
        return;
    }
    if (ret == 0)
        ret = auth_family_revoke(ctx->db, family);
    if (ret < 0) {
        api_reply_errno(ctx, ret, "session");
        return;
    }
    api_audit(ctx, 0, "auth.logout", "session", NULL, NULL);
    cookie_clear(ctx);
    api_reply_ok(ctx, 200, cJSON_CreateObject());
}

void api_me_get(struct api_ctx *ctx)
{
    struct db_user u;
    cJSON *d, *orgs;
    int ret = db_user_by_id(ctx->db, ctx->auth.user_id, &u);

    if (ret < 0) {
        api_reply_errno(ctx, ret, "user");
        return;
    }
    sodium_memzero(u.password_hash, sizeof(u.password_hash));
    d = db_user_json(&u);
    orgs = db_orgs_of_user(ctx->db, u.id);
    if (!d || !orgs) {
        cJSON_Delete(d);
        cJSON_Delete(orgs);
        api_reply_errno(ctx, -ENOMEM, "user");
        return;
    }
    db_oidc_groups_annotate(ctx->db, u.id, orgs); /* each org's "oidc_groups" (db_oidc.h) */
    cJSON_AddItemToObject(d, "orgs", orgs);
    api_reply_ok(ctx, 200, d);
}
