/* The browser side of OIDC single sign-on: GET /api/auth/oidc/start and /callback.
 *
 * start:    org slug -> config -> discovery -> fresh state, nonce, PKCE verifier (state kept
 *           hashed, oidc-login-ttl seconds, single use; the state also goes into the
 *           __Host-ztna_oidc_state cookie so that only the browser that started a login can
 *           finish it) -> 302 to the provider's authorization endpoint.
 * callback: state cookie == state -> take the state row (deleted: a replay finds nothing) ->
 *           code exchange -> ID token signature (JWKS) and claims -> e-mail domain -> user
 *           (linked by (iss, sub), else by verified e-mail, else created as a member) ->
 *           groups stored -> session exactly like the password login -> 302 /#/login?sso=1.
 *
 * A browser (Accept: text/html) gets every failure as a 302 to /#/login?error=CODE&message=...;
 * an API caller gets the 4xx envelope with the same CODE upper-cased. Every outcome is audited. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "common/log.h"
#include "server/api.h"
#include "server/api_oidc_util.h"
#include "server/auth.h"
#include "server/db.h"
#include "server/db_oidc.h"
#include "server/db_users.h"
#include "server/jose.h"
#include "server/oidc.h"
#include "server/oidc_claims.h"
#include "server/policy_rt.h"
#include "server/ratelimit.h"
#include "server/realtime.h"
#include "server/validate.h"

#define STATE_COOKIE "__Host-ztna_oidc_state"
#define B64_SECRET   44 /* base64url of OIDC_SECRET_BYTES, with the NUL */
#define OIDC_MAX_CODE_BYTES 4096 /* authorization codes of some providers run past 1 KiB */

/* Ends a login that failed: audit, then a redirect for browsers or an envelope for APIs. */
static void login_fail(struct api_ctx *ctx, int64_t org_id, int status, const char *code,
                       const char *why)
{
    char detail[160], upper[48], loc[SRV_MAX_HEADER_BYTES] = "/#/login";
    size_t i;

    snprintf(detail, sizeof(detail), "{\"reason\":\"%s\"}", code); /* code: fixed literals */
    api_audit(ctx, org_id, "oidc.login.failure", "org", NULL, detail);
    log_info("oidc", "login failed (%s): %s", code, why);
    for (i = 0; code[i] && i + 1 < sizeof(upper); i++)
        upper[i] = (char)(code[i] >= 'a' && code[i] <= 'z' ? code[i] - 32 : code[i]);
    upper[i] = '\0';
    if (!api_wants_html(ctx)) {
        api_reply_error(ctx, status, upper, "%s", why);
        return;
    }
    url_param_append(loc, sizeof(loc), '?', "error", code);
    if (!url_param_append(loc, sizeof(loc), '&', "message", why))
        snprintf(loc, sizeof(loc), "/#/login?error=%s", code);
    api_header_add(ctx, "Location", "%s", loc);
    api_reply_error(ctx, 302, upper, "%s", why);
}

static bool redirect_uri(struct api_ctx *ctx, char *out, size_t size)
{
    char base[SRV_MAX_SETTING_BYTES + 16];

    return api_base_url(ctx, base, sizeof(base)) &&
           snprintf(out, size, "%s/api/auth/oidc/callback", base) < (int)size;
}

/* Each start writes a state row and an audit row: limit them per address (login budget). */
static bool start_rate_ok(struct api_ctx *ctx)
{
    const struct server_settings *set = &ctx->srv->set;
    int64_t now = server_now(), retry = 0;
    char key[80];

    snprintf(key, sizeof(key), "oidc:%s", ctx->source_addr);
    if (ratelimit_blocked(ctx->srv->login_limit, key, set->login_rate_ip, set->login_rate_window,
                          now, &retry)) {
        api_header_add(ctx, "Retry-After", "%lld", (long long)retry);
        login_fail(ctx, 0, 429, "rate_limited", "too many sign-in attempts from this address; "
                   "wait a minute");
        return false;
    }
    ratelimit_hit(ctx->srv->login_limit, key, set->login_rate_window, now);
    return true;
}

