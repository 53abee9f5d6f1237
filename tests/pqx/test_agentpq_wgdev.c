/* The PQ exchange on two real userspace devices (agent/pq/agentpq_wgdev.h) in a private network
 * namespace (unshare; loopback 198.18.0.1, ports 51911/51912), with rotation shortened to 2 s:
 *   - guard: a peer is blocked with a random non-zero PSK the moment wg_device_apply() creates it
 *     (no window before the exchange's first tick);
 *   - invariant, sampled every 10 ms on both sides: the device never has the peer unblocked while
 *     the exchange has no PQ PSK for it;
 *   - handshake now: with no user traffic at all, a WireGuard handshake follows each PQ PSK install
 *     within 1 s (without the hook none would happen before REKEY_AFTER_TIME);
 *   - re-add: a peer removed and re-added in one `set` starts over (exchange state none, blocked),
 *     then gets a PQ PSK again; at the end both devices hold the same non-zero PSK.
 * Needs root and /dev/net/tun (exit 77 otherwise). */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "agent/pq/agentpq_wgdev.h"
#include "common/crypto/x25519.h"
#include "common/log.h"
#include "tests/check.h"
#include "tests/netns_util.h"
#include "tests/pqx/pqx_fast.h"

#define ROTATE_MS 2000
#define HANDSHAKE_WINDOW_MS 1000 /* generous for loaded ASan runs; < ROTATE_MS */
#define DEADLINE_MS 15000

struct side {
    const char *name;
    struct wg_device *dev;
    struct agentpq_wgdev *pq;
    struct side *other;
    uint8_t priv[32], pub[32];
    uint16_t port;
    pthread_t thread;
    uint64_t start_ms;
    /* observations (each side's own loop thread) */
    uint64_t exchanges_seen, installs_checked, installs_with_handshake;
    uint64_t pending_install_ms; /* a PQ install waiting for its handshake, 0 if none */
    struct timespec last_hs;
    int invariant_violations;
    bool readded, readd_restarted, readd_recovered, done;
    uint64_t checked_after_readd;
};

static int apply_peer(struct side *s, uint32_t extra_flags)
{
    struct wg_device_config cfg = {0};
    struct wg_peer_config pc[2];
    struct wg_allowedip aip = {.family = AF_INET, .cidr = 32};

    memset(pc, 0, sizeof(pc));
    memcpy(pc[0].public_key, s->other->pub, 32);
    pc[0].flags = WG_PEER_REMOVE;
    memcpy(pc[1].public_key, s->other->pub, 32);
    pc[1].endpoint.addr4.sin_family = AF_INET;
    pc[1].endpoint.addr4.sin_port = htons(s->other->port);
    inet_pton(AF_INET, "198.18.0.1", &pc[1].endpoint.addr4.sin_addr);
    inet_pton(AF_INET, s->port == 51911 ? "100.64.9.2" : "100.64.9.1", &aip.ip4);
    pc[1].allowedips = &aip;
    pc[1].n_allowedips = 1;
    pc[1].flags = WG_PEER_HAS_ENDPOINT | extra_flags;
    cfg.peers = extra_flags ? pc + 1 : pc;
    cfg.n_peers = extra_flags ? 1 : 2;
    return wg_device_apply(s->dev, &cfg);
}

static bool peer_psk(struct wg_device *dev, uint8_t psk[32], struct timespec *hs)
{
    struct wg_device_config *cfg = NULL;
    bool ok = wg_device_get(dev, &cfg) == 0 && cfg && cfg->n_peers == 1;
    if (ok) {
        memcpy(psk, cfg->peers[0].preshared_key, 32);
        *hs = cfg->peers[0].last_handshake;
    }
    wg_device_config_free(cfg);
    return ok;
}

static void on_observe(void *ctx, struct wg_device *dev)
{
    struct side *s = ctx;
    struct pqx_status st;
    struct timespec hs = {0};
    uint8_t psk[32];
    uint64_t now = agentpq_now_ms();
    int blocked = wg_device_peer_blocked(dev, s->other->pub);

    if (s->done)
        return;
    if (agentpq_peer_status(agentpq_wgdev_pq(s->pq), s->other->pub, &st) != 0 ||
        !peer_psk(dev, psk, &hs))
        return; /* not tracked yet (first tick) */
    if (st.psk == PQX_PSK_NONE && blocked != 1)
        s->invariant_violations++;
    if (st.exchanges > s->exchanges_seen) {
        s->exchanges_seen = st.exchanges;
        if (s->pending_install_ms)
            s->installs_checked++; /* the previous one got no handshake in time */
        s->pending_install_ms = now;
    }
    if (s->pending_install_ms && (hs.tv_sec || hs.tv_nsec) &&
        (hs.tv_sec != s->last_hs.tv_sec || hs.tv_nsec != s->last_hs.tv_nsec)) {
        s->installs_checked++;
        if (now - s->pending_install_ms <= HANDSHAKE_WINDOW_MS)
            s->installs_with_handshake++;
        if (s->readded)
            s->checked_after_readd++;
        s->pending_install_ms = 0;
    }
    s->last_hs = hs;
    /* After three rotations, A removes and re-adds B in one set. */
    if (s->port == 51911 && !s->readded && s->exchanges_seen >= 3 && !s->pending_install_ms) {
        s->readded = true;
        CHECK(apply_peer(s, 0) == 0);
        CHECK(wg_device_peer_blocked(dev, s->other->pub) == 1);
        CHECK(agentpq_peer_status(agentpq_wgdev_pq(s->pq), s->other->pub, &st) == 0);
        s->readd_restarted = st.psk == PQX_PSK_NONE && st.exchanges == 0 && st.blocked;
        s->exchanges_seen = 0;
    } else if (s->readded && st.psk == PQX_PSK_PQ && blocked == 0) {
        s->readd_recovered = true;
    }
    if ((s->readd_recovered && s->checked_after_readd && !s->pending_install_ms) ||
        now - s->start_ms > DEADLINE_MS) {
        s->done = true;
        wg_device_stop(dev);
        wg_device_stop(s->other->dev);
    }
}

