/* ChaCha20-Poly1305 (RFC 8439, 96-bit nonce) and XChaCha20-Poly1305 (192-bit nonce) AEADs over
 * libsodium, in the shape the data plane calls them: ciphertext = encrypted bytes || 16-byte tag.
 * dst may equal src (in place); otherwise the buffers must not overlap. */
#ifndef ZTNA_COMMON_CRYPTO_CHACHA20POLY1305_H
#define ZTNA_COMMON_CRYPTO_CHACHA20POLY1305_H

#include <stddef.h>
#include <stdint.h>

#define CHACHA20POLY1305_KEY_SIZE 32
#define CHACHA20POLY1305_NONCE_SIZE 12
#define XCHACHA20POLY1305_NONCE_SIZE 24
#define CHACHA20POLY1305_TAG_SIZE 16

/* WireGuard / Noise nonce: 32 zero bits || 64-bit little-endian counter. */
void chacha20poly1305_nonce_from_counter(uint8_t nonce[static CHACHA20POLY1305_NONCE_SIZE],
                                         uint64_t counter);

/* dst gets len + 16 bytes. */
void chacha20poly1305_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
                           size_t ad_len, const uint8_t nonce[static CHACHA20POLY1305_NONCE_SIZE],
                           const uint8_t key[static CHACHA20POLY1305_KEY_SIZE]);
/* src_len includes the tag; dst gets src_len - 16 bytes. 0, or -EBADMSG (short input or failed
 * authentication; dst is then zeroed). */
int chacha20poly1305_open(uint8_t *dst, const uint8_t *src, size_t src_len, const uint8_t *ad,
                          size_t ad_len, const uint8_t nonce[static CHACHA20POLY1305_NONCE_SIZE],
                          const uint8_t key[static CHACHA20POLY1305_KEY_SIZE]);

void xchacha20poly1305_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
                            size_t ad_len, const uint8_t nonce[static XCHACHA20POLY1305_NONCE_SIZE],
                            const uint8_t key[static CHACHA20POLY1305_KEY_SIZE]);
int xchacha20poly1305_open(uint8_t *dst, const uint8_t *src, size_t src_len, const uint8_t *ad,
                           size_t ad_len, const uint8_t nonce[static XCHACHA20POLY1305_NONCE_SIZE],
                           const uint8_t key[static CHACHA20POLY1305_KEY_SIZE]);

#endif
