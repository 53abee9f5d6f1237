/* JOSE and ID token claim checks (server/jose.c, server/oidc_claims.c): RFC 4648 base64url
 * strings, the RFC 7515 Appendix A examples (RS256, ES256 verified; HS256 and "none" refused),
 * tokens signed here with fresh OpenSSL keys (right kid, wrong kid, no kid, tampered header,
 * payload and signature, random payloads), JWK Sets with keys that must be skipped, and each rule
 * of OpenID Connect Core §3.1.3.7 at its boundary. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "server/jose.h"
#include "server/oidc_claims.h"
#include "tests/check.h"
#include "tests/oidc/jose_vectors.h"

static void test_b64url(void)
{
    static const char *const rfc4648[][2] = {{"", ""},         {"f", "Zg"},         {"fo", "Zm8"},
                                             {"foo", "Zm9v"},  {"foob", "Zm9vYg"},  {"fooba", "Zm9vYmE"},
                                             {"foobar", "Zm9vYmFy"}};
    static const char *const bad[] = {"Zg==", "Z", "Zh", "Zm9v+A", "Zm9v/A", "Zm 9v", "Zm9vY"};
    uint8_t buf[64], rnd[48];
    char text[128];
    size_t n;

    for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        CHECK(jose_b64url_encode((const uint8_t *)rfc4648[i][0], strlen(rfc4648[i][0]), text) ==
              strlen(rfc4648[i][1]));
        CHECK(strcmp(text, rfc4648[i][1]) == 0);
        CHECK(jose_b64url_decode(rfc4648[i][1], strlen(rfc4648[i][1]), buf, sizeof(buf), &n));
        CHECK(n == strlen(rfc4648[i][0]) && memcmp(buf, rfc4648[i][0], n) == 0);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(!jose_b64url_decode(bad[i], strlen(bad[i]), buf, sizeof(buf), &n));
    CHECK(!jose_b64url_decode("Zm9vYmFy", 8, buf, 5, &n)); /* does not fit */
    for (int i = 0; i < 200; i++) {
        size_t len = (size_t)(i % (int)sizeof(rnd));

        RAND_bytes(rnd, sizeof(rnd));
        jose_b64url_encode(rnd, len, text);
        CHECK(jose_b64url_decode(text, strlen(text), buf, sizeof(buf), &n));
        CHECK(n == len && memcmp(buf, rnd, len) == 0);
    }
}

static struct jose_jwks *jwks(const char *doc)
{
    struct jose_jwks *ks = NULL;
    const char *why;

    CHECK(jose_jwks_parse(doc, strlen(doc), &ks, &why) == 0);
    return ks;
}

static int verify(const char *token, const struct jose_jwks *ks)
{
    struct jose_jws j;
    const char *why;
    int ret = jose_jws_parse(token, strlen(token), &j, &why);

    if (ret == 0)
        ret = jose_jws_verify(&j, ks);
    jose_jws_free(&j);
    return ret;
}

