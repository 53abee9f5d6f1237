/* ML-KEM-768 known answers with no data file and properties: the accumulated tests (Go's recipe,
 * vectors/README.md; 100 and 10,000 cases here, 1,000,000 in bench/mlkem), the seed 00..3f /
 * message 80..9f shared secret, the final-FIPS-203 rho check, implicit rejection equal to
 * J(z || c) for tampered ciphertexts, the decapsulation-key hash check, and random round trips.
 * Usage: test_mlkem_kem [ACCUMULATED_COUNT ...] (default 100 and 10000). */
#include <errno.h>
#include <stdlib.h>

#include <sodium.h>

#include "common/hex.h"
#include "common/mlkem/mlkem768.h"
#include "common/mlkem/sha3.h"
#include "tests/check.h"

static const struct {
    long n;
    const char *hash;
} accumulated[] = {
    {100, "1114b1b6699ed191734fa339376afa7e285c9e6acf6ff0177d346696ce564415"},
    {10000, "8a518cc63da366322a8e7a818c7a0d63483cb3528d34a4cf42f35d5ad73f22fc"},
    {1000000, "424bf8f0e8ae99b78d788a6e2e8e9cdaf9773fc0c08a6f433507cb559edfd0f0"},
};

static void test_accumulated(long n)
{
    const char *want = NULL;
    for (size_t i = 0; i < sizeof(accumulated) / sizeof(accumulated[0]); i++)
        if (accumulated[i].n == n)
            want = accumulated[i].hash;
    CHECK(want != NULL);
    if (!want)
        return;

    struct keccak_state s, o;
    static uint8_t ek[MLKEM768_EK_BYTES], dk[MLKEM768_DK_BYTES], ct[MLKEM768_CT_BYTES];
    uint8_t seed[64], m[32], k[32], k2[32], out[32], w[32];
    shake128_init(&s);
    shake128_init(&o);
    for (long i = 0; i < n; i++) {
        keccak_squeeze(&s, seed, sizeof(seed));
        CHECK(mlkem768_keygen_derand(ek, dk, seed) == 0);
        keccak_absorb(&o, ek, sizeof(ek));
        keccak_squeeze(&s, m, sizeof(m));
        CHECK(mlkem768_encaps_derand(ct, k, ek, m) == 0);
        keccak_absorb(&o, ct, sizeof(ct));
        keccak_absorb(&o, k, sizeof(k));
        CHECK(mlkem768_decaps(k2, ct, dk) == 0);
        CHECK_MEM(k, k2, 32);
        keccak_squeeze(&s, ct, sizeof(ct));
        CHECK(mlkem768_decaps(k, ct, dk) == 0);
        keccak_absorb(&o, k, sizeof(k));
    }
    keccak_squeeze(&o, out, sizeof(out));
    CHECK(hex_decode(w, 32, want));
    CHECK_MEM(out, w, 32);
    printf("accumulated %ld: %s\n", n, memcmp(out, w, 32) == 0 ? "match" : "MISMATCH");
}

static void test_fixed_seed(void)
{
    uint8_t seed[64], m[32], ek[MLKEM768_EK_BYTES], dk[MLKEM768_DK_BYTES];
    uint8_t ct[MLKEM768_CT_BYTES], k[32], k2[32], w[32], g[64], in[33];
    for (int i = 0; i < 64; i++)
        seed[i] = (uint8_t)i;
    for (int i = 0; i < 32; i++)
        m[i] = (uint8_t)(0x80 + i);
    CHECK(mlkem768_keygen_derand(ek, dk, seed) == 0);
    CHECK(mlkem768_encaps_derand(ct, k, ek, m) == 0);
    CHECK(hex_decode(w, 32, "ef91db44b6cd5b2c50f483481a3d6e2a08cc149764fcb8dc568851332da45ed9"));
    CHECK_MEM(k, w, 32);
    CHECK(mlkem768_decaps(k2, ct, dk) == 0);
    CHECK_MEM(k2, w, 32);

    /* Final FIPS 203: rho = first half of G(d || 3), the last 32 bytes of ek. */
    memcpy(in, seed, 32);
    in[32] = 3;
    sha3_512(g, in, sizeof(in));
    CHECK_MEM(ek + MLKEM768_EK_BYTES - 32, g, 32);
    /* dk = dk_PKE || ek || H(ek) || z */
    CHECK_MEM(dk + 1152, ek, MLKEM768_EK_BYTES);
    sha3_256(w, ek, sizeof(ek));
    CHECK_MEM(dk + 1152 + 1184, w, 32);
    CHECK_MEM(dk + 2400 - 32, seed + 32, 32);
}

