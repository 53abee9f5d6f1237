/* Allowed IPs trie against a naive reference (a list of prefixes scanned linearly for the
 * longest match), IPv4 and IPv6, thousands of random overlapping prefixes and lookups, with
 * removes, remove-by-peer and walk-by-peer; plus a few hand-written cases. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/wg/allowedips.h"
#include "tests/check.h"

struct ref_entry {
    uint8_t addr[16];
    uint8_t cidr;
    void *peer;
};

struct ref {
    struct ref_entry *e;
    size_t n;
    size_t bytes; /* 4 or 16 */
};

static void mask_addr(uint8_t *a, size_t bytes, unsigned cidr)
{
    for (size_t i = 0; i < bytes; i++) {
        unsigned bits = cidr > 8 * i ? cidr - 8 * (unsigned)i : 0;
        if (bits < 8)
            a[i] &= (uint8_t)(0xff00 >> bits);
    }
}

static bool ref_matches(const struct ref_entry *e, const uint8_t *addr, size_t bytes)
{
    uint8_t a[16];
    memcpy(a, addr, bytes);
    mask_addr(a, bytes, e->cidr);
    return memcmp(a, e->addr, bytes) == 0;
}

static struct ref_entry *ref_find(struct ref *r, const uint8_t *addr, uint8_t cidr)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->e[i].cidr == cidr && memcmp(r->e[i].addr, addr, r->bytes) == 0)
            return &r->e[i];
    return NULL;
}

static void ref_insert(struct ref *r, const uint8_t *addr_in, uint8_t cidr, void *peer)
{
    uint8_t a[16];
    memcpy(a, addr_in, r->bytes);
    mask_addr(a, r->bytes, cidr);
    struct ref_entry *e = ref_find(r, a, cidr);
    if (!e) {
        e = &r->e[r->n++];
        memcpy(e->addr, a, r->bytes);
        e->cidr = cidr;
    }
    e->peer = peer;
}

