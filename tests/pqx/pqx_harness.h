/* In-memory network for pqx tests: two (or three) nodes, a simulated clock, a deterministic RNG
 * per node and an attacker hook that sees every datagram. */
#ifndef ZTNA_TESTS_PQX_HARNESS_H
#define ZTNA_TESTS_PQX_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/pqx/pqx_peer.h"

#define SIM_MAX_NODES 3
#define SIM_QUEUE 512
#define SIM_DGRAM (PQX_FRAG_HDR_LEN + PQX_FRAG_PAYLOAD_MAX)

struct sim;

struct sim_node {
    struct sim *sim;
    int id;
    struct pqx_local local;
    struct pqx_peer peer[SIM_MAX_NODES]; /* peer[j]: this node's view of node j */
    bool has_peer[SIM_MAX_NODES];
    uint8_t rng_seed[32];
    uint64_t rng_ctr;
    /* What the data plane would hold, per peer. */
    uint8_t psk[SIM_MAX_NODES][32];
    enum pqx_psk_state psk_kind[SIM_MAX_NODES];
    bool blocked[SIM_MAX_NODES];
    unsigned pq_installs[SIM_MAX_NODES], random_installs[SIM_MAX_NODES];
    unsigned block_events[SIM_MAX_NODES];
};

struct sim_dgram {
    int from, to;
    uint64_t deliver_ms;
    size_t len;
    uint8_t buf[SIM_DGRAM];
};

/* Called for every datagram sent; may modify it. Return false to drop it. */
typedef bool (*sim_hook_fn)(struct sim *s, struct sim_dgram *d, void *ctx);

struct sim {
    uint64_t now_ms, real_ms;
    struct sim_node node[SIM_MAX_NODES];
    int n_nodes;
    struct sim_dgram q[SIM_QUEUE];
    size_t n_q;
    size_t sent, dropped_full;
    sim_hook_fn hook;
    void *hook_ctx;
    uint64_t latency_ms;
    struct sim_dgram log[64]; /* the first datagrams sent, for replay tests */
    size_t n_log;
};

/* Sets up n nodes with static keys from fixed seeds (node i's key from seed byte key_seed + i),
 * each peered with every other, and a deterministic RNG seeded by rng_seed + i. */
void sim_init(struct sim *s, int n, uint8_t key_seed, uint8_t rng_seed,
              const struct pqx_config *cfg);
void sim_fini(struct sim *s);
/* Advances the clock by ms in steps of 10 ms, ticking every peer and delivering datagrams. */
void sim_run(struct sim *s, uint64_t ms);
/* Enqueues a datagram as if sent from `from` to `to` (bypasses the hook). */
void sim_inject(struct sim *s, int from, int to, const uint8_t *buf, size_t len);
bool sim_is_zero(const uint8_t *b, size_t n);

#endif
