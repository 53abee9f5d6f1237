/* GET / PUT / DELETE /api/orgs/{org}/oidc: an org's OIDC single sign-on settings (admin only).
 * The client secret is write-only: replies say only whether one is set. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "server/api.h"
#include "server/api_oidc_util.h"
#include "server/db.h"
#include "server/db_oidc.h"
#include "server/db_users.h"
#include "server/validate.h"

struct oidc_put_body {
    const char *issuer, *client_id, *client_secret, *token_auth, *scopes, *groups_claim;
    struct json_strv allowed_domains;
    bool enabled;
};
static const struct field_spec oidc_put_fields[] = {
    {"issuer", FIELD_STRING, true, offsetof(struct oidc_put_body, issuer), 8, OIDC_MAX_URL - 1, 0},
    {"client_id", FIELD_STRING, true, offsetof(struct oidc_put_body, client_id), 1,
     OIDC_MAX_CLIENT_ID, 0},
    {"client_secret", FIELD_STRING, false, offsetof(struct oidc_put_body, client_secret), 0,
     OIDC_MAX_SECRET, 0},
    {"token_auth", FIELD_STRING, false, offsetof(struct oidc_put_body, token_auth), 1, 32, 0},
    {"scopes", FIELD_STRING, false, offsetof(struct oidc_put_body, scopes), 6, OIDC_MAX_SCOPES, 0},
    {"groups_claim", FIELD_STRING, false, offsetof(struct oidc_put_body, groups_claim), 0,
     OIDC_MAX_CLAIM_NAME, 0},
    {"allowed_domains", FIELD_STRV, false, offsetof(struct oidc_put_body, allowed_domains), 0,
     OIDC_MAX_DOMAINS, 0},
    {"enabled", FIELD_BOOL, false, offsetof(struct oidc_put_body, enabled), 0, 1, 1},
};
const struct body_spec oidc_put_body = BODY_SPEC(struct oidc_put_body, oidc_put_fields);

/* Comma-separated domains of the server config into a JSON array text. */
static void domains_from_csv(const char *csv, char *out, size_t size)
{
    cJSON *arr = cJSON_CreateArray();
    char buf[SRV_MAX_SETTING_BYTES], *save = NULL, *tok, *text;

    snprintf(buf, sizeof(buf), "%s", csv);
    for (tok = strtok_r(buf, ", ", &save); arr && tok; tok = strtok_r(NULL, ", ", &save))
        cJSON_AddItemToArray(arr, cJSON_CreateString(tok));
    text = arr ? cJSON_PrintUnformatted(arr) : NULL;
    snprintf(out, size, "%s", text && strlen(text) < size ? text : "[]");
    cJSON_free(text);
    cJSON_Delete(arr);
}

int oidc_config_resolve(struct api_ctx *ctx, int64_t org_id, struct oidc_config *out)
{
    const struct server_settings *set = &ctx->srv->set;
    struct db_org org;
    int ret = db_oidc_config_get(ctx->db, org_id, out);

    if (ret != -ENOENT)
        return ret;
    if (!set->oidc_org[0] || !set->oidc_issuer[0])
        return -ENOENT;
    ret = db_org_get(ctx->db, org_id, &org);
    if (ret < 0)
        return ret;
    if (strcmp(org.slug, set->oidc_org) != 0)
        return -ENOENT;
    memset(out, 0, sizeof(*out));
    out->org_id = org_id;
    snprintf(out->issuer, sizeof(out->issuer), "%s", set->oidc_issuer);
    snprintf(out->client_id, sizeof(out->client_id), "%.*s", OIDC_MAX_CLIENT_ID, set->oidc_client_id);
    snprintf(out->client_secret, sizeof(out->client_secret), "%s", set->oidc_client_secret);
    out->secret_post = strcmp(set->oidc_token_auth, "client_secret_post") == 0;
    snprintf(out->scopes, sizeof(out->scopes), "%.*s", OIDC_MAX_SCOPES, set->oidc_scopes);
    domains_from_csv(set->oidc_allowed_domains, out->allowed_domains, sizeof(out->allowed_domains));
    snprintf(out->groups_claim, sizeof(out->groups_claim), "%s", set->oidc_groups_claim);
    out->enabled = true;
    out->source = "server-config";
    return 0;
}

