/* agentpq over the userspace WireGuard device. Everything runs in the device's loop thread:
 * the ext handler, and a AGENTPQ_TICK_MS timer that syncs peers from the device configuration
 * and runs the exchange timers. */
#include "agent/pq/agentpq_wgdev.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "agent/pq/agentpq_statsock.h"
#include "agent/wg/wgdev_limits.h"
#include "common/log.h"

struct agentpq_wgdev {
    struct wg_device *dev; /* borrowed */
    struct agentpq *pq;    /* owned */
    int status_fd;         /* owned listening socket, -1 if none */
    char ifname[WG_IFNAME_MAX];
};

static int be_install(void *ctx, const uint8_t peer[static 32], const uint8_t psk[static 32])
{
    struct agentpq_wgdev *w = ctx;
    struct wg_peer_config pc;
    struct wg_device_config cfg;
    int ret;

    memset(&pc, 0, sizeof(pc));
    memset(&cfg, 0, sizeof(cfg));
    memcpy(pc.public_key, peer, 32);
    memcpy(pc.preshared_key, psk, 32);
    pc.flags = WG_PEER_UPDATE_ONLY | WG_PEER_HAS_PRESHARED_KEY;
    cfg.peers = &pc;
    cfg.n_peers = 1;
    ret = wg_device_apply(w->dev, &cfg);
    sodium_memzero(&pc, sizeof(pc));
    return ret;
}

static int be_block(void *ctx, const uint8_t peer[static 32], bool blocked)
{
    struct agentpq_wgdev *w = ctx;
    return wg_device_set_peer_blocked(w->dev, peer, blocked);
}

static int be_send(void *ctx, const uint8_t peer[static 32], const uint8_t *buf, size_t len)
{
    struct agentpq_wgdev *w = ctx;
    return wg_device_send_ext(w->dev, peer, buf, len);
}

/* From the WireGuard socket to any address: replies to the source of a message (a kernel-backend
 * peer sends from its exchange port, not its WireGuard port) and the port guesses. */
static int be_send_to(void *ctx, const struct sockaddr *addr, socklen_t addr_len, const uint8_t *buf,
                      size_t len)
{
    struct agentpq_wgdev *w = ctx;
    return wg_device_send_ext_to(w->dev, addr, addr_len, buf, len);
}

/* Only used when the device has no endpoint for the peer at all: the source of the message that
 * completed an exchange with it. */
static int be_endpoint(void *ctx, const uint8_t peer[static 32], const struct sockaddr *addr,
                       socklen_t addr_len)
{
    struct agentpq_wgdev *w = ctx;
    struct wg_peer_config pc;
    struct wg_device_config cfg;

    if (addr_len > sizeof(pc.endpoint))
        return -EINVAL;
    memset(&pc, 0, sizeof(pc));
    memset(&cfg, 0, sizeof(cfg));
    memcpy(pc.public_key, peer, 32);
    memcpy(&pc.endpoint, addr, addr_len);
    pc.flags = WG_PEER_UPDATE_ONLY | WG_PEER_HAS_ENDPOINT;
    cfg.peers = &pc;
    cfg.n_peers = 1;
    return wg_device_apply(w->dev, &cfg);
}

static int be_handshake(void *ctx, const uint8_t peer[static 32])
{
    struct agentpq_wgdev *w = ctx;
    return wg_device_peer_handshake_now(w->dev, peer);
}

/* The device created a peer, already blocked with a random PSK (the guard): the exchange takes it
 * over at once, starting afresh if it had been removed and re-added since the last sync. */
static void on_created(void *ctx, struct wg_device *dev, const uint8_t *pub)
{
    struct agentpq_wgdev *w = ctx;
    int ret = agentpq_peer_restart(w->pq, pub, agentpq_now_ms());
    (void)dev;
    if (ret && ret != -EINVAL) /* -EINVAL: no private key yet, the next sync adds it */
        log_warn("pq", "cannot track new peer: %s", strerror(-ret));
}

static void on_ext(void *ctx, struct wg_device *dev, const uint8_t *peer_public_key,
                   const struct sockaddr *from, socklen_t from_len, const uint8_t *buf, size_t len)
{
    struct agentpq_wgdev *w = ctx;
    (void)dev;
    (void)peer_public_key; /* routed by the pair hint instead */
    agentpq_receive(w->pq, from, from_len, buf, len, agentpq_now_ms(), agentpq_real_ms());
}

/* Mirrors the device's key and peer set into the exchange. New peers are blocked from their
 * creation by the device's PQ guard; here they get their exchange if on_created could not (no
 * private key yet), and removed peers are forgotten. */