static void *run(void *arg)
{
    struct side *s = arg;
    wg_device_run(s->dev);
    return NULL;
}

static int setup(struct side *s, const char *ifname, uint16_t port)
{
    struct pqx_config pc;
    struct wg_device_config cfg = {0};
    uint8_t psk[32], zero[32] = {0};
    struct timespec hs;
    int ret = wg_device_create(ifname, &s->dev);

    if (ret)
        return ret;
    s->port = port;
    pqx_config_fast(&pc, ROTATE_MS);
    ret = agentpq_wgdev_attach(s->dev, &pc, &s->pq);
    if (ret)
        return ret;
    memcpy(cfg.private_key, s->priv, 32);
    cfg.listen_port = port;
    cfg.flags = WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT;
    if ((ret = wg_device_apply(s->dev, &cfg)) || (ret = apply_peer(s, WG_PEER_REPLACE_ALLOWEDIPS)))
        return ret;
    /* The guard: blocked with a random PSK right away, before any exchange tick ran. */
    CHECK(wg_device_peer_blocked(s->dev, s->other->pub) == 1);
    CHECK(peer_psk(s->dev, psk, &hs) && memcmp(psk, zero, 32) != 0);
    return wg_device_add_timer(s->dev, 10, on_observe, s);
}

int main(void)
{
    struct side a = {.name = "a"}, b = {.name = "b"};
    uint8_t pa[32], pb[32], zero[32] = {0};
    struct timespec hs;
    int skip = netns_enter_private(true);

    if (skip)
        return skip;
    if (getenv("ZTNA_TEST_DEBUG"))
        log_set_level(LOG_LVL_DEBUG);
    a.other = &b;
    b.other = &a;
    x25519_private_generate(a.priv);
    x25519_private_generate(b.priv);
    CHECK(x25519_public_from_private(a.pub, a.priv) == 0);
    CHECK(x25519_public_from_private(b.pub, b.priv) == 0);
    a.port = 51911;
    b.port = 51912;
    CHECK(setup(&a, "zpqwa", 51911) == 0);
    CHECK(setup(&b, "zpqwb", 51912) == 0);
    if (!a.pq || !b.pq)
        return check_finish("test_agentpq_wgdev");
    a.start_ms = b.start_ms = agentpq_now_ms();
    CHECK(pthread_create(&a.thread, NULL, run, &a) == 0);
    CHECK(pthread_create(&b.thread, NULL, run, &b) == 0);
    pthread_join(a.thread, NULL);
    pthread_join(b.thread, NULL);
    printf("installs with a handshake within 1 s: a %llu/%llu, b %llu/%llu; violations %d/%d; "
           "re-add restarted %d recovered %d; %llu ms\n",
           (unsigned long long)a.installs_with_handshake, (unsigned long long)a.installs_checked,
           (unsigned long long)b.installs_with_handshake, (unsigned long long)b.installs_checked,
           a.invariant_violations, b.invariant_violations, a.readd_restarted, a.readd_recovered,
           (unsigned long long)(agentpq_now_ms() - a.start_ms));
    CHECK(a.invariant_violations == 0 && b.invariant_violations == 0);
    CHECK(a.installs_checked >= 3 && b.installs_checked >= 3);
    CHECK(a.installs_with_handshake == a.installs_checked);
    CHECK(b.installs_with_handshake == b.installs_checked);
    CHECK(a.readded && a.readd_restarted && a.readd_recovered && a.checked_after_readd >= 1);
    CHECK(peer_psk(a.dev, pa, &hs) && peer_psk(b.dev, pb, &hs));
    CHECK(memcmp(pa, zero, 32) != 0 && memcmp(pa, pb, 32) == 0);
    wg_device_destroy(a.dev);
    wg_device_destroy(b.dev);
    agentpq_wgdev_free(a.pq);
    agentpq_wgdev_free(b.pq);
    return check_finish("test_agentpq_wgdev");
}
