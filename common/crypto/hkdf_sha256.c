/* HKDF-SHA256 (RFC 5869) over libsodium's HMAC-SHA256, which takes keys of any length. */
#include "common/crypto/hkdf_sha256.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

/* RFC 5869 section 2.2: PRK = HMAC-Hash(salt, IKM); an absent salt is HashLen zeros, which
 * HMAC pads to the same block as an empty key, so both give the same PRK. */
void hkdf_sha256_extract(uint8_t prk[static HKDF_SHA256_HASH_LEN], const uint8_t *salt,
                         size_t salt_len, const uint8_t *ikm, size_t ikm_len)
{
    static const uint8_t zero_salt[HKDF_SHA256_HASH_LEN];
    crypto_auth_hmacsha256_state st;

    if (!salt || !salt_len) {
        salt = zero_salt;
        salt_len = sizeof(zero_salt);
    }
    crypto_auth_hmacsha256_init(&st, salt, salt_len);
    if (ikm_len)
        crypto_auth_hmacsha256_update(&st, ikm, ikm_len);
    crypto_auth_hmacsha256_final(&st, prk);
    sodium_memzero(&st, sizeof(st));
}

/* RFC 5869 section 2.3: T(i) = HMAC-Hash(PRK, T(i-1) | info | i), OKM = first L bytes of T. */
int hkdf_sha256_expand(uint8_t *out, size_t out_len, const uint8_t prk[static HKDF_SHA256_HASH_LEN],
                       const uint8_t *info, size_t info_len)
{
    crypto_auth_hmacsha256_state st;
    uint8_t t[HKDF_SHA256_HASH_LEN];
    size_t done = 0;
    uint8_t ctr = 0;

    if (out_len == 0 || out_len > HKDF_SHA256_MAX_OUT)
        return -EINVAL;
    while (done < out_len) {
        size_t n = out_len - done < sizeof(t) ? out_len - done : sizeof(t);

        ctr++;
        crypto_auth_hmacsha256_init(&st, prk, HKDF_SHA256_HASH_LEN);
        if (ctr > 1)
            crypto_auth_hmacsha256_update(&st, t, sizeof(t));
        if (info_len)
            crypto_auth_hmacsha256_update(&st, info, info_len);
        crypto_auth_hmacsha256_update(&st, &ctr, 1);
        crypto_auth_hmacsha256_final(&st, t);
        memcpy(out + done, t, n);
        done += n;
    }
    sodium_memzero(&st, sizeof(st));
    sodium_memzero(t, sizeof(t));
    return 0;
}

int hkdf_sha256(uint8_t *out, size_t out_len, const uint8_t *salt, size_t salt_len,
                const uint8_t *ikm, size_t ikm_len, const uint8_t *info, size_t info_len)
{
    uint8_t prk[HKDF_SHA256_HASH_LEN];
    int ret;

    if (out_len == 0 || out_len > HKDF_SHA256_MAX_OUT)
        return -EINVAL;
    hkdf_sha256_extract(prk, salt, salt_len, ikm, ikm_len);
    ret = hkdf_sha256_expand(out, out_len, prk, info, info_len);
    sodium_memzero(prk, sizeof(prk));
    return ret;
}