static cJSON *config_json(struct api_ctx *ctx, const struct oidc_config *c, bool configured)
{
    cJSON *o = cJSON_CreateObject();
    char base[SRV_MAX_SETTING_BYTES + 16], uri[SRV_MAX_SETTING_BYTES + 64];
    struct db_org org;

    if (!o)
        return NULL;
    cJSON_AddBoolToObject(o, "configured", configured);
    if (api_base_url(ctx, base, sizeof(base))) {
        snprintf(uri, sizeof(uri), "%s/api/auth/oidc/callback", base);
        cJSON_AddStringToObject(o, "redirect_uri", uri);
    }
    if (db_org_get(ctx->db, ctx->auth.org_id, &org) == 0) {
        snprintf(uri, sizeof(uri), "/api/auth/oidc/start?org=%s", org.slug);
        cJSON_AddStringToObject(o, "login_url", uri);
    }
    if (!configured)
        return o;
    cJSON_AddStringToObject(o, "source", c->source);
    cJSON_AddStringToObject(o, "issuer", c->issuer);
    cJSON_AddStringToObject(o, "client_id", c->client_id);
    cJSON_AddBoolToObject(o, "client_secret_set", c->client_secret[0] != '\0');
    cJSON_AddStringToObject(o, "token_auth",
                            c->secret_post ? "client_secret_post" : "client_secret_basic");
    cJSON_AddStringToObject(o, "scopes", c->scopes);
    cJSON *d = cJSON_Parse(c->allowed_domains);
    cJSON_AddItemToObject(o, "allowed_domains", cJSON_IsArray(d) ? d : cJSON_CreateArray());
    if (!cJSON_IsArray(d))
        cJSON_Delete(d);
    cJSON_AddStringToObject(o, "groups_claim", c->groups_claim);
    cJSON_AddBoolToObject(o, "enabled", c->enabled);
    if (c->updated_at)
        cJSON_AddNumberToObject(o, "updated_at", (double)c->updated_at);
    return o;
}

void api_oidc_config_get(struct api_ctx *ctx)
{
    struct oidc_config c;
    int ret = oidc_config_resolve(ctx, ctx->auth.org_id, &c);
    cJSON *d;

    if (ret < 0 && ret != -ENOENT) {
        api_reply_errno(ctx, ret, "OIDC settings");
        return;
    }
    d = config_json(ctx, &c, ret == 0);
    sodium_memzero(c.client_secret, sizeof(c.client_secret));
    if (!d) {
        api_reply_errno(ctx, -ENOMEM, "OIDC settings");
        return;
    }
    api_reply_ok(ctx, 200, d);
}

static bool scopes_valid(const char *s)
{
    bool openid = false;

    for (const char *p = s; *p;) {
        size_t n = strcspn(p, " ");

        for (size_t i = 0; i < n; i++) {
            if (p[i] < 0x21 || p[i] > 0x7e || p[i] == '"' || p[i] == '\\')
                return false;
        }
        openid |= n == 6 && strncmp(p, "openid", 6) == 0;
        p += n;
        p += strspn(p, " ");
    }
    return openid;
}

static bool chars_in(const char *s, const char *extra)
{
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr(extra, *s)))
            return false;
    }
    return true;
}

