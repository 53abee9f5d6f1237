/* Map messages from a stream (agent/daemon/netmap.h, netmap_msg_verify with a "path"): batches
 * built with common/ctl/map_batch.c and signed with a test key verify, each message alone, for
 * batches of 1 to 40; a tampered payload, path step, side, path length, signature, the wrong key,
 * another batch's signature, a poll's signature with a path and a batch's without one are each
 * refused with a reason; a path over MAP_BATCH_DEPTH_MAX or with a malformed step is refused
 * naming it; and the stream's frame goes through netmap_receive like a poll's reply. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agent/daemon/netmap.h"
#include "tests/check.h"
#include "tests/mesh/netmap_util.h"

static uint8_t pk[32], sk[64], pk2[32], sk2[64];

#define SELF "\"self\":{\"id\":7,\"name\":\"me\",\"fqdn\":\"me.acme.zt.net\",\"tailnet_ip\":\"100.64.0.7\",\"tags\":[]}"
#define DNS "\"dns\":{\"suffix\":\"acme.zt.net\",\"resolver\":\"100.100.100.100\",\"search\":[]}"

/* payload i: a full map of version 100 + i for machine 7 (a batch spans machines; here the
 * versions tell the messages apart) */
static char *payload(size_t i)
{
    char *s = malloc(512);
    snprintf(s, 512, "{\"type\":\"full\",\"machine_id\":7,\"version\":%zu,\"generated_at\":1," SELF
             ",\"peers\":[]," DNS ",\"filter\":null}", 100 + i);
    return s;
}

/* verify: 0 and the exact payload back, or the error with why holding part. */
static void expect(const char *frame, const char *want_payload, const char *part)
{
    uint8_t *got = NULL;
    size_t len = 0;
    char why[256] = "";
    int ret = netmap_msg_verify(frame, strlen(frame), pk, &got, &len, why, sizeof(why));
    if (want_payload) {
        CHECK(ret == 0 && len == strlen(want_payload) && !memcmp(got, want_payload, len));
        if (ret)
            fprintf(stderr, "refused: %s\n", why);
    } else {
        CHECK(ret == -EBADMSG && !got && strstr(why, part));
        if (ret != -EBADMSG || !strstr(why, part))
            fprintf(stderr, "wanted '%s', got %d '%s' for %.300s\n", part, ret, why, frame);
    }
    free(got);
}

static void batch_free(char **f, char **p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(f[i]);
        free(p[i]);
    }
}

/* Every message of every batch size verifies alone; a batch of one has "path":[]. */
static void test_batches(void)
{
    char *p[40], *f[40];
    for (size_t n = 1; n <= 40; n++) {
        for (size_t i = 0; i < n; i++)
            p[i] = payload(i);
        nm_batch_sign(sk, (const char *const *)p, n, f);
        if (n == 1)
            CHECK(strstr(f[0], "\"path\":[]}") != NULL);
        for (size_t i = 0; i < n; i++)
            expect(f[i], p[i], NULL);
        batch_free(f, p, n);
    }
}

/* The pieces of one frame: where its payload, sig and first path step start. */
static char *field(char *frame, const char *name)
{
    char key[32];
    snprintf(key, sizeof(key), "\"%s\":", name);
    char *at = strstr(frame, key);
    return at ? at + strlen(key) : NULL;
}

static void test_tampering(void)
{
    char *p[5], *f[5], *o[5], *t;
    for (size_t i = 0; i < 5; i++)
        p[i] = payload(i);
    nm_batch_sign(sk, (const char *const *)p, 5, f);
    nm_batch_sign(sk2, (const char *const *)p, 5, o); /* the same batch under another key */

    /* another message's payload with this one's path: the leaf leads elsewhere */
    t = strdup(f[1]);
    const char *b64 = field(f[0], "payload") + 1;
    memcpy(field(t, "payload") + 1, b64, (size_t)(strchr(b64, '"') - b64)); /* same length */
    expect(t, NULL, "bad batch signature");
    free(t);
    /* a bit of a sibling's hash, a side swapped, a step dropped, a step added */
    t = strdup(f[2]);
    char *step = field(t, "path") + 2; /* past [" */
    step[5] = step[5] == '0' ? '1' : '0';
    expect(t, NULL, "bad batch signature");
    free(t);
    t = strdup(f[2]);
    step = field(t, "path") + 2;
    step[0] = step[0] == 'l' ? 'r' : 'l';
    expect(t, NULL, "bad batch signature");
    free(t);
    t = strdup(f[0]);
    step = field(t, "path") + 1; /* ["l..","r..","r.."] -> ["r..","r.."] */
    memmove(step, step + MAP_BATCH_STEP_TEXT + 3, strlen(step + MAP_BATCH_STEP_TEXT + 3) + 1);
    expect(t, NULL, "bad batch signature");
    free(t);
    t = malloc(strlen(f[0]) + 80);
    step = field(f[0], "path") + 1;
    sprintf(t, "%.*s\"l%064d\",%s", (int)(step - f[0]), f[0], 0, step);
    expect(t, NULL, "bad batch signature");
    free(t);
    /* the signature: one bit, the wrong key, another batch's */
    t = strdup(f[3]);
    char *sig = field(t, "sig") + 1;
    sig[7] = sig[7] == 'a' ? 'b' : 'a';
    expect(t, NULL, "bad batch signature");
    free(t);
    expect(o[3], NULL, "bad batch signature");
    char *q[1] = {payload(9)}, *g[1];
    nm_batch_sign(sk, (const char *const *)q, 1, g);
    t = strdup(f[3]);
    memcpy(field(t, "sig") + 1, field(g[0], "sig") + 1, 128);
    expect(t, NULL, "bad batch signature");
    free(t);
    batch_free(g, q, 1);

    /* the schemes do not pass for each other: a poll's signature with a path added, a batch's
     * signature without its path */
    char *poll = nm_sign(sk, p[0], strlen(p[0]));
    t = malloc(strlen(poll) + 16);
    sprintf(t, "%.*s,\"path\":[]}", (int)strlen(poll) - 1, poll);
    expect(t, NULL, "bad batch signature");
    free(t);
    free(poll);
    t = strdup(f[4]);
    *(field(t, "path") - strlen(",\"path\":")) = 0;
    strcat(t, "}");
    expect(t, NULL, "bad signature (not signed by the pinned server key)");
    free(t);
    batch_free(f, p, 5);
    for (size_t i = 0; i < 5; i++)
        free(o[i]);
}