static void test_rfc7515(void)
{
    struct jose_jwks *ks = jwks(RFC7515_JWKS);
    struct jose_jws j;
    const char *why = NULL;
    char t[2048];

    CHECK(jose_jwks_count(ks) == 2);
    CHECK(jose_jws_parse(RFC7515_A2_TOKEN, strlen(RFC7515_A2_TOKEN), &j, &why) == 0);
    CHECK(j.alg == JOSE_ALG_RS256 && j.kid[0] == '\0' && j.sig_len == 256);
    CHECK(strcmp(cJSON_GetObjectItem(j.payload, "iss")->valuestring, "joe") == 0);
    CHECK(cJSON_GetObjectItem(j.payload, "exp")->valuedouble == 1300819380);
    CHECK(jose_jws_verify(&j, ks) == 0);
    jose_jws_free(&j);
    CHECK(verify(RFC7515_A3_TOKEN, ks) == 0);
    /* One changed character anywhere breaks it. */
    snprintf(t, sizeof(t), "%s", RFC7515_A2_TOKEN);
    t[strlen(t) - 5] = t[strlen(t) - 5] == 'A' ? 'B' : 'A';
    CHECK(verify(t, ks) == -EBADMSG);
    snprintf(t, sizeof(t), "%s", RFC7515_A3_TOKEN);
    t[30] = t[30] == 'A' ? 'B' : 'A';
    CHECK(verify(t, ks) == -EBADMSG || verify(t, ks) == -EINVAL);
    /* Algorithm confusion: HMAC and "none" never reach a verifier. */
    CHECK(jose_jws_parse(RFC7515_A1_TOKEN, strlen(RFC7515_A1_TOKEN), &j, &why) == -EINVAL);
    CHECK(strstr(why, "unsupported algorithm") != NULL);
    CHECK(jose_jws_parse(RFC7515_A5_TOKEN, strlen(RFC7515_A5_TOKEN), &j, &why) == -EINVAL);
    /* An ES256 token and a set with only the RSA key: no key. */
    jose_jwks_free(ks);
    ks = jwks("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"" RFC7515_A2_N "\",\"e\":\"AQAB\"}]}");
    CHECK(verify(RFC7515_A3_TOKEN, ks) == -ENOKEY);
    jose_jwks_free(ks);
}

/* --- tokens signed here --------------------------------------------------------------------- */

static void b64_bn(const EVP_PKEY *k, const char *param, size_t pad, char *out)
{
    BIGNUM *bn = NULL;
    uint8_t buf[512];
    int n;

    CHECK(EVP_PKEY_get_bn_param(k, param, &bn) == 1);
    n = pad ? BN_bn2binpad(bn, buf, (int)pad) : BN_bn2bin(bn, buf);
    jose_b64url_encode(buf, (size_t)n, out);
    BN_free(bn);
}

static char *jwk_of(const EVP_PKEY *k, bool ec, const char *kid)
{
    char a[700], b[700], *out = malloc(2048);

    if (ec) {
        b64_bn(k, OSSL_PKEY_PARAM_EC_PUB_X, 32, a);
        b64_bn(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32, b);
        snprintf(out, 2048, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"}",
                 kid, a, b);
    } else {
        b64_bn(k, OSSL_PKEY_PARAM_RSA_N, 0, a);
        b64_bn(k, OSSL_PKEY_PARAM_RSA_E, 0, b);
        snprintf(out, 2048, "{\"kty\":\"RSA\",\"kid\":\"%s\",\"alg\":\"RS256\",\"n\":\"%s\",\"e\":\"%s\"}",
                 kid, a, b);
    }
    return out;
}

/* header.payload.signature with k; kid NULL = no kid in the header. */
static void sign(EVP_PKEY *k, bool ec, const char *kid, const char *payload, char *out, size_t size)
{
    char hdr[256], h64[400], p64[4096];
    uint8_t sig[600], raw[64];
    size_t sl = sizeof(sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int n;

    n = snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\"%s%s%s}", ec ? "ES256" : "RS256",
                 kid ? ",\"kid\":\"" : "", kid ? kid : "", kid ? "\"" : "");
    jose_b64url_encode((const uint8_t *)hdr, (size_t)n, h64);
    jose_b64url_encode((const uint8_t *)payload, strlen(payload), p64);
    snprintf(out, size, "%s.%s", h64, p64);
    CHECK(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) == 1);
    CHECK(EVP_DigestSign(md, sig, &sl, (const uint8_t *)out, strlen(out)) == 1);
    EVP_MD_CTX_free(md);
    if (ec) { /* DER -> R || S (RFC 7518 §3.4) */
        const uint8_t *p = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sl);

        BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32);
        ECDSA_SIG_free(es);
        memcpy(sig, raw, 64);
        sl = 64;
    }
    strcat(out, ".");
    jose_b64url_encode(sig, sl, out + strlen(out));
}