static void sync_peers(struct agentpq_wgdev *w, uint64_t now_ms)
{
    struct wg_device_config *cfg = NULL;

    if (wg_device_get(w->dev, &cfg) != 0 || !cfg)
        return;
    if (cfg->flags & WG_DEVICE_HAS_PRIVATE_KEY) {
        agentpq_set_private_key(w->pq, cfg->private_key, now_ms);
        for (size_t i = 0; i < cfg->n_peers; i++) {
            const struct wg_peer_config *pc = &cfg->peers[i];
            int ret = agentpq_peer_add(w->pq, pc->public_key, false, now_ms);
            if (ret)
                log_warn("pq", "cannot track peer: %s", strerror(-ret));
            else
                agentpq_peer_set_wg_endpoint(w->pq, pc->public_key, &pc->endpoint.addr,
                                             (pc->flags & WG_PEER_HAS_ENDPOINT)
                                                 ? (pc->endpoint.addr.sa_family == AF_INET
                                                        ? sizeof(pc->endpoint.addr4)
                                                        : sizeof(pc->endpoint.addr6))
                                                 : 0);
        }
    }
    /* Drop peers the device no longer has; backwards, since removal moves the last one in. */
    for (size_t i = agentpq_peer_count(w->pq); i-- > 0;) {
        const uint8_t *key = agentpq_peer_key(w->pq, i);
        bool present = false;

        for (size_t j = 0; j < cfg->n_peers && !present; j++)
            present = memcmp(cfg->peers[j].public_key, key, 32) == 0;
        if (!present)
            agentpq_peer_remove(w->pq, key);
    }
    wg_device_config_free(cfg);
}

static void on_timer(void *ctx, struct wg_device *dev)
{
    struct agentpq_wgdev *w = ctx;
    uint64_t now = agentpq_now_ms();
    (void)dev;
    sync_peers(w, now);
    agentpq_tick(w->pq, now, agentpq_real_ms());
}

void agentpq_config_from_env(struct pqx_config *cfg)
{
    const char *s = getenv("ZTNA_PQX_TEST_ROTATE_MS"), *r = getenv("ZTNA_PQX_TEST_RETRANSMIT_MS");
    pqx_config_default(cfg);
    if (r) {
        unsigned long long ms = strtoull(r, NULL, 10);
        if (ms >= 100 && ms <= PQX_RETRANSMIT_MS) {
            cfg->retransmit_ms = ms;
            cfg->backoff_min_ms = ms;
            cfg->backoff_max_ms = ms * 8;
        }
    }
    if (s) {
        unsigned long long ms = strtoull(s, NULL, 10);
        if (ms >= 1000 && ms <= PQX_ROTATE_MS) {
            cfg->rotate_ms = ms;
            cfg->fallback_ms = ms * 5 / 4;
            cfg->expire_ms = ms * 3 / 2;
        }
    }
}

bool agentpq_env_enabled(void)
{
    const char *s = getenv("ZTNA_WG_PQ");
    return s && strcmp(s, "1") == 0;
}

int agentpq_wgdev_attach(struct wg_device *dev, const struct pqx_config *cfg,
                         struct agentpq_wgdev **out)
{
    struct agentpq_wgdev *w = calloc(1, sizeof(*w));
    struct agentpq_backend be = {.install_psk = be_install, .set_blocked = be_block,
                                 .send = be_send, .set_endpoint = be_endpoint,
                                 .handshake_now = be_handshake, .send_to = be_send_to};
    int ret;

    if (!w)
        return -ENOMEM;
    w->dev = dev;
    w->status_fd = -1;
    be.ctx = w;
    w->pq = agentpq_new(&be, cfg);
    if (!w->pq) {
        ret = -ENOMEM;
        goto err_free;
    }
    ret = wg_device_add_timer(dev, AGENTPQ_TICK_MS, on_timer, w);
    if (ret)
        goto err_pq;
    wg_device_set_ext_handler(dev, on_ext, w);
    wg_device_set_pq_guard(dev, true, on_created, w);
    /* Peers configured before we attached were never guarded: block them now. */
    sync_peers(w, agentpq_now_ms());
    *out = w;
    return 0;
err_pq:
    agentpq_free(w->pq);
err_free:
    free(w);
    return ret;
}

void agentpq_wgdev_free(struct agentpq_wgdev *w)
{
    if (!w)
        return;
    if (w->status_fd >= 0) {
        close(w->status_fd);
        agentpq_status_unlink(w->ifname);
    }
    agentpq_free(w->pq);
    free(w);
}

static void on_status_client(void *ctx, struct wg_device *dev, int fd)
{
    struct agentpq_wgdev *w = ctx;
    (void)dev;
    agentpq_status_serve(w->pq, fd, agentpq_now_ms());
}

int agentpq_wgdev_status_listen(struct agentpq_wgdev *w, const char *ifname)
{
    int fd, ret;

    if (w->status_fd >= 0 || strlen(ifname) >= sizeof(w->ifname))
        return -EINVAL;
    fd = agentpq_status_listen(ifname);
    if (fd < 0)
        return fd;
    ret = wg_device_add_fd(w->dev, fd, on_status_client, w);
    if (ret) {
        close(fd);
        agentpq_status_unlink(ifname);
        return ret;
    }
    w->status_fd = fd;
    strcpy(w->ifname, ifname);
    return 0;
}

struct agentpq *agentpq_wgdev_pq(struct agentpq_wgdev *w)
{
    return w->pq;
}
