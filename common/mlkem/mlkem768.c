/* ML-KEM-768 (FIPS 203): K-PKE (Algorithms 13-15) and the KEM (Algorithms 16-21), with the input
 * checks of section 7 and implicit rejection. Secret values (d, z, m, sigma, s, e, dk, the
 * re-encryption result) never choose a branch or an index: the ciphertext comparison and the
 * final key selection are masks. The only declassifications are the results of public checks
 * (the modulus check on a public ek, the hash check over the public part of dk). */
#include "common/mlkem/mlkem768.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include "common/mlkem/ct.h"
#include "common/mlkem/poly.h"
#include "common/mlkem/sha3.h"

#define ETA_BYTES 128 /* 64 * eta, eta1 = eta2 = 2 for ML-KEM-768 */

_Static_assert(MLKEM768_EK_BYTES == MLKEM_POLYVEC_BYTES + 32, "ek layout");
_Static_assert(MLKEM768_CT_BYTES == MLKEM_K * MLKEM_POLY_DU_BYTES + MLKEM_POLY_DV_BYTES, "ct");
_Static_assert(MLKEM768_DK_BYTES == MLKEM_POLYVEC_BYTES + MLKEM768_EK_BYTES + 64, "dk layout");

/* Offsets inside dk = dk_PKE || ek || H(ek) || z (Algorithm 16 line 3). */
#define DK_EK_OFF MLKEM_POLYVEC_BYTES
#define DK_H_OFF (DK_EK_OFF + MLKEM768_EK_BYTES)
#define DK_Z_OFF (DK_H_OFF + 32)

/* PRF_eta(s, b) = SHAKE256(s || b, 64 * eta) (FIPS 203 4.1). */
static void prf_cbd(poly *r, const uint8_t s[static 32], uint8_t nonce)
{
    uint8_t in[33], buf[ETA_BYTES];
    memcpy(in, s, 32);
    in[32] = nonce;
    shake256(buf, sizeof(buf), in, sizeof(in));
    poly_cbd2(r, buf);
    sodium_memzero(buf, sizeof(buf));
    sodium_memzero(in, sizeof(in));
}

static void polyvec_tobytes(uint8_t r[static MLKEM_POLYVEC_BYTES], const polyvec *a)
{
    for (unsigned i = 0; i < MLKEM_K; i++)
        poly_tobytes(r + i * MLKEM_POLY_BYTES, &a->v[i]);
}

static void polyvec_frombytes(polyvec *r, const uint8_t a[static MLKEM_POLYVEC_BYTES])
{
    for (unsigned i = 0; i < MLKEM_K; i++)
        poly_frombytes(&r->v[i], a + i * MLKEM_POLY_BYTES);
}

/* Algorithm 13 K-PKE.KeyGen(d): ek_PKE = ByteEncode12(t^) || rho, dk_PKE = ByteEncode12(s^). */
static void kpke_keygen(uint8_t ek[static MLKEM768_EK_BYTES],
                        uint8_t dkp[static MLKEM_POLYVEC_BYTES], const uint8_t d[static 32])
{
    uint8_t in[33], rs[64]; /* rho || sigma */
    polyvec a[MLKEM_K], s, e, t;

    memcpy(in, d, 32);
    in[32] = MLKEM_K; /* final FIPS 203: (rho, sigma) = G(d || k) */
    sha3_512(rs, in, sizeof(in));
    const uint8_t *rho = rs, *sigma = rs + 32;
    MLKEM_DECLASSIFY(rho, 32); /* rho is part of ek: public */

    polyvec_matrix_expand(a, rho, 0);
    uint8_t nonce = 0;
    for (unsigned i = 0; i < MLKEM_K; i++)
        prf_cbd(&s.v[i], sigma, nonce++);
    for (unsigned i = 0; i < MLKEM_K; i++)
        prf_cbd(&e.v[i], sigma, nonce++);
    for (unsigned i = 0; i < MLKEM_K; i++) {
        poly_ntt(&s.v[i]);
        poly_ntt(&e.v[i]);
    }
    for (unsigned i = 0; i < MLKEM_K; i++) {
        poly_basemul_acc(&t.v[i], &a[i], &s);
        poly_tomont(&t.v[i]);
        poly_add(&t.v[i], &e.v[i]);
        poly_reduce(&t.v[i]);
    }
    polyvec_tobytes(ek, &t);
    memcpy(ek + MLKEM_POLYVEC_BYTES, rho, 32);
    polyvec_tobytes(dkp, &s);

    sodium_memzero(in, sizeof(in));
    sodium_memzero(rs, sizeof(rs));
    sodium_memzero(&s, sizeof(s));
    sodium_memzero(&e, sizeof(e));
}

