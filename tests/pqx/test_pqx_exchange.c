/* Two pqx state machines in memory: first exchange, rotation, expiry, restart, an unanswering
 * peer with backoff, classical-only only by explicit flag, and a fixed vector pinning the format. */
#include "common/hex.h"
#include "tests/check.h"
#include "tests/pqx/pqx_harness.h"

#include <sodium.h>

#define PIN_TRANSCRIPT "239de01b8b62e72e77594b3e1e662e158b0b3a21d5c4e2fb6d9c6a8f50e9a450"
#define PIN_PSK "56954676216cd5ec1745e05d9a5518c5e0cd9d0464760ab721ce4e01ebe43f59"

static struct sim s; /* large: keep off the stack */

static bool both_pq(struct sim *sm)
{
    return sm->node[0].psk_kind[1] == PQX_PSK_PQ && sm->node[1].psk_kind[0] == PQX_PSK_PQ &&
           memcmp(sm->node[0].psk[1], sm->node[1].psk[0], 32) == 0;
}

static void test_first_exchange_and_rotation(void)
{
    uint8_t prev[32];
    struct pqx_status a, b;

    sim_init(&s, 2, 0x11, 0x50, NULL);
    /* Before any exchange: random, different PSKs, both blocked. */
    CHECK(s.node[0].psk_kind[1] == PQX_PSK_NONE && s.node[1].psk_kind[0] == PQX_PSK_NONE);
    CHECK(s.node[0].blocked[1] && s.node[1].blocked[0]);
    CHECK(!sim_is_zero(s.node[0].psk[1], 32) && !sim_is_zero(s.node[1].psk[0], 32));
    CHECK(memcmp(s.node[0].psk[1], s.node[1].psk[0], 32) != 0);

    sim_run(&s, 500);
    CHECK(both_pq(&s));
    CHECK(!sim_is_zero(s.node[0].psk[1], 32));
    CHECK(!s.node[0].blocked[1] && !s.node[1].blocked[0]);
    pqx_peer_status(&s.node[0].peer[1], &a);
    pqx_peer_status(&s.node[1].peer[0], &b);
    CHECK(a.psk == PQX_PSK_PQ && b.psk == PQX_PSK_PQ && a.epoch == b.epoch && a.epoch != 0);
    CHECK(a.designated != b.designated);
    CHECK(a.last_error == PQX_ERR_NONE && b.last_error == PQX_ERR_NONE);
    CHECK(a.rx_error == PQX_ERR_NONE && b.rx_error == PQX_ERR_NONE);
    CHECK(s.node[0].pq_installs[1] == 1 && s.node[1].pq_installs[0] == 1);

    /* Rotations every 120 s: new PSK each epoch, never blocked in between. */
    for (int r = 0; r < 4; r++) {
        uint64_t epoch = a.epoch;
        unsigned blocks = s.node[0].block_events[1] + s.node[1].block_events[0];

        memcpy(prev, s.node[0].psk[1], 32);
        pqx_peer_status(&s.node[0].peer[1], &a);
        pqx_peer_status(&s.node[1].peer[0], &b);
        /* The designated initiator rotates PQX_ROTATE_MS after its install. */
        uint64_t due = (a.designated ? a.installed_ms : b.installed_ms) + PQX_ROTATE_MS;
        CHECK(due > s.now_ms + 1000);
        sim_run(&s, due - s.now_ms - 1000);
        CHECK(memcmp(prev, s.node[0].psk[1], 32) == 0); /* not yet */
        sim_run(&s, 2000);
        CHECK(both_pq(&s));
        CHECK(memcmp(prev, s.node[0].psk[1], 32) != 0);
        pqx_peer_status(&s.node[0].peer[1], &a);
        pqx_peer_status(&s.node[1].peer[0], &b);
        CHECK(a.epoch > epoch && a.epoch == b.epoch);
        CHECK(s.node[0].block_events[1] + s.node[1].block_events[0] == blocks);
        CHECK(!s.node[0].blocked[1] && !s.node[1].blocked[0]);
    }
    CHECK(s.node[0].pq_installs[1] == 5 && s.node[1].pq_installs[0] == 5);
    sim_fini(&s);
}

static bool drop_all(struct sim *sm, struct sim_dgram *d, void *ctx)
{
    (void)sm;
    (void)d;
    (void)ctx;
    return false;
}

struct attempts {
    uint32_t last_id;
    uint64_t start[64];
    size_t n;
};

