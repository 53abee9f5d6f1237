/* agentpq over a kernel WireGuard interface (agentpq_wgkernel.h). */
#include "agent/pq/agentpq_wgkernel.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/kernel/wgkernel.h"
#include "agent/kernel/wgnl.h"
#include "common/log.h"

union kaddr {
    struct sockaddr sa;
    struct sockaddr_in6 in6;
};

struct kpeer {
    uint8_t pub[32];
    struct wg_allowedip *aips; /* owned: the configured allowed IPs, given back on unblock */
    size_t n_aips;
    bool blocked;
};

struct agentpq_wgkernel {
    char ifname[WG_IFNAME_MAX];
    struct agentpq_kernel_ops ops;
    struct agentpq *pq;
    int fd;
    uint16_t bound_port; /* WireGuard listen port the socket follows */
    struct kpeer *peers;
    size_t n_peers, cap;
};

int agentpq_kernel_device_get(void *ctx, const char *ifname, struct wg_device_config **out)
{
    (void)ctx;
    return wg_kernel_device_get(ifname, out);
}

int agentpq_kernel_device_set(void *ctx, const struct wg_device_config *cfg)
{
    (void)ctx;
    return wg_kernel_device_set(cfg);
}

static struct kpeer *kfind(struct agentpq_wgkernel *k, const uint8_t pub[static 32])
{
    for (size_t i = 0; i < k->n_peers; i++)
        if (memcmp(k->peers[i].pub, pub, 32) == 0)
            return &k->peers[i];
    return NULL;
}

/* One-peer update-only SET: the unit of every change the exchange makes. */
static int set_peer(struct agentpq_wgkernel *k, struct wg_peer_config *pc)
{
    struct wg_device_config cfg;

    memset(&cfg, 0, sizeof(cfg));
    strcpy(cfg.ifname, k->ifname);
    pc->flags |= WG_PEER_UPDATE_ONLY;
    cfg.peers = pc;
    cfg.n_peers = 1;
    return k->ops.device_set(k->ops.ctx, &cfg);
}

static int be_install(void *ctx, const uint8_t peer[static 32], const uint8_t psk[static 32])
{
    struct wg_peer_config pc;
    int ret;

    memset(&pc, 0, sizeof(pc));
    memcpy(pc.public_key, peer, 32);
    memcpy(pc.preshared_key, psk, 32);
    pc.flags = WG_PEER_HAS_PRESHARED_KEY;
    ret = set_peer(ctx, &pc);
    sodium_memzero(pc.preshared_key, 32);
    return ret;
}

/* Blocking = no allowed IPs: the kernel neither routes to the peer nor accepts from it. */
static int be_block(void *ctx, const uint8_t peer[static 32], bool blocked)
{
    struct agentpq_wgkernel *k = ctx;
    struct kpeer *kp = kfind(k, peer);
    struct wg_peer_config pc;

    if (!kp)
        return -ENOENT;
    kp->blocked = blocked;
    memset(&pc, 0, sizeof(pc));
    memcpy(pc.public_key, peer, 32);
    pc.flags = WG_PEER_REPLACE_ALLOWEDIPS;
    if (!blocked) {
        pc.allowedips = kp->aips;
        pc.n_allowedips = kp->n_aips;
    }
    return set_peer(k, &pc);
}

/* From the exchange socket (dual-stack: IPv4 goes v4-mapped); agentpq picks the address. */
static int be_send_to(void *ctx, const struct sockaddr *addr, socklen_t addr_len, const uint8_t *buf,
                      size_t len)
{
    struct agentpq_wgkernel *k = ctx;
    union kaddr to;

    if (k->fd < 0)
        return -EDESTADDRREQ;
    if (!agentpq_addr_v6(addr, addr_len, &to.in6))
        return -EAFNOSUPPORT;
    return sendto(k->fd, buf, len, MSG_DONTWAIT, &to.sa, sizeof(to.in6)) < 0 ? -errno : 0;
}

/* The send_to backend never calls this. */
static int be_send(void *ctx, const uint8_t peer[static 32], const uint8_t *buf, size_t len)
{
    (void)ctx;
    (void)peer;
    (void)buf;
    (void)len;
    return -EDESTADDRREQ;
}

