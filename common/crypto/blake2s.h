/* BLAKE2s (RFC 7693) and the HMAC/KDF constructions WireGuard and Noise build on it.
 * Pure functions, no allocation; a state may live on the stack and is wiped by blake2s_final(). */
#ifndef ZTNA_COMMON_CRYPTO_BLAKE2S_H
#define ZTNA_COMMON_CRYPTO_BLAKE2S_H

#include <stddef.h>
#include <stdint.h>

#define BLAKE2S_BLOCK_SIZE 64
#define BLAKE2S_HASH_SIZE 32 /* maximum (and WireGuard's) digest size */
#define BLAKE2S_KEY_SIZE 32  /* maximum key size */

struct blake2s_state {
    uint32_t h[8];
    uint32_t t[2];
    uint32_t f[2];
    uint8_t buf[BLAKE2S_BLOCK_SIZE];
    size_t buflen;
    size_t outlen;
};

/* outlen 1..32, keylen 0..32 (key may be NULL when keylen is 0). 0 / -EINVAL. */
int blake2s_init(struct blake2s_state *s, size_t outlen, const uint8_t *key, size_t keylen);
void blake2s_update(struct blake2s_state *s, const void *in, size_t inlen);
/* Writes s->outlen bytes and wipes the state. */
void blake2s_final(struct blake2s_state *s, uint8_t *out);
/* One-shot, keyed when keylen > 0. 0 / -EINVAL. */
int blake2s_hash(uint8_t *out, size_t outlen, const void *in, size_t inlen, const uint8_t *key,
                 size_t keylen);

/* HMAC (RFC 2104) over BLAKE2s-256 with its 64-byte block: WireGuard's / Noise's HMAC.
 * keylen may exceed the block size (it is hashed first, as RFC 2104 says). */
void blake2s_hmac(uint8_t out[static BLAKE2S_HASH_SIZE], const uint8_t *in, size_t inlen,
                  const uint8_t *key, size_t keylen);

/* Noise HKDF / WireGuard KDF_n(ck, data): t0 = HMAC(ck, data); t1 = HMAC(t0, 0x1);
 * t2 = HMAC(t0, t1 || 0x2); t3 = HMAC(t0, t2 || 0x3). Outputs that are NULL are not produced
 * (KDF1: t2 = t3 = NULL; KDF2: t3 = NULL). Outputs may alias ck. Intermediates are wiped. */
void blake2s_kdf(uint8_t *t1, uint8_t *t2, uint8_t *t3, const uint8_t ck[static BLAKE2S_HASH_SIZE],
                 const uint8_t *data, size_t data_len);

#endif