static void *ref_lookup(const struct ref *r, const uint8_t *addr)
{
    int best = -1;
    void *peer = NULL;
    for (size_t i = 0; i < r->n; i++)
        if (r->e[i].peer && r->e[i].cidr > best && ref_matches(&r->e[i], addr, r->bytes)) {
            best = r->e[i].cidr;
            peer = r->e[i].peer;
        }
    return peer;
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Addresses drawn near a few bases so prefixes overlap and nest. */
static void random_addr(uint8_t *a, size_t bytes, const uint8_t bases[8][16])
{
    memcpy(a, bases[rnd() % 8], bytes);
    unsigned flip = (unsigned)(rnd() % (8 * bytes));
    for (unsigned i = flip; i < 8 * bytes; i++)
        if (rnd() & 1)
            a[i / 8] ^= (uint8_t)(0x80 >> (i % 8));
}

struct walk_ctx {
    const struct ref *r;
    void *peer;
    size_t count;
    int family;
    bool ok;
};

static int walk_cb(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
    struct walk_ctx *w = ctx;
    if (family == w->family) {
        struct ref_entry *e = ref_find((struct ref *)w->r, addr, cidr);
        if (!e || e->peer != w->peer)
            w->ok = false;
        w->count++;
    }
    return 0;
}

static int count_cb(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
    (*(size_t *)ctx)++;
    return 0;
}

static void random_family(int family, size_t bytes, size_t nprefixes)
{
    static uint8_t peers[64]; /* addresses used as opaque peer pointers */
    uint8_t bases[8][16];
    struct wg_allowedips t;
    struct ref r = {.e = calloc(nprefixes, sizeof(struct ref_entry)), .n = 0, .bytes = bytes};
    CHECK(r.e != NULL);
    if (!r.e)
        return;
    for (int i = 0; i < 8; i++)
        for (size_t j = 0; j < 16; j++)
            bases[i][j] = (uint8_t)rnd();
    wg_allowedips_init(&t);

    for (size_t i = 0; i < nprefixes; i++) {
        uint8_t a[16];
        random_addr(a, bytes, bases);
        uint8_t cidr = (uint8_t)(rnd() % (8 * bytes + 1));
        void *peer = &peers[rnd() % 64];
        CHECK(wg_allowedips_insert(&t, family, a, cidr, peer) == 0);
        ref_insert(&r, a, cidr, peer);
    }
    CHECK(t.count == r.n);

    size_t mismatches = 0, hits = 0;
    for (int i = 0; i < 10000; i++) {
        uint8_t a[16];
        random_addr(a, bytes, bases);
        void *want = ref_lookup(&r, a);
        mismatches += wg_allowedips_lookup(&t, family, a) != want;
        hits += want != NULL;
    }
    CHECK(mismatches == 0);
    CHECK(hits > 1000); /* the lookups exercised real matches */

    /* Remove a third of the prefixes one by one (some with the wrong peer first). */
    for (size_t i = 0; i < r.n; i += 3) {
        struct ref_entry *e = &r.e[i];
        if (!e->peer)
            continue;
        void *other = (uint8_t *)e->peer == &peers[0] ? &peers[1] : &peers[0];
        CHECK(wg_allowedips_remove(&t, family, e->addr, e->cidr, other) == -ENOENT);
        CHECK(wg_allowedips_remove(&t, family, e->addr, e->cidr, e->peer) == 0);
        CHECK(wg_allowedips_remove(&t, family, e->addr, e->cidr, e->peer) == -ENOENT);
        e->peer = NULL;
        e->cidr = 255; /* never matches any more in the reference */
    }
    /* Remove every prefix of a few peers. */
    for (int p = 0; p < 8; p++) {
        wg_allowedips_remove_by_peer(&t, &peers[p]);
        for (size_t i = 0; i < r.n; i++)
            if (r.e[i].peer == &peers[p]) {
                r.e[i].peer = NULL;
                r.e[i].cidr = 255;
            }
    }
    size_t live = 0;
    for (size_t i = 0; i < r.n; i++)
        live += r.e[i].peer != NULL;
    CHECK(t.count == live);

    mismatches = 0;
    for (int i = 0; i < 10000; i++) {
        uint8_t a[16];
        random_addr(a, bytes, bases);
        mismatches += wg_allowedips_lookup(&t, family, a) != ref_lookup(&r, a);
    }
    CHECK(mismatches == 0);
    /* Walk: every prefix reported for a peer is the reference's, and none is missed. */
    for (int p = 0; p < 64; p += 5) {
        struct walk_ctx w = {.r = &r, .peer = &peers[p], .family = family, .ok = true};
        size_t want = 0;
        for (size_t i = 0; i < r.n; i++)
            want += r.e[i].peer == &peers[p];
        CHECK(wg_allowedips_walk_by_peer(&t, &peers[p], walk_cb, &w) == 0);
        CHECK(w.ok && w.count == want);
    }
    /* Removing everything leaves no node behind (no peerless node is left dangling). */
    for (size_t i = 0; i < r.n; i++)
        if (r.e[i].peer)
            CHECK(wg_allowedips_remove(&t, family, r.e[i].addr, r.e[i].cidr, r.e[i].peer) == 0);
    CHECK(t.count == 0 && t.root4 == NULL && t.root6 == NULL);
    wg_allowedips_free(&t);
    free(r.e);
}

/* Inserts and removes interleaved with lookups, each step checked against the reference. */
static void random_interleaved(int family, size_t bytes, int steps)
{
    static uint8_t peers[16];
    uint8_t bases[8][16];
    struct wg_allowedips t;
    struct ref r = {.e = calloc((size_t)steps, sizeof(struct ref_entry)), .n = 0, .bytes = bytes};
    CHECK(r.e != NULL);
    if (!r.e)
        return;
    for (int i = 0; i < 8; i++)
        for (size_t j = 0; j < 16; j++)
            bases[i][j] = (uint8_t)rnd();
    wg_allowedips_init(&t);
    size_t mismatches = 0, removed = 0;
    for (int step = 0; step < steps; step++) {
        if (r.n > 0 && rnd() % 5 < 2) {
            struct ref_entry *e = &r.e[rnd() % r.n];
            if (e->peer) {
                CHECK(wg_allowedips_remove(&t, family, e->addr, e->cidr, e->peer) == 0);
                e->peer = NULL;
                e->cidr = 255;
                removed++;
            }
        } else {
            uint8_t a[16];
            random_addr(a, bytes, bases);
            uint8_t cidr = (uint8_t)(rnd() % (8 * bytes + 1));
            void *peer = &peers[rnd() % 16];
            CHECK(wg_allowedips_insert(&t, family, a, cidr, peer) == 0);
            ref_insert(&r, a, cidr, peer);
        }
        for (int k = 0; k < 3; k++) {
            uint8_t a[16];
            random_addr(a, bytes, bases);
            mismatches += wg_allowedips_lookup(&t, family, a) != ref_lookup(&r, a);
        }
    }
    CHECK(mismatches == 0);
    CHECK(removed > (size_t)steps / 10);
    wg_allowedips_free(&t);
    free(r.e);
}

static void test_fixed(void)
{
    struct wg_allowedips t;
    int a, b, c, d;
    wg_allowedips_init(&t);
    uint8_t net10[4] = {10, 0, 0, 0}, net10_1[4] = {10, 1, 0, 0}, host[4] = {10, 1, 2, 3};
    uint8_t any[4] = {0}, other[4] = {192, 0, 2, 1};
    CHECK(wg_allowedips_insert(&t, AF_INET, net10, 8, &a) == 0);
    CHECK(wg_allowedips_insert(&t, AF_INET, net10_1, 16, &b) == 0);
    CHECK(wg_allowedips_insert(&t, AF_INET, host, 32, &c) == 0);
    CHECK(wg_allowedips_lookup(&t, AF_INET, host) == &c);
    uint8_t near[4] = {10, 1, 2, 4}, far[4] = {10, 2, 0, 1};
    CHECK(wg_allowedips_lookup(&t, AF_INET, near) == &b);
    CHECK(wg_allowedips_lookup(&t, AF_INET, far) == &a);
    CHECK(wg_allowedips_lookup(&t, AF_INET, other) == NULL);
    CHECK(wg_allowedips_insert(&t, AF_INET, any, 0, &d) == 0); /* default route */
    CHECK(wg_allowedips_lookup(&t, AF_INET, other) == &d);
    /* Host bits are ignored; re-inserting moves the prefix. */
    uint8_t net10_dirty[4] = {10, 9, 9, 9};
    CHECK(wg_allowedips_insert(&t, AF_INET, net10_dirty, 8, &b) == 0);
    CHECK(wg_allowedips_lookup(&t, AF_INET, far) == &b);
    CHECK(t.count == 4);
    CHECK(wg_allowedips_remove(&t, AF_INET, host, 32, &c) == 0);
    CHECK(wg_allowedips_lookup(&t, AF_INET, host) == &b);
    /* IPv6 is separate. */
    uint8_t v6[16] = {0xfd, 0x7a, 0x11, 0x5c};
    CHECK(wg_allowedips_lookup(&t, AF_INET6, v6) == NULL);
    CHECK(wg_allowedips_insert(&t, AF_INET6, v6, 48, &c) == 0);
    CHECK(wg_allowedips_lookup(&t, AF_INET6, v6) == &c);
    uint8_t v6_full[16];
    memset(v6_full, 0xff, 16);
    CHECK(wg_allowedips_insert(&t, AF_INET6, v6_full, 128, &a) == 0);
    CHECK(wg_allowedips_lookup(&t, AF_INET6, v6_full) == &a);
    size_t n = 0;
    CHECK(wg_allowedips_walk_by_peer(&t, &b, count_cb, &n) == 0 && n == 2);
    /* Bad arguments. */
    CHECK(wg_allowedips_insert(&t, AF_INET, host, 33, &a) == -EINVAL);
    CHECK(wg_allowedips_insert(&t, AF_INET6, v6, 129, &a) == -EINVAL);
    CHECK(wg_allowedips_insert(&t, AF_UNIX, v6, 1, &a) == -EINVAL);
    CHECK(wg_allowedips_insert(&t, AF_INET, host, 1, NULL) == -EINVAL);
    wg_allowedips_remove_by_peer(&t, &b);
    CHECK(wg_allowedips_lookup(&t, AF_INET, far) == &d);
    /* Removing every peer leaves no node behind. */
    wg_allowedips_remove_by_peer(&t, &a);
    wg_allowedips_remove_by_peer(&t, &c);
    CHECK(t.root6 == NULL && t.root4 != NULL);
    wg_allowedips_remove_by_peer(&t, &d);
    CHECK(t.count == 0 && t.root4 == NULL);
    wg_allowedips_free(&t);
    CHECK(wg_allowedips_lookup(&t, AF_INET, far) == NULL);
    wg_allowedips_free(NULL);
}

int main(void)
{
    test_fixed();
    random_family(AF_INET, 4, 3000);
    random_family(AF_INET6, 16, 3000);
    random_interleaved(AF_INET, 4, 4000);
    random_interleaved(AF_INET6, 16, 4000);
    return check_finish("test_wg_allowedips");
}
