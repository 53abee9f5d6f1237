/* ChaCha20-Poly1305 IETF and XChaCha20-Poly1305 IETF over libsodium, detached tag appended. */
#include "common/crypto/chacha20poly1305.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

void chacha20poly1305_nonce_from_counter(uint8_t nonce[static CHACHA20POLY1305_NONCE_SIZE],
                                         uint64_t counter)
{
    memset(nonce, 0, 4);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

void chacha20poly1305_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
                           size_t ad_len, const uint8_t nonce[static CHACHA20POLY1305_NONCE_SIZE],
                           const uint8_t key[static CHACHA20POLY1305_KEY_SIZE])
{
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(dst, dst + len, NULL, src, len, ad, ad_len,
                                                       NULL, nonce, key);
}

int chacha20poly1305_open(uint8_t *dst, const uint8_t *src, size_t src_len, const uint8_t *ad,
                          size_t ad_len, const uint8_t nonce[static CHACHA20POLY1305_NONCE_SIZE],
                          const uint8_t key[static CHACHA20POLY1305_KEY_SIZE])
{
    if (src_len < CHACHA20POLY1305_TAG_SIZE)
        return -EBADMSG;
    size_t len = src_len - CHACHA20POLY1305_TAG_SIZE;
    if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(dst, NULL, src, len, src + len, ad,
                                                           ad_len, nonce, key) != 0) {
        if (len)
            sodium_memzero(dst, len);
        return -EBADMSG;
    }
    return 0;
}

void xchacha20poly1305_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
                            size_t ad_len, const uint8_t nonce[static XCHACHA20POLY1305_NONCE_SIZE],
                            const uint8_t key[static CHACHA20POLY1305_KEY_SIZE])
{
    crypto_aead_xchacha20poly1305_ietf_encrypt_detached(dst, dst + len, NULL, src, len, ad, ad_len,
                                                        NULL, nonce, key);
}

int xchacha20poly1305_open(uint8_t *dst, const uint8_t *src, size_t src_len, const uint8_t *ad,
                           size_t ad_len, const uint8_t nonce[static XCHACHA20POLY1305_NONCE_SIZE],
                           const uint8_t key[static CHACHA20POLY1305_KEY_SIZE])
{
    if (src_len < CHACHA20POLY1305_TAG_SIZE)
        return -EBADMSG;
    size_t len = src_len - CHACHA20POLY1305_TAG_SIZE;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(dst, NULL, src, len, src + len, ad,
                                                            ad_len, nonce, key) != 0) {
        if (len)
            sodium_memzero(dst, len);
        return -EBADMSG;
    }
    return 0;
}