static void test_signed_here(void)
{
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    char *jr = jwk_of(rsa, false, "r1"), *je = jwk_of(ec, true, "e1");
    char doc[4096], tok[8192], payload[600];
    struct jose_jwks *ks;

    snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s]}", jr, je);
    ks = jwks(doc);
    CHECK(jose_jwks_count(ks) == 2);
    for (int i = 0; i < 40; i++) {
        uint8_t r[120];
        char rt[200];

        RAND_bytes(r, sizeof(r));
        jose_b64url_encode(r, (size_t)(i * 3 % (int)sizeof(r)), rt);
        snprintf(payload, sizeof(payload), "{\"sub\":\"%s\",\"n\":%d}", rt, i);
        sign(i % 2 ? ec : rsa, i % 2, i % 2 ? "e1" : "r1", payload, tok, sizeof(tok));
        CHECK(verify(tok, ks) == 0);
        sign(i % 2 ? ec : rsa, i % 2, NULL, payload, tok, sizeof(tok)); /* no kid: try by type */
        CHECK(verify(tok, ks) == 0);
        sign(i % 2 ? ec : rsa, i % 2, "nope", payload, tok, sizeof(tok));
        CHECK(verify(tok, ks) == -ENOKEY);
        sign(other, true, "e1", payload, tok, sizeof(tok)); /* right kid, wrong key */
        CHECK(verify(tok, ks) == -EBADMSG);
    }
    /* A kid that names a key of the other type is no key for this algorithm. */
    sign(rsa, false, "e1", "{\"sub\":\"x\"}", tok, sizeof(tok));
    CHECK(verify(tok, ks) == -ENOKEY); /* RS256 header, kid of an EC key: no RSA key e1 */
    jose_jwks_free(ks);
    free(jr);
    free(je);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(other);
}

static void test_jwks_skips(void)
{
    EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    char *js = jwk_of(small, false, "small");
    char doc[4096];
    struct jose_jwks *ks;
    const char *why;

    /* enc keys, 1024-bit RSA, a point off the curve, wrong alg, unknown kty: all skipped. */
    snprintf(doc, sizeof(doc), "{\"keys\":[%s,"
             "{\"kty\":\"EC\",\"use\":\"enc\",\"crv\":\"P-256\",\"x\":\"" RFC7515_A3_X "\",\"y\":\"" RFC7515_A3_Y "\"},"
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" RFC7515_A3_X "\",\"y\":\"" RFC7515_A3_X "\"},"
             "{\"kty\":\"EC\",\"alg\":\"RS256\",\"crv\":\"P-256\",\"x\":\"" RFC7515_A3_X "\",\"y\":\"" RFC7515_A3_Y "\"},"
             "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"" RFC7515_A3_X "\",\"y\":\"" RFC7515_A3_Y "\"},"
             "{\"kty\":\"oct\",\"k\":\"AAAA\"},{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"},7]}", js);
    ks = jwks(doc);
    CHECK(jose_jwks_count(ks) == 0);
    CHECK(verify(RFC7515_A3_TOKEN, ks) == -ENOKEY);
    jose_jwks_free(ks);
    CHECK(jose_jwks_parse("[]", 2, &ks, &why) == -EINVAL && ks == NULL);
    CHECK(jose_jwks_parse("{\"keys\":{}}", 11, &ks, &why) == -EINVAL);
    CHECK(jose_jwks_parse("{\"keys\":[", 9, &ks, &why) == -EINVAL);
    free(js);
    EVP_PKEY_free(small);
}

