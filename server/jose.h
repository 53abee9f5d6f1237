/* JOSE for OpenID Connect ID tokens: base64url (RFC 7515 §2), compact JWS parsing (RFC 7515
 * §7.1), JWK Sets of public keys (RFC 7517: RSA n/e, EC P-256 x/y) and signature checks for
 * RS256 and ES256 (RFC 7518 §3.3, §3.4) through OpenSSL 3.0 EVP.
 *
 * Pure functions of their input: no network, no database, no clock (fuzzed by
 * tests/oidc/fuzz_jose.c). Anything but RS256 and ES256 is refused at parse time, so "none",
 * HMAC-with-the-public-key and other algorithm confusions never reach a verifier. */
#ifndef ZTNA_SERVER_JOSE_H
#define ZTNA_SERVER_JOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#define JOSE_MAX_TOKEN_BYTES  16384 /* a compact JWS */
#define JOSE_MAX_HEADER_BYTES 2048  /* its decoded protected header */
#define JOSE_MAX_JWKS_BYTES   65536 /* a JWK Set document */
#define JOSE_MAX_KEYS         16    /* usable keys kept from one set */
#define JOSE_MAX_KID_BYTES    128
#define JOSE_MAX_SIG_BYTES    512   /* RSA-4096 */
#define JOSE_MIN_RSA_BITS     2048

enum jose_alg { JOSE_ALG_RS256 = 1, JOSE_ALG_ES256 = 2 };

struct jose_jws {
    enum jose_alg alg;
    char kid[JOSE_MAX_KID_BYTES + 1]; /* "" when the header has none */
    cJSON *payload;                   /* owned: the claims object */
    const char *token;                /* borrowed: the caller's token, for the signing input */
    size_t signing_input_len;         /* bytes of token before the second '.' */
    uint8_t sig[JOSE_MAX_SIG_BYTES];
    size_t sig_len;
};

/* Decodes unpadded base64url; false on any other character, padding, a bad final group or
 * more than cap bytes. */
bool jose_b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len);
/* Encodes without padding; out must hold 4 * ((len + 2) / 3) + 1 bytes. Returns strlen(out). */
size_t jose_b64url_encode(const uint8_t *in, size_t len, char *out);

/* Parses a compact JWS (header.payload.signature). On success returns 0 and fills out
 * (free with jose_jws_free; out->token borrows token, which must outlive out). -EINVAL with
 * *why naming the problem (a static string) on malformed input or an unsupported algorithm;
 * -ENOMEM. */
int jose_jws_parse(const char *token, size_t len, struct jose_jws *out, const char **why);
void jose_jws_free(struct jose_jws *j); /* accepts a zeroed or freed struct */

struct jose_jwks;
/* Parses a JWK Set. Keys that are not for signatures (use other than "sig"), of other types
 * or curves, or malformed are skipped, not fatal; RSA keys under JOSE_MIN_RSA_BITS and EC
 * points off the curve are skipped too. 0 and *out new (free with jose_jwks_free), even with
 * no usable key; -EINVAL (*why) if the document is not a JSON object with a "keys" array;
 * -ENOMEM. */
int jose_jwks_parse(const char *json, size_t len, struct jose_jwks **out, const char **why);
void jose_jwks_free(struct jose_jwks *ks);
size_t jose_jwks_count(const struct jose_jwks *ks);

/* Checks j's signature with the key of the set that has j's kid (any key of the algorithm's
 * type when j has no kid). 0 verified; -ENOKEY no such key; -EBADMSG signature wrong. */
int jose_jws_verify(const struct jose_jws *j, const struct jose_jwks *ks);

#endif