/* Malformed paths are refused naming the problem, before any signature is checked. */
static void test_bad_paths(void)
{
    char sig[129], hash[65], path[40 * 70], frame[4096];
    memset(sig, 'a', 128);
    sig[128] = 0;
    memset(hash, 'b', 64);
    hash[64] = 0;
    char p[9][400];
    const char *why[9] = {"path: expected an array", "path: expected an array",
                          "path: expected an array", "path[0]: expected 'l' or 'r'",
                          "path[0]: expected 'l' or 'r'", "path[1]: expected 'l' or 'r'",
                          "path[1]: expected 'l' or 'r'", "path[1]: expected 'l' or 'r'",
                          "path[1]: expected 'l' or 'r'"};
    snprintf(p[0], sizeof(p[0]), "\"path\":\"l%s\"", hash);
    snprintf(p[1], sizeof(p[1]), "\"path\":null");
    snprintf(p[2], sizeof(p[2]), "\"path\":{}");
    snprintf(p[3], sizeof(p[3]), "\"path\":[7]");
    snprintf(p[4], sizeof(p[4]), "\"path\":[\"x%s\"]", hash);              /* side */
    snprintf(p[5], sizeof(p[5]), "\"path\":[\"l%s\",\"L%s\"]", hash, hash); /* side's case */
    snprintf(p[6], sizeof(p[6]), "\"path\":[\"l%s\",\"r%.63s\"]", hash, hash); /* short */
    snprintf(p[7], sizeof(p[7]), "\"path\":[\"l%s\",\"r%s0\"]", hash, hash);   /* long */
    snprintf(p[8], sizeof(p[8]), "\"path\":[\"l%s\",\"rzz%.62s\"]", hash, hash); /* hex */
    for (size_t i = 0; i < 9; i++) {
        snprintf(frame, sizeof(frame), "{\"type\":\"map\",\"payload\":\"e30=\",\"sig\":\"%s\",%s}",
                 sig, p[i]);
        expect(frame, NULL, why[i]);
    }
    /* MAP_BATCH_DEPTH_MAX steps are a path (that leads nowhere); one more is refused as such */
    for (size_t depth = MAP_BATCH_DEPTH_MAX; depth <= MAP_BATCH_DEPTH_MAX + 1; depth++) {
        char *w = path;
        for (size_t k = 0; k < depth; k++)
            w += sprintf(w, "%s\"l%s\"", k ? "," : "", hash);
        snprintf(frame, sizeof(frame),
                 "{\"type\":\"map\",\"payload\":\"e30=\",\"sig\":\"%s\",\"path\":[%s]}", sig, path);
        expect(frame, NULL, depth == MAP_BATCH_DEPTH_MAX ? "bad batch signature" : "at most 32");
    }
}

/* The frame as the stream hands it over goes through the same receive step as a poll's data. */
static void test_receive(void)
{
    char *p[3], *f[3], why[256];
    struct netmap *nm = NULL, *next = NULL;
    for (size_t i = 0; i < 3; i++)
        p[i] = payload(i);
    nm_batch_sign(sk, (const char *const *)p, 3, f);
    CHECK(netmap_receive(NULL, pk, 7, f[0], strlen(f[0]), &nm, why, sizeof(why)) == NM_APPLIED);
    CHECK(nm && nm->version == 100);
    CHECK(netmap_receive(nm, pk, 7, f[2], strlen(f[2]), &next, why, sizeof(why)) == NM_APPLIED);
    CHECK(next && next->version == 102);
    netmap_free(next);
    CHECK(netmap_receive(nm, pk2, 7, f[2], strlen(f[2]), &next, why, sizeof(why)) == NM_REFUSED);
    CHECK(!next && strstr(why, "bad batch signature"));
    netmap_free(nm);
    batch_free(f, p, 3);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    crypto_sign_keypair(pk, sk);
    crypto_sign_keypair(pk2, sk2);
    test_batches();
    test_tampering();
    test_bad_paths();
    test_receive();
    return check_finish("test_netmap_batch");
}