static void test_parse_malformed(void)
{
    static const char *const bad[] = {
        "", "abc", "a.b", "a.b.c.d", "..", "eyJhbGciOiJSUzI1NiJ9..", "eyJhbGciOiJSUzI1NiJ9.e30.",
        "e30.e30.AAAA",                                   /* no alg */
        "eyJhbGciOiJSUzI1NiIsImNyaXQiOlsiYiJdfQ.e30.AAAA", /* crit */
        "eyJhbGciOiJSUzI1NiJ9.W10.AAAA",                  /* payload is an array */
        "eyJhbGciOiJSUzI1NiJ9.e30.AA=A",
    };
    struct jose_jws j;
    const char *why;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK(jose_jws_parse(bad[i], strlen(bad[i]), &j, &why) == -EINVAL);
        CHECK(why && *why && j.payload == NULL);
    }
    CHECK(jose_jws_parse("eyJhbGciOiJSUzI1NiJ9.e30.AAAA", 29, &j, &why) == 0);
    jose_jws_free(&j);
}

/* --- claims ------------------------------------------------------------------------------- */

static const char *claims_code(const char *json, int64_t now)
{
    static struct oidc_identity id;
    struct oidc_expect e = {"https://idp.test", "ztna", "N0nce", "groups", now, OIDC_CLOCK_SKEW};
    cJSON *c = cJSON_Parse(json);
    const char *code = "ok", *why = NULL;
    int ret = oidc_claims_check(c, &e, &id, &code, &why);

    cJSON_Delete(c);
    CHECK((ret == 0) == (strcmp(code, "ok") == 0));
    CHECK(ret == 0 || (why && strlen(why) > 10));
    return code;
}

#define BASE "\"iss\":\"https://idp.test\",\"sub\":\"u1\",\"nonce\":\"N0nce\",\"iat\":1000"