void api_oidc_start(struct api_ctx *ctx)
{
    char slug[SRV_MAX_SLUG_BYTES + 1], why[256], uri[SRV_MAX_SETTING_BYTES + 64];
    char state[B64_SECRET], challenge[44], url[OIDC_MAX_URL * 2];
    struct oidc_login_state ls = {0};
    struct oidc_endpoints ep;
    struct oidc_config *c = calloc(1, sizeof(*c));
    uint8_t hash[crypto_hash_sha256_BYTES];
    int64_t org_id = 0, now = server_now();
    int ret;

    if (!c) {
        api_reply_errno(ctx, -ENOMEM, "OIDC login");
        return;
    }
    if (!start_rate_ok(ctx))
        goto out;
    if (!api_query_get(ctx, "org", slug, sizeof(slug)) || !validate_slug(slug)) {
        login_fail(ctx, 0, 400, "invalid_request", "say which organisation to sign in to (org=slug)");
        goto out;
    }
    ret = db_oidc_org_by_slug(ctx->db, slug, &org_id);
    if (ret == 0)
        ret = oidc_config_resolve(ctx, org_id, c);
    if (ret == -ENOENT || (ret == 0 && !c->enabled)) {
        login_fail(ctx, org_id, 404, "sso_not_configured",
                   "single sign-on is not set up for this organisation");
        goto out;
    }
    if (ret < 0) {
        api_reply_errno(ctx, ret, "OIDC settings");
        goto out;
    }
    if (!redirect_uri(ctx, uri, sizeof(uri))) {
        login_fail(ctx, org_id, 400, "invalid_request", "cannot tell our own URL: set public-url");
        goto out;
    }
    ret = oidc_discover(ctx->srv, c->issuer, &ep, why, sizeof(why));
    if (ret < 0) {
        login_fail(ctx, org_id, 502, "provider_unreachable", why);
        goto out;
    }
    random_b64url(OIDC_SECRET_BYTES, state);
    random_b64url(OIDC_SECRET_BYTES, ls.nonce);
    random_b64url(OIDC_SECRET_BYTES, ls.verifier);
    pkce_s256(ls.verifier, challenge);
    snprintf(url, sizeof(url), "%s", ep.authorization);
    if (!url_param_append(url, sizeof(url), strchr(url, '?') ? '&' : '?', "response_type", "code") ||
        !url_param_append(url, sizeof(url), '&', "client_id", c->client_id) ||
        !url_param_append(url, sizeof(url), '&', "redirect_uri", uri) ||
        !url_param_append(url, sizeof(url), '&', "scope", c->scopes) ||
        !url_param_append(url, sizeof(url), '&', "state", state) ||
        !url_param_append(url, sizeof(url), '&', "nonce", ls.nonce) ||
        !url_param_append(url, sizeof(url), '&', "code_challenge", challenge) ||
        !url_param_append(url, sizeof(url), '&', "code_challenge_method", "S256") ||
        strlen(url) >= SRV_MAX_HEADER_BYTES) {
        login_fail(ctx, org_id, 500, "invalid_request",
                   "the authorization URL is too long (issuer, client id or scopes)");
        goto out;
    }
    crypto_hash_sha256(hash, (const uint8_t *)state, strlen(state));
    ls.org_id = org_id;
    ls.expires_at = now + ctx->srv->set.oidc_login_ttl;
    ret = db_oidc_state_insert(ctx->db, hash, &ls, now);
    if (ret < 0) {
        api_reply_errno(ctx, ret, "OIDC login");
        goto out;
    }
    api_audit(ctx, org_id, "oidc.login.start", "org", NULL, NULL);
    /* SameSite=Lax: the provider brings the browser back with a top-level GET. */
    api_header_add(ctx, "Set-Cookie", STATE_COOKIE "=%s; HttpOnly; Secure; SameSite=Lax; Path=/; "
                   "Max-Age=%lld", state, (long long)ctx->srv->set.oidc_login_ttl);
    api_header_add(ctx, "Location", "%s", url);
    /* The envelope of a redirect is an "error" with code REDIRECT (api.c renders 2xx only as
     * success); browsers follow Location and never show it. */
    api_reply_error(ctx, 302, "REDIRECT", "continue at the identity provider (Location)");
out:
    sodium_memzero(&ls, sizeof(ls));
    sodium_memzero(c, sizeof(*c));
    free(c);
}

