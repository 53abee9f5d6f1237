/* `ztna login` through the browser, server side (docs/control-protocol.md, "CLI browser login").
 *
 * States of a request: started (POST /api/cli-login/start: the CLI's PKCE challenge and loopback
 * port, cli-login-ttl seconds to live) -> approved (a signed-in user picks an org: a one-time
 * code is minted, only its hash kept, cli-login-code-ttl seconds to live) -> used (the first
 * exchange attempt with the right code spends it, whatever follows) -> a machine registered
 * through the same path as POST /api/register-machine, owned by the approving user. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "common/hex.h"
#include "server/api.h"
#include "server/api_machines.h"
#include "server/api_oidc_util.h"
#include "server/db.h"
#include "server/db_cli_login.h"
#include "server/db_users.h"
#include "server/jose.h"
#include "server/ratelimit.h"
#include "server/validate.h"

struct start_body {
    int64_t port;
    const char *code_challenge, *hostname;
};
static const struct field_spec start_fields[] = {
    {"port", FIELD_INT, true, offsetof(struct start_body, port), 1024, 65535, 0},
    {"code_challenge", FIELD_STRING, true, offsetof(struct start_body, code_challenge),
     CLI_LOGIN_CHALLENGE_LEN, CLI_LOGIN_CHALLENGE_LEN, 0},
    {"hostname", FIELD_STRING, true, offsetof(struct start_body, hostname), 1, MACH_HOSTNAME_MAX, 0},
};
const struct body_spec cli_login_start_body = BODY_SPEC(struct start_body, start_fields);

struct approve_body {
    int64_t org_id;
};
static const struct field_spec approve_fields[] = {
    {"org_id", FIELD_INT, true, offsetof(struct approve_body, org_id), 1, INT64_C(1) << 53, 0},
};
const struct body_spec cli_login_approve_body = BODY_SPEC(struct approve_body, approve_fields);

struct exchange_body {
    const char *request_id, *code, *code_verifier;
    const char *machine_key, *wg_public_key, *hostname, *os, *os_version;
    struct json_strv tags;
};
static const struct field_spec exchange_fields[] = {
    {"request_id", FIELD_STRING, true, offsetof(struct exchange_body, request_id), 1, 64, 0},
    {"code", FIELD_STRING, true, offsetof(struct exchange_body, code), 1, 128, 0},
    /* RFC 7636 §4.1: 43..128 characters of [A-Za-z0-9-._~]. */
    {"code_verifier", FIELD_STRING, true, offsetof(struct exchange_body, code_verifier), 43, 128, 0},
    {"machine_key", FIELD_STRING, true, offsetof(struct exchange_body, machine_key), 44, 64, 0},
    {"wg_public_key", FIELD_STRING, true, offsetof(struct exchange_body, wg_public_key), 44, 64, 0},
    {"hostname", FIELD_STRING, true, offsetof(struct exchange_body, hostname), 1, MACH_HOSTNAME_MAX, 0},
    {"os", FIELD_STRING, false, offsetof(struct exchange_body, os), 0, MACH_OS_MAX, 0},
    {"os_version", FIELD_STRING, false, offsetof(struct exchange_body, os_version), 0, MACH_OS_MAX, 0},
    {"tags", FIELD_STRV, false, offsetof(struct exchange_body, tags), 0, SRV_MAX_STRV, 0},
};
const struct body_spec cli_login_exchange_body = BODY_SPEC(struct exchange_body, exchange_fields);

static bool is_hex(const char *s, size_t len)
{
    return strlen(s) == len && strspn(s, "0123456789abcdef") == len;
}

/* Per-address limit on the two unauthenticated calls (the login limiter's budget). */
static bool rate_ok(struct api_ctx *ctx, const char *what)
{
    const struct server_settings *set = &ctx->srv->set;
    int64_t now = server_now(), retry = 0;
    char key[80];

    snprintf(key, sizeof(key), "cli-%s:%s", what, ctx->source_addr);
    if (ratelimit_blocked(ctx->srv->login_limit, key, set->login_rate_ip, set->login_rate_window,
                          now, &retry)) {
        api_header_add(ctx, "Retry-After", "%lld", (long long)retry);
        api_audit(ctx, 0, "cli_login.rate_limited", "cli_login", NULL, NULL);
        api_reply_error(ctx, 429, "RATE_LIMITED", "too many CLI login requests; retry in %lld s",
                        (long long)retry);
        return false;
    }
    ratelimit_hit(ctx->srv->login_limit, key, set->login_rate_window, now);
    return true;
}

