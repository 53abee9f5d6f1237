/* ML-KEM polynomial arithmetic: Montgomery/Barrett reduction without branches, the NTT with
 * precomputed zetas (FIPS 203 Algorithms 9-11), CBD sampling (Algorithm 8), SampleNTT (Algorithm 7)
 * and the byte encodings and compressions of section 4.2.1. Constant time in the coefficients:
 * compression uses multiply-and-shift instead of division, and no coefficient selects a branch or
 * a table index. SampleNTT branches on public matrix bytes only. */
#include "common/mlkem/poly.h"

#include "common/mlkem/sha3.h"

#define QINV (-3327)    /* q^-1 mod 2^16 */
#define MONT_SQ 1353    /* 2^32 mod q */
#define INV_F 1441      /* 2^32 / 128 mod q: undoes the 1/2^16 of fqmul and scales by 1/128 */

/* zeta^BitRev7(i) * 2^16 mod q, centred; zeta = 17 (FIPS 203 Appendix A, Montgomery form). */
static const int16_t zetas[128] = {
    -1044, -758,  -359,  -1517, 1493,  1422,  287,   202,   -171,  622,   1577,  182,   962,
    -1202, -1474, 1468,  573,   -1325, 264,   383,   -829,  1458,  -1602, -130,  -681,  1017,
    732,   608,   -1542, 411,   -205,  -1571, 1223,  652,   -552,  1015,  -1293, 1491,  -282,
    -1544, 516,   -8,    -320,  -666,  -1618, -1162, 126,   1469,  -853,  -90,   -271,  830,
    107,   -1421, -247,  -951,  -398,  961,   -1508, -725,  448,   -1065, 677,   -1275, -1103,
    430,   555,   843,   -1251, 871,   1550,  105,   422,   587,   177,   -235,  -291,  -460,
    1574,  1653,  -246,  778,   1159,  -147,  -777,  1483,  -602,  1119,  -1590, 644,   -872,
    349,   418,   329,   -156,  -75,   817,   1097,  603,   610,   1322,  -1285, -1465, 384,
    -1215, -136,  1218,  -1335, -874,  220,   -1187, -1659, -1185, -1530, -1278, 794,   -1510,
    -854,  -870,  478,   -108,  -308,  996,   991,   958,   -1460, 1522,  1628,
};

/* a * 2^-16 mod q for |a| < q * 2^15; result in (-q, q). */
static inline int16_t montgomery_reduce(int32_t a)
{
    int16_t t = (int16_t)((int16_t)a * QINV);
    return (int16_t)((a - (int32_t)t * MLKEM_Q) >> 16);
}

/* Centred representative of a mod q in (-q/2, q/2]. */
static inline int16_t barrett_reduce(int16_t a)
{
    const int16_t v = ((1 << 26) + MLKEM_Q / 2) / MLKEM_Q;
    int16_t t = (int16_t)(((int32_t)v * a + (1 << 25)) >> 26);
    return (int16_t)(a - t * MLKEM_Q);
}

static inline int16_t fqmul(int16_t a, int16_t b)
{
    return montgomery_reduce((int32_t)a * b);
}

/* Maps a coefficient in (-q, q) to [0, q) with a mask, not a branch. */
static inline uint16_t to_positive(int16_t a)
{
    return (uint16_t)(a + ((a >> 15) & MLKEM_Q));
}

/* Algorithm 9 NTT, Cooley-Tukey butterflies; inputs |c| < q. */
void poly_ntt(poly *p)
{
    int16_t *r = p->c;
    unsigned k = 1;
    for (unsigned len = 128; len >= 2; len >>= 1) {
        for (unsigned start = 0; start < MLKEM_N; start += 2 * len) {
            int16_t zeta = zetas[k++];
            for (unsigned j = start; j < start + len; j++) {
                int16_t t = fqmul(zeta, r[j + len]);
                r[j + len] = (int16_t)(r[j] - t);
                r[j] = (int16_t)(r[j] + t);
            }
        }
    }
    poly_reduce(p);
}

