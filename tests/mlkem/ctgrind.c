/* ctgrind-style constant-time check of ML-KEM-768 under valgrind memcheck (tests/mlkem/ctgrind.sh).
 * Secrets are marked undefined with VALGRIND_MAKE_MEM_UNDEFINED; memcheck then reports every
 * conditional branch and every memory address (table index) that depends on them, so a clean run
 * means no secret-dependent control flow or indexing on the paths exercised here:
 *   - keygen_derand: the 64-byte seed d||z is secret, so sigma, s, e, t and every Keccak state
 *     derived from them are too. rho and t (ek) are public by design: the library declassifies
 *     rho at its one MLKEM_DECLASSIFY point (common/mlkem/ct.h; SampleNTT's rejection loop
 *     branches on the public matrix bytes), and ek is declassified after the call.
 *   - encaps_derand: m is secret (so K, r, y, e1, e2 and every intermediate); ek public. The
 *     ciphertext is declassified after the call, K stays secret.
 *   - decaps: dk_PKE (s) and z are secret; the embedded ek and H(ek) are public (the 7.3 hash
 *     check branches on them only). ct is public input. Covered: K-PKE.Decrypt, G, J, the
 *     re-encryption, the constant-time ciphertext compare and the K / K_bar select, for both a
 *     valid ciphertext and a corrupted one (implicit rejection), so neither path can branch on
 *     which of the two keys is chosen.
 * Outputs are declassified (VALGRIND_MAKE_MEM_DEFINED) only to compare them with the expected
 * values after each call. `ctgrind --leak-selftest` branches on a secret on purpose, so the script
 * can prove the harness detects a leak. */
#include <stdio.h>
#include <string.h>

#include <valgrind/memcheck.h>

#include "common/mlkem/mlkem768.h"
#include "common/mlkem/sha3.h"

#define SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))

static uint8_t ek[MLKEM768_EK_BYTES], dk[MLKEM768_DK_BYTES], ct[MLKEM768_CT_BYTES];

static int fail(const char *what)
{
    fprintf(stderr, "ctgrind: %s\n", what);
    return 1;
}

/* The dk layout: s (1152) || ek (1184) || H(ek) (32) || z (32). */
static void mark_dk_secret(void)
{
    SECRET(dk, 1152);
    SECRET(dk + 2400 - 32, 32);
}

int main(int argc, char **argv)
{
    uint8_t seed[64], m[32], k[32], k2[32], k3[32];
    int rc = 0;

    if (RUNNING_ON_VALGRIND == 0)
        fprintf(stderr, "ctgrind: not under valgrind, only functional checks run\n");
    for (int i = 0; i < 64; i++)
        seed[i] = (uint8_t)(i * 5 + 1);
    for (int i = 0; i < 32; i++)
        m[i] = (uint8_t)(i * 3 + 7);

    if (argc > 1 && strcmp(argv[1], "--leak-selftest") == 0) {
        SECRET(seed, 64);
        volatile int x = 0;
        if (seed[3] & 1) /* deliberate secret-dependent branch */
            x = 1;
        return x * 0;
    }

    /* KeyGen: seed secret; ek is the public output. */
    SECRET(seed, 64);
    rc |= mlkem768_keygen_derand(ek, dk, seed);
    PUBLIC(ek, sizeof(ek));
    PUBLIC(dk + 1152, 1184 + 32); /* embedded ek and H(ek): public */

    /* Encaps: m secret, ek public. */
    SECRET(m, 32);
    rc |= mlkem768_encaps_derand(ct, k, ek, m);
    PUBLIC(ct, sizeof(ct));

    /* Decaps of the valid ciphertext: s and z secret. */
    mark_dk_secret();
    rc |= mlkem768_decaps(k2, ct, dk);

    /* Decaps of a corrupted ciphertext: implicit rejection path. */
    ct[100] ^= 0x10;
    mark_dk_secret();
    rc |= mlkem768_decaps(k3, ct, dk);
    ct[100] ^= 0x10;

    /* Declassify the results only to check them. */
    PUBLIC(k, 32);
    PUBLIC(k2, 32);
    PUBLIC(k3, 32);
    PUBLIC(dk, sizeof(dk));
    PUBLIC(seed, 64);
    PUBLIC(&rc, sizeof(rc));
    if (rc != 0)
        return fail("an operation failed");
    if (memcmp(k, k2, 32) != 0)
        return fail("decapsulated key differs");
    uint8_t zc[32 + MLKEM768_CT_BYTES], want[32];
    memcpy(zc, dk + 2400 - 32, 32);
    memcpy(zc + 32, ct, sizeof(ct));
    zc[32 + 100] ^= 0x10;
    shake256(want, 32, zc, sizeof(zc));
    if (memcmp(k3, want, 32) != 0)
        return fail("implicit rejection key differs from J(z || c)");
    printf("ctgrind: keygen, encaps, decaps (valid and rejected) ran on secret-marked inputs\n");
    return 0;
}
