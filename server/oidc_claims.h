/* The checks of an ID token's claims (OpenID Connect Core 1.0 §3.1.3.7) and the extraction of
 * the identity we use: subject, e-mail, name, groups. Pure (no clock, no network): the caller
 * passes the time, so expiry is testable; fuzzed by tests/oidc/fuzz_jose.c. */
#ifndef ZTNA_SERVER_OIDC_CLAIMS_H
#define ZTNA_SERVER_OIDC_CLAIMS_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "server/limits.h"

#define OIDC_MAX_GROUPS      64  /* groups kept from one token; more are ignored */
#define OIDC_MAX_GROUP_BYTES 128
#define OIDC_MAX_SUB_BYTES   255
#define OIDC_MAX_DOMAINS     32  /* allowed e-mail domains per org */
#define OIDC_CLOCK_SKEW      60  /* seconds of clock difference tolerated on exp/iat/nbf */

struct oidc_expect {
    const char *issuer;       /* iss must equal it exactly */
    const char *client_id;    /* must be in aud; azp must equal it when present */
    const char *nonce;        /* must equal the nonce sent at the start of this login */
    const char *groups_claim; /* claim holding groups; NULL or "" = none */
    int64_t now, skew;
};

struct oidc_identity {
    char sub[OIDC_MAX_SUB_BYTES + 1];
    char email[SRV_MAX_EMAIL_BYTES + 1]; /* "" when absent */
    int email_verified;                  /* 1 true, 0 false, -1 claim absent */
    char name[SRV_MAX_NAME_BYTES + 1];
    size_t ngroups;
    char groups[OIDC_MAX_GROUPS][OIDC_MAX_GROUP_BYTES + 1];
};

/* 0 and out filled, or -EINVAL with *code (a stable lower_snake error code for the SPA, e.g.
 * "token_expired") and *why (a sentence for a person); both static strings. */
int oidc_claims_check(const cJSON *claims, const struct oidc_expect *e, struct oidc_identity *out,
                      const char **code, const char **why);

/* True if the e-mail's domain (after the last '@', case-insensitive) is in domains, a JSON
 * array of strings; an empty array allows every domain. */
bool oidc_email_domain_allowed(const char *email, const cJSON *domains);

#endif
