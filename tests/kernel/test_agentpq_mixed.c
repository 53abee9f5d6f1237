/* A mixed pair: one peer on the kernel backend (agentpq_wgkernel over the in-memory kernel of
 * fakekernel.h, exchange socket on its WireGuard port + 1), the other on the userspace device
 * (agentpq_wgdev, exchange on the tunnel's own socket), over real UDP in a private network
 * namespace (198.18.0.1; kernel WireGuard port 51931, its exchange port 51932; userspace 51933).
 * Each side is configured only with the other's WireGuard endpoint, as `wg set` would. The kernel
 * peer's key is the smaller one, so it drives rotations:
 *   - first exchange: both sides end with equal non-zero PSKs, the kernel peer's allowed IP is
 *     given back, the userspace device unblocks the peer; each learned where the other's
 *     exchange runs (kernel: 198.18.0.1:51933, userspace: 198.18.0.1:51932);
 *   - rotation initiated by the kernel side (from port 51932 to the userspace tunnel port; the
 *     userspace side answers the source): new equal PSKs;
 *   - the userspace side re-creates the peer (remove + add in one set: blocked, no PSK, address
 *     forgotten) and initiates itself, guessing the kernel peer's exchange port from its
 *     WireGuard endpoint: the kernel side responds, new equal PSKs, unblocked again;
 *   - invariants sampled throughout: a side without a PQ PSK has the peer blocked (userspace:
 *     device flag; kernel: no allowed IPs), and the netlink messages stay well-formed.
 * Needs root and /dev/net/tun (exit 77 otherwise). */
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agent/pq/agentpq_wgdev.h"
#include "agent/pq/agentpq_wgkernel.h"
#include "common/log.h"
#include "tests/check.h"
#include "tests/kernel/fakekernel.h"
#include "tests/netns_util.h"
#include "tests/pqx/pqx_fast.h"

#define K_PORT 51931
#define U_PORT 51933
#define ROTATE_MS 2000
#define DEADLINE_MS 30000

/* The userspace side: its device loop thread publishes snapshots here. */
struct uside {
    struct wg_device *dev;
    struct agentpq_wgdev *pq;
    uint8_t priv[32], pub[32], peer[32];
    pthread_mutex_t mu;
    /* snapshot (under mu) */
    bool valid;
    struct pqx_status st;
    struct agentpq_peer_info info;
    uint8_t psk[32];
    int blocked, violations;
    /* requests from the main thread (under mu) */
    bool want_readd, readded;
};

static int u_apply_peer(struct uside *u, bool readd)
{
    struct wg_device_config cfg = {0};
    struct wg_peer_config pc[2];
    struct wg_allowedip aip = {.family = AF_INET, .cidr = 32};

    memset(pc, 0, sizeof(pc));
    memcpy(pc[0].public_key, u->peer, 32);
    pc[0].flags = WG_PEER_REMOVE;
    memcpy(pc[1].public_key, u->peer, 32);
    pc[1].endpoint.addr4.sin_family = AF_INET;
    pc[1].endpoint.addr4.sin_port = htons(K_PORT); /* the kernel peer's WireGuard port */
    inet_pton(AF_INET, "198.18.0.1", &pc[1].endpoint.addr4.sin_addr);
    inet_pton(AF_INET, "100.64.8.1", &aip.ip4);
    pc[1].allowedips = &aip;
    pc[1].n_allowedips = 1;
    pc[1].flags = WG_PEER_HAS_ENDPOINT | WG_PEER_REPLACE_ALLOWEDIPS;
    cfg.peers = readd ? pc : pc + 1;
    cfg.n_peers = readd ? 2 : 1;
    return wg_device_apply(u->dev, &cfg);
}

