/* Batch signatures for map messages (common/ctl/map_batch.h): for random batches of 1..300
 * leaves the tree's root equals a naive recursive reference, every leaf's path folds to it,
 * and a flipped bit in a sibling, a swapped side, a truncated or a lengthened path each lead
 * elsewhere; a batch of one has an empty path; steps round-trip through their text form and
 * bad text is refused; the leaf and node hashes are domain-separated as documented.
 * map_batch_verify() against batches signed here: every message of batches of 1 to 40 passes;
 * a step's side swapped, a sibling's bit flipped, a step dropped or added, another message's
 * path, a changed payload or signature, another key each fail the signature; a step that is not
 * hex, a bad side, a path over MAP_BATCH_DEPTH_MAX steps or not an array fail as malformed; with
 * a map_batch_seen a batch costs one Ed25519 check, and a remembered root does not let another
 * signature through. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
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

/* A batch of n random payloads, signed by sk as the server signs one. */
#define PAYLOAD_LEN 48
struct batch {
    size_t n;
    uint8_t (*payload)[PAYLOAD_LEN];
    struct map_batch_step *paths; /* n * MAP_BATCH_DEPTH_MAX */
    size_t *depths;
    uint8_t sig[64];
};

static void batch_sign(struct batch *b, size_t n, const uint8_t sk[64])
{
    size_t tag = strlen(MAP_BATCH_MSG_TAG);
    uint8_t (*leaves)[32] = malloc(n * 32), root[32], signed_bytes[64];
    uint8_t msg[sizeof(MAP_BATCH_MSG_TAG) - 1 + PAYLOAD_LEN];

    b->n = n;
    b->payload = malloc(n * PAYLOAD_LEN);
    b->paths = malloc(n * MAP_BATCH_DEPTH_MAX * sizeof(*b->paths));
    b->depths = malloc(n * sizeof(*b->depths));
    for (size_t i = 0; i < n; i++) {
        randombytes_buf(b->payload[i], PAYLOAD_LEN);
        memcpy(msg, MAP_BATCH_MSG_TAG, tag);
        memcpy(msg + tag, b->payload[i], PAYLOAD_LEN);
        map_batch_leaf(leaves[i], msg, sizeof(msg));
    }
    CHECK(map_batch_build((const uint8_t (*)[32])leaves, n, root, b->paths, b->depths) == 0);
    crypto_sign_detached(b->sig, NULL, signed_bytes,
                         map_batch_signed(signed_bytes, sizeof(signed_bytes), root), sk);
    free(leaves);
}

static void batch_free(struct batch *b)
{
    free(b->payload);
    free(b->paths);
    free(b->depths);
}

/* Message i's path as it travels: ["l<64 hex>", ...]. */
static cJSON *path_json(const struct batch *b, size_t i)
{
    cJSON *arr = cJSON_CreateArray();

    for (size_t k = 0; k < b->depths[i]; k++) {
        char text[MAP_BATCH_STEP_TEXT + 1];

        map_batch_step_format(text, &b->paths[i * MAP_BATCH_DEPTH_MAX + k]);
        text[MAP_BATCH_STEP_TEXT] = 0;
        cJSON_AddItemToArray(arr, cJSON_CreateString(text));
    }
    return arr;
}

/* map_batch_verify() of message i (its payload, or p) with path: 0, or -EBADMSG with why
 * holding part. */
static void expect(const struct batch *b, size_t i, const uint8_t *p, const cJSON *path,
                   const uint8_t *sig, const uint8_t pk[32], struct map_batch_seen *seen,
                   const char *part)
{
    char why[256] = "";
    int ret = map_batch_verify(p ? p : b->payload[i], PAYLOAD_LEN, path, sig ? sig : b->sig, pk,
                               seen, why, sizeof(why));

    if (!part)
        CHECK(ret == 0);
    else
        CHECK(ret == -EBADMSG && strstr(why, part));
    if (part ? ret != -EBADMSG || !strstr(why, part) : ret != 0)
        fprintf(stderr, "message %zu of %zu: wanted %s, got %d '%s'\n", i, b->n,
                part ? part : "success", ret, why);
}

