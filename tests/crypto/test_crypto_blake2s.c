/* BLAKE2s (RFC 7693), HMAC-BLAKE2s and the WireGuard KDF, and WireGuard's initial chaining key
 * and hash (vectors/README.md). */
#include <stdint.h>
#include <string.h>

#include "common/crypto/blake2s.h"
#include "common/hex.h"
#include "common/wg/noise.h"
#include "tests/check.h"

static void check_hex(const uint8_t *got, size_t len, const char *want_hex)
{
    uint8_t want[64];
    CHECK(len <= sizeof(want) && hex_decode(want, len, want_hex));
    CHECK_MEM(got, want, len);
}

/* RFC 7693 Appendix B: BLAKE2s-256("abc"). */
static void test_rfc7693_abc(void)
{
    uint8_t md[32];
    CHECK(blake2s_hash(md, 32, "abc", 3, NULL, 0) == 0);
    check_hex(md, 32, "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
}

/* RFC 7693 Appendix E: the self-test sequence generator and its grand hash over digest lengths
 * {16,20,28,32} x input lengths {0,3,64,65,255,1024}, unkeyed and keyed. */
static void selftest_seq(uint8_t *out, size_t len, uint32_t seed)
{
    uint32_t a = 0xDEAD4BADu * seed, b = 1, t;
    for (size_t i = 0; i < len; i++) {
        t = a + b;
        a = b;
        b = t;
        out[i] = (uint8_t)(t >> 24);
    }
}

static void test_rfc7693_selftest(void)
{
    static const size_t md_len[4] = {16, 20, 28, 32};
    static const size_t in_len[6] = {0, 3, 64, 65, 255, 1024};
    uint8_t in[1024], md[32], key[32];
    struct blake2s_state ctx;
    CHECK(blake2s_init(&ctx, 32, NULL, 0) == 0);
    for (int i = 0; i < 4; i++) {
        size_t outlen = md_len[i];
        for (int j = 0; j < 6; j++) {
            size_t inlen = in_len[j];
            selftest_seq(in, inlen, (uint32_t)inlen);
            CHECK(blake2s_hash(md, outlen, in, inlen, NULL, 0) == 0);
            blake2s_update(&ctx, md, outlen);
            selftest_seq(key, outlen, (uint32_t)outlen);
            CHECK(blake2s_hash(md, outlen, in, inlen, key, outlen) == 0);
            blake2s_update(&ctx, md, outlen);
        }
    }
    blake2s_final(&ctx, md);
    check_hex(md, 32, "6a411f08ce25adcdfb02aba641451cec53c598b24f4fc787fbdc88797f4c1dfe");
}

/* Streaming in uneven pieces equals one shot, across block boundaries. */
static void test_streaming(void)
{
    uint8_t in[1000], one[32], streamed[32], key[32];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)(i * 7 + 3);
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)i;
    static const size_t lens[] = {0, 1, 63, 64, 65, 127, 128, 129, 500, 1000};
    static const size_t steps[] = {1, 3, 63, 64, 65, 200};
    for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
        for (size_t keylen = 0; keylen <= 32; keylen += 32) {
            CHECK(blake2s_hash(one, 32, in, lens[l], key, keylen) == 0);
            for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
                struct blake2s_state st;
                CHECK(blake2s_init(&st, 32, key, keylen) == 0);
                for (size_t off = 0; off < lens[l]; off += steps[s]) {
                    size_t n = lens[l] - off < steps[s] ? lens[l] - off : steps[s];
                    blake2s_update(&st, in + off, n);
                }
                blake2s_final(&st, streamed);
                CHECK_MEM(one, streamed, 32);
            }
        }
    }
    /* Parameter errors. */
    CHECK(blake2s_hash(one, 0, in, 1, NULL, 0) < 0);
    CHECK(blake2s_hash(one, 33, in, 1, NULL, 0) < 0);
    CHECK(blake2s_hash(one, 32, in, 1, key, 33) < 0);
}

/* Known answers computed with CPython's independent hashlib.blake2s and hmac modules:
 * keyed 16-byte digest, HMAC with a 32-byte and a 100-byte key, and KDF1..3. */
static void test_hmac_kdf(void)
{
    uint8_t key[100], data[255], out[32], t1[32], t2[32], t3[32];
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)i;
    CHECK(blake2s_hash(out, 16, data, 255, key, 32) == 0);
    check_hex(out, 16, "cd075928ab7e6883e697fe7fd3ac43ee");
    blake2s_hmac(out, data, 100, key, 32);
    check_hex(out, 32, "a81c95080ba2a7c4ed1b7b4c21dec2c4fd6dc9f03ff37b6d65289dc95a7d1ef1");
    blake2s_hmac(out, (const uint8_t *)"abc", 3, key, 100);
    check_hex(out, 32, "c1b751501db12b753069a918627b623179be55c8cc7ca5c4e14bdf32274ac656");

    blake2s_kdf(t1, t2, t3, key, data, 100);
    check_hex(t1, 32, "90d0e91cdaea20e41b7e43ef99a35292921d3d49c1d86f48ddf62dbc1cc1bb01");
    check_hex(t2, 32, "8814819cb396ee544e3a8314285739d6527a8d87cf930252e61501140ddbba51");
    check_hex(t3, 32, "2d4748e29b90d92057489d6aaa0ee0d2a135113b4baaefb8d82fb54bffe16496");
    blake2s_kdf(t1, t2, t3, key, NULL, 0);
    check_hex(t1, 32, "7a38c34bf2b8738d7374ca77c44ecb309a11d2b2528304fa86052c365e722624");
    check_hex(t2, 32, "1a17621f346abdc520746a9fb64d8eb03231d674fc15687537b0780fd9c060fd");
    check_hex(t3, 32, "4eaf02809ac4b930ef63479de62275f1c55656e61f78a3cc653c18a2223d6c5f");
    /* KDF1/KDF2 are prefixes of KDF3, and outputs may alias the chaining key. */
    uint8_t ck[32];
    memcpy(ck, key, 32);
    blake2s_kdf(ck, t2, NULL, ck, data, 100);
    check_hex(ck, 32, "90d0e91cdaea20e41b7e43ef99a35292921d3d49c1d86f48ddf62dbc1cc1bb01");
    check_hex(t2, 32, "8814819cb396ee544e3a8314285739d6527a8d87cf930252e61501140ddbba51");
}

/* vectors/README.md: WireGuard's initial chaining key and hash. */
static void test_wireguard_initial(void)
{
    struct wg_noise_protocol p;
    wg_noise_protocol_init_wireguard(&p);
    check_hex(p.initial_chaining_key, 32,
              "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36");
    check_hex(p.initial_hash, 32,
              "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3");
}

int main(void)
{
    test_rfc7693_abc();
    test_rfc7693_selftest();
    test_streaming();
    test_hmac_kdf();
    test_wireguard_initial();
    return check_finish("test_crypto_blake2s");
}