static void on_observe(void *ctx, struct wg_device *dev)
{
    struct uside *u = ctx;
    struct wg_device_config *cfg = NULL;
    struct pqx_status st;
    struct agentpq_peer_info info;
    int blocked;

    pthread_mutex_lock(&u->mu);
    if (u->want_readd && !u->readded) {
        u->readded = true;
        CHECK(u_apply_peer(u, true) == 0);
        CHECK(wg_device_peer_blocked(dev, u->peer) == 1);
    }
    blocked = wg_device_peer_blocked(dev, u->peer);
    if (agentpq_peer_status(agentpq_wgdev_pq(u->pq), u->peer, &st) == 0 &&
        agentpq_peer_info(agentpq_wgdev_pq(u->pq), u->peer, &info) == 0 &&
        wg_device_get(dev, &cfg) == 0 && cfg && cfg->n_peers == 1) {
        if (st.psk != PQX_PSK_PQ && blocked != 1)
            u->violations++;
        u->st = st;
        u->info = info;
        u->blocked = blocked;
        memcpy(u->psk, cfg->peers[0].preshared_key, 32);
        u->valid = true;
    }
    wg_device_config_free(cfg);
    pthread_mutex_unlock(&u->mu);
}

static void *u_run(void *arg)
{
    struct uside *u = arg;
    wg_device_run(u->dev);
    return NULL;
}

static bool addr_is(const struct agentpq_peer_info *info, const char *want)
{
    char got[64];
    agentpq_addr_format((const struct sockaddr *)&info->pq_addr, info->pq_addr_len, got, sizeof(got));
    if (strcmp(got, want) != 0)
        printf("exchange address %s, want %s\n", got, want);
    return strcmp(got, want) == 0;
}