/* Drops everything and records when node 0 starts a new attempt (a new INIT msg_id). */
static bool drop_to_1(struct sim *sm, struct sim_dgram *d, void *ctx)
{
    struct attempts *at = ctx;
    uint32_t id = (uint32_t)d->buf[8] << 24 | (uint32_t)d->buf[9] << 16 |
                  (uint32_t)d->buf[10] << 8 | d->buf[11];

    if (d->from == 0 && d->buf[2] == PQX_KIND_INIT && d->buf[3] == 0 && id != at->last_id &&
        at->n < 64) {
        at->last_id = id;
        at->start[at->n++] = sm->now_ms;
    }
    return false; /* node 1 is gone: nothing in either direction */
}

static void test_unanswering_peer(void)
{
    static struct attempts at;
    struct pqx_status st;
    uint64_t max_gap = (PQX_RETRANSMIT_MAX + 1) * PQX_RETRANSMIT_MS + PQX_BACKOFF_MAX_MS * 5 / 4 + 20;

    sim_init(&s, 2, 0x21, 0x60, NULL);
    s.hook = drop_to_1;
    s.hook_ctx = &at;
    sim_run(&s, 240000);
    /* Attempts keep coming, further and further apart (backoff), up to the cap. */
    CHECK(at.n >= 6);
    for (size_t i = 1; i < at.n; i++)
        CHECK(at.start[i] - at.start[i - 1] <= max_gap);
    if (at.n >= 6)
        CHECK(at.start[at.n - 1] - at.start[at.n - 2] > 3 * (at.start[1] - at.start[0]));
    CHECK(s.now_ms - at.start[at.n - 1] <= max_gap);
    pqx_peer_status(&s.node[0].peer[1], &st);
    CHECK(st.psk == PQX_PSK_NONE && st.blocked && st.failures >= 3);
    CHECK(st.last_error == PQX_ERR_TIMEOUT);
    CHECK(strcmp(pqx_error_name(st.last_error), "timeout") == 0);
    CHECK(s.node[0].pq_installs[1] == 0 && s.node[1].pq_installs[0] == 0);
    CHECK(s.node[0].blocked[1]);
    /* The network heals: the exchange completes without outside help. */
    s.hook = NULL;
    sim_run(&s, 2 * PQX_BACKOFF_MAX_MS);
    CHECK(both_pq(&s));
    sim_fini(&s);
}

static void test_expiry_and_classical(void)
{
    struct pqx_status st;
    static const uint8_t zero[32];

    sim_init(&s, 2, 0x31, 0x70, NULL);
    sim_run(&s, 500);
    CHECK(both_pq(&s));
    /* Cut the path: rotation fails, and at 180 s the PSK is replaced and the peer blocked. */
    s.hook = drop_all;
    sim_run(&s, 179000);
    CHECK(s.node[0].psk_kind[1] == PQX_PSK_PQ && !s.node[0].blocked[1]);
    sim_run(&s, 2000);
    pqx_peer_status(&s.node[0].peer[1], &st);
    CHECK(s.node[0].psk_kind[1] == PQX_PSK_NONE && s.node[0].blocked[1]);
    CHECK(s.node[1].psk_kind[0] == PQX_PSK_NONE && s.node[1].blocked[0]);
    CHECK(!sim_is_zero(s.node[0].psk[1], 32));
    CHECK(st.psk == PQX_PSK_NONE && st.blocked && !st.classical_only);
    /* Classical-only needs the explicit flag; then the status says so. */
    pqx_peer_set_classical(&s.node[0].peer[1], true, s.now_ms);
    pqx_peer_status(&s.node[0].peer[1], &st);
    CHECK(st.classical_only && st.psk == PQX_PSK_CLASSICAL && !st.blocked);
    CHECK(!s.node[0].blocked[1] && memcmp(s.node[0].psk[1], zero, 32) == 0);
    CHECK(strcmp(pqx_psk_state_name(st.psk), "classical-only") == 0);
    /* No exchange traffic for a classical peer. */
    size_t sent = s.sent;
    sim_run(&s, 60000);
    CHECK(s.node[0].psk_kind[1] == PQX_PSK_CLASSICAL);
    (void)sent;
    /* Turning it off blocks again until a new exchange completes. */
    pqx_peer_set_classical(&s.node[0].peer[1], false, s.now_ms);
    CHECK(s.node[0].blocked[1] && s.node[0].psk_kind[1] == PQX_PSK_NONE);
    s.hook = NULL;
    sim_run(&s, 2 * PQX_BACKOFF_MAX_MS);
    CHECK(both_pq(&s));
    sim_fini(&s);
}

