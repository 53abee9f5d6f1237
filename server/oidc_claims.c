/* ID token claim checks (see oidc_claims.h). */
#include "server/oidc_claims.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <strings.h>
#include <sodium.h>

static bool time_claim(const cJSON *claims, const char *name, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(claims, name);

    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble > 1e13)
        return false;
    *out = (int64_t)v->valuedouble;
    return true;
}

/* aud is a string or an array of strings (§2); with several audiences azp must name us. */
static bool audience_ok(const cJSON *claims, const char *client_id)
{
    const cJSON *aud = cJSON_GetObjectItemCaseSensitive(claims, "aud");
    const cJSON *azp = cJSON_GetObjectItemCaseSensitive(claims, "azp");
    const cJSON *a;
    bool found = false;
    int n = 0;

    if (azp && (!cJSON_IsString(azp) || strcmp(azp->valuestring, client_id) != 0))
        return false;
    if (cJSON_IsString(aud))
        return strcmp(aud->valuestring, client_id) == 0;
    if (!cJSON_IsArray(aud))
        return false;
    cJSON_ArrayForEach(a, aud)
    {
        if (!cJSON_IsString(a))
            return false;
        n++;
        found |= strcmp(a->valuestring, client_id) == 0;
    }
    return found && (n == 1 || azp);
}

static bool text_ok(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    }
    return true;
}

static void add_group(struct oidc_identity *out, const cJSON *g)
{
    if (!cJSON_IsString(g) || !text_ok(g->valuestring, OIDC_MAX_GROUP_BYTES) ||
        out->ngroups == OIDC_MAX_GROUPS)
        return;
    for (size_t i = 0; i < out->ngroups; i++) {
        if (strcmp(out->groups[i], g->valuestring) == 0)
            return;
    }
    strcpy(out->groups[out->ngroups++], g->valuestring);
}

static void groups_read(const cJSON *claims, const char *name, struct oidc_identity *out)
{
    const cJSON *v = name && *name ? cJSON_GetObjectItemCaseSensitive(claims, name) : NULL;
    const cJSON *g;

    if (cJSON_IsString(v)) {
        add_group(out, v);
        return;
    }
    if (!cJSON_IsArray(v))
        return;
    cJSON_ArrayForEach(g, v)
        add_group(out, g);
}

static int fail(const char **code, const char **why, const char *c, const char *w)
{
    *code = c;
    *why = w;
    return -EINVAL;
}

int oidc_claims_check(const cJSON *claims, const struct oidc_expect *e, struct oidc_identity *out,
                      const char **code, const char **why)
{
    const cJSON *iss = cJSON_GetObjectItemCaseSensitive(claims, "iss");
    const cJSON *sub = cJSON_GetObjectItemCaseSensitive(claims, "sub");
    const cJSON *nonce = cJSON_GetObjectItemCaseSensitive(claims, "nonce");
    const cJSON *email = cJSON_GetObjectItemCaseSensitive(claims, "email");
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(claims, "email_verified");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(claims, "name");
    int64_t exp, iat, nbf;

    memset(out, 0, sizeof(*out));
    out->email_verified = -1;
    if (!cJSON_IsObject(claims))
        return fail(code, why, "invalid_token", "the ID token's claims are not a JSON object");
    if (!cJSON_IsString(iss) || strcmp(iss->valuestring, e->issuer) != 0)
        return fail(code, why, "invalid_issuer",
                    "the ID token was issued by another issuer than the one configured");
    if (!audience_ok(claims, e->client_id))
        return fail(code, why, "invalid_audience",
                    "the ID token is meant for another client (aud/azp)");
    if (!time_claim(claims, "exp", &exp) || !time_claim(claims, "iat", &iat))
        return fail(code, why, "invalid_token", "the ID token lacks a valid exp or iat");
    if (e->now >= exp + e->skew)
        return fail(code, why, "token_expired", "the ID token has expired; sign in again");
    if (iat > e->now + e->skew ||
        (cJSON_GetObjectItemCaseSensitive(claims, "nbf") &&
         (!time_claim(claims, "nbf", &nbf) || nbf > e->now + e->skew)))
        return fail(code, why, "token_not_yet_valid",
                    "the ID token is not valid yet (check the clocks)");
    /* §3.1.2.1: nonce binds the token to this browser login; compare without timing leaks. */
    if (!cJSON_IsString(nonce) || strlen(nonce->valuestring) != strlen(e->nonce) ||
        sodium_memcmp(nonce->valuestring, e->nonce, strlen(e->nonce)) != 0)
        return fail(code, why, "nonce_mismatch",
                    "the ID token does not belong to this login (nonce mismatch)");
    if (!cJSON_IsString(sub) || !text_ok(sub->valuestring, OIDC_MAX_SUB_BYTES))
        return fail(code, why, "invalid_token", "the ID token has no valid subject (sub)");
    strcpy(out->sub, sub->valuestring);
    if (cJSON_IsString(email) && strlen(email->valuestring) <= SRV_MAX_EMAIL_BYTES)
        strcpy(out->email, email->valuestring);
    /* Some providers send email_verified as a string. */
    if (cJSON_IsBool(ev))
        out->email_verified = cJSON_IsTrue(ev);
    else if (cJSON_IsString(ev))
        out->email_verified = strcmp(ev->valuestring, "true") == 0;
    if (cJSON_IsString(name) && text_ok(name->valuestring, SRV_MAX_NAME_BYTES))
        strcpy(out->name, name->valuestring);
    groups_read(claims, e->groups_claim, out);
    return 0;
}

bool oidc_email_domain_allowed(const char *email, const cJSON *domains)
{
    const char *at = strrchr(email, '@');
    const cJSON *d;

    if (!at || !at[1])
        return false;
    if (cJSON_GetArraySize(domains) == 0)
        return true;
    cJSON_ArrayForEach(d, domains)
    {
        if (cJSON_IsString(d) && strcasecmp(d->valuestring, at + 1) == 0)
            return true;
    }
    return false;
}
