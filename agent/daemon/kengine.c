/* The daemon on kernel WireGuard (kengine.h). Everything runs on the thread of kengine_run(). */
#include "agent/daemon/kengine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/daemon/daemon.h"
#include "agent/daemon/dnsio.h"
#include "agent/daemon/dnstcp.h"
#include "agent/daemon/ipcsum.h"
#include "agent/daemon/rtnl.h"
#include "agent/kernel/wgkernel.h"
#include "agent/pq/agentpq_wgdev.h"
#include "agent/pq/agentpq_wgkernel.h"
#include "common/filter/filter_limits.h"
#include "common/log.h"
#ifdef ZTNA_HAVE_NFTFILTER
#include "agent/kernel/nftfilter.h"
#endif

#define IP4_HDR 20
#define UDP_HDR 8
#define STUB_QUERY_MAX 1500 /* what dnsio takes in one UDP datagram (its DNS_BUF) */

#define CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* One DNS-over-TCP client of the stub. Its queries reach dnsio as UDP datagrams from
 * 0.0.0.0:tag (never a real client: local ones come from 100.100.100.100 itself), so the answers
 * dnsio writes back to that address are this connection's. */
struct kdns_tcp {
    struct loop_src src; /* first: released with loop_release() */
    size_t slot;
    uint16_t tag;
    uint64_t last_ms;
    size_t rx_len;
    uint8_t rx[DNSTCP_RX_MAX];
    struct {
        bool used, added; /* added: we put the OPT in, strip it from the answer */
        uint16_t id;
        uint64_t deadline; /* dnsio gives up on the upstream by then: the slot is free again */
    } q[AGENT_KERNEL_DNS_TCP_INFLIGHT];
};

struct kengine {
    struct kengine_ops ops;
    struct agentpq_wgkernel *pq;
    struct loop_src pq_src, udp, tcp, nflog;
    struct kdns_tcp *conns[AGENT_KERNEL_DNS_TCP_MAX];
    uint16_t tcp_gen;
    struct in_addr stub;
    bool link_created, table_installed;
    bool policy_down; /* the link is down: no filter could be installed */
    struct filter_entry *installed; /* the entries in the nftables table now (owned) */
    size_t n_installed;
    bool installed_deny_all;
    uint64_t pq_next_ms;
};

static int g_stop_fd = -1; /* eventfd written by kengine_stop() */
static volatile sig_atomic_t g_stop_req; /* a stop before the loop's eventfd exists */

bool kengine_backend_parse(const char *s, enum agent_backend *out)
{
    if (!strcmp(s, "auto"))
        *out = AGENT_BACKEND_AUTO;
    else if (!strcmp(s, "userspace"))
        *out = AGENT_BACKEND_USERSPACE;
    else if (!strcmp(s, "kernel"))
        *out = AGENT_BACKEND_KERNEL;
    else
        return false;
    return true;
}

bool kengine_available(char *why, size_t why_len)
{
#ifndef ZTNA_HAVE_NFTFILTER
    /* the policy filter could not be enforced: never run the tunnels without it */
    snprintf(why, why_len, "this build has no nftables policy filter (agent/kernel/nftfilter.c)");
    return false;
#else
    if (wg_kernel_probe(why, why_len))
        return true;
    char *tail = strstr(why, "; using the userspace engine"); /* the caller says what it does */
    if (tail)
        *tail = 0;
    return false;
#endif
}

/* --- the real kernel calls ------------------------------------------------------------------ */

/* True if ifname is a wireguard link (its uevent says DEVTYPE=wireguard). */
static bool is_wireguard(const char *ifname)
{
    char path[64], line[128];
    bool wg = false;
    snprintf(path, sizeof(path), "/sys/class/net/%s/uevent", ifname);
    FILE *f = fopen(path, "re");
    while (f && !wg && fgets(line, sizeof(line), f))
        wg = !strcmp(line, "DEVTYPE=wireguard\n");
    if (f)
        fclose(f);
    return wg;
}

/* A wireguard link of that name (left by an earlier run) is replaced; any other interface of
 * that name is not ours to delete: -EEXIST. */
