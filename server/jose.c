/* JOSE: base64url, compact JWS, JWK Sets, RS256/ES256 verification (see jose.h). */
#include "server/jose.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

struct jose_key {
    char kid[JOSE_MAX_KID_BYTES + 1];
    enum jose_alg alg; /* the algorithm this key's type serves */
    EVP_PKEY *pkey;
};

struct jose_jwks {
    size_t n;
    struct jose_key keys[JOSE_MAX_KEYS];
};

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

bool jose_b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;

    /* A final group of one character cannot encode a byte (RFC 4648 §5 without padding). */
    if (len % 4 == 1)
        return false;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value((unsigned char)in[i]);

        if (v < 0)
            return false;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return false;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* Leftover bits must be zero: one text, one value (no malleable encodings). */
    if (bits && (acc & ((1u << bits) - 1)))
        return false;
    *out_len = o;
    return true;
}

size_t jose_b64url_encode(const uint8_t *in, size_t len, char *out)
{
    size_t o = 0, i = 0;

    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

        out[o++] = b64url_alphabet[v >> 18];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
        out[o++] = b64url_alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;

        out[o++] = b64url_alphabet[v >> 18];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

        out[o++] = b64url_alphabet[v >> 18];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
    }
    out[o] = '\0';
    return o;
}

/* Decodes one base64url part into a new NUL-terminated buffer and parses it as a JSON object. */
static int part_json(const char *p, size_t len, size_t max, cJSON **out)
{
    size_t cap = len / 4 * 3 + 3, n = 0;
    uint8_t *buf;

    *out = NULL;
    if (cap > max)
        return -EINVAL;
    buf = malloc(cap + 1);
    if (!buf)
        return -ENOMEM;
    if (!jose_b64url_decode(p, len, buf, cap, &n) || memchr(buf, 0, n)) {
        free(buf);
        return -EINVAL;
    }
    buf[n] = '\0';
    *out = cJSON_ParseWithLength((const char *)buf, n);
    free(buf);
    if (!cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        return -EINVAL;
    }
    return 0;
}

int jose_jws_parse(const char *token, size_t len, struct jose_jws *out, const char **why)
{
    const char *dot1, *dot2, *end = token + len;
    const cJSON *alg, *kid;
    cJSON *hdr = NULL;
    int ret;

    memset(out, 0, sizeof(*out));
    *why = "malformed token";
    if (len == 0 || len > JOSE_MAX_TOKEN_BYTES)
        return -EINVAL;
    dot1 = memchr(token, '.', len);
    dot2 = dot1 ? memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1)) : NULL;
    if (!dot2 || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1))) {
        *why = "not a compact JWS (want three dot-separated parts)";
        return -EINVAL;
    }
    ret = part_json(token, (size_t)(dot1 - token), JOSE_MAX_HEADER_BYTES, &hdr);
    if (ret < 0) {
        if (ret == -EINVAL)
            *why = "token header is not base64url JSON";
        return ret;
    }
    ret = -EINVAL;
    alg = cJSON_GetObjectItemCaseSensitive(hdr, "alg");
    kid = cJSON_GetObjectItemCaseSensitive(hdr, "kid");
    if (!cJSON_IsString(alg)) {
        *why = "token header has no alg";
        goto out;
    }
    if (strcmp(alg->valuestring, "RS256") == 0) {
        out->alg = JOSE_ALG_RS256;
    } else if (strcmp(alg->valuestring, "ES256") == 0) {
        out->alg = JOSE_ALG_ES256;
    } else {
        *why = "token signed with an unsupported algorithm (want RS256 or ES256)";
        goto out;
    }
    /* RFC 7515 §4.1.11: extensions we do not understand must make the token invalid. */
    if (cJSON_GetObjectItemCaseSensitive(hdr, "crit")) {
        *why = "token header has critical extensions";
        goto out;
    }
    if (kid) {
        if (!cJSON_IsString(kid) || strlen(kid->valuestring) > JOSE_MAX_KID_BYTES) {
            *why = "token header kid is not a short string";
            goto out;
        }
        strcpy(out->kid, kid->valuestring);
    }
    ret = part_json(dot1 + 1, (size_t)(dot2 - dot1 - 1), JOSE_MAX_TOKEN_BYTES, &out->payload);
    if (ret < 0) {
        if (ret == -EINVAL)
            *why = "token payload is not base64url JSON";
        goto out;
    }
    if (!jose_b64url_decode(dot2 + 1, (size_t)(end - dot2 - 1), out->sig, sizeof(out->sig),
                            &out->sig_len) || out->sig_len == 0) {
        *why = "token signature is not base64url";
        ret = -EINVAL;
        goto out;
    }
    out->token = token;
    out->signing_input_len = (size_t)(dot2 - token);
    ret = 0;
