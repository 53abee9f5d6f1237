/* Fuzz target: pqx fragment and body parsers, and the state machine behind them. An input that
 * starts with 0x10 is fed as a raw datagram; any other is [kind selector][body]: the body is
 * fragmented with a valid header and pair hint, so reassembly, body parsers and MACs are reached. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/pqx/pqx_peer.h"

static void op_send(void *c, struct pqx_peer *p, const uint8_t *b, size_t l) { (void)c; (void)p; (void)b; (void)l; }
static void op_install(void *c, struct pqx_peer *p, const uint8_t k[static 32], enum pqx_psk_state s)
{
    (void)c; (void)p; (void)k; (void)s;
}
static void op_block(void *c, struct pqx_peer *p, bool b) { (void)c; (void)p; (void)b; }
static const struct pqx_ops ops = {.send = op_send, .install_psk = op_install, .set_blocked = op_block};

/* Pair mode (input starts with 0x12): a genuine INIT/RESP between two peers, then the rest of the
 * input is XORed over the RESP datagram. Property: the initiator installs a PQ PSK only if the
 * RESP body it got is the genuine one. */
struct capture {
    uint8_t buf[4][PQX_FRAG_HDR_LEN + PQX_FRAG_PAYLOAD_MAX];
    size_t len[4], n;
    int pq_installs;
};

static void cap_send(void *c, struct pqx_peer *p, const uint8_t *b, size_t l)
{
    struct capture *cap = c;
    (void)p;
    if (cap->n < 4 && l <= sizeof(cap->buf[0])) {
        memcpy(cap->buf[cap->n], b, l);
        cap->len[cap->n++] = l;
    }
}

static void cap_install(void *c, struct pqx_peer *p, const uint8_t k[static 32], enum pqx_psk_state s)
{
    struct capture *cap = c;
    (void)p;
    (void)k;
    cap->pq_installs += s == PQX_PSK_PQ;
}

static const struct pqx_ops cap_ops = {.send = cap_send, .install_psk = cap_install,
                                       .set_blocked = op_block};

static void pair_mode(const uint8_t *mask, size_t mask_len)
{
    static struct pqx_local la, lb;
    static struct pqx_peer pa, pb;
    static struct capture ca, cb;
    uint8_t resp[PQX_FRAG_HDR_LEN + PQX_FRAG_PAYLOAD_MAX];
    size_t resp_len;
    bool body_changed = false, any_changed = false;

    if (!la.ops) {
        uint8_t s1[32] = {3}, s2[32] = {4};
        crypto_box_seed_keypair(la.static_pub, la.static_priv, s1);
        crypto_box_seed_keypair(lb.static_pub, lb.static_priv, s2);
        pqx_config_default(&la.cfg);
        pqx_config_default(&lb.cfg);
        la.ops = lb.ops = &cap_ops;
        la.ops_ctx = &ca;
        lb.ops_ctx = &cb;
    }
    memset(&ca, 0, sizeof(ca));
    memset(&cb, 0, sizeof(cb));
    if (pqx_peer_init(&pa, &la, lb.static_pub, 1) || pqx_peer_init(&pb, &lb, la.static_pub, 1))
        abort();
    pb.next_attempt_ms = UINT64_MAX; /* only pa initiates */
    pqx_peer_tick(&pa, 1, 1000);
    for (size_t i = 0; i < ca.n; i++)
        pqx_peer_receive(&pb, ca.buf[i], ca.len[i], 2, 1000);
    if (cb.n != 1)
        abort(); /* a genuine INIT is always answered */
    resp_len = cb.len[0];
    memcpy(resp, cb.buf[0], resp_len);
    for (size_t i = 0; i < mask_len && i < resp_len; i++) {
        resp[i] ^= mask[i];
        any_changed |= mask[i] != 0;
        if (i >= PQX_FRAG_HDR_LEN && mask[i])
            body_changed = true;
    }
    if (mask_len > resp_len)
        resp_len = mask_len - resp_len < resp_len ? resp_len - (mask_len - resp_len) : 0;
    pqx_peer_receive(&pa, resp, resp_len, 3, 1000);
    if (ca.pq_installs && (body_changed || resp_len != cb.len[0]))
        abort(); /* a modified RESP got a PSK installed */
    if (!ca.pq_installs && !any_changed && resp_len == cb.len[0])
        abort(); /* the genuine RESP must complete the exchange */
    pqx_peer_fini(&pa);
    pqx_peer_fini(&pb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pqx_local local;
    static struct pqx_peer peer;
    static bool ready;
    static uint64_t now = 1;
    static uint8_t dgram[PQX_FRAG_HDR_LEN + PQX_MSG_MAX];
    struct pqx_frag f;
    struct pqx_init mi;
    struct pqx_resp mr;
    struct pqx_confirm mc;

    if (!ready) {
        uint8_t seed[32] = {1}, other_pub[32], other_priv[32], seed2[32] = {2};
        if (sodium_init() < 0)
            return 0;
        crypto_box_seed_keypair(local.static_pub, local.static_priv, seed);
        crypto_box_seed_keypair(other_pub, other_priv, seed2);
        pqx_config_default(&local.cfg);
        local.ops = &ops;
        if (pqx_peer_init(&peer, &local, other_pub, now) != 0)
            return 0;
        ready = true;
    }
    now += 7;
    if (size >= 1 && data[0] == 0x12) {
        pair_mode(data + 1, size - 1);
        return 0;
    }
    (void)pqx_frag_parse(&f, data, size);
    (void)pqx_init_parse(&mi, data, size);
    (void)pqx_resp_parse(&mr, data, size);
    (void)pqx_confirm_parse(&mc, data, size);
    if (size >= 1 && data[0] != PQX_MSG_TYPE) {
        uint8_t kind = (uint8_t)(1 + data[0] % 3);
        for (uint8_t i = 0; i < pqx_frag_count(size - 1); i++) {
            size_t n = pqx_frag_build(dgram, kind, (uint32_t)now, peer.hint_in, data + 1, size - 1, i);
            if (n)
                pqx_peer_receive(&peer, dgram, n, now, now);
        }
    } else {
        pqx_peer_receive(&peer, data, size, now, now);
    }
    if (size == 0 || data[0] == 0x11)
        pqx_peer_tick(&peer, now, now);
    return 0;
}