static void test_claims(void)
{
    static struct oidc_identity id;
    struct oidc_expect e = {"https://idp.test", "ztna", "N0nce", "groups", 1000, OIDC_CLOCK_SKEW};
    const char *code, *why;
    cJSON *c;

    CHECK(!strcmp(claims_code("{" BASE ",\"aud\":\"ztna\",\"exp\":2000}", 1000), "ok"));
    CHECK(!strcmp(claims_code("{" BASE ",\"aud\":[\"ztna\"],\"exp\":2000}", 1000), "ok"));
    CHECK(!strcmp(claims_code("{" BASE ",\"aud\":[\"ztna\",\"x\"],\"azp\":\"ztna\",\"exp\":2000}", 1000), "ok"));
    CHECK(!strcmp(claims_code("{" BASE ",\"aud\":[\"ztna\",\"x\"],\"exp\":2000}", 1000), "invalid_audience"));
    CHECK(!strcmp(claims_code("{" BASE ",\"aud\":\"ztna\",\"azp\":\"x\",\"exp\":2000}", 1000), "invalid_audience"));
    CHECK(!strcmp(claims_code("{" BASE ",\"aud\":\"other\",\"exp\":2000}", 1000), "invalid_audience"));
    CHECK(!strcmp(claims_code("{" BASE ",\"aud\":[1],\"exp\":2000}", 1000), "invalid_audience"));
    CHECK(!strcmp(claims_code("{\"iss\":\"https://idp.test/\",\"aud\":\"ztna\"}", 1000), "invalid_issuer"));
    /* exp with OIDC_CLOCK_SKEW: the last accepted second and the first refused one. */
    CHECK(!strcmp(claims_code("{" BASE ",\"aud\":\"ztna\",\"exp\":2000}", 2000 + OIDC_CLOCK_SKEW - 1), "ok"));
    CHECK(!strcmp(claims_code("{" BASE ",\"aud\":\"ztna\",\"exp\":2000}", 2000 + OIDC_CLOCK_SKEW), "token_expired"));
    CHECK(!strcmp(claims_code("{" BASE ",\"aud\":\"ztna\"}", 1000), "invalid_token"));
    CHECK(!strcmp(claims_code("{" BASE ",\"aud\":\"ztna\",\"exp\":\"2000\"}", 1000), "invalid_token"));
    CHECK(!strcmp(claims_code("{" BASE ",\"aud\":\"ztna\",\"exp\":9000}", 1000 - OIDC_CLOCK_SKEW - 1), "token_not_yet_valid"));
    CHECK(!strcmp(claims_code("{" BASE ",\"aud\":\"ztna\",\"exp\":9000,\"nbf\":5000}", 1000), "token_not_yet_valid"));
    CHECK(!strcmp(claims_code("{\"iss\":\"https://idp.test\",\"sub\":\"u1\",\"nonce\":\"N0nc\",\"iat\":1000,\"aud\":\"ztna\",\"exp\":2000}", 1000), "nonce_mismatch"));
    CHECK(!strcmp(claims_code("{\"iss\":\"https://idp.test\",\"sub\":\"u1\",\"iat\":1000,\"aud\":\"ztna\",\"exp\":2000}", 1000), "nonce_mismatch"));
    CHECK(!strcmp(claims_code("{\"iss\":\"https://idp.test\",\"nonce\":\"N0nce\",\"iat\":1000,\"aud\":\"ztna\",\"exp\":2000}", 1000), "invalid_token"));
    CHECK(!strcmp(claims_code("[1]", 1000), "invalid_token"));

    /* Identity: e-mail, email_verified as bool or string, groups de-duplicated and filtered. */
    c = cJSON_Parse("{" BASE ",\"aud\":\"ztna\",\"exp\":2000,\"email\":\"a@b.test\","
                    "\"email_verified\":\"true\",\"name\":\"A\",\"groups\":[\"eng\",7,\"eng\",\"\","
                    "\"ops\",\"bad\\u0001\"]}");
    CHECK(oidc_claims_check(c, &e, &id, &code, &why) == 0);
    CHECK(!strcmp(id.sub, "u1") && !strcmp(id.email, "a@b.test") && id.email_verified == 1 &&
          !strcmp(id.name, "A"));
    CHECK(id.ngroups == 2 && !strcmp(id.groups[0], "eng") && !strcmp(id.groups[1], "ops"));
    cJSON_Delete(c);
    c = cJSON_Parse("{" BASE ",\"aud\":\"ztna\",\"exp\":2000,\"groups\":\"solo\"}");
    CHECK(oidc_claims_check(c, &e, &id, &code, &why) == 0 && id.ngroups == 1 &&
          !strcmp(id.groups[0], "solo") && id.email_verified == -1 && id.email[0] == '\0');
    cJSON_Delete(c);
    /* More groups than we keep: capped, not refused. */
    c = cJSON_Parse("{" BASE ",\"aud\":\"ztna\",\"exp\":2000}");
    cJSON *g = cJSON_AddArrayToObject(c, "groups");
    for (int i = 0; i < OIDC_MAX_GROUPS + 10; i++) {
        char name[16];

        snprintf(name, sizeof(name), "g%d", i);
        cJSON_AddItemToArray(g, cJSON_CreateString(name));
    }
    CHECK(oidc_claims_check(c, &e, &id, &code, &why) == 0 && id.ngroups == OIDC_MAX_GROUPS);
    cJSON_Delete(c);
}

static void test_domains(void)
{
    cJSON *none = cJSON_Parse("[]"), *two = cJSON_Parse("[\"example.com\",\"corp.test\"]");

    CHECK(oidc_email_domain_allowed("a@anything.org", none));
    CHECK(oidc_email_domain_allowed("a@Example.COM", two));
    CHECK(oidc_email_domain_allowed("a@corp.test", two));
    CHECK(!oidc_email_domain_allowed("a@sub.example.com", two));
    CHECK(!oidc_email_domain_allowed("a@example.com.evil.test", two));
    CHECK(!oidc_email_domain_allowed("example.com", two));
    CHECK(!oidc_email_domain_allowed("a@", none));
    cJSON_Delete(none);
    cJSON_Delete(two);
}

int main(void)
{
    test_b64url();
    test_rfc7515();
    test_signed_here();
    test_jwks_skips();
    test_parse_malformed();
    test_claims();
    test_domains();
    return check_finish("test_jose");
}
