/* Batch signatures for map messages (see map_batch.h). */
/* The SHA256_* calls are deprecated in OpenSSL 3.0 in favour of EVP, which allocates a context
 * per digest; they remain, use the same code, and are what a small hash in a loop wants. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "common/ctl/map_batch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "common/hex.h"

/* OpenSSL's SHA-256 (SHA-NI or AVX2 where the CPU has them) rather than libsodium's portable
 * one: a batch after one change at 10,000 nodes hashes ~3 MB of messages and ~7,000 nodes, and
 * libsodium's took ~25 ms of it. SHA256() is one call with no context to allocate. */
static void leaf(uint8_t out[static 32], const char *tag, const uint8_t *msg, size_t len)
{
    SHA256_CTX st;
    static const uint8_t zero = 0x00;

    SHA256_Init(&st);
    SHA256_Update(&st, &zero, 1);
    SHA256_Update(&st, tag, strlen(tag));
    SHA256_Update(&st, msg, len);
    SHA256_Final(out, &st);
}

void map_batch_leaf(uint8_t out[static 32], const uint8_t *msg, size_t len)
{
    leaf(out, "", msg, len);
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

/* The "path" member as steps: an array of at most MAP_BATCH_DEPTH_MAX step texts. */
static bool path_parse(struct map_batch_step *steps, size_t *depth, const cJSON *path, char *why,
                       size_t why_len)
{
    const cJSON *it;

    *depth = 0;
    if (!cJSON_IsArray(path)) {
        snprintf(why, why_len, "path: expected an array");
        return false;
    }
    cJSON_ArrayForEach(it, path)
    {
        if (*depth == MAP_BATCH_DEPTH_MAX) {
            snprintf(why, why_len, "path: at most %d steps", MAP_BATCH_DEPTH_MAX);
            return false;
        }
        if (!cJSON_IsString(it) || !it->valuestring ||
            !map_batch_step_parse(&steps[*depth], it->valuestring, strlen(it->valuestring))) {
            snprintf(why, why_len, "path[%zu]: expected 'l' or 'r' and 64 hex digits", *depth);
            return false;
        }
        ++*depth;
    }
    return true;
}

static bool seen_has(const struct map_batch_seen *seen, const uint8_t root[static 32],
                     const uint8_t sig[static 64])
{
    for (size_t i = 0; i < seen->n; i++) {
        if (!memcmp(seen->root[i], root, 32) && !memcmp(seen->sig[i], sig, 64))
            return true;
    }
    return false;
}

static void seen_add(struct map_batch_seen *seen, const uint8_t root[static 32],
                     const uint8_t sig[static 64])
{
    memcpy(seen->root[seen->next], root, 32);
    memcpy(seen->sig[seen->next], sig, 64);
    seen->next = (seen->next + 1) % MAP_BATCH_SEEN_MAX;
    seen->n += seen->n < MAP_BATCH_SEEN_MAX;
}

int map_batch_verify(const uint8_t *payload, size_t len, const struct cJSON *path,
                     const uint8_t sig[static 64], const uint8_t pk[static 32],
                     struct map_batch_seen *seen, char *why, size_t why_len)
{
    struct map_batch_step steps[MAP_BATCH_DEPTH_MAX];
    uint8_t h[32], root[32], signed_bytes[64];
    size_t depth, n;

    if (!path_parse(steps, &depth, path, why, why_len))
        return -EBADMSG;
    leaf(h, MAP_BATCH_MSG_TAG, payload, len);
    if (!map_batch_root(root, h, steps, depth)) { /* path_parse() checked depth and sides */
        snprintf(why, why_len, "path: not a path to a batch root");
        return -EBADMSG;
    }
    if (seen && seen_has(seen, root, sig))
        return 0;
    n = map_batch_signed(signed_bytes, sizeof(signed_bytes), root);
    if (seen)
        seen->checks++;
    if (crypto_sign_verify_detached(sig, signed_bytes, n, pk) != 0) {
        snprintf(why, why_len, "bad batch signature (its root is not signed by the server key)");
        return -EBADMSG;
    }
    if (seen)
        seen_add(seen, root, sig);
    return 0;
}