static int r_link_create(void *ctx, const char *ifname)
{
    int ret = wg_kernel_link_create(ifname);
    (void)ctx;
    if (ret != -EEXIST || !is_wireguard(ifname))
        return ret;
    log_warn("daemon", "%s: a wireguard link left by an earlier run? replacing it", ifname);
    if ((ret = wg_kernel_link_delete(ifname)) && ret != -ENODEV)
        return ret;
    return wg_kernel_link_create(ifname);
}

static int r_link_delete(void *ctx, const char *ifname)
{
    (void)ctx;
    return wg_kernel_link_delete(ifname);
}

static int r_link_set_up(void *ctx, const char *ifname, bool up)
{
    (void)ctx;
    return rtnl_link_set_up(ifname, up);
}

static int r_addr4(void *ctx, const char *ifname, struct in_addr addr, unsigned plen, bool del)
{
    (void)ctx;
    return rtnl_addr4(ifname, addr, plen, del);
}

static int r_filter_apply(void *ctx, const char *table, const char *ifname,
                          const struct filter_entry *e, size_t n)
{
    (void)ctx;
#ifdef ZTNA_HAVE_NFTFILTER
    return nft_filter_apply(table, ifname, e, n, AGENT_KERNEL_NFLOG_GROUP);
#else
    (void)table, (void)ifname, (void)e, (void)n;
    return -EOPNOTSUPP;
#endif
}

static int r_filter_delete(void *ctx, const char *table)
{
    (void)ctx;
#ifdef ZTNA_HAVE_NFTFILTER
    return nft_filter_delete(table);
#else
    (void)table;
    return -EOPNOTSUPP;
#endif
}

static const struct kengine_ops real_ops = {
    .link_create = r_link_create, .link_delete = r_link_delete, .link_set_up = r_link_set_up,
    .addr4 = r_addr4, .device_get = agentpq_kernel_device_get, .device_set = agentpq_kernel_device_set,
    .filter_apply = r_filter_apply, .filter_delete = r_filter_delete,
};

/* --- the PQ exchange socket ----------------------------------------------------------------- */

static void pq_ready(struct agent *a, struct loop_src *src, uint32_t events)
{
    (void)src;
    (void)events;
    agentpq_wgkernel_receive(a->kern->pq);
}

/* The exchange (re)binds its socket at a tick when the listen port changes: follow it. */
static void pq_sync_fd(struct agent *a)
{
    struct kengine *k = a->kern;
    int fd = agentpq_wgkernel_fd(k->pq);
    if (fd == k->pq_src.fd)
        return;
    if (k->pq_src.fd >= 0)
        loop_del(a, &k->pq_src); /* already closed by the exchange: nothing to undo if it fails */
    k->pq_src.fd = fd;
    if (fd >= 0 && loop_add(a, &k->pq_src, EPOLLIN))
        log_warn("pq", "exchange socket not in the loop: %s", strerror(errno));
}

/* --- the MagicDNS stub on sockets ----------------------------------------------------------- */

void kengine_udp_wrap(uint8_t *pkt, struct in_addr src, uint16_t sport, struct in_addr stub,
                      size_t len)
{
    size_t tot = IP4_HDR + UDP_HDR + len;
    memset(pkt, 0, IP4_HDR + UDP_HDR);
    pkt[0] = 0x45;
    pkt[2] = (uint8_t)(tot >> 8);
    pkt[3] = (uint8_t)tot;
    pkt[8] = 64;
    pkt[9] = 17;
    memcpy(pkt + 12, &src, 4);
    memcpy(pkt + 16, &stub, 4);
    uint16_t c = ipcsum(pkt, IP4_HDR);
    pkt[10] = (uint8_t)(c >> 8);
    pkt[11] = (uint8_t)c;
    pkt[20] = (uint8_t)(sport >> 8);
    pkt[21] = (uint8_t)sport;
    pkt[23] = 53;
    pkt[24] = (uint8_t)((UDP_HDR + len) >> 8);
    pkt[25] = (uint8_t)(UDP_HDR + len);
}

