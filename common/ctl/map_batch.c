/* Batch signatures for map messages (see map_batch.h). */
/* The SHA256_* calls are deprecated in OpenSSL 3.0 in favour of EVP, which allocates a context
 * per digest; they remain, use the same code, and are what a small hash in a loop wants. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "common/ctl/map_batch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "common/hex.h"

/* OpenSSL's SHA-256 (SHA-NI or AVX2 where the CPU has them) rather than libsodium's portable
 * one: a batch after one change at 10,000 nodes hashes ~3 MB of messages and ~7,000 nodes, and
 * libsodium's took ~25 ms of it. SHA256() is one call with no context to allocate. */
void map_batch_leaf(uint8_t out[static 32], const uint8_t *msg, size_t len)
{
    SHA256_CTX st;
    static const uint8_t zero = 0x00;

    SHA256_Init(&st);
    SHA256_Update(&st, &zero, 1);
    SHA256_Update(&st, msg, len);
    SHA256_Final(out, &st);
}

static void node(uint8_t out[static 32], const uint8_t l[static 32], const uint8_t r[static 32])
{
    uint8_t buf[65];

    buf[0] = 0x01;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    SHA256(buf, sizeof(buf), out);
}

bool map_batch_root(uint8_t root[static 32], const uint8_t leaf[static 32],
                    const struct map_batch_step *path, size_t depth)
{
    uint8_t h[32];

    if (depth > MAP_BATCH_DEPTH_MAX)
        return false;
    memcpy(h, leaf, 32);
    for (size_t i = 0; i < depth; i++) {
        if (path[i].side == 'l')
            node(h, path[i].hash, h);
        else if (path[i].side == 'r')
            node(h, h, path[i].hash);
        else
            return false;
    }
    memcpy(root, h, 32);
    return true;
}

int map_batch_build(const uint8_t (*leaves)[32], size_t n, uint8_t root[static 32],
                    struct map_batch_step *paths, size_t *depths)
{
    uint8_t (*level)[32];
    size_t *pos; /* each leaf's index in the current level */
    size_t width = n;

    if (n == 0 || n > ((size_t)1 << (MAP_BATCH_DEPTH_MAX - 1)))
        return -EINVAL;
    level = malloc(n * sizeof(*level));
    pos = malloc(n * sizeof(*pos));
    if (!level || !pos) {
        free(level);
        free(pos);
        return -ENOMEM;
    }
    memcpy(level, leaves, n * sizeof(*level));
    for (size_t i = 0; i < n; i++) {
        pos[i] = i;
        depths[i] = 0;
    }
    while (width > 1) {
        /* every leaf records its node's sibling at this level, if it has one */
        for (size_t i = 0; i < n; i++) {
            size_t p = pos[i], sib = p ^ 1;

            if (sib < width) {
                struct map_batch_step *s = &paths[i * MAP_BATCH_DEPTH_MAX + depths[i]++];

                s->side = (p & 1) ? 'l' : 'r';
                memcpy(s->hash, level[sib], 32);
            }
            pos[i] = p / 2;
        }
        for (size_t j = 0; j < width / 2; j++)
            node(level[j], level[2 * j], level[2 * j + 1]);
        if (width & 1)
            memmove(level[width / 2], level[width - 1], 32);
        width = (width + 1) / 2;
    }
    memcpy(root, level[0], 32);
    free(level);
    free(pos);
    return 0;
}

size_t map_batch_signed(uint8_t *out, size_t cap, const uint8_t root[static 32])
{
    size_t tag = strlen(MAP_BATCH_TAG);

    if (cap < tag + 32)
        return 0;
    memcpy(out, MAP_BATCH_TAG, tag);
    memcpy(out + tag, root, 32);
    return tag + 32;
}

void map_batch_step_format(char out[static MAP_BATCH_STEP_TEXT], const struct map_batch_step *s)
{
    char hex[65];

    hex_encode(hex, s->hash, 32);
    out[0] = s->side;
    memcpy(out + 1, hex, 64);
}

bool map_batch_step_parse(struct map_batch_step *s, const char *text, size_t len)
{
    char hex[65];

    if (len != MAP_BATCH_STEP_TEXT || (text[0] != 'l' && text[0] != 'r'))
        return false;
    memcpy(hex, text + 1, 64);
    hex[64] = 0;
    s->side = text[0];
    return hex_decode(s->hash, 32, hex);
}