/* Everything the callback carries between its steps (heap: the identity is ~9 KiB). */
struct callback {
    struct oidc_config cfg;
    struct oidc_endpoints ep;
    struct oidc_login_state ls;
    struct oidc_identity id;
    struct jose_jws jws;
    char *id_token;
    char why[256];
    bool joined; /* this login made the user a member of the org */
};

/* Finds or creates the user and their membership, stores groups; one transaction. */
static int account_link(struct api_ctx *ctx, struct callback *cb, int64_t *user_id, bool *created,
                        const char **code, const char **why)
{
    struct db_user u;
    enum org_role role;
    int64_t org_id = cb->ls.org_id, now = server_now();
    int ret = db_begin(ctx->db);

    *created = false;
    if (ret < 0)
        return ret;
    ret = db_oidc_identity_find(ctx->db, cb->cfg.issuer, cb->id.sub, user_id);
    if (ret == -ENOENT) {
        ret = db_user_by_email(ctx->db, cb->id.email, &u);
        sodium_memzero(u.password_hash, sizeof(u.password_hash));
        if (ret == 0 && cb->id.email_verified != 1) {
            /* Linking on an unverified address would hand an account to whoever typed it. */
            *code = "email_unverified";
            *why = "an account with this e-mail exists, and the identity provider did not confirm "
                   "that the address is yours (email_verified)";
            ret = -EACCES;
        } else if (ret == 0) {
            *user_id = u.id;
        } else if (ret == -ENOENT) {
            ret = db_user_insert(ctx->db, cb->id.email, cb->id.name, NULL, user_id);
            *created = ret == 0;
        }
    }
    if (ret == 0) {
        ret = db_member_role(ctx->db, org_id, *user_id, &role);
        if (ret == -ENOENT) {
            ret = db_member_insert(ctx->db, org_id, *user_id, ROLE_MEMBER);
            cb->joined = ret == 0;
        }
    }
    if (ret == 0)
        ret = db_oidc_groups_set(ctx->db, org_id, *user_id, &cb->id, now) ?:
              db_oidc_identity_upsert(ctx->db, cb->cfg.issuer, cb->id.sub, *user_id, cb->id.email,
                                      now) ?:
              db_commit(ctx->db);
    if (ret < 0)
        db_rollback(ctx->db);
    return ret;
}