/* Algorithm 14 K-PKE.Encrypt(ek, m, r). ek must have passed the modulus check. */
static void kpke_encrypt(uint8_t ct[static MLKEM768_CT_BYTES],
                         const uint8_t ek[static MLKEM768_EK_BYTES], const uint8_t m[static 32],
                         const uint8_t r[static 32])
{
    polyvec at[MLKEM_K], t, y, e1, u;
    poly e2, mu, v;
    uint8_t nonce = 0;

    polyvec_frombytes(&t, ek);
    polyvec_matrix_expand(at, ek + MLKEM_POLYVEC_BYTES, 1);
    for (unsigned i = 0; i < MLKEM_K; i++)
        prf_cbd(&y.v[i], r, nonce++);
    for (unsigned i = 0; i < MLKEM_K; i++)
        prf_cbd(&e1.v[i], r, nonce++);
    prf_cbd(&e2, r, nonce++);
    for (unsigned i = 0; i < MLKEM_K; i++)
        poly_ntt(&y.v[i]);

    for (unsigned i = 0; i < MLKEM_K; i++) { /* u = NTT^-1(A^T o y) + e1 */
        poly_basemul_acc(&u.v[i], &at[i], &y);
        poly_invntt_tomont(&u.v[i]);
        poly_add(&u.v[i], &e1.v[i]);
        poly_reduce(&u.v[i]);
    }
    poly_basemul_acc(&v, &t, &y); /* v = NTT^-1(t^T o y) + e2 + mu */
    poly_invntt_tomont(&v);
    poly_frommsg(&mu, m);
    poly_add(&v, &e2);
    poly_add(&v, &mu);
    poly_reduce(&v);

    for (unsigned i = 0; i < MLKEM_K; i++)
        poly_compress_du(ct + i * MLKEM_POLY_DU_BYTES, &u.v[i]);
    poly_compress_dv(ct + MLKEM_K * MLKEM_POLY_DU_BYTES, &v);

    sodium_memzero(&y, sizeof(y));
    sodium_memzero(&e1, sizeof(e1));
    sodium_memzero(&e2, sizeof(e2));
    sodium_memzero(&mu, sizeof(mu));
    sodium_memzero(&u, sizeof(u));
    sodium_memzero(&v, sizeof(v));
}

/* Algorithm 15 K-PKE.Decrypt(dk_PKE, c). */
static void kpke_decrypt(uint8_t m[static 32], const uint8_t dkp[static MLKEM_POLYVEC_BYTES],
                         const uint8_t ct[static MLKEM768_CT_BYTES])
{
    polyvec u, s;
    poly v, w;

    for (unsigned i = 0; i < MLKEM_K; i++) {
        poly_decompress_du(&u.v[i], ct + i * MLKEM_POLY_DU_BYTES);
        poly_ntt(&u.v[i]);
    }
    poly_decompress_dv(&v, ct + MLKEM_K * MLKEM_POLY_DU_BYTES);
    polyvec_frombytes(&s, dkp);
    poly_basemul_acc(&w, &s, &u);
    poly_invntt_tomont(&w);
    poly_sub(&w, &v, &w);
    poly_reduce(&w);
    poly_tomsg(m, &w);

    sodium_memzero(&s, sizeof(s));
    sodium_memzero(&w, sizeof(w));
    sodium_memzero(&u, sizeof(u));
    sodium_memzero(&v, sizeof(v));
}

/* FIPS 203 7.2 modulus check: ByteEncode12(ByteDecode12(ek)) == ek, i.e. no 12-bit value >= q.
 * ek is public, so the single branch on the result is fine. */
bool mlkem768_ek_check(const uint8_t ek[static MLKEM768_EK_BYTES])
{
    unsigned bad = 0;
    for (unsigned i = 0; i < MLKEM_POLYVEC_BYTES; i += 3) {
        unsigned v0 = (ek[i] | (unsigned)ek[i + 1] << 8) & 0xfff;
        unsigned v1 = (ek[i + 1] >> 4 | (unsigned)ek[i + 2] << 4) & 0xfff;
        bad |= (unsigned)(v0 >= MLKEM_Q) | (unsigned)(v1 >= MLKEM_Q);
    }
    return bad == 0;
}