int agentpq_wgkernel_new(const char *ifname, const struct pqx_config *cfg,
                         const struct agentpq_kernel_ops *ops, struct agentpq_wgkernel **out)
{
    struct agentpq_wgkernel *k;
    struct agentpq_backend be = {.install_psk = be_install, .set_blocked = be_block,
                                 .send = be_send, .send_to = be_send_to};

    *out = NULL;
    if (!ifname || !*ifname || strlen(ifname) >= WG_IFNAME_MAX)
        return -EINVAL;
    k = calloc(1, sizeof(*k));
    if (!k)
        return -ENOMEM;
    strcpy(k->ifname, ifname);
    k->fd = -1;
    if (ops)
        k->ops = *ops;
    else
        k->ops = (struct agentpq_kernel_ops){.device_get = agentpq_kernel_device_get,
                                                .device_set = agentpq_kernel_device_set};
    be.ctx = k;
    k->pq = agentpq_new(&be, cfg);
    if (!k->pq) {
        free(k);
        return -ENOMEM;
    }
    *out = k;
    return 0;
}

static void kpeer_drop(struct agentpq_wgkernel *k, size_t i)
{
    free(k->peers[i].aips);
    k->peers[i] = k->peers[--k->n_peers];
}

void agentpq_wgkernel_free(struct agentpq_wgkernel *k)
{
    if (!k)
        return;
    agentpq_free(k->pq);
    while (k->n_peers)
        kpeer_drop(k, k->n_peers - 1);
    free(k->peers);
    if (k->fd >= 0)
        close(k->fd);
    free(k);
}

int agentpq_wgkernel_fd(const struct agentpq_wgkernel *k)
{
    return k->fd;
}

struct agentpq *agentpq_wgkernel_pq(struct agentpq_wgkernel *k)
{
    return k->pq;
}

/* One dual-stack socket; IPv4 peers are reached through v4-mapped addresses. */
static int rebind(struct agentpq_wgkernel *k, uint16_t wg_port)
{
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
    int fd, off = 0, ret;

    if (wg_port == 0 || wg_port > 65535 - AGENTPQ_PORT_OFFSET)
        return -EINVAL;
    fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
    sin6.sin6_port = htons((uint16_t)(wg_port + AGENTPQ_PORT_OFFSET));
    if (bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) < 0) {
        ret = -errno;
        close(fd);
        return ret;
    }
    if (k->fd >= 0)
        close(k->fd);
    k->fd = fd;
    k->bound_port = wg_port;
    return 0;
}

/* The kernel's WireGuard endpoint of a peer, for agentpq's port guesses (its port for a
 * userspace peer, port + AGENTPQ_PORT_OFFSET for a kernel one). */
static void set_ep(struct agentpq_wgkernel *k, const struct wg_peer_config *pc)
{
    socklen_t len = 0;

    if ((pc->flags & WG_PEER_HAS_ENDPOINT) && pc->endpoint.addr.sa_family == AF_INET)
        len = sizeof(pc->endpoint.addr4);
    else if ((pc->flags & WG_PEER_HAS_ENDPOINT) && pc->endpoint.addr.sa_family == AF_INET6)
        len = sizeof(pc->endpoint.addr6);
    agentpq_peer_set_wg_endpoint(k->pq, pc->public_key, &pc->endpoint.addr, len);
}

static int save_aips(struct kpeer *kp, const struct wg_peer_config *pc)
{
    struct wg_allowedip *a = NULL;

    if (pc->n_allowedips) {
        a = malloc(pc->n_allowedips * sizeof(*a));
        if (!a)
            return -ENOMEM;
        memcpy(a, pc->allowedips, pc->n_allowedips * sizeof(*a));
    }
    free(kp->aips);
    kp->aips = a;
    kp->n_aips = pc->n_allowedips;
    return 0;
}

static bool aip_equal(const struct wg_allowedip *a, const struct wg_allowedip *b)
{
    return a->family == b->family && a->cidr == b->cidr &&
           (a->family == AF_INET ? a->ip4.s_addr == b->ip4.s_addr
                                 : memcmp(&a->ip6, &b->ip6, sizeof(a->ip6)) == 0);
}