/* Algorithm 10 NTT^-1, Gentleman-Sande butterflies, then the 1/128 scaling (left times 2^16). */
void poly_invntt_tomont(poly *p)
{
    int16_t *r = p->c;
    unsigned k = 127;
    for (unsigned len = 2; len <= 128; len <<= 1) {
        for (unsigned start = 0; start < MLKEM_N; start += 2 * len) {
            int16_t zeta = zetas[k--];
            for (unsigned j = start; j < start + len; j++) {
                int16_t t = r[j];
                r[j] = barrett_reduce((int16_t)(t + r[j + len]));
                r[j + len] = fqmul(zeta, (int16_t)(r[j + len] - t));
            }
        }
    }
    for (unsigned j = 0; j < MLKEM_N; j++)
        r[j] = fqmul(r[j], INV_F);
}

/* r = sum_i a_i o b_i (Algorithm 11 MultiplyNTTs with Algorithm 12 BaseCaseMultiply, accumulated
 * over the vector), times 2^-16. Lazy reduction: the products of a pair of coefficients are summed
 * over the vector in 32 bits and reduced once. b1 * zeta is reduced first (zetas are in Montgomery
 * form, so fqmul gives b1 * zeta mod q in (-q, q)); with every input in (-q, q) the sum stays below
 * 2 * MLKEM_K * q^2 < q * 2^15, the range montgomery_reduce accepts. */
void poly_basemul_acc(poly *r, const polyvec *a, const polyvec *b)
{
    for (unsigned i = 0; i < MLKEM_N / 4; i++) {
        const int16_t z = zetas[64 + i];
        int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (unsigned k = 0; k < MLKEM_K; k++) {
            const int16_t *x = &a->v[k].c[4 * i], *y = &b->v[k].c[4 * i];
            const int16_t y1z = fqmul(y[1], z), y3z = fqmul(y[3], (int16_t)-z);
            s0 += (int32_t)x[0] * y[0] + (int32_t)x[1] * y1z;
            s1 += (int32_t)x[0] * y[1] + (int32_t)x[1] * y[0];
            s2 += (int32_t)x[2] * y[2] + (int32_t)x[3] * y3z;
            s3 += (int32_t)x[2] * y[3] + (int32_t)x[3] * y[2];
        }
        r->c[4 * i] = montgomery_reduce(s0);
        r->c[4 * i + 1] = montgomery_reduce(s1);
        r->c[4 * i + 2] = montgomery_reduce(s2);
        r->c[4 * i + 3] = montgomery_reduce(s3);
    }
    poly_reduce(r);
}

void poly_tomont(poly *r)
{
    for (unsigned i = 0; i < MLKEM_N; i++)
        r->c[i] = montgomery_reduce((int32_t)r->c[i] * MONT_SQ);
}

void poly_reduce(poly *r)
{
    for (unsigned i = 0; i < MLKEM_N; i++)
        r->c[i] = barrett_reduce(r->c[i]);
}

void poly_add(poly *r, const poly *a)
{
    for (unsigned i = 0; i < MLKEM_N; i++)
        r->c[i] = (int16_t)(r->c[i] + a->c[i]);
}

void poly_sub(poly *r, const poly *a, const poly *b)
{
    for (unsigned i = 0; i < MLKEM_N; i++)
        r->c[i] = (int16_t)(a->c[i] - b->c[i]);
}

/* Algorithm 5 ByteEncode_12. */
void poly_tobytes(uint8_t r[static 384], const poly *a)
{
    for (unsigned i = 0; i < MLKEM_N / 2; i++) {
        uint16_t t0 = to_positive(a->c[2 * i]), t1 = to_positive(a->c[2 * i + 1]);
        r[3 * i] = (uint8_t)t0;
        r[3 * i + 1] = (uint8_t)((t0 >> 8) | (t1 << 4));
        r[3 * i + 2] = (uint8_t)(t1 >> 4);
    }
}