int main(void)
{
    static struct fake fk;
    static struct uside u;
    struct agentpq_kernel_ops ops = {fake_get, fake_set, &fk};
    struct agentpq_wgkernel *k = NULL;
    uint8_t kpub[32], zero[32] = {0}, psk1[32] = {0}, psk2[32] = {0};
    struct pqx_config pc;
    struct wg_device_config ucfg = {0};
    pthread_t thread;
    uint64_t start;
    int phase = 1, k_violations = 0;
    int skip = netns_enter_private(true);

    if (skip)
        return skip;
    if (sodium_init() < 0)
        return 1;
    if (getenv("ZTNA_TEST_DEBUG"))
        log_set_level(LOG_LVL_DEBUG);
    /* The kernel side's key is the smaller one: it is the designated initiator. */
    do {
        randombytes_buf(fk.cfg.private_key, 32);
        randombytes_buf(u.priv, 32);
        crypto_scalarmult_base(kpub, fk.cfg.private_key);
        crypto_scalarmult_base(u.pub, u.priv);
    } while (memcmp(kpub, u.pub, 32) >= 0);
    memcpy(u.peer, kpub, 32);
    pthread_mutex_init(&u.mu, NULL);

    pqx_config_fast(&pc, ROTATE_MS);

    /* Kernel side: `wg set` put the userspace peer in with its WireGuard endpoint. */
    fk.cfg.flags = WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT;
    fk.cfg.listen_port = K_PORT;
    fake_wg_set(&fk, u.pub, U_PORT, "100.64.8.2");
    CHECK(agentpq_wgkernel_new("zkmix", &pc, &ops, &k) == 0);

    /* Userspace side. */
    CHECK(wg_device_create("zpqmu", &u.dev) == 0);
    if (!k || !u.dev)
        return check_finish("test_agentpq_mixed");
    CHECK(agentpq_wgdev_attach(u.dev, &pc, &u.pq) == 0);
    memcpy(ucfg.private_key, u.priv, 32);
    ucfg.listen_port = U_PORT;
    ucfg.flags = WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT;
    CHECK(wg_device_apply(u.dev, &ucfg) == 0);
    CHECK(u_apply_peer(&u, false) == 0);
    CHECK(wg_device_peer_blocked(u.dev, kpub) == 1);
    CHECK(wg_device_add_timer(u.dev, 10, on_observe, &u) == 0);
    CHECK(pthread_create(&thread, NULL, u_run, &u) == 0);

    start = agentpq_now_ms();
    while (phase < 4 && agentpq_now_ms() - start < DEADLINE_MS) {
        struct pollfd p = {.fd = agentpq_wgkernel_fd(k), .events = POLLIN};
        struct pqx_status ks, us;
        struct agentpq_peer_info ki, ui;
        struct wg_peer_config *kp;
        bool uvalid, equal;
        int ublocked;
        uint8_t upsk[32];

        poll(&p, p.fd >= 0 ? 1 : 0, 10);
        agentpq_wgkernel_receive(k);
        agentpq_wgkernel_tick(k);
        kp = fake_peer(&fk, u.pub);
        if (agentpq_peer_status(agentpq_wgkernel_pq(k), u.pub, &ks) != 0 || !kp ||
            agentpq_peer_info(agentpq_wgkernel_pq(k), u.pub, &ki) != 0)
            continue;
        if (ks.psk != PQX_PSK_PQ && kp->n_allowedips != 0)
            k_violations++;
        pthread_mutex_lock(&u.mu);
        uvalid = u.valid;
        us = u.st;
        ui = u.info;
        ublocked = u.blocked;
        memcpy(upsk, u.psk, 32);
        pthread_mutex_unlock(&u.mu);
        if (!uvalid || ks.psk != PQX_PSK_PQ || us.psk != PQX_PSK_PQ || ublocked != 0)
            continue;
        equal = memcmp(kp->preshared_key, upsk, 32) == 0;
        if (!equal)
            continue; /* one side installed, the other not yet */
        if (phase == 1) {
            printf("first exchange after %llu ms (kernel initiated %llu, responded %llu)\n",
                   (unsigned long long)(agentpq_now_ms() - start), (unsigned long long)ki.initiated,
                   (unsigned long long)ki.responded);
            CHECK(memcmp(upsk, zero, 32) != 0);
            CHECK(kp->n_allowedips == 1 && !ks.blocked && !us.blocked);
            CHECK(addr_is(&ki, "198.18.0.1:51933") && addr_is(&ui, "198.18.0.1:51932"));
            memcpy(psk1, upsk, 32);
            phase = 2;
        } else if (phase == 2 && memcmp(upsk, psk1, 32) != 0) {
            /* A rotation: the kernel side (designated) initiated it. */
            printf("rotation after %llu ms (kernel initiated %llu, userspace responded %llu)\n",
                   (unsigned long long)(agentpq_now_ms() - start), (unsigned long long)ki.initiated,
                   (unsigned long long)ui.responded);
            CHECK(ki.initiated >= 1 && ui.responded >= 1);
            CHECK(kp->n_allowedips == 1);
            memcpy(psk2, upsk, 32);
            pthread_mutex_lock(&u.mu);
            u.want_readd = true; /* right after a rotation: the next one is ROTATE_MS away */
            u.valid = false;
            pthread_mutex_unlock(&u.mu);
            phase = 3;
        } else if (phase == 3 && memcmp(upsk, psk2, 32) != 0 && ui.initiated >= 1) {
            printf("userspace-initiated exchange after %llu ms (kernel responded %llu)\n",
                   (unsigned long long)(agentpq_now_ms() - start), (unsigned long long)ki.responded);
            CHECK(ki.responded >= 1);
            CHECK(kp->n_allowedips == 1 && memcmp(upsk, zero, 32) != 0);
            CHECK(addr_is(&ui, "198.18.0.1:51932"));
            phase = 4;
        }
    }
    wg_device_stop(u.dev);
    pthread_join(thread, NULL);
    printf("phase reached %d of 4 in %llu ms; violations: kernel %d, userspace %d\n", phase,
           (unsigned long long)(agentpq_now_ms() - start), k_violations, u.violations);
    CHECK(phase == 4);
    CHECK(u.readded);
    CHECK(k_violations == 0 && u.violations == 0);
    CHECK(fk.nl_errors == 0);
    wg_device_destroy(u.dev);
    agentpq_wgdev_free(u.pq);
    agentpq_wgkernel_free(k);
    fake_free(&fk);
    pthread_mutex_destroy(&u.mu);
    return check_finish("test_agentpq_mixed");
}
