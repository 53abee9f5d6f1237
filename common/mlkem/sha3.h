/* SHA-3 and SHAKE (FIPS 202) over our own Keccak-f[1600]. OpenSSL 3.0 cannot squeeze a XOF
 * incrementally, which ML-KEM's SampleNTT and the accumulated tests need, so this is written here.
 * Incremental use: *_init, any number of *_absorb, then any number of *_squeeze (the first squeeze
 * pads and finalizes; absorbing after squeezing is a programming error and is ignored).
 * The state holds no pointers; wipe it with sodium_memzero when it absorbed secrets. */
#ifndef ZTNA_MLKEM_SHA3_H
#define ZTNA_MLKEM_SHA3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHAKE128_RATE 168
#define SHAKE256_RATE 136
#define SHA3_256_RATE 136
#define SHA3_512_RATE 72

struct keccak_state {
    uint64_t s[25];
    unsigned pos;      /* byte offset into the current block (absorb or squeeze) */
    unsigned rate;     /* bytes */
    uint8_t dsep;      /* domain separation + first padding bit: 0x06 SHA3, 0x1f SHAKE */
    bool squeezing;
};

void keccak_f1600(uint64_t s[static 25]);

void shake128_init(struct keccak_state *st);
void shake256_init(struct keccak_state *st);
void keccak_absorb(struct keccak_state *st, const uint8_t *in, size_t len);
void keccak_squeeze(struct keccak_state *st, uint8_t *out, size_t len);
/* Squeezes nblocks whole blocks; only valid on a block boundary (straight after absorbing, or after
 * earlier whole-block squeezes). Used by SampleNTT to draw 3 SHAKE-128 blocks at once. */
void keccak_squeeze_blocks(struct keccak_state *st, uint8_t *out, size_t nblocks);

void sha3_256(uint8_t out[static 32], const uint8_t *in, size_t len);
void sha3_512(uint8_t out[static 64], const uint8_t *in, size_t len);
void shake128(uint8_t *out, size_t out_len, const uint8_t *in, size_t len);
void shake256(uint8_t *out, size_t out_len, const uint8_t *in, size_t len);

#endif