/* Algorithm 6 ByteDecode_12, without the reduction mod q (the modulus check looks at the raw
 * values; decoding a dk yields values < 4096, which the NTT arithmetic tolerates). */
void poly_frombytes(poly *r, const uint8_t a[static 384])
{
    for (unsigned i = 0; i < MLKEM_N / 2; i++) {
        r->c[2 * i] = (int16_t)((a[3 * i] | (uint16_t)a[3 * i + 1] << 8) & 0xfff);
        r->c[2 * i + 1] = (int16_t)((a[3 * i + 1] >> 4 | (uint16_t)a[3 * i + 2] << 4) & 0xfff);
    }
}

/* Decompress_1(ByteDecode_1(m)): bit b becomes b * ceil(q/2), by mask. */
void poly_frommsg(poly *r, const uint8_t msg[static 32])
{
    for (unsigned i = 0; i < 32; i++)
        for (unsigned j = 0; j < 8; j++) {
            int16_t mask = (int16_t)-(int16_t)((msg[i] >> j) & 1);
            r->c[8 * i + j] = (int16_t)(mask & ((MLKEM_Q + 1) / 2));
        }
}

/* ByteEncode_1(Compress_1(a)): round(2x/q) mod 2 as multiply-shift (80635 = 2^28/q rounded). */
void poly_tomsg(uint8_t msg[static 32], const poly *a)
{
    for (unsigned i = 0; i < 32; i++) {
        msg[i] = 0;
        for (unsigned j = 0; j < 8; j++) {
            uint32_t t = to_positive(a->c[8 * i + j]);
            t = (((t << 1) + 1665) * 80635) >> 28;
            msg[i] |= (uint8_t)((t & 1) << j);
        }
    }
}

/* ByteEncode_10(Compress_10(a)); 1290167 = 2^32/q rounded, so the quotient needs no division. */
void poly_compress_du(uint8_t r[static 320], const poly *a)
{
    for (unsigned i = 0; i < MLKEM_N / 4; i++) {
        uint16_t t[4];
        for (unsigned k = 0; k < 4; k++) {
            uint64_t d = to_positive(a->c[4 * i + k]);
            d = (((d << 10) + 1665) * 1290167) >> 32;
            t[k] = (uint16_t)(d & 0x3ff);
        }
        uint8_t *o = r + 5 * i;
        o[0] = (uint8_t)t[0];
        o[1] = (uint8_t)(t[0] >> 8 | t[1] << 2);
        o[2] = (uint8_t)(t[1] >> 6 | t[2] << 4);
        o[3] = (uint8_t)(t[2] >> 4 | t[3] << 6);
        o[4] = (uint8_t)(t[3] >> 2);
    }
}

void poly_decompress_du(poly *r, const uint8_t a[static 320])
{
    for (unsigned i = 0; i < MLKEM_N / 4; i++) {
        const uint8_t *b = a + 5 * i;
        uint16_t t[4] = {
            (uint16_t)(b[0] | (uint16_t)b[1] << 8), (uint16_t)(b[1] >> 2 | (uint16_t)b[2] << 6),
            (uint16_t)(b[2] >> 4 | (uint16_t)b[3] << 4), (uint16_t)(b[3] >> 6 | (uint16_t)b[4] << 2)};
        for (unsigned k = 0; k < 4; k++)
            r->c[4 * i + k] = (int16_t)(((uint32_t)(t[k] & 0x3ff) * MLKEM_Q + 512) >> 10);
    }
}

/* ByteEncode_4(Compress_4(a)); 80635 = 2^28/q rounded. */
void poly_compress_dv(uint8_t r[static 128], const poly *a)
{
    for (unsigned i = 0; i < MLKEM_N / 8; i++) {
        uint8_t t[8];
        for (unsigned k = 0; k < 8; k++) {
            uint32_t d = to_positive(a->c[8 * i + k]);
            d = (((d << 4) + 1665) * 80635) >> 28;
            t[k] = (uint8_t)(d & 0xf);
        }
        for (unsigned k = 0; k < 4; k++)
            r[4 * i + k] = (uint8_t)(t[2 * k] | t[2 * k + 1] << 4);
    }
}

