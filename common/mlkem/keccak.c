/* Keccak-f[1600] and the FIPS 202 sponge. The permutation keeps the 25 lanes in locals and runs one
 * fully written-out round per loop iteration (generated: theta, rho+pi into b*, chi, iota), which
 * compilers keep in registers. Lanes are little-endian (FIPS 202 3.1.2). */
#include "common/mlkem/sha3.h"

#include <string.h>

#define ROL(x, n) (((x) << (n)) | ((x) >> (64 - (n))))

static const uint64_t keccak_rc[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

void keccak_f1600(uint64_t s[static 25])
{
    uint64_t a0 = s[0], a1 = s[1], a2 = s[2], a3 = s[3], a4 = s[4];
    uint64_t a5 = s[5], a6 = s[6], a7 = s[7], a8 = s[8], a9 = s[9];
    uint64_t a10 = s[10], a11 = s[11], a12 = s[12], a13 = s[13], a14 = s[14];
    uint64_t a15 = s[15], a16 = s[16], a17 = s[17], a18 = s[18], a19 = s[19];
    uint64_t a20 = s[20], a21 = s[21], a22 = s[22], a23 = s[23], a24 = s[24];

    for (unsigned round = 0; round < 24; round++) {
        uint64_t c0 = a0 ^ a5 ^ a10 ^ a15 ^ a20, c1 = a1 ^ a6 ^ a11 ^ a16 ^ a21;
        uint64_t c2 = a2 ^ a7 ^ a12 ^ a17 ^ a22, c3 = a3 ^ a8 ^ a13 ^ a18 ^ a23;
        uint64_t c4 = a4 ^ a9 ^ a14 ^ a19 ^ a24;
        uint64_t d0 = c4 ^ ROL(c1, 1);
        uint64_t d1 = c0 ^ ROL(c2, 1);
        uint64_t d2 = c1 ^ ROL(c3, 1);
        uint64_t d3 = c2 ^ ROL(c4, 1);
        uint64_t d4 = c3 ^ ROL(c0, 1);
        uint64_t b0 = (a0 ^ d0);
        uint64_t b16 = ROL((a5 ^ d0), 36);
        uint64_t b7 = ROL((a10 ^ d0), 3);
        uint64_t b23 = ROL((a15 ^ d0), 41);
        uint64_t b14 = ROL((a20 ^ d0), 18);
        uint64_t b10 = ROL((a1 ^ d1), 1);
        uint64_t b1 = ROL((a6 ^ d1), 44);
        uint64_t b17 = ROL((a11 ^ d1), 10);
        uint64_t b8 = ROL((a16 ^ d1), 45);
        uint64_t b24 = ROL((a21 ^ d1), 2);
        uint64_t b20 = ROL((a2 ^ d2), 62);
        uint64_t b11 = ROL((a7 ^ d2), 6);
        uint64_t b2 = ROL((a12 ^ d2), 43);
        uint64_t b18 = ROL((a17 ^ d2), 15);
        uint64_t b9 = ROL((a22 ^ d2), 61);
        uint64_t b5 = ROL((a3 ^ d3), 28);
        uint64_t b21 = ROL((a8 ^ d3), 55);
        uint64_t b12 = ROL((a13 ^ d3), 25);
        uint64_t b3 = ROL((a18 ^ d3), 21);
        uint64_t b19 = ROL((a23 ^ d3), 56);
        uint64_t b15 = ROL((a4 ^ d4), 27);
        uint64_t b6 = ROL((a9 ^ d4), 20);
        uint64_t b22 = ROL((a14 ^ d4), 39);
        uint64_t b13 = ROL((a19 ^ d4), 8);
        uint64_t b4 = ROL((a24 ^ d4), 14);
        a0 = b0 ^ (~b1 & b2);
        a1 = b1 ^ (~b2 & b3);
        a2 = b2 ^ (~b3 & b4);
        a3 = b3 ^ (~b4 & b0);
        a4 = b4 ^ (~b0 & b1);
        a5 = b5 ^ (~b6 & b7);
        a6 = b6 ^ (~b7 & b8);
        a7 = b7 ^ (~b8 & b9);
        a8 = b8 ^ (~b9 & b5);
        a9 = b9 ^ (~b5 & b6);
        a10 = b10 ^ (~b11 & b12);
        a11 = b11 ^ (~b12 & b13);
        a12 = b12 ^ (~b13 & b14);
        a13 = b13 ^ (~b14 & b10);
        a14 = b14 ^ (~b10 & b11);
        a15 = b15 ^ (~b16 & b17);
        a16 = b16 ^ (~b17 & b18);
        a17 = b17 ^ (~b18 & b19);
        a18 = b18 ^ (~b19 & b15);
        a19 = b19 ^ (~b15 & b16);
        a20 = b20 ^ (~b21 & b22);
        a21 = b21 ^ (~b22 & b23);
        a22 = b22 ^ (~b23 & b24);
        a23 = b23 ^ (~b24 & b20);
        a24 = b24 ^ (~b20 & b21);
        a0 ^= keccak_rc[round];
    }
    s[0] = a0, s[1] = a1, s[2] = a2, s[3] = a3, s[4] = a4;
    s[5] = a5, s[6] = a6, s[7] = a7, s[8] = a8, s[9] = a9;
    s[10] = a10, s[11] = a11, s[12] = a12, s[13] = a13, s[14] = a14;
    s[15] = a15, s[16] = a16, s[17] = a17, s[18] = a18, s[19] = a19;
    s[20] = a20, s[21] = a21, s[22] = a22, s[23] = a23, s[24] = a24;
}

static void state_init(struct keccak_state *st, unsigned rate, uint8_t dsep)
{
    memset(st, 0, sizeof(*st));
    st->rate = rate;
    st->dsep = dsep;
}

void shake128_init(struct keccak_state *st) { state_init(st, SHAKE128_RATE, 0x1f); }
void shake256_init(struct keccak_state *st) { state_init(st, SHAKE256_RATE, 0x1f); }

static inline void xor_byte(uint64_t *s, unsigned i, uint8_t b)
{
    s[i / 8] ^= (uint64_t)b << (8 * (i % 8));
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline void store64(uint8_t *p, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void keccak_absorb(struct keccak_state *st, const uint8_t *in, size_t len)
{
    if (st->squeezing)
        return;
    while (len > 0) {
        if (st->pos == 0 && len >= st->rate) {
            for (unsigned i = 0; i < st->rate / 8; i++)
                st->s[i] ^= load64(in + 8 * i);
            keccak_f1600(st->s);
            in += st->rate;
            len -= st->rate;
            continue;
        }
        xor_byte(st->s, st->pos++, *in++);
        len--;
        if (st->pos == st->rate) {
            keccak_f1600(st->s);
            st->pos = 0;
        }
    }
}

/* FIPS 202 5.1 pad10*1 with the domain bits, then switch to squeezing at the block start. */
static void finalize(struct keccak_state *st)
{
    xor_byte(st->s, st->pos, st->dsep);
    xor_byte(st->s, st->rate - 1, 0x80);
    keccak_f1600(st->s);
    st->pos = 0;
    st->squeezing = true;
}

void keccak_squeeze(struct keccak_state *st, uint8_t *out, size_t len)
{
    if (!st->squeezing)
        finalize(st);
    while (len > 0) {
        if (st->pos == st->rate) {
            keccak_f1600(st->s);
            st->pos = 0;
        }
        if (st->pos == 0 && len >= st->rate) {
            for (unsigned i = 0; i < st->rate / 8; i++)
                store64(out + 8 * i, st->s[i]);
            st->pos = st->rate;
            out += st->rate;
            len -= st->rate;
            continue;
        }
        *out++ = (uint8_t)(st->s[st->pos / 8] >> (8 * (st->pos % 8)));
        st->pos++;
        len--;
    }
}

void keccak_squeeze_blocks(struct keccak_state *st, uint8_t *out, size_t nblocks)
{
    keccak_squeeze(st, out, nblocks * st->rate);
}

static void sponge(uint8_t *out, size_t out_len, const uint8_t *in, size_t len, unsigned rate,
                   uint8_t dsep)
{
    struct keccak_state st;
    state_init(&st, rate, dsep);
    keccak_absorb(&st, in, len);
    keccak_squeeze(&st, out, out_len);
    memset(&st, 0, sizeof(st));
    __asm__ __volatile__("" : : "r"(&st) : "memory"); /* keep the wipe */
}

void sha3_256(uint8_t out[static 32], const uint8_t *in, size_t len)
{
    sponge(out, 32, in, len, SHA3_256_RATE, 0x06);
}

void sha3_512(uint8_t out[static 64], const uint8_t *in, size_t len)
{
    sponge(out, 64, in, len, SHA3_512_RATE, 0x06);
}

void shake128(uint8_t *out, size_t out_len, const uint8_t *in, size_t len)
{
    sponge(out, out_len, in, len, SHAKE128_RATE, 0x1f);
}

void shake256(uint8_t *out, size_t out_len, const uint8_t *in, size_t len)
{
    sponge(out, out_len, in, len, SHAKE256_RATE, 0x1f);
}