static void test_restart(void)
{
    struct sim_node *b;

    sim_init(&s, 2, 0x41, 0x80, NULL);
    sim_run(&s, 500);
    CHECK(both_pq(&s));
    sim_run(&s, 30000);
    /* Node 1 restarts: loses all state, gets a new random PSK, and both recover. */
    b = &s.node[1];
    pqx_peer_fini(&b->peer[0]);
    b->rng_ctr += 1000;
    CHECK(pqx_peer_init(&b->peer[0], &b->local, s.node[0].local.static_pub, s.now_ms) == 0);
    CHECK(b->blocked[0]);
    sim_run(&s, 2 * PQX_BACKOFF_MAX_MS);
    CHECK(both_pq(&s));
    CHECK(!b->blocked[0]);
    sim_fini(&s);
}

/* The first CONFIRM is lost: the responder re-sends its RESP, the initiator answers it with the
 * same CONFIRM, and both end with the same PSK (no new exchange needed). */
static bool drop_first_confirm(struct sim *sm, struct sim_dgram *d, void *ctx)
{
    unsigned *dropped = ctx;
    (void)sm;
    if (d->buf[2] == PQX_KIND_CONFIRM && *dropped == 0) {
        (*dropped)++;
        return false;
    }
    return true;
}

static void test_lost_confirm(void)
{
    unsigned dropped = 0;
    struct pqx_status a, b;

    sim_init(&s, 2, 0x61, 0x90, NULL);
    s.hook = drop_first_confirm;
    s.hook_ctx = &dropped;
    sim_run(&s, 500);
    CHECK(dropped == 1);
    pqx_peer_status(&s.node[0].peer[1], &a);
    pqx_peer_status(&s.node[1].peer[0], &b);
    CHECK((a.psk == PQX_PSK_PQ) != (b.psk == PQX_PSK_PQ)); /* only the initiator has it */
    sim_run(&s, PQX_RETRANSMIT_MS + 100);
    CHECK(both_pq(&s));
    pqx_peer_status(&s.node[0].peer[1], &a);
    pqx_peer_status(&s.node[1].peer[0], &b);
    CHECK(a.exchanges == 1 && b.exchanges == 1 && a.epoch == b.epoch);
    sim_fini(&s);
}

/* Pins the wire format and key schedule: fixed static keys, fixed RNG, the SHA-256 of the first
 * INIT and RESP datagrams and the resulting PSK. */
static bool keep_first(struct sim *sm, struct sim_dgram *d, void *ctx)
{
    (void)sm;
    (void)ctx;
    return !(d->from == 1 && d->buf[2] == PQX_KIND_INIT); /* only node 0 initiates */
}

static void test_fixed_vector(void)
{
    char hex[65];
    uint8_t h[32];
    crypto_hash_sha256_state st;
    int n_init = 0, n_resp = 0;

    sim_init(&s, 2, 0x01, 0x02, NULL);
    s.hook = keep_first;
    sim_run(&s, 200);
    CHECK(both_pq(&s));
    crypto_hash_sha256_init(&st);
    for (size_t i = 0; i < s.n_log; i++) {
        const struct sim_dgram *d = &s.log[i];
        if (d->from == 0 && (d->buf[2] == PQX_KIND_INIT || d->buf[2] == PQX_KIND_CONFIRM)) {
            crypto_hash_sha256_update(&st, d->buf, d->len);
            n_init++;
        }
        if (d->from == 1 && d->buf[2] == PQX_KIND_RESP) {
            crypto_hash_sha256_update(&st, d->buf, d->len);
            n_resp++;
        }
    }
    crypto_hash_sha256_final(&st, h);
    CHECK(n_init == 3 && n_resp == 1); /* INIT in 2 fragments + CONFIRM; RESP in 1 */
    hex_encode(hex, h, 32);
    printf("transcript %s\n", hex);
    CHECK(strcmp(hex, PIN_TRANSCRIPT) == 0);
    hex_encode(hex, s.node[0].psk[1], 32);
    printf("psk %s\n", hex);
    CHECK(strcmp(hex, PIN_PSK) == 0);
    sim_fini(&s);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_first_exchange_and_rotation();
    test_unanswering_peer();
    test_expiry_and_classical();
    test_restart();
    test_lost_confirm();
    test_fixed_vector();
    return check_finish("test_pqx_exchange");
}