static int merge_aips(struct kpeer *kp, const struct wg_peer_config *pc)
{
    struct wg_allowedip *a;

    if (kp->n_aips + pc->n_allowedips > WGNL_MAX_ALLOWEDIPS)
        return -E2BIG;
    a = realloc(kp->aips, (kp->n_aips + pc->n_allowedips) * sizeof(*a));
    if (!a)
        return -ENOMEM;
    kp->aips = a;
    for (size_t i = 0; i < pc->n_allowedips; i++) {
        bool dup = false;
        for (size_t j = 0; j < kp->n_aips && !dup; j++)
            dup = aip_equal(&kp->aips[j], &pc->allowedips[i]);
        if (!dup)
            kp->aips[kp->n_aips++] = pc->allowedips[i];
    }
    return 0;
}

static struct kpeer *kpeer_new(struct agentpq_wgkernel *k, const uint8_t pub[static 32])
{
    struct kpeer *kp;

    if (k->n_peers >= AGENTPQ_MAX_PEERS)
        return NULL;
    if (k->n_peers == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 8;
        struct kpeer *np = realloc(k->peers, cap * sizeof(*np));
        if (!np)
            return NULL;
        k->peers = np;
        k->cap = cap;
    }
    kp = &k->peers[k->n_peers++];
    memset(kp, 0, sizeof(*kp));
    memcpy(kp->pub, pub, 32);
    return kp;
}

/* The kept allowed IPs of a peer after pc (replace or add, as the kernel would). */
static int follow_aips(struct kpeer *kp, const struct wg_peer_config *pc)
{
    if (pc->flags & WG_PEER_REPLACE_ALLOWEDIPS)
        return save_aips(kp, pc);
    return merge_aips(kp, pc);
}

/* A peer of the kernel's configuration: tracked, and kept blocked until its PSK is in. */
static void sync_peer(struct agentpq_wgkernel *k, const struct wg_peer_config *pc, uint64_t now)
{
    struct kpeer *kp = kfind(k, pc->public_key);
    int ret;

    if (!kp) {
        if (!(kp = kpeer_new(k, pc->public_key)))
            return;
        if (save_aips(kp, pc) || (ret = agentpq_peer_add(k->pq, pc->public_key, false, now))) {
            log_warn("pq", "cannot track kernel peer");
            kpeer_drop(k, k->n_peers - 1);
        } else {
            set_ep(k, pc);
        }
        return;
    }
    if (!agentpq_peer_known(k->pq, kp->pub) &&
        agentpq_peer_add(k->pq, kp->pub, false, now) != 0) /* agentpq_wgkernel_apply() before a key */
        return;
    set_ep(k, pc);
    if (!kp->blocked) {
        save_aips(kp, pc); /* follow the user's changes */
    } else if (pc->n_allowedips) {
        /* Someone gave a blocked peer allowed IPs (`wg set`): add them to the ones kept for
         * later, and block again. */
        if (merge_aips(kp, pc) == 0)
            be_block(k, kp->pub, true);
    }
}