void api_cli_login_start(struct api_ctx *ctx)
{
    const struct start_body *b = ctx->body;
    struct cli_login_row r = {0};
    uint8_t raw[32], id[CLI_LOGIN_ID_BYTES];
    size_t n = 0;
    int ret;

    if (!rate_ok(ctx, "start"))
        return;
    if (!jose_b64url_decode(b->code_challenge, strlen(b->code_challenge), raw, sizeof(raw), &n) ||
        n != 32) {
        api_reply_error(ctx, 400, "INVALID_FIELD",
                        "code_challenge must be base64url(SHA-256(code_verifier)), 43 characters");
        return;
    }
    if (!validate_text(b->hostname)) {
        api_reply_error(ctx, 400, "INVALID_FIELD", "hostname must be plain text");
        return;
    }
    randombytes_buf(id, sizeof(id));
    hex_encode(r.id, id, sizeof(id));
    snprintf(r.code_challenge, sizeof(r.code_challenge), "%s", b->code_challenge);
    snprintf(r.hostname, sizeof(r.hostname), "%s", b->hostname);
    r.port = b->port;
    r.created_at = server_now();
    r.expires_at = r.created_at + ctx->srv->set.cli_login_ttl;
    db_cli_login_prune(ctx->db, r.created_at);
    ret = db_cli_login_insert(ctx->db, &r, ctx->source_addr);
    if (ret < 0) {
        api_reply_errno(ctx, ret, "login request");
        return;
    }
    api_audit(ctx, 0, "cli_login.start", "cli_login", r.id, NULL);
    cJSON *d = cJSON_CreateObject();
    char url[64];
    snprintf(url, sizeof(url), "/#/cli-login?req=%s", r.id);
    cJSON_AddStringToObject(d, "request_id", r.id);
    cJSON_AddStringToObject(d, "url", url);
    cJSON_AddNumberToObject(d, "expires_in", (double)ctx->srv->set.cli_login_ttl);
    api_reply_ok(ctx, 201, d);
}

/* The request named in the path, checked unexpired; false after replying. */
static bool request_load(struct api_ctx *ctx, struct cli_login_row *r)
{
    const char *id = api_param(ctx, "id");
    int ret = id && is_hex(id, 2 * CLI_LOGIN_ID_BYTES) ? db_cli_login_get(ctx->db, id, r) : -ENOENT;

    if (ret < 0) {
        api_reply_errno(ctx, ret, "login request");
        return false;
    }
    if (r->expires_at <= server_now()) {
        api_reply_error(ctx, 410, "EXPIRED", "this CLI login request has expired; run ztna login "
                        "again");
        return false;
    }
    return true;
}

void api_cli_login_get(struct api_ctx *ctx)
{
    struct cli_login_row r;
    int64_t now = server_now();

    if (!request_load(ctx, &r))
        return;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "request_id", r.id);
    cJSON_AddStringToObject(d, "hostname", r.hostname);
    /* Shown on the confirm page: a request the user did not start comes from elsewhere. */
    cJSON_AddStringToObject(d, "source_addr", r.source_addr);
    cJSON_AddNumberToObject(d, "port", (double)r.port);
    cJSON_AddNumberToObject(d, "created_at", (double)r.created_at);
    cJSON_AddNumberToObject(d, "expires_at", (double)r.expires_at);
    cJSON_AddNumberToObject(d, "expires_in", (double)(r.expires_at - now));
    cJSON_AddBoolToObject(d, "approved", r.approved_by != 0);
    api_reply_ok(ctx, 200, d);
}

void api_cli_login_approve(struct api_ctx *ctx)
{
    const struct approve_body *b = ctx->body;
    struct cli_login_row r;
    enum org_role role;
    uint8_t raw[CLI_LOGIN_CODE_BYTES], hash[crypto_hash_sha256_BYTES];
    char code[2 * CLI_LOGIN_CODE_BYTES + 1];
    int64_t now = server_now();
    int ret;

    if (!request_load(ctx, &r))
        return;
    /* Another org's id is "not found", never "forbidden": membership must not leak. */
    ret = db_member_role(ctx->db, b->org_id, ctx->auth.user_id, &role);
    if (ret < 0) {
        api_reply_errno(ctx, ret, "org");
        return;
    }
    randombytes_buf(raw, sizeof(raw));
    hex_encode(code, raw, sizeof(raw));
    crypto_hash_sha256(hash, (const uint8_t *)code, strlen(code));
    ret = db_cli_login_approve(ctx->db, r.id, ctx->auth.user_id, b->org_id, hash,
                               now + ctx->srv->set.cli_login_code_ttl, now);
    if (ret == -EALREADY) {
        api_reply_error(ctx, 409, "CONFLICT", "this CLI login request was already approved");
        goto out;
    }
    if (ret < 0) {
        api_reply_errno(ctx, ret, "login request");
        goto out;
    }
    api_audit(ctx, b->org_id, "cli_login.approve", "cli_login", r.id, NULL);
    cJSON *d = cJSON_CreateObject();
    char url[192];
    snprintf(url, sizeof(url), "http://127.0.0.1:%lld/callback?code=%s&state=%s",
             (long long)r.port, code, r.id);
    cJSON_AddStringToObject(d, "redirect", url);
    cJSON_AddNumberToObject(d, "expires_in", (double)ctx->srv->set.cli_login_code_ttl);
    api_reply_ok(ctx, 200, d);
out:
    sodium_memzero(raw, sizeof(raw));
    sodium_memzero(code, sizeof(code));
}