static void stub_udp_ready(struct agent *a, struct loop_src *src, uint32_t events)
{
    struct kengine *k = a->kern;
    uint8_t pkt[IP4_HDR + UDP_HDR + STUB_QUERY_MAX];
    (void)events;
    for (int round = 0; round < 64; round++) {
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t r = recvfrom(src->fd, pkt + IP4_HDR + UDP_HDR, STUB_QUERY_MAX, MSG_TRUNC,
                             (struct sockaddr *)&from, &fl);
        if (r < 0)
            return;
        if ((size_t)r > STUB_QUERY_MAX || from.sin_family != AF_INET)
            continue; /* larger than any query dnsio takes over UDP */
        kengine_udp_wrap(pkt, from.sin_addr, ntohs(from.sin_port), k->stub, (size_t)r);
        dnsio_tun_packet(a, pkt, IP4_HDR + UDP_HDR + (size_t)r);
    }
}

static void tcp_close(struct agent *a, struct kdns_tcp *c)
{
    a->kern->conns[c->slot] = NULL;
    loop_release(a, &c->src);
}

/* One whole query of a TCP client: relayed as UDP with room for a 4096-byte answer. */
static void tcp_query(struct agent *a, struct kdns_tcp *c, const uint8_t *msg, size_t len)
{
    struct kengine *k = a->kern;
    uint8_t pkt[IP4_HDR + UDP_HDR + STUB_QUERY_MAX];
    size_t qlen, slot;
    bool added = false;
    uint64_t now = agent_now_ms();
    if (len < 2)
        return;
    for (slot = 0; slot < AGENT_KERNEL_DNS_TCP_INFLIGHT && c->q[slot].used &&
                   c->q[slot].deadline > now;
         slot++)
        ;
    if (slot == AGENT_KERNEL_DNS_TCP_INFLIGHT)
        return; /* too many unanswered: this one is dropped, the client retries or times out */
    if (dnsio_edns_for_tcp(msg, len, pkt + IP4_HDR + UDP_HDR, STUB_QUERY_MAX, &qlen, &added)) {
        if (len > STUB_QUERY_MAX)
            return;
        memcpy(pkt + IP4_HDR + UDP_HDR, msg, len); /* dnsio answers what it can of it */
        qlen = len;
        added = false;
    }
    c->q[slot].used = true;
    c->q[slot].added = added;
    c->q[slot].id = (uint16_t)(msg[0] << 8 | msg[1]);
    c->q[slot].deadline = now + AGENT_DNS_UPSTREAM_TIMEOUT_MS + AGENT_TICK_MS;
    kengine_udp_wrap(pkt, (struct in_addr){INADDR_ANY}, c->tag, k->stub, qlen);
    dnsio_tun_packet(a, pkt, IP4_HDR + UDP_HDR + qlen);
}

int kengine_dns_frame(const uint8_t *buf, size_t len, size_t cap, size_t *qlen)
{
    if (len < 2)
        return 0;
    *qlen = (size_t)buf[0] << 8 | buf[1];
    if (*qlen + 2 > cap)
        return -EMSGSIZE;
    return len >= *qlen + 2;
}

static void tcp_conn_ready(struct agent *a, struct loop_src *src, uint32_t events)
{
    struct kdns_tcp *c = (struct kdns_tcp *)src;
    (void)events;
    ssize_t r = recv(src->fd, c->rx + c->rx_len, sizeof(c->rx) - c->rx_len, MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        tcp_close(a, c);
        return;
    }
    if (r < 0)
        return;
    c->rx_len += (size_t)r;
    c->last_ms = agent_now_ms();
    while (!src->dead) {
        size_t qlen;
        int got = kengine_dns_frame(c->rx, c->rx_len, sizeof(c->rx), &qlen);
        if (got < 0) {
            tcp_close(a, c);
            return;
        }
        if (!got)
            break;
        tcp_query(a, c, c->rx + 2, qlen); /* may answer (and close) right away */
        if (src->dead)
            return;
        memmove(c->rx, c->rx + 2 + qlen, c->rx_len - 2 - qlen);
        c->rx_len -= 2 + qlen;
    }
}