/* Steps from the state to a verified identity; false after replying. */
static bool identity_get(struct api_ctx *ctx, struct callback *cb, const char *state,
                         const char *code_param)
{
    char uri[SRV_MAX_SETTING_BYTES + 64];
    uint8_t hash[crypto_hash_sha256_BYTES];
    const char *code = NULL, *why = NULL;
    struct oidc_client client;
    struct oidc_expect e;
    int64_t org = cb->ls.org_id;
    int ret;

    crypto_hash_sha256(hash, (const uint8_t *)state, strlen(state));
    ret = db_oidc_state_take(ctx->db, hash, server_now(), &cb->ls);
    org = cb->ls.org_id;
    if (ret == -ENOENT) {
        login_fail(ctx, 0, 400, "state_invalid",
                   "this sign-in attempt is unknown or was already used; start again");
        return false;
    }
    if (ret < 0) {
        api_reply_errno(ctx, ret, "OIDC login");
        return false;
    }
    if (cb->ls.expires_at <= server_now()) {
        login_fail(ctx, org, 400, "login_expired",
                   "this sign-in attempt took too long; start again");
        return false;
    }
    ret = oidc_config_resolve(ctx, org, &cb->cfg);
    if (ret < 0 || !cb->cfg.enabled) {
        login_fail(ctx, org, 404, "sso_not_configured",
                   "single sign-on is no longer set up for this organisation");
        return false;
    }
    if (!redirect_uri(ctx, uri, sizeof(uri))) {
        login_fail(ctx, org, 400, "invalid_request", "cannot tell our own URL: set public-url");
        return false;
    }
    ret = oidc_discover(ctx->srv, cb->cfg.issuer, &cb->ep, cb->why, sizeof(cb->why));
    if (ret < 0) {
        login_fail(ctx, org, 502, "provider_unreachable", cb->why);
        return false;
    }
    client = (struct oidc_client){cb->cfg.client_id, cb->cfg.client_secret, cb->cfg.secret_post};
    ret = oidc_token_exchange(ctx->srv, &cb->ep, &client, code_param, cb->ls.verifier, uri,
                              &cb->id_token, cb->why, sizeof(cb->why));
    if (ret < 0) {
        login_fail(ctx, org, 502, ret == -EPROTO ? "provider_refused" : "provider_unreachable",
                   cb->why);
        return false;
    }
    ret = jose_jws_parse(cb->id_token, strlen(cb->id_token), &cb->jws, &why);
    if (ret < 0) {
        login_fail(ctx, org, 502, "invalid_token", why);
        return false;
    }
    ret = oidc_jws_verify(ctx->srv, &cb->ep, &cb->jws);
    if (ret == -ENOKEY) {
        login_fail(ctx, org, 401, "unknown_key", "the ID token is signed with a key the identity "
                   "provider does not publish (unknown kid)");
        return false;
    }
    if (ret == -EBADMSG) {
        login_fail(ctx, org, 401, "bad_signature", "the ID token's signature is not valid");
        return false;
    }
    if (ret < 0) {
        login_fail(ctx, org, 502, "provider_unreachable",
                   "cannot fetch the identity provider's signing keys (JWKS)");
        return false;
    }
    e = (struct oidc_expect){cb->cfg.issuer, cb->cfg.client_id, cb->ls.nonce,
                             cb->cfg.groups_claim, server_now(), OIDC_CLOCK_SKEW};
    if (oidc_claims_check(cb->jws.payload, &e, &cb->id, &code, &why) < 0) {
        login_fail(ctx, org, 401, code, why);
        return false;
    }
    return true;
}

/* Checks the e-mail against the org's rules; false after replying. */
static bool email_allowed(struct api_ctx *ctx, struct callback *cb)
{
    int64_t org = cb->ls.org_id;
    cJSON *domains;
    bool ok;

    if (!cb->id.email[0] || !validate_email(cb->id.email)) {
        login_fail(ctx, org, 403, "email_missing", "the identity provider sent no usable e-mail "
                   "address (ask for the email scope)");
        return false;
    }
    if (cb->id.email_verified == 0) {
        login_fail(ctx, org, 403, "email_unverified",
                   "the identity provider says this e-mail address is not verified");
        return false;
    }
    domains = cJSON_Parse(cb->cfg.allowed_domains);
    ok = oidc_email_domain_allowed(cb->id.email, domains);
    cJSON_Delete(domains);
    if (!ok) {
        login_fail(ctx, org, 403, "domain_not_allowed",
                   "accounts of this e-mail domain may not sign in to this organisation");
        return false;
    }
    return true;
}