void poly_decompress_dv(poly *r, const uint8_t a[static 128])
{
    for (unsigned i = 0; i < MLKEM_N / 2; i++) {
        r->c[2 * i] = (int16_t)(((uint16_t)(a[i] & 15) * MLKEM_Q + 8) >> 4);
        r->c[2 * i + 1] = (int16_t)(((uint16_t)(a[i] >> 4) * MLKEM_Q + 8) >> 4);
    }
}

/* Algorithm 8 SamplePolyCBD_2: each coefficient is (a0 + a1) - (b0 + b1) of 4 fresh bits. */
void poly_cbd2(poly *r, const uint8_t buf[static 128])
{
    for (unsigned i = 0; i < MLKEM_N / 8; i++) {
        uint32_t t = (uint32_t)buf[4 * i] | (uint32_t)buf[4 * i + 1] << 8 |
                     (uint32_t)buf[4 * i + 2] << 16 | (uint32_t)buf[4 * i + 3] << 24;
        uint32_t d = (t & 0x55555555) + ((t >> 1) & 0x55555555);
        for (unsigned j = 0; j < 8; j++) {
            int16_t x = (int16_t)((d >> (4 * j)) & 3), y = (int16_t)((d >> (4 * j + 2)) & 3);
            r->c[8 * i + j] = (int16_t)(x - y);
        }
    }
}

/* Rejection step of Algorithm 7 on public bytes: 12-bit candidates, keep those < q. */
static unsigned rej_uniform(int16_t *r, unsigned len, const uint8_t *buf, unsigned buflen)
{
    unsigned ctr = 0, pos = 0;
    while (ctr < len && pos + 3 <= buflen) {
        uint16_t v0 = (uint16_t)((buf[pos] | (uint16_t)buf[pos + 1] << 8) & 0xfff);
        uint16_t v1 = (uint16_t)((buf[pos + 1] >> 4 | (uint16_t)buf[pos + 2] << 4) & 0xfff);
        pos += 3;
        if (v0 < MLKEM_Q)
            r[ctr++] = (int16_t)v0;
        if (ctr < len && v1 < MLKEM_Q)
            r[ctr++] = (int16_t)v1;
    }
    return ctr;
}

/* 3 SHAKE-128 blocks (504 bytes, 336 candidates) nearly always give 256 coefficients; more blocks
 * are squeezed one at a time (CCTV's unlucky sample needs more than 575 bytes). */
#define SAMPLE_BLOCKS 3

void polyvec_matrix_expand(polyvec a[MLKEM_K], const uint8_t rho[static 32], int transposed)
{
    uint8_t buf[SAMPLE_BLOCKS * SHAKE128_RATE];
    uint8_t in[34];
    struct keccak_state st;

    for (unsigned i = 0; i < 32; i++)
        in[i] = rho[i];
    for (unsigned i = 0; i < MLKEM_K; i++) {
        for (unsigned j = 0; j < MLKEM_K; j++) {
            in[32] = (uint8_t)(transposed ? i : j);
            in[33] = (uint8_t)(transposed ? j : i);
            shake128_init(&st);
            keccak_absorb(&st, in, sizeof(in));
            keccak_squeeze_blocks(&st, buf, SAMPLE_BLOCKS);
            unsigned ctr = rej_uniform(a[i].v[j].c, MLKEM_N, buf, sizeof(buf));
            while (ctr < MLKEM_N) {
                keccak_squeeze_blocks(&st, buf, 1);
                ctr += rej_uniform(a[i].v[j].c + ctr, MLKEM_N - ctr, buf, SHAKE128_RATE);
            }
        }
    }
}