static void tcp_listen_ready(struct agent *a, struct loop_src *src, uint32_t events)
{
    struct kengine *k = a->kern;
    (void)events;
    for (int round = 0; round < AGENT_KERNEL_DNS_TCP_MAX; round++) {
        int fd = accept4(src->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        size_t slot;
        if (fd < 0)
            return;
        for (slot = 0; slot < AGENT_KERNEL_DNS_TCP_MAX && k->conns[slot]; slot++)
            ;
        struct kdns_tcp *c = slot < AGENT_KERNEL_DNS_TCP_MAX ? calloc(1, sizeof(*c)) : NULL;
        if (!c) {
            close(fd); /* at the cap: refused */
            continue;
        }
        k->tcp_gen = (uint16_t)(k->tcp_gen % 2047 + 1);
        c->src.fd = fd;
        c->src.fn = tcp_conn_ready;
        c->slot = slot;
        c->tag = (uint16_t)(k->tcp_gen << 5 | slot); /* never 0: gen >= 1 */
        c->last_ms = agent_now_ms();
        if (loop_add(a, &c->src, EPOLLIN)) {
            close(fd);
            free(c);
            continue;
        }
        k->conns[slot] = c;
    }
}

static void tcp_answer(struct agent *a, uint16_t tag, uint8_t *msg, size_t len)
{
    struct kengine *k = a->kern;
    struct kdns_tcp *c = (tag & 31) < AGENT_KERNEL_DNS_TCP_MAX ? k->conns[tag & 31] : NULL;
    uint8_t out[2 + DNSTCP_ANSWER_MAX];
    if (!c || c->tag != tag || len < 2 || len > DNSTCP_ANSWER_MAX)
        return;
    uint16_t id = (uint16_t)(msg[0] << 8 | msg[1]);
    for (size_t i = 0; i < AGENT_KERNEL_DNS_TCP_INFLIGHT; i++) {
        if (!c->q[i].used || c->q[i].id != id)
            continue;
        c->q[i].used = false;
        if (c->q[i].added)
            len = dnsio_strip_opt(msg, len);
        out[0] = (uint8_t)(len >> 8);
        out[1] = (uint8_t)len;
        memcpy(out + 2, msg, len);
        if (send(c->src.fd, out, len + 2, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)(len + 2))
            tcp_close(a, c); /* a client that does not read its answers is dropped */
        else
            c->last_ms = agent_now_ms();
        return;
    }
}

int kengine_stub_send(struct agent *a, const uint8_t *pkt, size_t len)
{
    struct kengine *k = a->kern;
    if (!k || len < IP4_HDR + UDP_HDR || pkt[0] != 0x45 || pkt[9] != 17)
        return -EPROTONOSUPPORT; /* dnsio's UDP answers only: TCP is the kernel's here */
    size_t ulen = (size_t)pkt[24] << 8 | pkt[25];
    if (ulen < UDP_HDR || IP4_HDR + ulen > len)
        return -EINVAL;
    struct sockaddr_in to = {.sin_family = AF_INET};
    memcpy(&to.sin_addr, pkt + 16, 4);
    memcpy(&to.sin_port, pkt + 22, 2);
    uint8_t *msg = (uint8_t *)pkt + IP4_HDR + UDP_HDR; /* dnsio's buffer, ours for the call */
    size_t mlen = ulen - UDP_HDR;
    if (to.sin_addr.s_addr == INADDR_ANY) {
        tcp_answer(a, ntohs(to.sin_port), msg, mlen);
        return 0;
    }
    if (k->udp.fd < 0)
        return -ENOTCONN;
    return sendto(k->udp.fd, msg, mlen, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof(to)) < 0
               ? -errno : 0;
}

/* A socket of type on 100.100.100.100:53 (IP_FREEBIND: before the address is up). */
static int stub_socket(struct kengine *k, int type)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(53), .sin_addr = k->stub};
    int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), on = 1, ret;
    if (fd < 0)
        return -errno;
    setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &on, sizeof(on));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        (type == SOCK_STREAM && listen(fd, AGENT_KERNEL_DNS_TCP_MAX) < 0)) {
        ret = -errno;
        close(fd);
        return ret;
    }
    return fd;
}

static void stub_open(struct agent *a)
{
    struct kengine *k = a->kern;
    int fd;
    if ((fd = stub_socket(k, SOCK_DGRAM)) < 0) {
        log_warn("dns", "stub %s:53/udp: %s", AGENT_DNS_IP, strerror(-fd));
    } else {
        k->udp.fd = fd;
        if (loop_add(a, &k->udp, EPOLLIN))
            log_warn("dns", "stub udp socket not in the loop: %s", strerror(errno));
    }
    if ((fd = stub_socket(k, SOCK_STREAM)) < 0) {
        log_warn("dns", "stub %s:53/tcp: %s", AGENT_DNS_IP, strerror(-fd));
    } else {
        k->tcp.fd = fd;
        if (loop_add(a, &k->tcp, EPOLLIN))
            log_warn("dns", "stub tcp socket not in the loop: %s", strerror(errno));
    }
}

