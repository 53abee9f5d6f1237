/* The PQ exchange over the kernel backend (agent/pq/agentpq_wgkernel.h) without the kernel module:
 * two bindings whose kernel calls go to an in-memory "kernel" (struct fake, fakekernel.h) that
 * applies SET with the kernel's semantics and also runs every SET through the real netlink
 * builder (wgnl_set_build) and the independent checker (nlcheck), so what would reach the kernel
 * is well-formed. The
 * exchange runs over real UDP sockets in a private network namespace (198.18.0.1, WireGuard ports
 * 51921/51923, exchange ports 51922/51924):
 *   - a peer configured straight into the kernel is blocked at the first tick: no allowed IPs
 *     (WGPEER_F_REPLACE_ALLOWEDIPS | WGPEER_F_UPDATE_ONLY with none), a random non-zero PSK;
 *   - allowed IPs added to a blocked peer are taken away again (and remembered);
 *   - the exchange completes: equal non-zero PSKs on both "kernels", allowed IPs given back;
 *   - agentpq_wgkernel_apply() (the path for a driver that configures the kernel itself): a new
 *     peer goes in, in the same SET, with a random PSK instead of the configured one and no allowed
 *     IPs (no SET ever gives it any); an explicitly classical-only peer goes in as configured; an
 *     update of a PQ peer keeps the exchange's PSK and adds the allowed IP; removal forgets;
 *   - a peer removed from the kernel is forgotten.
 * Needs root for the namespace (exit 77 otherwise). */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/wireguard.h>
#include <poll.h>
#include <string.h>

#include <sodium.h>

#include "agent/kernel/wgnl.h"
#include "agent/pq/agentpq_wgkernel.h"
#include "tests/check.h"
#include "tests/netns_util.h"
#include "tests/kernel/fakekernel.h"

static void run(struct agentpq_wgkernel *a, struct agentpq_wgkernel *b, unsigned ms)
{
    for (unsigned t = 0; t < ms; t += 20) {
        struct pollfd p[2] = {{.fd = agentpq_wgkernel_fd(a), .events = POLLIN},
                              {.fd = agentpq_wgkernel_fd(b), .events = POLLIN}};
        poll(p, 2, 20);
        agentpq_wgkernel_receive(a);
        agentpq_wgkernel_receive(b);
        agentpq_wgkernel_tick(a);
        agentpq_wgkernel_tick(b);
    }
}