/* Flipping any one bit of c must give K_bar = SHAKE256(z || c, 32), and never K. */
static void test_implicit_rejection(void)
{
    uint8_t ek[MLKEM768_EK_BYTES], dk[MLKEM768_DK_BYTES], ct[MLKEM768_CT_BYTES];
    uint8_t k[32], k2[32], want[32], zc[32 + MLKEM768_CT_BYTES];
    CHECK(mlkem768_keygen(ek, dk) == 0);
    CHECK(mlkem768_encaps(ct, k, ek) == 0);
    for (int t = 0; t < 40; t++) {
        size_t pos = (size_t)randombytes_uniform(MLKEM768_CT_BYTES);
        if (t == 0)
            pos = 0;
        if (t == 1)
            pos = MLKEM768_CT_BYTES - 1; /* last byte of c2 */
        if (t == 2)
            pos = 3 * 320 - 1;           /* last byte of c1 */
        uint8_t bit = (uint8_t)(1u << randombytes_uniform(8));
        ct[pos] ^= bit;
        memcpy(zc, dk + 2400 - 32, 32);
        memcpy(zc + 32, ct, sizeof(ct));
        shake256(want, 32, zc, sizeof(zc));
        CHECK(mlkem768_decaps(k2, ct, dk) == 0);
        CHECK_MEM(k2, want, 32);
        CHECK(memcmp(k2, k, 32) != 0);
        ct[pos] ^= bit;
    }
    CHECK(mlkem768_decaps(k2, ct, dk) == 0);
    CHECK_MEM(k2, k, 32);
}

/* 7.3: a dk whose embedded ek or hash is altered is rejected with -EINVAL; altering s or z is not
 * detectable by the check (and must not be). */
static void test_dk_hash_check(void)
{
    uint8_t ek[MLKEM768_EK_BYTES], dk[MLKEM768_DK_BYTES], ct[MLKEM768_CT_BYTES], k[32], k2[32];
    CHECK(mlkem768_keygen(ek, dk) == 0);
    CHECK(mlkem768_encaps(ct, k, ek) == 0);
    const size_t spots[] = {1152, 1152 + 600, 1152 + 1183, 2336, 2367};
    for (size_t i = 0; i < sizeof(spots) / sizeof(spots[0]); i++) {
        dk[spots[i]] ^= 0x01;
        CHECK(mlkem768_decaps(k2, ct, dk) == -EINVAL);
        dk[spots[i]] ^= 0x01;
    }
    dk[2399] ^= 1; /* z: only changes the rejection key, valid c still decapsulates */
    CHECK(mlkem768_decaps(k2, ct, dk) == 0);
    CHECK_MEM(k2, k, 32);
}

/* Modulus check: setting one coefficient of a valid ek to q (and to 4095) must be rejected. */
static void test_modulus_check(void)
{
    uint8_t ek[MLKEM768_EK_BYTES], dk[MLKEM768_DK_BYTES], ct[MLKEM768_CT_BYTES], k[32], m[32] = {1};
    CHECK(mlkem768_keygen(ek, dk) == 0);
    CHECK(mlkem768_ek_check(ek));
    for (unsigned t = 0; t < 20; t++) {
        uint8_t saved[MLKEM768_EK_BYTES];
        memcpy(saved, ek, sizeof(ek));
        unsigned coef = randombytes_uniform(768), v = t % 2 ? 3329 : 4095;
        unsigned byte = coef / 2 * 3;
        if (coef % 2 == 0) {
            ek[byte] = (uint8_t)v;
            ek[byte + 1] = (uint8_t)((ek[byte + 1] & 0xf0) | (v >> 8));
        } else {
            ek[byte + 1] = (uint8_t)((ek[byte + 1] & 0x0f) | (v & 0xf) << 4);
            ek[byte + 2] = (uint8_t)(v >> 4);
        }
        CHECK(!mlkem768_ek_check(ek));
        CHECK(mlkem768_encaps_derand(ct, k, ek, m) == -EINVAL);
        memcpy(ek, saved, sizeof(ek));
    }
}

static void test_random_round_trips(void)
{
    uint8_t ek[MLKEM768_EK_BYTES], dk[MLKEM768_DK_BYTES], ct[MLKEM768_CT_BYTES], k[32], k2[32];
    for (int i = 0; i < 50; i++) {
        CHECK(mlkem768_keygen(ek, dk) == 0);
        CHECK(mlkem768_encaps(ct, k, ek) == 0);
        CHECK(mlkem768_decaps(k2, ct, dk) == 0);
        CHECK_MEM(k, k2, 32);
    }
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    test_fixed_seed();
    test_implicit_rejection();
    test_dk_hash_check();
    test_modulus_check();
    test_random_round_trips();
    if (argc < 2) {
        test_accumulated(100);
        test_accumulated(10000);
    }
    for (int i = 1; i < argc; i++)
        test_accumulated(strtol(argv[i], NULL, 10));
    return check_finish("test_mlkem_kem");
}