/* Algorithm 16 ML-KEM.KeyGen_internal(d, z). */
int mlkem768_keygen_derand(uint8_t ek[static 1184], uint8_t dk[static 2400],
                           const uint8_t seed[static 64])
{
    kpke_keygen(ek, dk, seed);
    memcpy(dk + DK_EK_OFF, ek, MLKEM768_EK_BYTES);
    sha3_256(dk + DK_H_OFF, ek, MLKEM768_EK_BYTES);
    memcpy(dk + DK_Z_OFF, seed + 32, 32);
    return 0;
}

/* Algorithm 19 ML-KEM.KeyGen. */
int mlkem768_keygen(uint8_t ek[static 1184], uint8_t dk[static 2400])
{
    uint8_t seed[64];
    if (sodium_init() < 0)
        return -EIO;
    randombytes_buf(seed, sizeof(seed));
    int ret = mlkem768_keygen_derand(ek, dk, seed);
    sodium_memzero(seed, sizeof(seed));
    return ret;
}

/* Algorithm 17 ML-KEM.Encaps_internal(ek, m), preceded by the 7.2 modulus check. */
int mlkem768_encaps_derand(uint8_t ct[static 1088], uint8_t ss[static 32],
                           const uint8_t ek[static 1184], const uint8_t m[static 32])
{
    uint8_t in[64], kr[64]; /* m || H(ek), then K || r */

    if (!mlkem768_ek_check(ek))
        return -EINVAL;
    memcpy(in, m, 32);
    sha3_256(in + 32, ek, MLKEM768_EK_BYTES);
    sha3_512(kr, in, sizeof(in));
    kpke_encrypt(ct, ek, m, kr + 32);
    memcpy(ss, kr, 32);
    sodium_memzero(in, sizeof(in));
    sodium_memzero(kr, sizeof(kr));
    return 0;
}

/* Algorithm 20 ML-KEM.Encaps. */
int mlkem768_encaps(uint8_t ct[static 1088], uint8_t ss[static 32], const uint8_t ek[static 1184])
{
    uint8_t m[32];
    if (sodium_init() < 0)
        return -EIO;
    randombytes_buf(m, sizeof(m));
    int ret = mlkem768_encaps_derand(ct, ss, ek, m);
    sodium_memzero(m, sizeof(m));
    return ret;
}

/* 1 if a != b, else 0, without branching on the bytes. */
static uint8_t ct_differs(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= a[i] ^ b[i];
    return (uint8_t)((0u - (uint32_t)d) >> 31);
}

/* r = sel ? x : r, as a mask; the empty asm stops the compiler from turning it into a branch. */
static void ct_cmov(uint8_t *r, const uint8_t *x, size_t n, uint8_t sel)
{
    uint8_t mask = (uint8_t)-sel;
    __asm__("" : "+r"(mask));
    for (size_t i = 0; i < n; i++)
        r[i] ^= mask & (r[i] ^ x[i]);
}

/* Algorithm 21 ML-KEM.Decaps: the 7.3 hash check, then Algorithm 18 ML-KEM.Decaps_internal. */
int mlkem768_decaps(uint8_t ss[static 32], const uint8_t ct[static 1088],
                    const uint8_t dk[static 2400])
{
    const uint8_t *ek = dk + DK_EK_OFF, *h = dk + DK_H_OFF, *z = dk + DK_Z_OFF;
    uint8_t hek[32], in[64], kr[64], ct2[MLKEM768_CT_BYTES];
    struct keccak_state st;
    int ret = 0;

    /* 7.3: H(ek embedded in dk) must equal the stored hash. Both are public values. */
    sha3_256(hek, ek, MLKEM768_EK_BYTES);
    if (ct_differs(hek, h, 32)) {
        ret = -EINVAL;
        goto out;
    }

    kpke_decrypt(in, dk, ct);              /* m' */
    memcpy(in + 32, h, 32);
    sha3_512(kr, in, sizeof(in));          /* (K', r') = G(m' || h) */

    shake256_init(&st);                    /* K_bar = J(z || c) */
    keccak_absorb(&st, z, 32);
    keccak_absorb(&st, ct, MLKEM768_CT_BYTES);
    keccak_squeeze(&st, ss, 32);

    kpke_encrypt(ct2, ek, in, kr + 32);    /* c' = K-PKE.Encrypt(ek, m', r') */
    ct_cmov(ss, kr, 32, (uint8_t)(1 - ct_differs(ct, ct2, MLKEM768_CT_BYTES)));

out:
    sodium_memzero(in, sizeof(in));
    sodium_memzero(kr, sizeof(kr));
    sodium_memzero(ct2, sizeof(ct2));
    sodium_memzero(&st, sizeof(st));
    return ret;
}