int main(void)
{
    static struct fake fa, fb;
    struct agentpq_kernel_ops oa = {fake_get, fake_set, &fa}, ob = {fake_get, fake_set, &fb};
    struct agentpq_wgkernel *ka = NULL, *kb = NULL;
    uint8_t pa[32], pb[32], zero[32] = {0};
    struct pqx_config pc;
    struct pqx_status st;
    struct wg_peer_config *p;
    int skip = netns_enter_private(false);

    if (skip)
        return skip;
    if (sodium_init() < 0)
        return 1;
    randombytes_buf(fa.cfg.private_key, 32);
    randombytes_buf(fb.cfg.private_key, 32);
    crypto_scalarmult_base(pa, fa.cfg.private_key);
    crypto_scalarmult_base(pb, fb.cfg.private_key);
    fa.cfg.flags = fb.cfg.flags = WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT;
    fa.cfg.listen_port = 51921;
    fb.cfg.listen_port = 51923;
    fake_wg_set(&fa, pb, 51923, "100.64.7.2");
    fake_wg_set(&fb, pa, 51921, "100.64.7.1");

    pqx_config_default(&pc);
    pc.retransmit_ms = 300;
    CHECK(agentpq_wgkernel_new("", &pc, &oa, &ka) == -EINVAL);
    CHECK(agentpq_wgkernel_new("zkpqa", &pc, &oa, &ka) == 0);
    CHECK(agentpq_wgkernel_new("zkpqb", &pc, &ob, &kb) == 0);
    if (!ka || !kb)
        return check_finish("test_agentpq_wgkernel");
    CHECK(agentpq_wgkernel_fd(ka) == -1);

    /* First tick of A: its socket follows the listen port, the peer is blocked. */
    CHECK(agentpq_wgkernel_tick(ka) == 0);
    CHECK(agentpq_wgkernel_fd(ka) >= 0);
    p = fake_peer(&fa, pb);
    CHECK(p && p->n_allowedips == 0 && memcmp(p->preshared_key, zero, 32) != 0);
    CHECK(fa.nl_errors == 0);
    {
        bool block_msg = false, psk_msg = false;
        for (size_t i = 0; i < fa.last.n_peers; i++) {
            const struct seen_peer *sp = &fa.last.peers[i];
            if (memcmp(sp->key, pb, 32))
                continue;
            block_msg |= sp->flags == (WGPEER_F_REPLACE_ALLOWEDIPS | WGPEER_F_UPDATE_ONLY) &&
                         sp->n_aip == 0 && !sp->has_psk;
            psk_msg |= sp->flags == WGPEER_F_UPDATE_ONLY && sp->has_psk && sp->n_aip == 0;
        }
        CHECK(block_msg && psk_msg);
    }
    CHECK(agentpq_peer_status(agentpq_wgkernel_pq(ka), pb, &st) == 0 && st.psk == PQX_PSK_NONE &&
          st.blocked);

    /* `wg set` gives the blocked peer another allowed IP: taken away at the next tick. */
    fake_wg_set(&fa, pb, 51923, "100.64.7.3");
    CHECK(fake_peer(&fa, pb)->n_allowedips == 1);
    agentpq_wgkernel_tick(ka);
    CHECK(fake_peer(&fa, pb)->n_allowedips == 0);

    /* The exchange over UDP: equal PSKs, allowed IPs back (both of A's). */
    for (int i = 0; i < 100; i++) {
        struct pqx_status sa, sb;
        run(ka, kb, 100);
        if (agentpq_peer_status(agentpq_wgkernel_pq(ka), pb, &sa) == 0 && sa.psk == PQX_PSK_PQ &&
            agentpq_peer_status(agentpq_wgkernel_pq(kb), pa, &sb) == 0 && sb.psk == PQX_PSK_PQ)
            break;
    }
    p = fake_peer(&fa, pb);
    CHECK(p && fake_peer(&fb, pa));
    if (p && fake_peer(&fb, pa)) {
        CHECK(memcmp(p->preshared_key, zero, 32) != 0);
        CHECK_MEM(p->preshared_key, fake_peer(&fb, pa)->preshared_key, 32);
        CHECK(p->n_allowedips == 2 && fake_peer(&fb, pa)->n_allowedips == 1);
    }
    CHECK(agentpq_peer_status(agentpq_wgkernel_pq(ka), pb, &st) == 0 && st.psk == PQX_PSK_PQ &&
          !st.blocked && st.exchanges >= 1);
    CHECK(fa.nl_errors == 0 && fb.nl_errors == 0);

    /* A driver's own SETs through agentpq_wgkernel_apply(). */
    {
        uint8_t kc[32], pc_[32], pd[32], psk_b[32], conf[32];
        struct wg_allowedip aip[2] = {{.family = AF_INET, .cidr = 32}, {.family = AF_INET, .cidr = 32}};
        struct wg_peer_config peers[3];
        struct wg_device_config cfg = {.n_peers = 3};
        bool leak = false;

        randombytes_buf(kc, 32);
        crypto_scalarmult_base(pc_, kc);
        randombytes_buf(kc, 32);
        crypto_scalarmult_base(pd, kc);
        memset(conf, 0x42, 32);
        memcpy(psk_b, fake_peer(&fa, pb)->preshared_key, 32);
        inet_pton(AF_INET, "100.64.7.9", &aip[0].ip4);
        inet_pton(AF_INET, "100.64.7.10", &aip[1].ip4);
        memset(peers, 0, sizeof(peers));
        memcpy(peers[0].public_key, pc_, 32); /* new, PQ: must start blocked */
        memcpy(peers[1].public_key, pd, 32);  /* new, explicitly classical-only */
        memcpy(peers[2].public_key, pb, 32);  /* existing PQ peer: one more allowed IP, a PSK */
        for (int i = 0; i < 3; i++) {
            memcpy(peers[i].preshared_key, conf, 32);
            peers[i].flags = WG_PEER_HAS_PRESHARED_KEY;
            peers[i].allowedips = &aip[i == 2 ? 1 : 0];
            peers[i].n_allowedips = 1;
        }
        memset(peers[1].preshared_key, 0, 32);
        strcpy(cfg.ifname, "zkpqa");
        cfg.peers = peers;
        CHECK(agentpq_classical_set(agentpq_wgkernel_pq(ka), pd, true, agentpq_now_ms()) == 0);
        nlcheck_free(&fa.last);
        memset(&fa.last, 0, sizeof(fa.last));
        CHECK(agentpq_wgkernel_apply(ka, &cfg) == 0);
        CHECK(fake_peer(&fa, pc_) && fake_peer(&fa, pc_)->n_allowedips == 0);
        CHECK(fake_peer(&fa, pc_) && memcmp(fake_peer(&fa, pc_)->preshared_key, conf, 32) != 0 &&
              memcmp(fake_peer(&fa, pc_)->preshared_key, zero, 32) != 0);
        CHECK(agentpq_peer_status(agentpq_wgkernel_pq(ka), pc_, &st) == 0 &&
              st.psk == PQX_PSK_NONE && st.blocked);
        CHECK(fake_peer(&fa, pd) && fake_peer(&fa, pd)->n_allowedips == 1 &&
              memcmp(fake_peer(&fa, pd)->preshared_key, zero, 32) == 0);
        CHECK(fake_peer(&fa, pb)->n_allowedips == 3 && memcmp(fake_peer(&fa, pb)->preshared_key, psk_b, 32) == 0);
        agentpq_wgkernel_tick(ka); /* the classical peer is tracked and stays open */
        CHECK(agentpq_peer_status(agentpq_wgkernel_pq(ka), pd, &st) == 0 && st.classical_only &&
              !st.blocked && fake_peer(&fa, pd)->n_allowedips == 1);
        CHECK(fake_peer(&fa, pc_)->n_allowedips == 0);
        for (size_t i = 0; i < fa.last.n_peers; i++) /* every SET since the apply */
            if (!memcmp(fa.last.peers[i].key, pc_, 32) && fa.last.peers[i].n_aip)
                leak = true;
        CHECK(!leak && fa.nl_errors == 0);
        peers[0].flags = WG_PEER_REMOVE;
        peers[1].flags = WG_PEER_REMOVE;
        cfg.n_peers = 2;
        CHECK(agentpq_wgkernel_apply(ka, &cfg) == 0);
        CHECK(!fake_peer(&fa, pc_) && !agentpq_peer_known(agentpq_wgkernel_pq(ka), pc_));
        CHECK(!fake_peer(&fa, pd) && !agentpq_peer_known(agentpq_wgkernel_pq(ka), pd));
    }

    /* Removed from the kernel: forgotten. */
    {
        struct wg_device_config rm = {.n_peers = 1};
        struct wg_peer_config rp = {.flags = WG_PEER_REMOVE};
        memcpy(rp.public_key, pb, 32);
        strcpy(rm.ifname, "zkpqa");
        rm.peers = &rp;
        fake_set(&fa, &rm);
    }
    agentpq_wgkernel_tick(ka);
    CHECK(agentpq_peer_count(agentpq_wgkernel_pq(ka)) == 0);

    agentpq_wgkernel_free(ka);
    agentpq_wgkernel_free(kb);
    agentpq_wgkernel_free(NULL);
    fake_free(&fa);
    fake_free(&fb);
    return check_finish("test_agentpq_wgkernel");
}