/* The request's allowed_domains, lower-cased, as JSON text; false names the bad one. */
static bool domains_json(const struct json_strv *v, char *out, size_t size, const char **bad)
{
    cJSON *arr = cJSON_CreateArray();
    char *text;
    bool ok = arr != NULL;

    for (size_t i = 0; ok && i < v->n; i++) {
        char d[SRV_MAX_NAME_BYTES + 1];

        snprintf(d, sizeof(d), "%s", v->v[i]);
        for (char *p = d; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        if (!chars_in(d, ".-") || !strchr(d, '.') || d[0] == '.' || d[0] == '-') {
            *bad = v->v[i];
            ok = false;
        } else {
            cJSON_AddItemToArray(arr, cJSON_CreateString(d));
        }
    }
    text = ok ? cJSON_PrintUnformatted(arr) : NULL;
    ok = text && strlen(text) < size;
    if (ok)
        strcpy(out, text);
    cJSON_free(text);
    cJSON_Delete(arr);
    return ok;
}

void api_oidc_config_put(struct api_ctx *ctx)
{
    const struct oidc_put_body *b = ctx->body;
    struct oidc_config old, c = {0};
    const char *bad = "";
    char detail[OIDC_MAX_URL + 64];
    int ret;

    if (!oidc_url_allowed(b->issuer)) {
        api_reply_error(ctx, 400, "INVALID_FIELD", "issuer must be an https:// URL (http:// only "
                        "on a loopback address) without user, fragment or spaces");
        return;
    }
    if (!validate_text(b->client_id)) {
        api_reply_error(ctx, 400, "INVALID_FIELD", "client_id must be printable text");
        return;
    }
    if (b->token_auth && strcmp(b->token_auth, "client_secret_basic") != 0 &&
        strcmp(b->token_auth, "client_secret_post") != 0) {
        api_reply_error(ctx, 400, "INVALID_FIELD",
                        "token_auth must be client_secret_basic or client_secret_post");
        return;
    }
    if (b->scopes && !scopes_valid(b->scopes)) {
        api_reply_error(ctx, 400, "INVALID_FIELD",
                        "scopes must be space-separated printable words including openid");
        return;
    }
    if (b->groups_claim && !chars_in(b->groups_claim, "_-.:/")) {
        api_reply_error(ctx, 400, "INVALID_FIELD",
                        "groups_claim must be a claim name of letters, digits and _-.:/");
        return;
    }
    if (!domains_json(&b->allowed_domains, c.allowed_domains, sizeof(c.allowed_domains), &bad)) {
        api_reply_error(ctx, 400, "INVALID_FIELD",
                        "allowed_domains: \"%.64s\" is not a domain name", bad);
        return;
    }
    ret = db_oidc_config_get(ctx->db, ctx->auth.org_id, &old);
    if (ret < 0 && ret != -ENOENT) {
        api_reply_errno(ctx, ret, "OIDC settings");
        return;
    }
    c.org_id = ctx->auth.org_id;
    snprintf(c.issuer, sizeof(c.issuer), "%s", b->issuer);
    snprintf(c.client_id, sizeof(c.client_id), "%s", b->client_id);
    /* Absent secret: keep the stored one, so the settings page can save without re-typing it. */
    snprintf(c.client_secret, sizeof(c.client_secret), "%s",
             b->client_secret ? b->client_secret : ret == 0 ? old.client_secret : "");
    c.secret_post = b->token_auth ? strcmp(b->token_auth, "client_secret_post") == 0
                                  : ret == 0 && old.secret_post;
    snprintf(c.scopes, sizeof(c.scopes), "%s", b->scopes ? b->scopes : "openid email profile");
    snprintf(c.groups_claim, sizeof(c.groups_claim), "%s", b->groups_claim ? b->groups_claim : "groups");
    c.enabled = b->enabled;
    c.updated_at = server_now();
    c.source = "org";
    ret = db_oidc_config_put(ctx->db, &c);
    sodium_memzero(old.client_secret, sizeof(old.client_secret));
    if (ret < 0) {
        sodium_memzero(c.client_secret, sizeof(c.client_secret));
        api_reply_errno(ctx, ret, "OIDC settings");
        return;
    }
    {
        cJSON *dj = cJSON_CreateObject();
        char *t;

        cJSON_AddStringToObject(dj, "issuer", c.issuer);
        cJSON_AddStringToObject(dj, "client_id", c.client_id);
        cJSON_AddBoolToObject(dj, "secret_changed", b->client_secret != NULL);
        cJSON_AddBoolToObject(dj, "enabled", c.enabled);
        t = dj ? cJSON_PrintUnformatted(dj) : NULL;
        snprintf(detail, sizeof(detail), "%s", t && strlen(t) < sizeof(detail) ? t : "{}");
        cJSON_free(t);
        cJSON_Delete(dj);
    }
    api_audit(ctx, ctx->auth.org_id, "oidc.config.update", "org", NULL, detail);
    cJSON *d = config_json(ctx, &c, true);
    sodium_memzero(c.client_secret, sizeof(c.client_secret));
    if (!d) {
        api_reply_errno(ctx, -ENOMEM, "OIDC settings");
        return;
    }
    api_reply_ok(ctx, 200, d);
}

void api_oidc_config_delete(struct api_ctx *ctx)
{
    int ret = db_oidc_config_delete(ctx->db, ctx->auth.org_id);

    if (ret < 0) {
        api_reply_errno(ctx, ret, "OIDC settings");
        return;
    }
    api_audit(ctx, ctx->auth.org_id, "oidc.config.delete", "org", NULL, NULL);
    api_reply_ok(ctx, 200, cJSON_CreateObject());
}
