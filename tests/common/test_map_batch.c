/* Batch signatures for map messages (common/ctl/map_batch.h): for random batches of 1..300
 * leaves the tree's root equals a naive recursive reference, every leaf's path folds to it,
 * and a flipped bit in a sibling, a swapped side, a truncated or a lengthened path each lead
 * elsewhere; a batch of one has an empty path; steps round-trip through their text form and
 * bad text is refused; the leaf and node hashes are domain-separated as documented. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/ctl/map_batch.h"
#include "tests/check.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void node_ref(uint8_t out[32], const uint8_t l[32], const uint8_t r[32])
{
    uint8_t buf[65];
    buf[0] = 0x01;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    crypto_hash_sha256(out, buf, sizeof(buf));
}

/* The naive reference: hash the level in pairs, an odd last node moving up, until one is left. */
static void root_ref(uint8_t out[32], const uint8_t (*leaves)[32], size_t n)
{
    uint8_t (*level)[32] = malloc(n * 32);
    memcpy(level, leaves, n * 32);
    while (n > 1) {
        size_t m = 0;
        for (size_t i = 0; i < n; i += 2, m++) {
            if (i + 1 < n)
                node_ref(level[m], level[i], level[i + 1]);
            else
                memcpy(level[m], level[i], 32);
        }
        n = m;
    }
    memcpy(out, level[0], 32);
    free(level);
}

static void test_leaf(void)
{
    static const char msg[] = "ZTNA-NETMAP-V1\n{\"type\":\"full\"}";
    uint8_t leaf[32], want[32], buf[64];
    buf[0] = 0x00;
    memcpy(buf + 1, msg, sizeof(msg) - 1);
    crypto_hash_sha256(want, buf, sizeof(msg));
    map_batch_leaf(leaf, (const uint8_t *)msg, sizeof(msg) - 1);
    CHECK(!memcmp(leaf, want, 32));
}

static void test_random_batches(void)
{
    for (int round = 0; round < 200; round++) {
        size_t n = round < 8 ? (size_t)round + 1 : 1 + rnd() % 300;
        uint8_t (*leaves)[32] = malloc(n * 32), root[32], want[32], got[32];
        struct map_batch_step *paths = malloc(n * MAP_BATCH_DEPTH_MAX * sizeof(*paths));
        size_t *depths = malloc(n * sizeof(*depths)), maxdepth = 0;
        for (size_t i = 0; i < n; i++) {
            uint8_t msg[40];
            randombytes_buf(msg, sizeof(msg));
            map_batch_leaf(leaves[i], msg, sizeof(msg));
        }
        CHECK(map_batch_build((const uint8_t (*)[32])leaves, n, root, paths, depths) == 0);
        root_ref(want, (const uint8_t (*)[32])leaves, n);
        CHECK(!memcmp(root, want, 32));
        for (size_t i = 0; i < n; i++) {
            struct map_batch_step *p = &paths[i * MAP_BATCH_DEPTH_MAX], save;
            size_t d = depths[i];
            maxdepth = d > maxdepth ? d : maxdepth;
            CHECK(map_batch_root(got, leaves[i], p, d) && !memcmp(got, root, 32));
            if (n == 1) {
                CHECK(d == 0);
                continue;
            }
            CHECK(d >= 1);
            size_t k = rnd() % d;
            save = p[k];
            p[k].hash[rnd() % 32] ^= (uint8_t)(1u << (rnd() % 8)); /* a flipped bit */
            CHECK(map_batch_root(got, leaves[i], p, d) && memcmp(got, root, 32) != 0);
            p[k] = save;
            p[k].side = p[k].side == 'l' ? 'r' : 'l'; /* the sibling on the other side */
            CHECK(map_batch_root(got, leaves[i], p, d) && memcmp(got, root, 32) != 0);
            p[k] = save;
            CHECK(map_batch_root(got, leaves[i], p, d - 1) && memcmp(got, root, 32) != 0);
            if (d < MAP_BATCH_DEPTH_MAX) { /* one step too many */
                p[d] = p[0];
                CHECK(map_batch_root(got, leaves[i], p, d + 1) && memcmp(got, root, 32) != 0);
            }
            CHECK(map_batch_root(got, leaves[(i + 1) % n], p, d) && memcmp(got, root, 32) != 0);
        }
        /* a balanced tree: ceil(log2 n) levels */
        size_t levels = 0;
        while (((size_t)1 << levels) < n)
            levels++;
        CHECK(maxdepth == levels);
        free(leaves);
        free(paths);
        free(depths);
    }
}

static void test_limits(void)
{
    uint8_t leaf[32] = {1}, root[32], out[64];
    struct map_batch_step path[MAP_BATCH_DEPTH_MAX + 1];
    size_t depth;
    memset(path, 0, sizeof(path));
    for (size_t i = 0; i <= MAP_BATCH_DEPTH_MAX; i++)
        path[i].side = 'l';
    CHECK(map_batch_root(root, leaf, path, MAP_BATCH_DEPTH_MAX));
    CHECK(!map_batch_root(root, leaf, path, MAP_BATCH_DEPTH_MAX + 1));
    path[3].side = 'x';
    CHECK(!map_batch_root(root, leaf, path, 4));
    CHECK(map_batch_root(root, leaf, path, 0) && !memcmp(root, leaf, 32));
    CHECK(map_batch_build((const uint8_t (*)[32])leaf, 0, root, path, &depth) == -EINVAL);
    size_t n = map_batch_signed(out, sizeof(out), leaf);
    CHECK(n == strlen(MAP_BATCH_TAG) + 32 && !memcmp(out, MAP_BATCH_TAG, strlen(MAP_BATCH_TAG)));
    CHECK(!memcmp(out + strlen(MAP_BATCH_TAG), leaf, 32));
    CHECK(map_batch_signed(out, n - 1, leaf) == 0);
}

static void test_step_text(void)
{
    struct map_batch_step s, t;
    char text[MAP_BATCH_STEP_TEXT], bad[MAP_BATCH_STEP_TEXT + 2];
    for (int i = 0; i < 100; i++) {
        s.side = i & 1 ? 'l' : 'r';
        randombytes_buf(s.hash, 32);
        map_batch_step_format(text, &s);
        CHECK(text[0] == s.side);
        for (int k = 1; k < MAP_BATCH_STEP_TEXT; k++)
            CHECK((text[k] >= '0' && text[k] <= '9') || (text[k] >= 'a' && text[k] <= 'f'));
        memset(&t, 0, sizeof(t));
        CHECK(map_batch_step_parse(&t, text, sizeof(text)) && t.side == s.side &&
              !memcmp(t.hash, s.hash, 32));
    }
    memcpy(bad, text, sizeof(text));
    CHECK(!map_batch_step_parse(&t, bad, sizeof(text) - 1)); /* short */
    bad[sizeof(text)] = '0';
    CHECK(!map_batch_step_parse(&t, bad, sizeof(text) + 1)); /* long */
    bad[0] = 'L';
    CHECK(!map_batch_step_parse(&t, bad, sizeof(text))); /* side */
    bad[0] = 'x';
    CHECK(!map_batch_step_parse(&t, bad, sizeof(text)));
    memcpy(bad, text, sizeof(text));
    bad[17] = 'g';
    CHECK(!map_batch_step_parse(&t, bad, sizeof(text))); /* not hex */
    bad[17] = 0;
    CHECK(!map_batch_step_parse(&t, bad, sizeof(text)));
    CHECK(!map_batch_step_parse(&t, "", 0));
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_leaf();
    test_random_batches();
    test_limits();
    test_step_text();
    return check_finish("test_map_batch");
}