static void exchange_fail(struct api_ctx *ctx, int64_t org_id, int status, const char *code,
                          const char *why)
{
    char detail[96];

    snprintf(detail, sizeof(detail), "{\"reason\":\"%s\"}", code); /* code: fixed literals */
    api_audit(ctx, org_id, "cli_login.failure", "cli_login", NULL, detail);
    api_reply_error(ctx, status, code, "%s", why);
}

/* Checks the grant (request, code, expiry, verifier) and spends the code; false after replying. */
static bool grant_ok(struct api_ctx *ctx, const struct exchange_body *b, struct cli_login_row *r)
{
    uint8_t hash[crypto_hash_sha256_BYTES];
    char challenge[44];
    int64_t now = server_now();
    int ret;

    ret = is_hex(b->request_id, 2 * CLI_LOGIN_ID_BYTES) ? db_cli_login_get(ctx->db, b->request_id, r)
                                                         : -ENOENT;
    if (ret == -ENOENT) {
        exchange_fail(ctx, 0, 404, "NOT_FOUND", "no such CLI login request");
        return false;
    }
    if (ret < 0) {
        api_reply_errno(ctx, ret, "login request");
        return false;
    }
    if (!r->approved_by || !r->has_code) {
        exchange_fail(ctx, 0, 400, "NOT_APPROVED", "this CLI login request was not approved yet");
        return false;
    }
    crypto_hash_sha256(hash, (const uint8_t *)b->code, strlen(b->code));
    if (sodium_memcmp(hash, r->code_hash, sizeof(hash)) != 0) {
        /* A wrong code does not spend the right one: guessing ids cannot lock the CLI out. */
        exchange_fail(ctx, r->org_id, 400, "INVALID_CODE", "wrong code for this CLI login request");
        return false;
    }
    ret = db_cli_login_spend(ctx->db, r->id, now);
    if (ret == -EALREADY) {
        exchange_fail(ctx, r->org_id, 400, "CODE_USED", "this login code was already used; run "
                      "ztna login again");
        return false;
    }
    if (ret < 0) {
        api_reply_errno(ctx, ret, "login request");
        return false;
    }
    if (r->code_expires_at <= now || r->expires_at <= now) {
        exchange_fail(ctx, r->org_id, 400, "EXPIRED", "this login code has expired; run ztna "
                      "login again");
        return false;
    }
    /* RFC 7636 §4.6: only the CLI that started the request knows the verifier. */
    pkce_s256(b->code_verifier, challenge);
    if (strspn(b->code_verifier, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
               "-._~") != strlen(b->code_verifier) ||
        sodium_memcmp(challenge, r->code_challenge, CLI_LOGIN_CHALLENGE_LEN) != 0) {
        exchange_fail(ctx, r->org_id, 400, "INVALID_VERIFIER",
                      "code_verifier does not match the request's code_challenge");
        return false;
    }
    return true;
}

void api_cli_login_exchange(struct api_ctx *ctx)
{
    const struct exchange_body *b = ctx->body;
    struct cli_login_row r;
    struct db_user u;
    enum org_role role;
    int64_t machine_id;
    int ret;

    if (!rate_ok(ctx, "exchange") || !grant_ok(ctx, b, &r))
        return;
    ret = db_member_role(ctx->db, r.org_id, r.approved_by, &role) ?:
          db_user_by_id(ctx->db, r.approved_by, &u);
    if (ret == -ENOENT) {
        exchange_fail(ctx, r.org_id, 403, "FORBIDDEN", "the approving user is no longer a member "
                      "of the org");
        return;
    }
    if (ret < 0) {
        api_reply_errno(ctx, ret, "login request");
        return;
    }
    sodium_memzero(u.password_hash, sizeof(u.password_hash));
    snprintf(ctx->auth.email, sizeof(ctx->auth.email), "%s", u.email);
    struct machine_register_req req = {b->machine_key, b->wg_public_key, b->hostname, b->os,
                                       b->os_version, &b->tags};
    struct machine_register_via via = {.org_id = r.org_id, .user_id = r.approved_by,
                                       .may_tag = role >= ROLE_ADMIN};
    machine_id = machine_register_reply(ctx, &req, &via);
    if (machine_id > 0) {
        char detail[64];

        db_cli_login_set_machine(ctx->db, r.id, machine_id);
        ctx->auth.user_id = r.approved_by; /* the CLI acted for the approving user */
        snprintf(detail, sizeof(detail), "{\"machine_id\":%lld}", (long long)machine_id);
        api_audit(ctx, r.org_id, "cli_login.exchange", "cli_login", r.id, detail);
    }
}
