/* Configuration with UAPI "set"/"get" semantics (as wireguard-go and the kernel apply them), and
 * the extension points (ext messages, blocked peers, timers, fds). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "agent/wg/tun.h"
#include "agent/wg/wgdev.h"
#include "common/log.h"

static const uint8_t zero_key[WG_KEY_LEN];

static int set_private_key(struct wg_device *dev, const uint8_t key[static WG_KEY_LEN])
{
    bool clear = !sodium_memcmp(key, zero_key, WG_KEY_LEN);
    if (dev->identity.has_identity && !clear &&
        !sodium_memcmp(dev->identity.private_key, key, WG_KEY_LEN))
        return 0;
    int ret = clear ? (wg_noise_identity_clear(&dev->identity), 0)
                    : wg_noise_identity_init(&dev->identity, key);
    if (ret)
        return ret;
    if (dev->identity.has_identity) {
        wg_cookie_checker_init(&dev->cookie_checker, dev->identity.public_key);
        /* a peer with our own public key is dropped, as wireguard-go does */
        struct wgd_peer *self = wgd_peer_lookup(dev, dev->identity.public_key);
        if (self)
            wgd_peer_remove(self);
    }
    for (struct wgd_peer *p = dev->peers_head; p; p = p->next) {
        uint8_t psk[WG_KEY_LEN];
        memcpy(psk, p->hs.preshared_key, WG_KEY_LEN);
        wgd_index_unlink(dev, &p->hs_idx);
        wg_noise_handshake_init(&p->hs, &dev->identity, p->public_key, psk);
        sodium_memzero(psk, sizeof(psk));
        wgd_peer_keypairs_clear(p);
        if (dev->pq_guard)
            wgd_peer_guard(p); /* every pairwise PQ PSK belonged to the old key */
    }
    return 0;
}

static int set_allowedips(struct wg_device *dev, struct wgd_peer *p, const struct wg_peer_config *pc)
{
    if (pc->flags & WG_PEER_REPLACE_ALLOWEDIPS)
        wgd_aips_remove_peer(dev, p);
    for (size_t i = 0; i < pc->n_allowedips; i++) {
        int ret = wgd_aips_insert(dev, p, &pc->allowedips[i]);
        if (ret)
            return ret;
    }
    return 0;
}

static int apply_peer(struct wg_device *dev, const struct wg_peer_config *pc)
{
    struct wgd_peer *p = wgd_peer_lookup(dev, pc->public_key);
    int ret;

    if (pc->flags & WG_PEER_REMOVE) {
        if (p)
            wgd_peer_remove(p);
        return 0;
    }
    if (!p) {
        if (pc->flags & WG_PEER_UPDATE_ONLY)
            return 0;
        if (dev->identity.has_identity &&
            !sodium_memcmp(pc->public_key, dev->identity.public_key, WG_KEY_LEN))
            return 0;
        ret = wgd_peer_create(dev, pc->public_key, &p);
        if (ret)
            return ret;
        if (dev->pq_guard) {
            wgd_peer_guard(p);
            if (dev->created_fn)
                dev->created_fn(dev->created_ctx, dev, pc->public_key);
            p = wgd_peer_lookup(dev, pc->public_key); /* the callback may have removed it */
            if (!p)
                return 0;
        }
    }
    if (pc->flags & WG_PEER_HAS_PRESHARED_KEY)
        wg_noise_handshake_set_psk(&p->hs, sodium_memcmp(pc->preshared_key, zero_key, WG_KEY_LEN)
                                               ? pc->preshared_key
                                               : NULL);
    if (pc->flags & WG_PEER_HAS_ENDPOINT) {
        socklen_t l = pc->endpoint.addr.sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                               : sizeof(struct sockaddr_in);
        wgd_peer_set_endpoint(p, &pc->endpoint.addr, l);
    }
    ret = set_allowedips(dev, p, pc);
    if (ret)
        return ret;
    if (pc->flags & WG_PEER_HAS_KEEPALIVE) {
        bool was_off = !p->persistent_keepalive;
        p->persistent_keepalive = pc->persistent_keepalive;
        if (!p->persistent_keepalive)
            wgd_timer_del(&dev->timers, &p->t_persistent);
        else if (was_off)
            wgd_send_keepalive(p); /* like wireguard-go: start right away */
    }
    return 0;
}