/* --- policy denials over NFLOG -------------------------------------------------------------- */

#ifdef ZTNA_HAVE_NFTFILTER
static void nflog_ready(struct agent *a, struct loop_src *src, uint32_t events)
{
    struct filter_deny_count got[FILTER_DENY_SLOTS];
    size_t n = 0;
    uint64_t other = 0;
    (void)events;
    int ret = nft_denials_read(src->fd, got, FILTER_DENY_SLOTS, &n, &other);
    if (ret)
        log_debug("policy", "NFLOG read: %s", strerror(-ret));
    if (n || other)
        pktpath_merge_denials(a, got, n, other);
}
#endif

/* --- set-up and teardown -------------------------------------------------------------------- */

int kengine_init(struct agent *a, const struct kengine_ops *ops)
{
    struct kengine *k = calloc(1, sizeof(*k));
    struct wg_device_config cfg;
    struct pqx_config pqcfg;
    int ret;
    if (!k)
        return -ENOMEM;
    a->kern = k;
    k->ops = ops ? *ops : real_ops;
    k->pq_src = (struct loop_src){.fd = -1, .fn = pq_ready};
    k->udp = (struct loop_src){.fd = -1, .fn = stub_udp_ready};
    k->tcp = (struct loop_src){.fd = -1, .fn = tcp_listen_ready};
    inet_pton(AF_INET, AGENT_DNS_IP, &k->stub);
    k->nflog.fd = -1;
    ret = k->ops.link_create(k->ops.ctx, a->tun);
    if (ret) {
        log_error("daemon", "cannot create the kernel WireGuard interface %s: %s%s", a->tun,
                  strerror(-ret),
                  ret == -EEXIST ? " (another interface has that name: --tun)" : "");
        return ret;
    }
    k->link_created = true;
    /* a table left by an earlier run: none until the first map, as the userspace gate is off */
    if ((ret = k->ops.filter_delete(k->ops.ctx, AGENT_KERNEL_NFT_TABLE)) == 0)
        log_warn("policy", "deleted the nftables table %s left by an earlier run",
                 AGENT_KERNEL_NFT_TABLE);
    agentpq_config_from_env(&pqcfg);
    struct agentpq_kernel_ops kops = {k->ops.device_get, k->ops.device_set, k->ops.ctx};
    if ((ret = agentpq_wgkernel_new(a->tun, &pqcfg, &kops, &k->pq)))
        return ret;
    engine_device_base(a, &cfg);
    snprintf(cfg.ifname, sizeof(cfg.ifname), "%s", a->tun);
    ret = agentpq_wgkernel_apply(k->pq, &cfg);
    sodium_memzero(cfg.private_key, 32);
    if (ret) {
        log_error("daemon", "WireGuard listen port %u on %s: %s", a->listen_port, a->tun,
                  strerror(-ret));
        return ret;
    }
    if ((ret = k->ops.link_set_up(k->ops.ctx, a->tun, true)))
        log_warn("daemon", "cannot set %s up: %s", a->tun, strerror(-ret));
    if ((ret = k->ops.addr4(k->ops.ctx, a->tun, k->stub, 32, false)))
        log_warn("dns", "cannot add %s/32 to %s: %s", AGENT_DNS_IP, a->tun, strerror(-ret));
    /* the first tick binds the exchange socket on the listen port + 1 */
    if ((ret = agentpq_wgkernel_tick(k->pq)))
        log_warn("pq", "%s: %s", a->tun, strerror(-ret));
    pq_sync_fd(a);
    k->pq_next_ms = agent_now_ms() + AGENTPQ_TICK_MS;
    stub_open(a);
#ifdef ZTNA_HAVE_NFTFILTER
    k->nflog.fn = nflog_ready;
    if ((k->nflog.fd = nft_denials_open(AGENT_KERNEL_NFLOG_GROUP)) < 0) {
        log_warn("policy", "NFLOG group %u: %s: denials are not counted", AGENT_KERNEL_NFLOG_GROUP,
                 strerror(-k->nflog.fd));
        k->nflog.fd = -1;
    } else if (loop_add(a, &k->nflog, EPOLLIN)) {
        log_warn("policy", "NFLOG socket not in the loop: %s", strerror(errno));
    }
#endif
    return 0;
}

