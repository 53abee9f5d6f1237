/* Key schedule of the pqx exchange: SHA-256 transcript, HKDF-SHA256 keys, HMAC-SHA256 MACs. */
#include "common/pqx/pqx_keys.h"

#include <string.h>

#include <sodium.h>

#include "common/crypto/hkdf_sha256.h"

void pqx_keys_hint(uint8_t out[static 8], const uint8_t s_sender[static 32],
                   const uint8_t s_receiver[static 32])
{
    static const char label[] = "quickztna-pqx-hint-v1";
    crypto_hash_sha256_state st;
    uint8_t h[32];

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)label, sizeof(label) - 1);
    crypto_hash_sha256_update(&st, s_sender, 32);
    crypto_hash_sha256_update(&st, s_receiver, 32);
    crypto_hash_sha256_final(&st, h);
    memcpy(out, h, 8);
}

void pqx_keys_th1(uint8_t th1[static 32], const uint8_t s_i[static 32], const uint8_t s_r[static 32],
                  const uint8_t *init_prefix, size_t len)
{
    crypto_hash_sha256_state st;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)PQX_LABEL, sizeof(PQX_LABEL) - 1);
    crypto_hash_sha256_update(&st, s_i, 32);
    crypto_hash_sha256_update(&st, s_r, 32);
    crypto_hash_sha256_update(&st, init_prefix, len);
    crypto_hash_sha256_final(&st, th1);
}

void pqx_keys_th(uint8_t th[static 32], const uint8_t th1[static 32], const uint8_t *resp_prefix,
                 size_t len)
{
    crypto_hash_sha256_state st;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, th1, 32);
    crypto_hash_sha256_update(&st, resp_prefix, len);
    crypto_hash_sha256_final(&st, th);
}

static void hmac2(uint8_t mac[static 32], const uint8_t key[static 32], const uint8_t *a,
                  size_t alen, const uint8_t *b, size_t blen)
{
    crypto_auth_hmacsha256_state st;

    crypto_auth_hmacsha256_init(&st, key, 32);
    crypto_auth_hmacsha256_update(&st, a, alen);
    if (blen)
        crypto_auth_hmacsha256_update(&st, b, blen);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof(st));
}

static void derive(uint8_t out[static 32], const uint8_t salt[static 32], const uint8_t *ikm,
                   size_t ikm_len, const char *info)
{
    /* Lengths are constants within HKDF's range, so hkdf_sha256 cannot fail here. */
    (void)hkdf_sha256(out, 32, salt, 32, ikm, ikm_len, (const uint8_t *)info, strlen(info));
}

void pqx_keys_mac1(uint8_t mac[static 32], const uint8_t ss[static 32], const uint8_t es[static 32],
                   const uint8_t th1[static 32])
{
    uint8_t ikm[64], k[32];

    memcpy(ikm, ss, 32);
    memcpy(ikm + 32, es, 32);
    derive(k, th1, ikm, sizeof(ikm), PQX_LABEL " init");
    hmac2(mac, k, th1, 32, NULL, 0);
    sodium_memzero(ikm, sizeof(ikm));
    sodium_memzero(k, sizeof(k));
}

void pqx_keys_mac2(uint8_t mac[static 32], const uint8_t ikm[static PQX_IKM_LEN],
                   const uint8_t th[static 32])
{
    uint8_t k[32];

    derive(k, th, ikm, PQX_IKM_LEN, PQX_LABEL " resp");
    hmac2(mac, k, th, 32, NULL, 0);
    sodium_memzero(k, sizeof(k));
}

void pqx_keys_mac3(uint8_t mac[static 32], const uint8_t ikm[static PQX_IKM_LEN],
                   const uint8_t th[static 32], const uint8_t confirm_prefix[static 16])
{
    uint8_t k[32];

    derive(k, th, ikm, PQX_IKM_LEN, PQX_LABEL " confirm");
    hmac2(mac, k, th, 32, confirm_prefix, 16);
    sodium_memzero(k, sizeof(k));
}

void pqx_keys_psk(uint8_t psk[static 32], const uint8_t ikm[static PQX_IKM_LEN],
                  const uint8_t th[static 32])
{
    derive(psk, th, ikm, PQX_IKM_LEN, PQX_PSK_INFO);
}

bool pqx_keys_dh(uint8_t out[static 32], const uint8_t priv[static 32], const uint8_t pub[static 32])
{
    /* libsodium returns -1 when the result is all zero (a small-order public key). */
    if (crypto_scalarmult(out, priv, pub) != 0) {
        sodium_memzero(out, 32);
        return false;
    }
    return true;
}