int wg_device_apply(struct wg_device *dev, const struct wg_device_config *cfg)
{
    int ret = 0;
    if (cfg->flags & WG_DEVICE_HAS_FWMARK) {
        dev->fwmark = cfg->fwmark;
        if ((ret = wgd_udp_set_fwmark(dev->udp4_src.fd, cfg->fwmark)) ||
            (ret = wgd_udp_set_fwmark(dev->udp6_src.fd, cfg->fwmark)))
            return ret;
    }
    if ((cfg->flags & WG_DEVICE_HAS_LISTEN_PORT) &&
        (cfg->listen_port != dev->listen_port || cfg->listen_port == 0)) {
        ret = wgd_udp_rebind(dev, cfg->listen_port);
        if (ret)
            return ret;
    }
    if (cfg->flags & WG_DEVICE_HAS_PRIVATE_KEY) {
        ret = set_private_key(dev, cfg->private_key);
        if (ret)
            return ret;
    }
    if (cfg->flags & WG_DEVICE_REPLACE_PEERS)
        while (dev->peers_head)
            wgd_peer_remove(dev->peers_head);
    for (size_t i = 0; i < cfg->n_peers; i++) {
        ret = apply_peer(dev, &cfg->peers[i]);
        if (ret)
            return ret;
    }
    return 0;
}

int wg_device_get(struct wg_device *dev, struct wg_device_config **out)
{
    struct wg_device_config *cfg = calloc(1, sizeof(*cfg));
    size_t i = 0;
    *out = NULL;
    if (!cfg)
        return -ENOMEM;
    strcpy(cfg->ifname, dev->ifname);
    cfg->listen_port = dev->listen_port;
    cfg->fwmark = dev->fwmark;
    cfg->flags = WG_DEVICE_HAS_LISTEN_PORT | (dev->fwmark ? WG_DEVICE_HAS_FWMARK : 0);
    if (dev->identity.has_identity) {
        memcpy(cfg->private_key, dev->identity.private_key, WG_KEY_LEN);
        memcpy(cfg->public_key, dev->identity.public_key, WG_KEY_LEN);
        cfg->flags |= WG_DEVICE_HAS_PRIVATE_KEY;
    }
    cfg->peers = calloc(dev->n_peers ? dev->n_peers : 1, sizeof(*cfg->peers));
    if (!cfg->peers) {
        free(cfg);
        return -ENOMEM;
    }
    for (struct wgd_peer *p = dev->peers_head; p; p = p->next, i++) {
        struct wg_peer_config *pc = &cfg->peers[i];
        cfg->n_peers = i + 1;
        memcpy(pc->public_key, p->public_key, WG_KEY_LEN);
        memcpy(pc->preshared_key, p->hs.preshared_key, WG_KEY_LEN);
        pc->flags = WG_PEER_HAS_PRESHARED_KEY | WG_PEER_HAS_KEEPALIVE;
        if (p->endpoint_len) {
            memcpy(&pc->endpoint, &p->endpoint, p->endpoint_len);
            pc->flags |= WG_PEER_HAS_ENDPOINT;
        }
        pc->persistent_keepalive = p->persistent_keepalive;
        pc->last_handshake = p->last_handshake;
        pc->rx_bytes = p->rx_bytes;
        pc->tx_bytes = p->tx_bytes;
        if (wgd_aips_list(p, &pc->allowedips, &pc->n_allowedips)) {
            wg_device_config_free(cfg);
            return -ENOMEM;
        }
    }
    *out = cfg;
    return 0;
}

void wg_device_set_ext_handler(struct wg_device *dev, wg_ext_handler_fn fn, void *ctx)
{
    dev->ext_fn = fn;
    dev->ext_ctx = ctx;
}