out:
    cJSON_Delete(hdr);
    if (ret < 0)
        jose_jws_free(out);
    return ret;
}

void jose_jws_free(struct jose_jws *j)
{
    if (!j)
        return;
    cJSON_Delete(j->payload);
    j->payload = NULL;
}

/* A base64url member of a JWK, decoded into out (at most cap bytes); false if absent/bad. */
static bool jwk_bytes(const cJSON *k, const char *name, uint8_t *out, size_t cap, size_t *n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(k, name);

    return cJSON_IsString(v) &&
           jose_b64url_decode(v->valuestring, strlen(v->valuestring), out, cap, n) && *n > 0;
}

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;

    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static EVP_PKEY *rsa_key(const cJSON *k)
{
    uint8_t n[JOSE_MAX_SIG_BYTES], e[8];
    size_t nlen, elen;
    BIGNUM *bn_n = NULL, *bn_e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *pkey = NULL;

    if (!jwk_bytes(k, "n", n, sizeof(n), &nlen) || !jwk_bytes(k, "e", e, sizeof(e), &elen))
        return NULL;
    bn_n = BN_bin2bn(n, (int)nlen, NULL);
    bn_e = BN_bin2bn(e, (int)elen, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (!bn_n || !bn_e || !bld || BN_num_bits(bn_n) < JOSE_MIN_RSA_BITS || !BN_is_odd(bn_e) ||
        BN_is_one(bn_e) || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
        goto out;
    pkey = pkey_from_params("RSA", bld);
out:
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return pkey;
}

static EVP_PKEY *ec_key(const cJSON *k)
{
    const cJSON *crv = cJSON_GetObjectItemCaseSensitive(k, "crv");
    uint8_t pt[65], x[33], y[33];
    size_t xl, yl;
    OSSL_PARAM_BLD *bld;
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *chk;

    if (!cJSON_IsString(crv) || strcmp(crv->valuestring, "P-256") != 0 ||
        !jwk_bytes(k, "x", x, sizeof(x), &xl) || !jwk_bytes(k, "y", y, sizeof(y), &yl) ||
        xl != 32 || yl != 32)
        return NULL;
    pt[0] = 0x04; /* SEC 1 §2.3.3 uncompressed point */
    memcpy(pt + 1, x, 32);
    memcpy(pt + 33, y, 32);
    bld = OSSL_PARAM_BLD_new();
    if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt)))
        pkey = pkey_from_params("EC", bld);
    OSSL_PARAM_BLD_free(bld);
    if (!pkey)
        return NULL;
    /* A point off the curve would make verification meaningless (invalid-curve attacks). */
    chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (!chk || EVP_PKEY_public_check(chk) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(chk);
    return pkey;
}

/* One JWK into slot; false if the key is skipped. */
static bool jwk_load(const cJSON *k, struct jose_key *slot)
{
    const cJSON *kty = cJSON_GetObjectItemCaseSensitive(k, "kty");
    const cJSON *use = cJSON_GetObjectItemCaseSensitive(k, "use");
    const cJSON *alg = cJSON_GetObjectItemCaseSensitive(k, "alg");
    const cJSON *kid = cJSON_GetObjectItemCaseSensitive(k, "kid");

    if (!cJSON_IsObject(k) || !cJSON_IsString(kty))
        return false;
    if (use && (!cJSON_IsString(use) || strcmp(use->valuestring, "sig") != 0))
        return false;
    if (kid && (!cJSON_IsString(kid) || strlen(kid->valuestring) > JOSE_MAX_KID_BYTES))
        return false;
    if (strcmp(kty->valuestring, "RSA") == 0) {
        if (alg && (!cJSON_IsString(alg) || strcmp(alg->valuestring, "RS256") != 0))
            return false;
        slot->alg = JOSE_ALG_RS256;
        slot->pkey = rsa_key(k);
    } else if (strcmp(kty->valuestring, "EC") == 0) {
        if (alg && (!cJSON_IsString(alg) || strcmp(alg->valuestring, "ES256") != 0))
            return false;
        slot->alg = JOSE_ALG_ES256;
        slot->pkey = ec_key(k);
    } else {
        return false;
    }
    if (!slot->pkey)
        return false;
    strcpy(slot->kid, kid ? kid->valuestring : "");
    return true;
}