static void close_src(struct agent *a, struct loop_src *s)
{
    if (s->fd < 0)
        return;
    if (a->epfd >= 0)
        loop_del(a, s);
    close(s->fd);
    s->fd = -1;
}

void kengine_fini(struct agent *a)
{
    struct kengine *k = a->kern;
    int ret;
    if (!k)
        return;
    for (size_t i = 0; i < AGENT_KERNEL_DNS_TCP_MAX; i++)
        if (k->conns[i])
            tcp_close(a, k->conns[i]);
    close_src(a, &k->udp);
    close_src(a, &k->tcp);
#ifdef ZTNA_HAVE_NFTFILTER
    if (k->nflog.fd >= 0) {
        if (a->epfd >= 0)
            loop_del(a, &k->nflog);
        nft_denials_close(k->nflog.fd);
    }
#endif
    if (k->table_installed && (ret = k->ops.filter_delete(k->ops.ctx, AGENT_KERNEL_NFT_TABLE)))
        log_warn("policy", "cannot delete the nftables table %s: %s", AGENT_KERNEL_NFT_TABLE,
                 strerror(-ret));
    if (k->pq_src.fd >= 0 && a->epfd >= 0)
        loop_del(a, &k->pq_src);
    agentpq_wgkernel_free(k->pq); /* closes the exchange socket */
    if (k->link_created && (ret = k->ops.link_delete(k->ops.ctx, a->tun)))
        log_warn("daemon", "cannot delete %s: %s", a->tun, strerror(-ret));
    free(k->installed);
    free(k);
    a->kern = NULL;
}

/* --- the netmap ----------------------------------------------------------------------------- */

void kengine_apply(struct agent *a, const struct wg_device_config *cfg, const struct netmap *next)
{
    struct kengine *k = a->kern;
    struct agentpq *pq = agentpq_wgkernel_pq(k->pq);
    struct wg_device_config c = *cfg;
    uint64_t now = agentpq_now_ms();
    int ret;
    /* classical-allowed peers go in as configured (no PSK, routed); every other one waits for
     * its PQ PSK with no allowed IPs (agentpq_wgkernel_apply) */
    for (size_t i = 0; next && i < next->n_peers; i++) {
        const struct nm_node *p = &next->peers[i];
        if (agentpq_classical_get(pq, p->wg_key) != p->classical)
            agentpq_classical_set(pq, p->wg_key, p->classical, now);
    }
    snprintf(c.ifname, sizeof(c.ifname), "%s", a->tun);
    if ((ret = agentpq_wgkernel_apply(k->pq, &c)))
        log_error("daemon", "applying map version %lld to %s: %s",
                  next ? (long long)next->version : 0LL, a->tun, strerror(-ret));
    pq_sync_fd(a);
}

void kengine_clear(struct agent *a)
{
    struct wg_device_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.flags = WG_DEVICE_REPLACE_PEERS;
    kengine_apply(a, &cfg, NULL);
}

static bool same_entries(const struct kengine *k, const struct filter_entry *e, size_t n)
{
    return k->table_installed && !k->installed_deny_all && k->n_installed == n &&
           (!n || !memcmp(k->installed, e, n * sizeof(*e)));
}

/* The link back up once a filter (or none) is in force after a failure. */
static void policy_up(struct agent *a)
{
    struct kengine *k = a->kern;
    int ret;
    if (!k->policy_down)
        return;
    if ((ret = k->ops.link_set_up(k->ops.ctx, a->tun, true)))
        log_error("policy", "cannot set %s up again: %s", a->tun, strerror(-ret));
    else
        log_info("policy", "%s up again: the filter is in", a->tun);
    k->policy_down = ret != 0;
}

