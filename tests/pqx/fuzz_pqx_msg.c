/* Fuzz target: pqx fragment and body parsers, and the state machine behind them. An input that
 * starts with 0x10 is fed as a raw datagram; any other is [kind selector][body]: the body is
 * fragmented with a valid header and pair hint, so reassembly, body parsers and MACs are reached. */
#include <stdint.h>
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