int jose_jwks_parse(const char *json, size_t len, struct jose_jwks **out, const char **why)
{
    cJSON *doc = NULL;
    const cJSON *keys, *k;
    struct jose_jwks *ks;

    *out = NULL;
    *why = "JWK Set is not a JSON object with a keys array";
    if (len > JOSE_MAX_JWKS_BYTES) {
        *why = "JWK Set too large";
        return -EINVAL;
    }
    doc = cJSON_ParseWithLength(json, len);
    keys = cJSON_GetObjectItemCaseSensitive(doc, "keys");
    if (!cJSON_IsObject(doc) || !cJSON_IsArray(keys)) {
        cJSON_Delete(doc);
        return -EINVAL;
    }
    ks = calloc(1, sizeof(*ks));
    if (!ks) {
        cJSON_Delete(doc);
        return -ENOMEM;
    }
    cJSON_ArrayForEach(k, keys)
    {
        if (ks->n == JOSE_MAX_KEYS)
            break;
        if (jwk_load(k, &ks->keys[ks->n]))
            ks->n++;
    }
    cJSON_Delete(doc);
    *out = ks;
    return 0;
}

void jose_jwks_free(struct jose_jwks *ks)
{
    if (!ks)
        return;
    for (size_t i = 0; i < ks->n; i++)
        EVP_PKEY_free(ks->keys[i].pkey);
    free(ks);
}

size_t jose_jwks_count(const struct jose_jwks *ks)
{
    return ks ? ks->n : 0;
}

/* RFC 7518 §3.4: the JWS carries R || S (32 bytes each); OpenSSL wants DER. */
static int es256_der(const uint8_t raw[static 64], uint8_t *der, size_t cap, size_t *len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, 32, NULL), *s = BN_bin2bn(raw + 32, 32, NULL);
    unsigned char *p = der;
    int n;

    if (!sig || !r || !s || !ECDSA_SIG_set0(sig, r, s)) {
        ECDSA_SIG_free(sig);
        BN_free(r);
        BN_free(s);
        return -ENOMEM;
    }
    n = i2d_ECDSA_SIG(sig, NULL);
    if (n <= 0 || (size_t)n > cap) {
        ECDSA_SIG_free(sig);
        return -EBADMSG;
    }
    n = i2d_ECDSA_SIG(sig, &p);
    ECDSA_SIG_free(sig);
    if (n <= 0)
        return -EBADMSG;
    *len = (size_t)n;
    return 0;
}

static int verify_with(const struct jose_jws *j, EVP_PKEY *pkey)
{
    uint8_t der[80];
    const uint8_t *sig = j->sig;
    size_t sig_len = j->sig_len;
    EVP_MD_CTX *md;
    int ok, ret;

    if (j->alg == JOSE_ALG_ES256) {
        if (j->sig_len != 64)
            return -EBADMSG;
        ret = es256_der(j->sig, der, sizeof(der), &sig_len);
        if (ret < 0)
            return ret;
        sig = der;
    } else if ((int)j->sig_len != EVP_PKEY_get_size(pkey)) {
        return -EBADMSG;
    }
    md = EVP_MD_CTX_new();
    if (!md)
        return -ENOMEM;
    ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1 &&
         EVP_DigestVerify(md, sig, sig_len, (const uint8_t *)j->token, j->signing_input_len) == 1;
    EVP_MD_CTX_free(md);
    return ok ? 0 : -EBADMSG;
}

int jose_jws_verify(const struct jose_jws *j, const struct jose_jwks *ks)
{
    int ret = -ENOKEY;

    for (size_t i = 0; ks && i < ks->n; i++) {
        const struct jose_key *k = &ks->keys[i];

        if (k->alg != j->alg || (j->kid[0] && strcmp(k->kid, j->kid) != 0))
            continue;
        ret = verify_with(j, k->pkey);
        if (ret == 0 || j->kid[0])
            return ret;
    }
    return ret;
}
