/* Fragmentation and reassembly: sizes under the 1280-byte IPv6 minimum MTU, loss, reordering,
 * duplicates, conflicting fragments, bounded slots and timeouts; and a whole exchange over a
 * network that loses, duplicates and reorders datagrams. */
#include "tests/check.h"
#include "tests/pqx/pqx_harness.h"

#include <errno.h>
#include <sodium.h>

static struct sim s;

static size_t build_all(uint8_t out[][SIM_DGRAM], size_t *lens, const uint8_t *body, size_t len,
                        uint32_t id)
{
    static const uint8_t hint[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint8_t n = pqx_frag_count(len);
    for (uint8_t i = 0; i < n; i++)
        lens[i] = pqx_frag_build(out[i], PQX_KIND_INIT, id, hint, body, len, i);
    return n;
}

static int feed(struct pqx_reasm *r, const uint8_t *d, size_t len, uint64_t now, uint8_t *out,
                size_t *out_len)
{
    struct pqx_frag f;
    uint8_t kind;
    if (!pqx_frag_parse(&f, d, len))
        return -EINVAL;
    return pqx_reasm_add(r, &f, now, out, out_len, &kind);
}

static void test_reassembly(void)
{
    static uint8_t body[PQX_MSG_MAX], out[PQX_MSG_MAX], d[PQX_FRAG_COUNT_MAX][SIM_DGRAM];
    static struct pqx_reasm r;
    size_t lens[PQX_FRAG_COUNT_MAX], out_len = 0, n;

    randombytes_buf(body, sizeof(body));
    /* Sizes: every datagram fits an IPv6 minimum-MTU path (40 + 8 + payload <= 1280). */
    n = build_all(d, lens, body, PQX_INIT_LEN, 7);
    CHECK(n == 2);
    for (size_t i = 0; i < n; i++)
        CHECK(lens[i] <= 1232 && lens[i] > PQX_FRAG_HDR_LEN);
    CHECK(pqx_frag_count(PQX_RESP_LEN) == 1 && pqx_frag_count(PQX_CONFIRM_LEN) == 1);
    CHECK(pqx_frag_count(0) == 0 && pqx_frag_count(PQX_MSG_MAX + 1) == 0);

    /* In order, reversed, with duplicates. */
    pqx_reasm_init(&r);
    CHECK(feed(&r, d[1], lens[1], 0, out, &out_len) == 0);
    CHECK(feed(&r, d[1], lens[1], 1, out, &out_len) == 0); /* duplicate */
    CHECK(pqx_reasm_pending(&r) == 1);
    CHECK(feed(&r, d[0], lens[0], 2, out, &out_len) == 1);
    CHECK(out_len == PQX_INIT_LEN && memcmp(out, body, out_len) == 0);
    CHECK(pqx_reasm_pending(&r) == 0);
    CHECK(feed(&r, d[0], lens[0], 3, out, &out_len) == 0); /* late duplicate starts a new slot */
    pqx_reasm_expire(&r, 3 + PQX_REASM_TIMEOUT_MS);
    CHECK(pqx_reasm_pending(&r) == 0);

    /* Loss: the missing fragment never completes, and the slot times out. */
    CHECK(feed(&r, d[0], lens[0], 10, out, &out_len) == 0);
    CHECK(feed(&r, d[1], lens[1], 10 + PQX_REASM_TIMEOUT_MS, out, &out_len) == 0);
    CHECK(pqx_reasm_pending(&r) == 1); /* only the new slot for fragment 1 */

    /* Bounded: many interleaved messages never use more than PQX_REASM_SLOTS slots, and the
     * most recent ones still complete. */
    pqx_reasm_init(&r);
    for (uint32_t id = 100; id < 200; id++) {
        build_all(d, lens, body, PQX_INIT_LEN, id);
        CHECK(feed(&r, d[0], lens[0], 50 + id, out, &out_len) == 0);
        CHECK(pqx_reasm_pending(&r) <= PQX_REASM_SLOTS);
    }
    CHECK(feed(&r, d[1], lens[1], 300, out, &out_len) == 1);

    /* Conflicting fragment for the same id: a different total length drops the slot. */
    pqx_reasm_init(&r);
    build_all(d, lens, body, PQX_INIT_LEN, 9);
    CHECK(feed(&r, d[0], lens[0], 0, out, &out_len) == 0);
    {
        static uint8_t d2[PQX_FRAG_COUNT_MAX][SIM_DGRAM];
        size_t lens2[PQX_FRAG_COUNT_MAX];
        build_all(d2, lens2, body, 2000, 9);
        CHECK(feed(&r, d2[1], lens2[1], 1, out, &out_len) == -EBADMSG);
        CHECK(pqx_reasm_pending(&r) == 0);
    }
    /* Malformed headers are rejected by the parser. */
    {
        struct pqx_frag f;
        uint8_t bad[SIM_DGRAM];
        memcpy(bad, d[0], lens[0]);
        CHECK(pqx_frag_parse(&f, bad, lens[0]));
        CHECK(!pqx_frag_parse(&f, bad, lens[0] - 1)); /* short payload */
        CHECK(!pqx_frag_parse(&f, bad, 19));
        bad[4] = 3; /* count inconsistent with total_len */
        CHECK(!pqx_frag_parse(&f, bad, lens[0]));
        bad[4] = 2;
        bad[3] = 2; /* index >= count */
        CHECK(!pqx_frag_parse(&f, bad, lens[0]));
        bad[3] = 0;
        bad[6] = 0x10; /* total_len 4096+ > max */
        CHECK(!pqx_frag_parse(&f, bad, lens[0]));
    }
}

/* A bad network: 30 % loss, 20 % duplicates, random extra delay (reordering). */
struct chaos {
    uint64_t state;
    unsigned dropped, duplicated;
};

static uint64_t xs(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static bool chaos_hook(struct sim *sm, struct sim_dgram *d, void *ctx)
{
    struct chaos *c = ctx;

    if (xs(&c->state) % 100 < 30) {
        c->dropped++;
        return false;
    }
    d->deliver_ms += xs(&c->state) % 300;
    if (xs(&c->state) % 100 < 20 && sm->n_q < SIM_QUEUE) {
        struct sim_dgram *dup = &sm->q[sm->n_q++];
        *dup = *d;
        dup->deliver_ms += xs(&c->state) % 300;
        c->duplicated++;
    }
    return true;
}

static void test_exchange_over_bad_network(void)
{
    unsigned dropped = 0, duplicated = 0;

    for (uint8_t seed = 0; seed < 8; seed++) {
        struct chaos c = {.state = 0x1234567ULL + seed};
        sim_init(&s, 2, (uint8_t)(0xa0 + seed), (uint8_t)(0xb0 + seed), NULL);
        s.hook = chaos_hook;
        s.hook_ctx = &c;
        for (int i = 0; i < 300 && !(s.node[0].psk_kind[1] == PQX_PSK_PQ &&
                                     s.node[1].psk_kind[0] == PQX_PSK_PQ &&
                                     !memcmp(s.node[0].psk[1], s.node[1].psk[0], 32));
             i++)
            sim_run(&s, 1000);
        CHECK(s.node[0].psk_kind[1] == PQX_PSK_PQ && s.node[1].psk_kind[0] == PQX_PSK_PQ);
        CHECK(memcmp(s.node[0].psk[1], s.node[1].psk[0], 32) == 0);
        dropped += c.dropped;
        duplicated += c.duplicated;
        sim_fini(&s);
    }
    CHECK(dropped > 0 && duplicated > 0);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_reassembly();
    test_exchange_over_bad_network();
    return check_finish("test_pqx_frag");
}