int agentpq_wgkernel_apply(struct agentpq_wgkernel *k, const struct wg_device_config *cfg)
{
    struct wg_device_config out = *cfg;
    struct wg_peer_config *pcs = calloc(cfg->n_peers ? cfg->n_peers : 1, sizeof(*pcs));
    bool *fresh = calloc(cfg->n_peers ? cfg->n_peers : 1, sizeof(*fresh));
    uint64_t now = agentpq_now_ms();
    int ret = 0;

    if (!pcs || !fresh) {
        ret = -ENOMEM;
        goto out;
    }
    if (cfg->flags & WG_DEVICE_HAS_PRIVATE_KEY)
        agentpq_set_private_key(k->pq, cfg->private_key, now);
    if (cfg->flags & WG_DEVICE_REPLACE_PEERS) {
        for (size_t i = k->n_peers; i-- > 0;) {
            agentpq_peer_remove(k->pq, k->peers[i].pub);
            kpeer_drop(k, i);
        }
    }
    for (size_t i = 0; i < cfg->n_peers; i++) {
        struct wg_peer_config *pc = &pcs[i];
        struct kpeer *kp = kfind(k, cfg->peers[i].public_key);

        *pc = cfg->peers[i];
        if (pc->flags & WG_PEER_REMOVE) {
            if (kp) {
                agentpq_peer_remove(k->pq, kp->pub);
                kpeer_drop(k, (size_t)(kp - k->peers));
            }
            continue;
        }
        if (agentpq_classical_get(k->pq, pc->public_key))
            continue; /* explicit classical-only: as configured */
        if (!kp && (pc->flags & WG_PEER_UPDATE_ONLY))
            continue;
        if (!kp) {
            if (!(kp = kpeer_new(k, pc->public_key))) {
                ret = -ENOMEM;
                goto out;
            }
            fresh[i] = true;
            /* Never a window with the configured PSK: random until the exchange's. */
            randombytes_buf(pc->preshared_key, 32);
            pc->preshared_key[0] |= 1;
            pc->flags |= WG_PEER_HAS_PRESHARED_KEY;
        } else {
            pc->flags &= ~(uint32_t)WG_PEER_HAS_PRESHARED_KEY; /* the exchange owns it */
        }
        if ((ret = follow_aips(kp, pc)) != 0)
            goto out;
        if (fresh[i] || kp->blocked) {
            kp->blocked = true;
            pc->allowedips = NULL;
            pc->n_allowedips = 0;
            pc->flags |= WG_PEER_REPLACE_ALLOWEDIPS;
        }
    }
    out.peers = pcs;
    ret = k->ops.device_set(k->ops.ctx, &out);
    if (ret)
        goto out;
    for (size_t i = 0; i < cfg->n_peers; i++) {
        if (fresh[i] && agentpq_peer_add(k->pq, cfg->peers[i].public_key, false, now) != 0)
            log_warn("pq", "cannot track kernel peer");
        else if (cfg->peers[i].flags & WG_PEER_HAS_ENDPOINT)
            set_ep(k, &cfg->peers[i]);
    }
out:
    if (pcs)
        sodium_memzero(pcs, (cfg->n_peers ? cfg->n_peers : 1) * sizeof(*pcs));
    free(pcs);
    free(fresh);
    return ret;
}

int agentpq_wgkernel_tick(struct agentpq_wgkernel *k)
{
    struct wg_device_config *cfg = NULL;
    uint64_t now = agentpq_now_ms();
    int ret = k->ops.device_get(k->ops.ctx, k->ifname, &cfg);

    if (ret)
        return ret;
    if (cfg->listen_port && cfg->listen_port != k->bound_port &&
        (ret = rebind(k, cfg->listen_port)) < 0)
        log_warn("pq", "%s: exchange socket on port %u: %s", k->ifname,
                 cfg->listen_port + AGENTPQ_PORT_OFFSET, strerror(-ret));
    if (cfg->flags & WG_DEVICE_HAS_PRIVATE_KEY) {
        agentpq_set_private_key(k->pq, cfg->private_key, now);
        for (size_t i = 0; i < cfg->n_peers; i++)
            sync_peer(k, &cfg->peers[i], now);
    }
    for (size_t i = k->n_peers; i-- > 0;) {
        bool present = false;
        for (size_t j = 0; j < cfg->n_peers && !present; j++)
            present = memcmp(cfg->peers[j].public_key, k->peers[i].pub, 32) == 0;
        if (!present) {
            agentpq_peer_remove(k->pq, k->peers[i].pub);
            kpeer_drop(k, i);
        }
    }
    wg_device_config_free(cfg);
    agentpq_tick(k->pq, now, agentpq_real_ms());
    return 0;
}

void agentpq_wgkernel_receive(struct agentpq_wgkernel *k)
{
    uint8_t buf[PQX_FRAG_HDR_LEN + PQX_FRAG_PAYLOAD_MAX + 1];

    for (int i = 0; i < 64 && k->fd >= 0; i++) {
        union kaddr from;
        socklen_t from_len = sizeof(from);
        ssize_t n = recvfrom(k->fd, buf, sizeof(buf), MSG_DONTWAIT, &from.sa, &from_len);
        if (n < 0)
            break;
        if (n > 0 && (size_t)n < sizeof(buf))
            agentpq_receive(k->pq, &from.sa, from_len, buf, (size_t)n, agentpq_now_ms(),
                            agentpq_real_ms());
    }
}