static void test_verify(void)
{
    static const size_t sizes[] = {1, 2, 3, 5, 8, 13, 40};
    uint8_t pk[32], sk[64], pk2[32], sk2[64];

    crypto_sign_keypair(pk, sk);
    crypto_sign_keypair(pk2, sk2);
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        struct batch b, other;

        batch_sign(&b, sizes[s], sk);
        batch_sign(&other, sizes[s], sk);
        for (size_t i = 0; i < b.n; i++) {
            cJSON *path = path_json(&b, i), *step;
            uint8_t p[PAYLOAD_LEN], sig[64];
            size_t d = b.depths[i], k = d ? rnd() % d : 0;

            expect(&b, i, NULL, path, NULL, pk, NULL, NULL);
            expect(&b, i, NULL, path, NULL, pk2, NULL, "bad batch signature"); /* another key */
            memcpy(p, b.payload[i], PAYLOAD_LEN);
            p[rnd() % PAYLOAD_LEN] ^= (uint8_t)(1u << (rnd() % 8));
            expect(&b, i, p, path, NULL, pk, NULL, "bad batch signature");
            memcpy(sig, b.sig, 64);
            sig[rnd() % 64] ^= (uint8_t)(1u << (rnd() % 8));
            expect(&b, i, NULL, path, sig, pk, NULL, "bad batch signature");
            expect(&b, i, NULL, path, other.sig, pk, NULL, "bad batch signature");
            if (b.n > 1) {
                cJSON *elsewhere = path_json(&b, (i + 1) % b.n);

                expect(&b, i, NULL, elsewhere, NULL, pk, NULL, "bad batch signature");
                cJSON_Delete(elsewhere);
            }
            if (!d) {
                cJSON_Delete(path);
                continue;
            }
            step = cJSON_GetArrayItem(path, (int)k);
            step->valuestring[0] = step->valuestring[0] == 'l' ? 'r' : 'l'; /* the side */
            expect(&b, i, NULL, path, NULL, pk, NULL, "bad batch signature");
            step->valuestring[0] = step->valuestring[0] == 'l' ? 'r' : 'l';
            char *digit = &step->valuestring[1 + rnd() % 64], was = *digit;
            *digit = was == '0' ? '1' : '0'; /* a sibling's bits */
            expect(&b, i, NULL, path, NULL, pk, NULL, "bad batch signature");
            *digit = 'g';
            expect(&b, i, NULL, path, NULL, pk, NULL, "expected 'l' or 'r' and 64 hex digits");
            *digit = was;
            step->valuestring[0] = step->valuestring[0] == 'l' ? 'L' : 'R';
            expect(&b, i, NULL, path, NULL, pk, NULL, "expected 'l' or 'r' and 64 hex digits");
            step->valuestring[0] = (char)(step->valuestring[0] + ('a' - 'A'));
            expect(&b, i, NULL, path, NULL, pk, NULL, NULL); /* all restored */
            cJSON_AddItemToArray(path, cJSON_Duplicate(step, true)); /* a step too many */
            expect(&b, i, NULL, path, NULL, pk, NULL, "bad batch signature");
            cJSON_DeleteItemFromArray(path, (int)d);
            cJSON_DeleteItemFromArray(path, (int)d - 1); /* a step too few */
            expect(&b, i, NULL, path, NULL, pk, NULL, "bad batch signature");
            cJSON_Delete(path);
        }
        batch_free(&b);
        batch_free(&other);
    }
}

/* Paths that are no path, before any signature is looked at. */
static void test_verify_malformed(void)
{
    struct batch b;
    uint8_t pk[32], sk[64];
    char step[MAP_BATCH_STEP_TEXT + 1];
    cJSON *path = cJSON_CreateArray(), *notarray = cJSON_CreateString("l"), *obj;

    crypto_sign_keypair(pk, sk);
    batch_sign(&b, 1, sk);
    expect(&b, 0, NULL, path, NULL, pk, NULL, NULL); /* a batch of one: [] */
    expect(&b, 0, NULL, NULL, NULL, pk, NULL, "path: expected an array");
    expect(&b, 0, NULL, notarray, NULL, pk, NULL, "path: expected an array");
    obj = cJSON_CreateObject();
    expect(&b, 0, NULL, obj, NULL, pk, NULL, "path: expected an array");
    cJSON_Delete(obj);
    memset(step, 'a', MAP_BATCH_STEP_TEXT);
    step[0] = 'l';
    step[MAP_BATCH_STEP_TEXT] = 0;
    for (size_t k = 0; k < MAP_BATCH_DEPTH_MAX; k++)
        cJSON_AddItemToArray(path, cJSON_CreateString(step));
    /* MAP_BATCH_DEPTH_MAX steps are a path (leading nowhere); one more is refused as too long */
    expect(&b, 0, NULL, path, NULL, pk, NULL, "bad batch signature");
    cJSON_AddItemToArray(path, cJSON_CreateString(step));
    expect(&b, 0, NULL, path, NULL, pk, NULL, "at most 32 steps");
    cJSON_Delete(path);
    path = cJSON_CreateArray();
    cJSON_AddItemToArray(path, cJSON_CreateString(step));
    cJSON_AddItemToArray(path, cJSON_CreateNumber(7));
    expect(&b, 0, NULL, path, NULL, pk, NULL, "path[1]: expected");
    cJSON_DeleteItemFromArray(path, 1);
    step[MAP_BATCH_STEP_TEXT - 1] = 0; /* 63 digits */
    cJSON_AddItemToArray(path, cJSON_CreateString(step));
    expect(&b, 0, NULL, path, NULL, pk, NULL, "path[1]: expected");
    cJSON_Delete(path);
    cJSON_Delete(notarray);
    batch_free(&b);
}

