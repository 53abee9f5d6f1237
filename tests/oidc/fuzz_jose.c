/* Fuzzes the untrusted-input parsers of OIDC: jose_b64url_decode, jose_jws_parse (then verify
 * against the RFC 7515 keys), jose_jwks_parse and oidc_claims_check. The first byte picks the
 * target. Invariants: never crashes or leaks; a decoded base64url re-encodes to its input; a
 * parsed JWS has a signing input inside the token; nothing but the published examples verifies. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/jose.h"
#include "server/oidc_claims.h"
#include "tests/oidc/jose_vectors.h"

#define FZ_ASSERT(x) do { if (!(x)) abort(); } while (0)

static struct jose_jwks *rfc_keys(void)
{
    static struct jose_jwks *ks;
    const char *why;

    if (!ks && jose_jwks_parse(RFC7515_JWKS, strlen(RFC7515_JWKS), &ks, &why) != 0)
        abort();
    return ks;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[JOSE_MAX_JWKS_BYTES];
    static char text[JOSE_MAX_JWKS_BYTES * 2];
    static struct oidc_identity id;
    const char *why, *code;
    struct jose_jwks *ks = NULL;
    struct jose_jws j;
    size_t n = 0;
    char *s;

    if (size < 1)
        return 0;
    s = malloc(size);
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    switch (data[0] % 4) {
    case 0:
        if (size - 1 <= sizeof(out) && jose_b64url_decode(s, size - 1, out, sizeof(out), &n)) {
            jose_b64url_encode(out, n, text);
            FZ_ASSERT(strlen(text) == size - 1 && memcmp(text, s, size - 1) == 0);
        }
        break;
    case 1:
        if (jose_jws_parse(s, size - 1, &j, &why) == 0) {
            FZ_ASSERT(j.payload && j.signing_input_len < size - 1 && j.sig_len > 0);
            if (jose_jws_verify(&j, rfc_keys()) == 0)
                FZ_ASSERT(strcmp(s, RFC7515_A2_TOKEN) == 0 || strcmp(s, RFC7515_A3_TOKEN) == 0);
            jose_jws_free(&j);
        } else {
            FZ_ASSERT(why && *why);
        }
        break;
    case 2:
        if (jose_jwks_parse(s, size - 1, &ks, &why) == 0) {
            FZ_ASSERT(jose_jwks_count(ks) <= JOSE_MAX_KEYS);
            jose_jwks_free(ks);
        }
        break;
    default: {
        cJSON *c = cJSON_ParseWithLength(s, size - 1);
        struct oidc_expect e = {"https://idp.test", "ztna", "N0nce", "groups", 1000, 60};

        if (oidc_claims_check(c, &e, &id, &code, &why) == 0)
            FZ_ASSERT(id.sub[0] && id.ngroups <= OIDC_MAX_GROUPS);
        else
            FZ_ASSERT(code && why);
        oidc_email_domain_allowed(id.email, cJSON_GetObjectItem(c, "domains"));
        cJSON_Delete(c);
        break;
    }
    }
    free(s);
    return 0;
}