void api_oidc_callback(struct api_ctx *ctx)
{
    char state[B64_SECRET + 1], cookie[B64_SECRET + 1], code[OIDC_MAX_CODE_BYTES], err[64], uid[24];
    struct callback *cb = calloc(1, sizeof(*cb));
    const char *fcode = NULL, *fwhy = NULL;
    struct auth_tokens t = {0};
    struct db_user u;
    int64_t user_id = 0;
    bool created = false;
    int ret;

    if (!cb) {
        api_reply_errno(ctx, -ENOMEM, "OIDC login");
        return;
    }
    /* Clear the state cookie whatever happens: one attempt per start. */
    api_header_add(ctx, "Set-Cookie", STATE_COOKIE "=; HttpOnly; Secure; SameSite=Lax; Path=/; "
                   "Max-Age=0");
    if (api_query_get(ctx, "error", err, sizeof(err))) {
        /* RFC 6749 §4.1.2.1: the provider refused (user cancelled, consent denied, ...). */
        if (api_query_get(ctx, "state", state, sizeof(state))) {
            uint8_t hash[crypto_hash_sha256_BYTES];

            crypto_hash_sha256(hash, (const uint8_t *)state, strlen(state));
            db_oidc_state_take(ctx->db, hash, server_now(), &cb->ls);
        }
        login_fail(ctx, cb->ls.org_id, 401, strcmp(err, "access_denied") == 0 ? "access_denied"
                   : "provider_refused", "the identity provider did not sign you in");
        goto out;
    }
    if (!api_query_get(ctx, "state", state, sizeof(state)) ||
        !api_query_get(ctx, "code", code, sizeof(code)) || !code[0]) {
        login_fail(ctx, 0, 400, "invalid_request", "the sign-in reply lacks code or state");
        goto out;
    }
    if (!api_cookie_get(ctx, STATE_COOKIE, cookie, sizeof(cookie)) ||
        strlen(cookie) != strlen(state) || sodium_memcmp(cookie, state, strlen(state)) != 0) {
        login_fail(ctx, 0, 400, "state_mismatch", "this sign-in was started in another browser "
                   "or tab, or its cookie is missing; start again");
        goto out;
    }
    if (!identity_get(ctx, cb, state, code) || !email_allowed(ctx, cb))
        goto out;
    ret = account_link(ctx, cb, &user_id, &created, &fcode, &fwhy);
    if (ret == -EACCES) {
        login_fail(ctx, cb->ls.org_id, 403, fcode, fwhy);
        goto out;
    }
    if (ret == 0) /* groups replaced: the policy's group:oidc:<name> members follow */
        policy_rt_user_changed(ctx->srv, cb->ls.org_id, user_id);
    if (ret == 0 && cb->joined) /* the users page of the org's open dashboards */
        realtime_member_changed(ctx->srv, ctx->db, cb->ls.org_id, user_id, "joined");
    ret = ret ?: db_user_by_id(ctx->db, user_id, &u) ?:
          auth_session_create(ctx->srv, ctx->db, user_id, &t);
    if (ret < 0) {
        api_reply_errno(ctx, ret, "OIDC login");
        goto out;
    }
    sodium_memzero(u.password_hash, sizeof(u.password_hash));
    ctx->auth.user_id = user_id;
    snprintf(ctx->auth.email, sizeof(ctx->auth.email), "%s", u.email);
    snprintf(uid, sizeof(uid), "%lld", (long long)user_id);
    if (created)
        api_audit(ctx, cb->ls.org_id, "user.create", "user", uid, "{\"via\":\"oidc\"}");
    {
        char detail[96];

        snprintf(detail, sizeof(detail), "{\"groups\":%zu,\"created\":%s}", cb->id.ngroups,
                 created ? "true" : "false");
        api_audit(ctx, cb->ls.org_id, "oidc.login.success", "user", uid, detail);
    }
    api_refresh_cookie_set(ctx, t.refresh);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "redirect", "/#/login?sso=1");
    cJSON_AddItemToObject(d, "user", db_user_json(&u));
    cJSON_AddBoolToObject(d, "created", created);
    if (api_wants_html(ctx)) {
        cJSON_Delete(d);
        api_header_add(ctx, "Location", "/#/login?sso=1");
        api_reply_error(ctx, 302, "REDIRECT", "signed in; continue at /#/login?sso=1");
    } else {
        api_reply_ok(ctx, 200, d);
    }
out:
    sodium_memzero(&t, sizeof(t));
    jose_jws_free(&cb->jws);
    if (cb->id_token)
        sodium_memzero(cb->id_token, strlen(cb->id_token));
    free(cb->id_token);
    sodium_memzero(cb, sizeof(*cb));
    free(cb);
}
