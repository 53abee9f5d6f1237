/* SHA3/SHAKE known answers (FIPS 202 examples for "" and "abc") and incremental absorb/squeeze
 * equal to one-shot, over lengths that cross block boundaries in every way. */
#include <stdlib.h>

#include "common/hex.h"
#include "common/mlkem/sha3.h"
#include "tests/check.h"

static void check_hex(const uint8_t *got, size_t n, const char *want)
{
    uint8_t w[128];
    CHECK(n <= sizeof(w) && hex_decode(w, n, want));
    CHECK_MEM(got, w, n);
}

static void test_known_answers(void)
{
    uint8_t out[64];
    const uint8_t *abc = (const uint8_t *)"abc";

    sha3_256(out, abc, 0);
    check_hex(out, 32, "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a");
    sha3_256(out, abc, 3);
    check_hex(out, 32, "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532");
    sha3_512(out, abc, 0);
    check_hex(out, 64, "a69f73cca23a9ac5c8b567dc185a756e97c982164fe25859e0d1dcc1475c80a6"
                       "15b2123af1f5f94c11e3e9402c3ac558f500199d95b6d3e301758586281dcd26");
    sha3_512(out, abc, 3);
    check_hex(out, 64, "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e"
                       "10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0");
    shake128(out, 32, abc, 0);
    check_hex(out, 32, "7f9c2ba4e88f827d616045507605853ed73b8093f6efbc88eb1a6eacfa66ef26");
    shake128(out, 32, abc, 3);
    check_hex(out, 32, "5881092dd818bf5cf8a3ddb793fbcba74097d5c526a6d35f97b83351940f2cc8");
    shake256(out, 64, abc, 0);
    check_hex(out, 64, "46b9dd2b0ba88d13233b3feb743eeb243fcd52ea62b81b82b50c27646ed5762f"
                       "d75dc4ddd8c0f200cb05019d67b592f6fc821c49479ab48640292eacb3b7c4be");
    shake256(out, 64, abc, 3);
    check_hex(out, 64, "483366601360a8771c6863080cc4114d8db44530f8f1e1ee4f94ea37e78b5739"
                       "d5a15bef186a5386c75744c0527e1faa9f8726e462a12a4feb06bd8801e751e4");
}

/* 768 bytes (0..255 three times), 1000 bytes out: the last 32 of each (Python hashlib). */
static void test_long_known_answer(void)
{
    uint8_t in[768], out[1000];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)i;
    shake128(out, sizeof(out), in, sizeof(in));
    check_hex(out + 968, 32, "27ba146ccb7a47525bdf6aef9591adb42d4ed0cfc053452bc8c89891c20df06e");
    shake256(out, sizeof(out), in, sizeof(in));
    check_hex(out + 968, 32, "b897f392e7e4e373d5f13eb378dc6235834198d543930ab34bbea0a92ba118b4");
}

/* Absorb in chunks of `step`, squeeze in chunks of `step2`; must equal the one-shot result. */
static void test_incremental(int shake256_variant)
{
    enum { IN = 1500, OUT = 5000 };
    static uint8_t in[IN], one[OUT], inc[OUT];
    static const size_t steps[] = {1, 3, 7, 64, 135, 136, 137, 167, 168, 169, 500, 1500};
    for (size_t i = 0; i < IN; i++)
        in[i] = (uint8_t)(i * 7 + 1);
    for (size_t a = 0; a < sizeof(steps) / sizeof(steps[0]); a++) {
        size_t step = steps[a], step2 = steps[(a + 5) % (sizeof(steps) / sizeof(steps[0]))];
        size_t in_len = IN - a * 13;
        struct keccak_state st;
        if (shake256_variant) {
            shake256(one, OUT, in, in_len);
            shake256_init(&st);
        } else {
            shake128(one, OUT, in, in_len);
            shake128_init(&st);
        }
        for (size_t off = 0; off < in_len; off += step)
            keccak_absorb(&st, in + off, off + step <= in_len ? step : in_len - off);
        for (size_t off = 0; off < OUT; off += step2)
            keccak_squeeze(&st, inc + off, off + step2 <= OUT ? step2 : OUT - off);
        CHECK_MEM(one, inc, OUT);
    }
    /* Whole-block squeezes (SampleNTT's pattern) then byte squeezes. */
    struct keccak_state st;
    shake128_init(&st);
    keccak_absorb(&st, in, 34);
    shake128(one, OUT, in, 34);
    keccak_squeeze_blocks(&st, inc, 3);
    keccak_squeeze_blocks(&st, inc + 3 * SHAKE128_RATE, 1);
    keccak_squeeze(&st, inc + 4 * SHAKE128_RATE, 5);
    keccak_squeeze(&st, inc + 4 * SHAKE128_RATE + 5, OUT - 4 * SHAKE128_RATE - 5);
    CHECK_MEM(one, inc, OUT);
}

int main(void)
{
    test_known_answers();
    test_long_known_answer();
    test_incremental(0);
    test_incremental(1);
    return check_finish("test_mlkem_sha3");
}
