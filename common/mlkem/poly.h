/* Polynomial arithmetic of ML-KEM over Z_q[X]/(X^256 + 1), q = 3329 (FIPS 203 section 4).
 * Coefficients are int16_t; comments say when a function leaves them in Montgomery form
 * (times 2^16 mod q) or in the NTT domain. Nothing here branches on or indexes by coefficients. */
#ifndef ZTNA_MLKEM_POLY_H
#define ZTNA_MLKEM_POLY_H

#include <stdint.h>

#define MLKEM_N 256
#define MLKEM_Q 3329
#define MLKEM_K 3
#define MLKEM_DU 10
#define MLKEM_DV 4
#define MLKEM_POLY_BYTES 384                         /* ByteEncode_12 */
#define MLKEM_POLYVEC_BYTES (MLKEM_K * MLKEM_POLY_BYTES)
#define MLKEM_POLY_DU_BYTES 320                      /* ByteEncode_10 */
#define MLKEM_POLY_DV_BYTES 128                      /* ByteEncode_4 */
#define MLKEM_SYM_BYTES 32

typedef struct {
    int16_t c[MLKEM_N];
} poly;

typedef struct {
    poly v[MLKEM_K];
} polyvec;

void poly_ntt(poly *r);                 /* Algorithm 9; output reduced, |c| < q */
void poly_invntt_tomont(poly *r);       /* Algorithm 10, times 2^16 */
void poly_basemul_acc(poly *r, const polyvec *a, const polyvec *b); /* Alg 11 summed, /2^16 */
void poly_tomont(poly *r);
void poly_reduce(poly *r);              /* Barrett: to (-q/2, q/2] */
void poly_add(poly *r, const poly *a);
void poly_sub(poly *r, const poly *a, const poly *b); /* r = a - b */

void poly_tobytes(uint8_t r[static 384], const poly *a);   /* ByteEncode_12, a reduced */
void poly_frombytes(poly *r, const uint8_t a[static 384]); /* ByteDecode_12 (mod-free) */
void poly_frommsg(poly *r, const uint8_t msg[static 32]);  /* Decompress_1(ByteDecode_1) */
void poly_tomsg(uint8_t msg[static 32], const poly *a);    /* ByteEncode_1(Compress_1) */
void poly_compress_du(uint8_t r[static 320], const poly *a);
void poly_decompress_du(poly *r, const uint8_t a[static 320]);
void poly_compress_dv(uint8_t r[static 128], const poly *a);
void poly_decompress_dv(poly *r, const uint8_t a[static 128]);

void poly_cbd2(poly *r, const uint8_t buf[static 128]);    /* Algorithm 8, eta = 2 */
/* Algorithm 7 SampleNTT(rho || j || i) for the whole matrix; transposed swaps i and j. */
void polyvec_matrix_expand(polyvec a[MLKEM_K], const uint8_t rho[static 32], int transposed);

#endif
