/* ML-KEM-768 (FIPS 203, final). All functions return 0, or -EINVAL when an input key fails the
 * FIPS 203 input checks: encaps when ek fails the modulus check (7.2), decaps when dk fails the
 * hash check (7.3). Lengths are fixed by the types; callers check lengths of untrusted input first.
 * Secret-dependent work is constant time (tests/mlkem/ctgrind checks it under valgrind). */
#ifndef ZTNA_MLKEM_MLKEM768_H
#define ZTNA_MLKEM_MLKEM768_H

#include <stdint.h>

#define MLKEM768_EK_BYTES 1184
#define MLKEM768_DK_BYTES 2400
#define MLKEM768_CT_BYTES 1088
#define MLKEM768_SS_BYTES 32
#define MLKEM768_SEED_BYTES 64 /* d || z */
#define MLKEM768_MSG_BYTES 32

/* Algorithm 16 ML-KEM.KeyGen_internal(d, z) with seed = d || z. */
int mlkem768_keygen_derand(uint8_t ek[static 1184], uint8_t dk[static 2400],
                           const uint8_t seed[static 64]);
/* Algorithm 19 ML-KEM.KeyGen with d, z from the system RNG (randombytes_buf). */
int mlkem768_keygen(uint8_t ek[static 1184], uint8_t dk[static 2400]);
/* Algorithm 17 ML-KEM.Encaps_internal(ek, m), after the modulus check. */
int mlkem768_encaps_derand(uint8_t ct[static 1088], uint8_t ss[static 32],
                           const uint8_t ek[static 1184], const uint8_t m[static 32]);
/* Algorithm 20 ML-KEM.Encaps with m from the system RNG. */
int mlkem768_encaps(uint8_t ct[static 1088], uint8_t ss[static 32], const uint8_t ek[static 1184]);
/* Algorithm 21 ML-KEM.Decaps (hash check, then Algorithm 18 with implicit rejection). */
int mlkem768_decaps(uint8_t ss[static 32], const uint8_t ct[static 1088],
                    const uint8_t dk[static 2400]);

/* The encapsulation-key modulus check alone (FIPS 203 7.2): true if every coefficient < q. */
_Bool mlkem768_ek_check(const uint8_t ek[static 1184]);

#endif