int kengine_set_filter(struct agent *a, const struct netmap *nm)
{
    struct kengine *k = a->kern;
    bool on = nm && nm->has_filter;
    int ret = 0;
    if (!on) { /* null filter: everything allowed, as the userspace gate when off */
        if (k->table_installed && (ret = k->ops.filter_delete(k->ops.ctx, AGENT_KERNEL_NFT_TABLE)))
            log_error("policy", "cannot delete the nftables table %s: %s", AGENT_KERNEL_NFT_TABLE,
                      strerror(-ret));
        if (!ret)
            k->table_installed = false;
        policy_up(a);
        return ret;
    }
    /* the userspace gate denies all when the filter cannot be built: so does this */
    bool builds = !a->filter_on || a->filter || !nm->n_filter;
    const struct filter_entry *e = builds ? nm->filter : NULL;
    size_t n = builds ? nm->n_filter : 0;
    if (same_entries(k, e, n))
        return 0;
    ret = k->ops.filter_apply(k->ops.ctx, AGENT_KERNEL_NFT_TABLE, a->tun, e, n);
    if (ret && n) {
        log_error("policy", "cannot install the filter of map %lld in nftables: %s; denying all "
                  "inbound", (long long)nm->version, strerror(-ret));
        n = 0;
        ret = k->ops.filter_apply(k->ops.ctx, AGENT_KERNEL_NFT_TABLE, a->tun, NULL, 0);
    }
    if (ret) { /* fail closed: no traffic at all rather than traffic the policy does not allow */
        log_error("policy", "cannot install the nftables table %s on %s: %s; %s down until a "
                  "filter is in", AGENT_KERNEL_NFT_TABLE, a->tun, strerror(-ret), a->tun);
        int r2 = k->ops.link_set_up(k->ops.ctx, a->tun, false);
        if (r2)
            log_error("policy", "cannot set %s down: %s", a->tun, strerror(-r2));
        k->policy_down = true;
        return ret;
    }
    policy_up(a);
    k->table_installed = true;
    k->installed_deny_all = !builds || (n == 0 && nm->n_filter);
    free(k->installed);
    k->installed = n ? malloc(n * sizeof(*e)) : NULL;
    k->n_installed = k->installed ? n : 0;
    if (k->installed)
        memcpy(k->installed, e, n * sizeof(*e));
    return 0;
}

/* --- the loop ------------------------------------------------------------------------------- */

void kengine_tick(struct agent *a)
{
    struct kengine *k = a->kern;
    uint64_t now = agent_now_ms();
    int ret;
    if (now >= k->pq_next_ms) {
        k->pq_next_ms = now + AGENTPQ_TICK_MS;
        if ((ret = agentpq_wgkernel_tick(k->pq)))
            log_debug("pq", "%s: %s", a->tun, strerror(-ret));
        pq_sync_fd(a);
    }
    for (size_t i = 0; i < AGENT_KERNEL_DNS_TCP_MAX; i++)
        if (k->conns[i] && now - k->conns[i]->last_ms > AGENT_KERNEL_DNS_TCP_IDLE_MS)
            tcp_close(a, k->conns[i]);
}

int kengine_device_get(struct agent *a, struct wg_device_config **out)
{
    *out = NULL;
    return a->kern->ops.device_get(a->kern->ops.ctx, a->tun, out);
}

struct agentpq *kengine_pq(struct agent *a)
{
    return agentpq_wgkernel_pq(a->kern->pq);
}

void kengine_stop(void)
{
    uint64_t one = 1;
    g_stop_req = 1;
    if (g_stop_fd >= 0 && write(g_stop_fd, &one, sizeof(one)) < 0)
        return;
}

int kengine_run(struct agent *a, void (*tick)(void *ctx, struct wg_device *dev))
{
    uint64_t next = agent_now_ms() + AGENT_TICK_MS;
    g_stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (g_stop_fd < 0)
        return -errno;
    while (!g_stop_req) {
        struct pollfd p[2] = {{.fd = a->epfd, .events = POLLIN},
                              {.fd = g_stop_fd, .events = POLLIN}};
        uint64_t now = agent_now_ms();
        int r = poll(p, 2, next > now ? (int)(next - now) : 0);
        if (r < 0 && errno != EINTR)
            break;
        if (r > 0 && p[1].revents)
            break;
        if (r > 0 && (p[0].revents & POLLIN))
            loop_dispatch(a);
        now = agent_now_ms();
        if (now >= next) {
            next = now + AGENT_TICK_MS;
            kengine_tick(a);
            tick(a, NULL);
        }
    }
    int fd = g_stop_fd;
    g_stop_fd = -1;
    close(fd);
    return 0;
}