void wg_device_set_packet_hooks(struct wg_device *dev, wg_tun_read_hook_fn rd,
                                wg_tun_write_hook_fn wr, void *ctx)
{
    dev->pkt_rd = rd;
    dev->pkt_wr = wr;
    dev->pkt_ctx = ctx;
}

int wg_device_tun_write(struct wg_device *dev, const uint8_t *pkt, size_t len)
{
    return write(dev->tun_src.fd, pkt, len) < 0 ? -errno : 0;
}

int wg_device_send_ext(struct wg_device *dev, const uint8_t peer_public_key[static WG_KEY_LEN],
                       const uint8_t *buf, size_t len)
{
    struct wgd_peer *p = wgd_peer_lookup(dev, peer_public_key);
    if (!len || buf[0] < 0x10 || len > 65507)
        return -EINVAL;
    if (!p)
        return -ENOENT;
    return wgd_send_to_peer(p, buf, len);
}

int wg_device_send_ext_to(struct wg_device *dev, const struct sockaddr *to, socklen_t to_len,
                          const uint8_t *buf, size_t len)
{
    union wgd_addr a;

    if (!len || buf[0] < 0x10 || len > 65507 || !to || to_len > sizeof(a) ||
        (to->sa_family == AF_INET ? to_len != sizeof(a.in4)
         : to->sa_family == AF_INET6 ? to_len != sizeof(a.in6) : true))
        return -EINVAL;
    memcpy(&a, to, to_len);
    return wgd_send_to(dev, &a, to_len, buf, len);
}

int wg_device_set_peer_blocked(struct wg_device *dev, const uint8_t peer_public_key[static WG_KEY_LEN],
                               bool blocked)
{
    struct wgd_peer *p = wgd_peer_lookup(dev, peer_public_key);
    if (!p)
        return -ENOENT;
    p->blocked = blocked;
    if (blocked)
        wgd_peer_staged_clear(p);
    return 0;
}

#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

static void ext_timer_fired(struct wgd_timer *t)
{
    struct wgd_ext_timer *et = container_of(t, struct wgd_ext_timer, t);
    wgd_timer_mod(&et->dev->timers, &et->t, et->ms);
    et->fn(et->ctx, et->dev);
}

int wg_device_add_timer(struct wg_device *dev, unsigned ms, wg_device_timer_fn fn, void *ctx)
{
    if (!ms || !fn)
        return -EINVAL;
    if (dev->n_ext_timers >= WGDEV_MAX_TIMERS)
        return -E2BIG;
    struct wgd_ext_timer *et = calloc(1, sizeof(*et));
    if (!et)
        return -ENOMEM;
    et->t.fn = ext_timer_fired;
    et->dev = dev;
    et->ms = ms;
    et->fn = fn;
    et->ctx = ctx;
    int ret = wgd_timer_mod(&dev->timers, &et->t, ms);
    if (ret) {
        free(et);
        return ret;
    }
    dev->ext_timers[dev->n_ext_timers++] = et;
    return 0;
}

static void ext_fd_ready(struct wg_device *dev, struct wgd_source *src, uint32_t events)
{
    struct wgd_ext_fd *ef = (struct wgd_ext_fd *)src;
    (void)events;
    ef->fn(ef->ctx, dev, src->fd);
}

int wg_device_add_fd(struct wg_device *dev, int fd, wg_device_fd_fn fn, void *ctx)
{
    if (fd < 0 || !fn)
        return -EINVAL;
    if (dev->n_ext_fds >= WGDEV_MAX_TIMERS)
        return -E2BIG;
    struct wgd_ext_fd *ef = calloc(1, sizeof(*ef));
    if (!ef)
        return -ENOMEM;
    ef->src.fd = fd;
    ef->src.fn = ext_fd_ready;
    ef->fn = fn;
    ef->ctx = ctx;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &ef->src};
    if (epoll_ctl(dev->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int ret = -errno;
        free(ef);
        return ret;
    }
    dev->ext_fds[dev->n_ext_fds++] = ef;
    return 0;
}