/* With a map_batch_seen, the messages of one batch cost one Ed25519 check together. */
static void test_verify_seen(void)
{
    struct map_batch_seen seen;
    struct batch a, b, many[MAP_BATCH_SEEN_MAX];
    uint8_t pk[32], sk[64], sig[64];
    cJSON *path;

    memset(&seen, 0, sizeof(seen));
    crypto_sign_keypair(pk, sk);
    batch_sign(&a, 40, sk);
    batch_sign(&b, 5, sk);
    for (size_t i = 0; i < a.n; i++) {
        path = path_json(&a, i);
        expect(&a, i, NULL, path, NULL, pk, &seen, NULL);
        cJSON_Delete(path);
    }
    CHECK(seen.checks == 1);
    for (size_t i = 0; i < b.n; i++) {
        path = path_json(&b, i);
        expect(&b, i, NULL, path, NULL, pk, &seen, NULL);
        cJSON_Delete(path);
    }
    CHECK(seen.checks == 2);
    /* a remembered root with another signature, or another root with a remembered signature */
    path = path_json(&a, 3);
    memcpy(sig, a.sig, 64);
    sig[5] ^= 0x20;
    expect(&a, 3, NULL, path, sig, pk, &seen, "bad batch signature");
    expect(&a, 3, NULL, path, b.sig, pk, &seen, "bad batch signature");
    cJSON_GetArrayItem(path, 0)->valuestring[0] ^= 'l' ^ 'r';
    expect(&a, 3, NULL, path, NULL, pk, &seen, "bad batch signature");
    CHECK(seen.checks == 5);
    cJSON_GetArrayItem(path, 0)->valuestring[0] ^= 'l' ^ 'r';
    expect(&a, 3, NULL, path, NULL, pk, &seen, NULL);
    CHECK(seen.checks == 5); /* the refusals were not remembered; a's root still is */
    cJSON_Delete(path);
    /* the oldest root is forgotten first */
    for (size_t k = 0; k < MAP_BATCH_SEEN_MAX; k++) {
        batch_sign(&many[k], 1, sk);
        path = path_json(&many[k], 0);
        expect(&many[k], 0, NULL, path, NULL, pk, &seen, NULL);
        cJSON_Delete(path);
    }
    CHECK(seen.checks == 5 + MAP_BATCH_SEEN_MAX && seen.n == MAP_BATCH_SEEN_MAX);
    path = path_json(&a, 0);
    expect(&a, 0, NULL, path, NULL, pk, &seen, NULL);
    CHECK(seen.checks == 6 + MAP_BATCH_SEEN_MAX);
    cJSON_Delete(path);
    path = path_json(&many[MAP_BATCH_SEEN_MAX - 1], 0);
    expect(&many[MAP_BATCH_SEEN_MAX - 1], 0, NULL, path, NULL, pk, &seen, NULL);
    CHECK(seen.checks == 6 + MAP_BATCH_SEEN_MAX);
    cJSON_Delete(path);
    for (size_t k = 0; k < MAP_BATCH_SEEN_MAX; k++)
        batch_free(&many[k]);
    batch_free(&a);
    batch_free(&b);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_leaf();
    test_random_batches();
    test_limits();
    test_step_text();
    test_verify();
    test_verify_malformed();
    test_verify_seen();
    return check_finish("test_map_batch");
}
