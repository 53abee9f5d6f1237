/* BLAKE2s (RFC 7693) with the rounds fully unrolled, plus HMAC-BLAKE2s and the Noise/WireGuard
 * KDF. Little-endian loads are done bytewise so the code is alignment- and endian-safe; compilers
 * fold them into plain loads. */
#include "common/crypto/blake2s.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

static const uint32_t blake2s_iv[8] = {
    0x6A09E667UL, 0xBB67AE85UL, 0x3C6EF372UL, 0xA54FF53AUL,
    0x510E527FUL, 0x9B05688CUL, 0x1F83D9ABUL, 0x5BE0CD19UL,
};

/* RFC 7693 section 2.7: message word schedule SIGMA for the 10 rounds. */
static const uint8_t blake2s_sigma[10][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

static inline uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void store_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t ror32(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

/* RFC 7693 section 3.1: mixing function G with rotations 16, 12, 8, 7. */
#define G(r, i, a, b, c, d)                         \
    do {                                            \
        a += b + m[blake2s_sigma[r][2 * (i)]];      \
        d = ror32(d ^ a, 16);                       \
        c += d;                                     \
        b = ror32(b ^ c, 12);                       \
        a += b + m[blake2s_sigma[r][2 * (i) + 1]];  \
        d = ror32(d ^ a, 8);                        \
        c += d;                                     \
        b = ror32(b ^ c, 7);                        \
    } while (0)

#define ROUND(r)                                 \
    do {                                         \
        G(r, 0, v0, v4, v8, v12);                \
        G(r, 1, v1, v5, v9, v13);                \
        G(r, 2, v2, v6, v10, v14);               \
        G(r, 3, v3, v7, v11, v15);               \
        G(r, 4, v0, v5, v10, v15);               \
        G(r, 5, v1, v6, v11, v12);               \
        G(r, 6, v2, v7, v8, v13);                \
        G(r, 7, v3, v4, v9, v14);                \
    } while (0)

/* RFC 7693 section 3.2: compression function F over nblocks consecutive blocks, each counted
 * as inc bytes (64, or the length of the final partial block). */
static void blake2s_compress(struct blake2s_state *s, const uint8_t *block, size_t nblocks,
                             uint32_t inc)
{
    uint32_t m[16];
    while (nblocks--) {
        s->t[0] += inc;
        s->t[1] += (s->t[0] < inc);
        for (int i = 0; i < 16; i++)
            m[i] = load_le32(block + 4 * i);
        uint32_t v0 = s->h[0], v1 = s->h[1], v2 = s->h[2], v3 = s->h[3];
        uint32_t v4 = s->h[4], v5 = s->h[5], v6 = s->h[6], v7 = s->h[7];
        uint32_t v8 = blake2s_iv[0], v9 = blake2s_iv[1], v10 = blake2s_iv[2], v11 = blake2s_iv[3];
        uint32_t v12 = blake2s_iv[4] ^ s->t[0], v13 = blake2s_iv[5] ^ s->t[1];
        uint32_t v14 = blake2s_iv[6] ^ s->f[0], v15 = blake2s_iv[7] ^ s->f[1];
        ROUND(0);
        ROUND(1);
        ROUND(2);
        ROUND(3);
        ROUND(4);
        ROUND(5);
        ROUND(6);
        ROUND(7);
        ROUND(8);
        ROUND(9);
        s->h[0] ^= v0 ^ v8;
        s->h[1] ^= v1 ^ v9;
        s->h[2] ^= v2 ^ v10;
        s->h[3] ^= v3 ^ v11;
        s->h[4] ^= v4 ^ v12;
        s->h[5] ^= v5 ^ v13;
        s->h[6] ^= v6 ^ v14;
        s->h[7] ^= v7 ^ v15;
        block += BLAKE2S_BLOCK_SIZE;
    }
    sodium_memzero(m, sizeof(m));
}

int blake2s_init(struct blake2s_state *s, size_t outlen, const uint8_t *key, size_t keylen)
{
    if (outlen == 0 || outlen > BLAKE2S_HASH_SIZE || keylen > BLAKE2S_KEY_SIZE ||
        (keylen && !key))
        return -EINVAL;
    memset(s, 0, sizeof(*s));
    memcpy(s->h, blake2s_iv, sizeof(s->h));
    /* Parameter block word 0: digest length, key length, fanout 1, depth 1. */
    s->h[0] ^= 0x01010000UL ^ (uint32_t)(keylen << 8) ^ (uint32_t)outlen;
    s->outlen = outlen;
    if (keylen) {
        /* The key, zero-padded to a block, is the first block of the message. */
        memcpy(s->buf, key, keylen);
        s->buflen = BLAKE2S_BLOCK_SIZE;
    }
    return 0;
}

void blake2s_update(struct blake2s_state *s, const void *in_, size_t inlen)
{
    const uint8_t *in = in_;
    if (!inlen)
        return;
    /* The last block must be compressed with the final flag, so a full buffer is only
     * compressed once more input follows. */
    size_t fill = BLAKE2S_BLOCK_SIZE - s->buflen;
    if (inlen > fill) {
        memcpy(s->buf + s->buflen, in, fill);
        blake2s_compress(s, s->buf, 1, BLAKE2S_BLOCK_SIZE);
        s->buflen = 0;
        in += fill;
        inlen -= fill;
        if (inlen > BLAKE2S_BLOCK_SIZE) {
            size_t nblocks = (inlen - 1) / BLAKE2S_BLOCK_SIZE;
            blake2s_compress(s, in, nblocks, BLAKE2S_BLOCK_SIZE);
            in += nblocks * BLAKE2S_BLOCK_SIZE;
            inlen -= nblocks * BLAKE2S_BLOCK_SIZE;
        }
    }
    memcpy(s->buf + s->buflen, in, inlen);
    s->buflen += inlen;
}

void blake2s_final(struct blake2s_state *s, uint8_t *out)
{
    uint8_t digest[BLAKE2S_HASH_SIZE];
    s->f[0] = 0xFFFFFFFFUL;
    memset(s->buf + s->buflen, 0, BLAKE2S_BLOCK_SIZE - s->buflen);
    blake2s_compress(s, s->buf, 1, (uint32_t)s->buflen);
    for (int i = 0; i < 8; i++)
        store_le32(digest + 4 * i, s->h[i]);
    memcpy(out, digest, s->outlen);
    sodium_memzero(digest, sizeof(digest));
    sodium_memzero(s, sizeof(*s));
}

int blake2s_hash(uint8_t *out, size_t outlen, const void *in, size_t inlen, const uint8_t *key,
                 size_t keylen)
{
    struct blake2s_state s;
    int ret = blake2s_init(&s, outlen, key, keylen);
    if (ret)
        return ret;
    blake2s_update(&s, in, inlen);
    blake2s_final(&s, out);
    return 0;
}

void blake2s_hmac(uint8_t out[static BLAKE2S_HASH_SIZE], const uint8_t *in, size_t inlen,
                  const uint8_t *key, size_t keylen)
{
    struct blake2s_state s;
    uint8_t x_key[BLAKE2S_BLOCK_SIZE] = {0};
    uint8_t i_hash[BLAKE2S_HASH_SIZE];

    if (keylen > BLAKE2S_BLOCK_SIZE)
        blake2s_hash(x_key, BLAKE2S_HASH_SIZE, key, keylen, NULL, 0);
    else if (keylen)
        memcpy(x_key, key, keylen);

    for (int i = 0; i < BLAKE2S_BLOCK_SIZE; i++)
        x_key[i] ^= 0x36;
    blake2s_init(&s, BLAKE2S_HASH_SIZE, NULL, 0);
    blake2s_update(&s, x_key, BLAKE2S_BLOCK_SIZE);
    blake2s_update(&s, in, inlen);
    blake2s_final(&s, i_hash);

    for (int i = 0; i < BLAKE2S_BLOCK_SIZE; i++)
        x_key[i] ^= 0x5c ^ 0x36;
    blake2s_init(&s, BLAKE2S_HASH_SIZE, NULL, 0);
    blake2s_update(&s, x_key, BLAKE2S_BLOCK_SIZE);
    blake2s_update(&s, i_hash, BLAKE2S_HASH_SIZE);
    blake2s_final(&s, i_hash);

    memcpy(out, i_hash, BLAKE2S_HASH_SIZE);
    sodium_memzero(x_key, sizeof(x_key));
    sodium_memzero(i_hash, sizeof(i_hash));
}

void blake2s_kdf(uint8_t *t1, uint8_t *t2, uint8_t *t3, const uint8_t ck[static BLAKE2S_HASH_SIZE],
                 const uint8_t *data, size_t data_len)
{
    uint8_t secret[BLAKE2S_HASH_SIZE];
    uint8_t output[BLAKE2S_HASH_SIZE + 1];

    /* Extract: secret = HMAC(ck, data). */
    blake2s_hmac(secret, data, data_len, ck, BLAKE2S_HASH_SIZE);
    /* Expand: T1 = HMAC(secret, 0x1). */
    output[0] = 1;
    blake2s_hmac(output, output, 1, secret, BLAKE2S_HASH_SIZE);
    if (t1)
        memcpy(t1, output, BLAKE2S_HASH_SIZE);
    if (!t2)
        goto out;
    /* T2 = HMAC(secret, T1 || 0x2). */
    output[BLAKE2S_HASH_SIZE] = 2;
    blake2s_hmac(output, output, BLAKE2S_HASH_SIZE + 1, secret, BLAKE2S_HASH_SIZE);
    memcpy(t2, output, BLAKE2S_HASH_SIZE);
    if (!t3)
        goto out;
    /* T3 = HMAC(secret, T2 || 0x3). */
    output[BLAKE2S_HASH_SIZE] = 3;
    blake2s_hmac(output, output, BLAKE2S_HASH_SIZE + 1, secret, BLAKE2S_HASH_SIZE);
    memcpy(t3, output, BLAKE2S_HASH_SIZE);
out:
    sodium_memzero(secret, sizeof(secret));
    sodium_memzero(output, sizeof(output));
}
