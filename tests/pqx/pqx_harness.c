/* In-memory network for pqx tests; see pqx_harness.h. */
#include "tests/pqx/pqx_harness.h"

#include <string.h>

#include <sodium.h>

static struct sim_node *node_of(void *ctx)
{
    return ctx;
}

static int peer_index(struct sim_node *n, struct pqx_peer *p)
{
    return (int)(p - n->peer);
}

static void op_send(void *ctx, struct pqx_peer *p, const uint8_t *buf, size_t len)
{
    struct sim_node *n = node_of(ctx);
    struct sim *s = n->sim;
    struct sim_dgram d;

    if (len > SIM_DGRAM)
        return;
    d.from = n->id;
    d.to = peer_index(n, p);
    d.len = len;
    d.deliver_ms = s->now_ms + s->latency_ms;
    memcpy(d.buf, buf, len);
    if (s->n_log < sizeof(s->log) / sizeof(s->log[0]))
        s->log[s->n_log++] = d;
    s->sent++;
    if (s->hook && !s->hook(s, &d, s->hook_ctx))
        return;
    if (s->n_q >= SIM_QUEUE) {
        s->dropped_full++;
        return;
    }
    s->q[s->n_q++] = d;
}

static void op_install(void *ctx, struct pqx_peer *p, const uint8_t psk[static 32],
                       enum pqx_psk_state kind)
{
    struct sim_node *n = node_of(ctx);
    int j = peer_index(n, p);

    memcpy(n->psk[j], psk, 32);
    n->psk_kind[j] = kind;
    if (kind == PQX_PSK_PQ)
        n->pq_installs[j]++;
    else if (kind == PQX_PSK_NONE)
        n->random_installs[j]++;
}

static void op_block(void *ctx, struct pqx_peer *p, bool blocked)
{
    struct sim_node *n = node_of(ctx);
    int j = peer_index(n, p);

    n->blocked[j] = blocked;
    if (blocked)
        n->block_events[j]++;
}

/* Deterministic: SHA-256 counter mode over the node's seed. */
static void op_rng(void *ctx, uint8_t *buf, size_t len)
{
    struct sim_node *n = node_of(ctx);
    uint8_t seed[32];
    crypto_hash_sha256_state st;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, n->rng_seed, 32);
    crypto_hash_sha256_update(&st, (const uint8_t *)&n->rng_ctr, sizeof(n->rng_ctr));
    crypto_hash_sha256_final(&st, seed);
    n->rng_ctr++;
    randombytes_buf_deterministic(buf, len, seed);
}

static const struct pqx_ops sim_ops = {
    .send = op_send, .install_psk = op_install, .set_blocked = op_block, .rng = op_rng,
};

bool sim_is_zero(const uint8_t *b, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= b[i];
    return acc == 0;
}

void sim_init(struct sim *s, int n, uint8_t key_seed, uint8_t rng_seed,
              const struct pqx_config *cfg)
{
    memset(s, 0, sizeof(*s));
    s->n_nodes = n;
    s->now_ms = 1000;
    s->real_ms = 1700000000000ULL;
    s->latency_ms = 5;
    for (int i = 0; i < n; i++) {
        struct sim_node *nd = &s->node[i];
        uint8_t seed[32];

        nd->sim = s;
        nd->id = i;
        memset(seed, key_seed + i, sizeof(seed));
        crypto_box_seed_keypair(nd->local.static_pub, nd->local.static_priv, seed);
        memset(nd->rng_seed, rng_seed + i, 32);
        if (cfg)
            nd->local.cfg = *cfg;
        else
            pqx_config_default(&nd->local.cfg);
        nd->local.ops = &sim_ops;
        nd->local.ops_ctx = nd;
    }
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            if (i == j)
                continue;
            if (pqx_peer_init(&s->node[i].peer[j], &s->node[i].local, s->node[j].local.static_pub,
                              s->now_ms) == 0)
                s->node[i].has_peer[j] = true;
        }
    }
}

void sim_fini(struct sim *s)
{
    for (int i = 0; i < s->n_nodes; i++)
        for (int j = 0; j < s->n_nodes; j++)
            if (s->node[i].has_peer[j])
                pqx_peer_fini(&s->node[i].peer[j]);
}

void sim_inject(struct sim *s, int from, int to, const uint8_t *buf, size_t len)
{
    if (s->n_q >= SIM_QUEUE || len > SIM_DGRAM)
        return;
    struct sim_dgram *d = &s->q[s->n_q++];
    d->from = from;
    d->to = to;
    d->len = len;
    d->deliver_ms = s->now_ms;
    memcpy(d->buf, buf, len);
}

static void deliver_due(struct sim *s)
{
    /* Bounded: each pass delivers at most the datagrams queued before it started. */
    for (int pass = 0; pass < 8; pass++) {
        size_t n = s->n_q, kept = 0, delivered = 0;
        static struct sim_dgram due[SIM_QUEUE];
        size_t n_due = 0;

        for (size_t i = 0; i < n; i++) {
            if (s->q[i].deliver_ms <= s->now_ms)
                due[n_due++] = s->q[i];
            else
                s->q[kept++] = s->q[i];
        }
        s->n_q = kept;
        for (size_t i = 0; i < n_due; i++) {
            struct sim_node *to = &s->node[due[i].to];
            /* Like the glue: route by pair hint among the receiver's peers. */
            for (int j = 0; j < s->n_nodes; j++) {
                if (to->has_peer[j] && pqx_peer_matches(&to->peer[j], due[i].buf, due[i].len)) {
                    pqx_peer_receive(&to->peer[j], due[i].buf, due[i].len, s->now_ms, s->real_ms);
                    delivered++;
                    break;
                }
            }
            if (!delivered && to->has_peer[due[i].from]) /* no hint matched: the sender's peer sees it */
                pqx_peer_receive(&to->peer[due[i].from], due[i].buf, due[i].len, s->now_ms,
                                 s->real_ms);
            delivered = 0;
        }
        if (!n_due)
            break;
    }
}

void sim_run(struct sim *s, uint64_t ms)
{
    uint64_t end = s->now_ms + ms;

    while (s->now_ms < end) {
        s->now_ms += 10;
        s->real_ms += 10;
        for (int i = 0; i < s->n_nodes; i++)
            for (int j = 0; j < s->n_nodes; j++)
                if (s->node[i].has_peer[j])
                    pqx_peer_tick(&s->node[i].peer[j], s->now_ms, s->real_ms);
        deliver_due(s);
    }
}
