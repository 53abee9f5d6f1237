/* HKDF with HMAC-SHA256 (RFC 5869), used by the post-quantum PSK exchange (common/pqx). */
#ifndef ZTNA_CRYPTO_HKDF_SHA256_H
#define ZTNA_CRYPTO_HKDF_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define HKDF_SHA256_HASH_LEN 32
#define HKDF_SHA256_MAX_OUT (255 * HKDF_SHA256_HASH_LEN)

/* Extract-then-expand: writes out_len bytes of OKM to out. A NULL/empty salt means HashLen zero
 * bytes (RFC 5869 section 2.2). NULL pointers are allowed with a zero length.
 * Returns 0, or -EINVAL if out_len is 0 or larger than 255 * 32 (out is then untouched). */
int hkdf_sha256(uint8_t *out, size_t out_len, const uint8_t *salt, size_t salt_len,
                const uint8_t *ikm, size_t ikm_len, const uint8_t *info, size_t info_len);

/* The two halves, for callers that reuse one PRK for several outputs. */
void hkdf_sha256_extract(uint8_t prk[static HKDF_SHA256_HASH_LEN], const uint8_t *salt,
                         size_t salt_len, const uint8_t *ikm, size_t ikm_len);
int hkdf_sha256_expand(uint8_t *out, size_t out_len, const uint8_t prk[static HKDF_SHA256_HASH_LEN],
                       const uint8_t *info, size_t info_len);

#endif
