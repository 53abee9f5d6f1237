/* The data path. TUN -> UDP: read a batch of packets, route each by destination through the
 * allowed-IPs trie, seal it in place behind a 16-byte header room, send the batch with one
 * sendmmsg per socket. UDP -> TUN: recvmmsg a batch, open each data message in place, check the
 * inner source against the peer's allowed IPs, write it to the TUN. Buffers are allocated once
 * per device (no per-packet allocation). Each direction has its own thread; the AEAD work runs
 * outside the device lock on copies of the keys, with counters reserved under it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <netinet/udp.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent/wg/wgdev.h"
#include "common/crypto/chacha20poly1305.h"
#include "common/log.h"
#include "common/wg/messages.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

#define RX_SEGS (WGDEV_BATCH * 64) /* UDP GRO coalesces at most 64 datagrams */
#define SLOT (WG_MSG_DATA_HEADER_SIZE + WGDEV_MAX_PACKET + 1 + 2 * WG_AEAD_TAG_SIZE)

struct wgd_io {
    uint8_t *tx, *rx, *scratch; /* mmap'd: untouched pages cost no memory */
    size_t map_len;
    /* TX thread */
    struct mmsghdr tx_msgs[WGDEV_BATCH];
    struct iovec tx_iov[WGDEV_BATCH];
    union wgd_addr tx_addr[WGDEV_BATCH];
    size_t tx_len[WGDEV_BATCH], tx_plen[WGDEV_BATCH];
    uint64_t tx_ctr[WGDEV_BATCH];
    uint8_t tx_key[WGDEV_BATCH][WG_KEY_SIZE];
    int tx_fd[WGDEV_BATCH];
    int tx_fd4, tx_fd6;
    unsigned tx_gen;
    bool gso_off;
    /* RX thread */
    struct mmsghdr rx_msgs[WGDEV_BATCH];
    struct iovec rx_iov[WGDEV_BATCH];
    union wgd_addr rx_addr[WGDEV_BATCH];
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } rx_ctrl[WGDEV_BATCH];
    /* per datagram (segment): with UDP_GRO one received entry holds up to 64 of them */
    uint8_t *rx_seg[RX_SEGS];
    size_t rx_seglen[RX_SEGS];
    uint8_t rx_from[RX_SEGS];
    uint8_t rx_key[RX_SEGS][WG_KEY_SIZE];
    struct wgd_keypair *rx_kp[RX_SEGS];
    uint8_t rx_state[RX_SEGS];
    size_t rx_wlen[RX_SEGS];
    int rx_fd4, rx_fd6;
    unsigned rx_gen;
};

int wgd_io_init(struct wg_device *dev)
{
    struct wgd_io *io = calloc(1, sizeof(*io));
    if (!io)
        return -ENOMEM;
    io->map_len = (2 * WGDEV_BATCH + 1) * (size_t)SLOT;
    void *m = mmap(NULL, io->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        free(io);
        return -ENOMEM;
    }
    io->tx = m;
    io->rx = io->tx + WGDEV_BATCH * (size_t)SLOT;
    io->scratch = io->rx + WGDEV_BATCH * (size_t)SLOT;
    for (size_t i = 0; i < WGDEV_BATCH; i++) {
        io->rx_iov[i].iov_base = io->rx + i * SLOT;
        io->rx_iov[i].iov_len = SLOT;
        io->rx_msgs[i].msg_hdr.msg_iov = &io->rx_iov[i];
        io->rx_msgs[i].msg_hdr.msg_iovlen = 1;
        io->tx_msgs[i].msg_hdr.msg_iov = &io->tx_iov[i];
        io->tx_msgs[i].msg_hdr.msg_iovlen = 1;
    }
    io->tx_fd4 = io->tx_fd6 = io->rx_fd4 = io->rx_fd6 = -2; /* -2: not yet duplicated */
    dev->io = io;
    return 0;
}

void wgd_io_free(struct wg_device *dev)
{
    struct wgd_io *io = dev->io;
    if (!io)
        return;
    /* plaintext passed through these buffers */
    explicit_bzero(io->tx, io->map_len);
    munmap(io->tx, io->map_len);
    free(io);
    dev->io = NULL;
}

static int fd_for(const struct wg_device *dev, int family)
{
    return family == AF_INET6 ? dev->udp6_src.fd : dev->udp4_src.fd;
}

int wgd_send_to(struct wg_device *dev, const union wgd_addr *to, socklen_t to_len,
                const uint8_t *buf, size_t len)
{
    int fd = fd_for(dev, to->sa.sa_family);
    if (fd < 0)
        return -ENETUNREACH;
    if (sendto(fd, buf, len, 0, &to->sa, to_len) < 0)
        return -errno;
    return 0;
}

int wgd_send_to_peer(struct wgd_peer *peer, const uint8_t *buf, size_t len)
{
    if (!peer->endpoint_len)
        return -EDESTADDRREQ;
    int ret = wgd_send_to(peer->dev, &peer->endpoint, peer->endpoint_len, buf, len);
    if (!ret)
        peer->tx_bytes += len;
    return ret;
}

static bool keypair_usable(const struct wg_device *dev, const struct wgd_keypair *k, uint64_t now)
{
    return k && k->kp.valid && !wg_keypair_is_expired(&k->kp, now);
}

static bool needs_rekey_on_send(const struct wg_device *dev, const struct wgd_keypair *k,
                                uint64_t now)
{
    return k->kp.send_counter > WG_REKEY_AFTER_MESSAGES ||
           (k->kp.is_initiator && now - k->kp.birth_ns >= dev->rekey_after_ns);
}

/* Seals one packet (already at buf + 16) and sends it; for the slow paths (staged, keepalive). */
static int seal_send_one(struct wgd_peer *peer, uint8_t *buf, size_t plain_len, uint64_t now)
{
    struct wgd_keypair *k = peer->kp_cur;
    size_t out_len;
    int ret = wg_keypair_seal(&k->kp, buf + WG_MSG_DATA_HEADER_SIZE, plain_len, peer->dev->mtu,
                              buf, SLOT, &out_len, now);
    if (ret)
        return ret;
    ret = wgd_send_to_peer(peer, buf, out_len);
    wgd_timers_any_authenticated_packet_traversal(peer);
    wgd_timers_any_authenticated_packet_sent(peer);
    if (plain_len)
        wgd_timers_data_sent(peer);
    return ret;
}

void wgd_send_staged(struct wgd_peer *peer, bool want_keepalive)
{
    struct wg_device *dev = peer->dev;
    uint64_t now = wgd_now_ns();
    if (!keypair_usable(dev, peer->kp_cur, now) || !peer->endpoint_len) {
        if (peer->staged_n || want_keepalive)
            wgd_handshake_send_initiation(peer, false);
        return;
    }
    if (!peer->staged_n) {
        if (want_keepalive)
            seal_send_one(peer, dev->io->scratch, 0, now);
        return;
    }
    while (peer->staged_n) {
        struct wgd_staged *s = peer->staged[peer->staged_head];
        peer->staged[peer->staged_head] = NULL;
        peer->staged_head = (peer->staged_head + 1) % WGDEV_STAGED_MAX;
        peer->staged_n--;
        memcpy(dev->io->scratch + WG_MSG_DATA_HEADER_SIZE, s->data, s->len);
        size_t l = s->len;
        free(s);
        if (!peer->blocked)
            seal_send_one(peer, dev->io->scratch, l, now);
    }
    if (needs_rekey_on_send(dev, peer->kp_cur, now))
        wgd_handshake_send_initiation(peer, false);
}

void wgd_send_keepalive(struct wgd_peer *peer)
{
    wgd_send_staged(peer, true);
}

static struct wgd_peer *route(struct wg_device *dev, const uint8_t *pkt, size_t len)
{
    if (len >= 20 && pkt[0] >> 4 == 4)
        return wg_allowedips_lookup(&dev->aips, AF_INET, pkt + 16);
    if (len >= 40 && pkt[0] >> 4 == 6)
        return wg_allowedips_lookup(&dev->aips, AF_INET6, pkt + 24);
    return NULL;
}

/* UDP GSO: a run of equal-size datagrams to one endpoint leaves in one sendmsg; the kernel
 * segments it (in software if need be), saving most of the per-packet cost of the UDP stack. */
static int send_gso(struct wgd_io *io, unsigned i, unsigned cnt, size_t seg)
{
    union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } ctrl;
    memset(&ctrl, 0, sizeof(ctrl));
    struct msghdr mh = {.msg_name = &io->tx_addr[i],
                        .msg_namelen = io->tx_msgs[i].msg_hdr.msg_namelen,
                        .msg_iov = &io->tx_iov[i],
                        .msg_iovlen = cnt,
                        .msg_control = ctrl.buf,
                        .msg_controllen = sizeof(ctrl.buf)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    uint16_t s = (uint16_t)seg;
    cm->cmsg_level = SOL_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(s));
    memcpy(CMSG_DATA(cm), &s, sizeof(s));
    for (int tries = 0; tries < 4; tries++) {
        if (sendmsg(io->tx_fd[i], &mh, 0) >= 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT || errno == EOPNOTSUPP) {
            io->gso_off = true; /* not supported here: plain sendmmsg from now on */
            return -errno;
        }
        return 0; /* dropped (ENOBUFS, unreachable, ...) like any lost datagram */
    }
    return 0;
}

static void send_mmsg(struct wgd_io *io, unsigned start, unsigned end)
{
    unsigned off = start;
    for (int tries = 0; off < end && tries < 8; tries++) {
        int r = io->tx_fd[start] < 0 ? -1 : sendmmsg(io->tx_fd[start], io->tx_msgs + off, end - off, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            off++; /* drop the packet the kernel refused (unreachable, ...) */
            continue;
        }
        off += (unsigned)r;
    }
}

static bool same_dest(const struct wgd_io *io, unsigned a, unsigned b)
{
    return io->tx_fd[a] == io->tx_fd[b] &&
           io->tx_msgs[a].msg_hdr.msg_namelen == io->tx_msgs[b].msg_hdr.msg_namelen &&
           !memcmp(&io->tx_addr[a], &io->tx_addr[b], io->tx_msgs[a].msg_hdr.msg_namelen);
}

static void flush_tx(struct wgd_io *io, unsigned n)
{
    unsigned i = 0;
    while (i < n) {
        unsigned j = i + 1;
        size_t seg = io->tx_iov[i].iov_len, total = seg;
        if (!io->gso_off && io->tx_fd[i] >= 0) {
            /* equal sizes; only the last segment may be shorter */
            while (j < n && j - i < WGDEV_GSO_SEGMENTS && same_dest(io, i, j) &&
                   io->tx_iov[j].iov_len <= seg && total + io->tx_iov[j].iov_len <= WGDEV_GSO_BYTES) {
                total += io->tx_iov[j].iov_len;
                if (io->tx_iov[j++].iov_len < seg)
                    break;
            }
            if (j - i >= 2 && send_gso(io, i, j - i, seg) == 0) {
                i = j;
                continue;
            }
        }
        j = i + 1;
        while (j < n && io->tx_fd[j] == io->tx_fd[i])
            j++;
        send_mmsg(io, i, j);
        i = j;
    }
}

/* Keeps the data thread's own duplicates of the UDP sockets current (under dev->lock), so that
 * a listen-port change never closes an fd a data thread is using. */
static void refresh_fds(struct wg_device *dev, unsigned *gen, int *fd4, int *fd6)
{
    if (*gen == dev->sock_gen && *fd4 != -2)
        return;
    if (*fd4 >= 0)
        close(*fd4);
    if (*fd6 >= 0)
        close(*fd6);
    *fd4 = dev->udp4_src.fd >= 0 ? fcntl(dev->udp4_src.fd, F_DUPFD_CLOEXEC, 0) : -1;
    *fd6 = dev->udp6_src.fd >= 0 ? fcntl(dev->udp6_src.fd, F_DUPFD_CLOEXEC, 0) : -1;
    *gen = dev->sock_gen;
}

/* Phase 1 of TX, under the lock: route, pick the keypair, reserve the counters, copy the keys. */
static unsigned tx_prepare(struct wg_device *dev, unsigned n)
{
    struct wgd_io *io = dev->io;
    struct wgd_peer *last = NULL;
    uint64_t now = wgd_now_ns();
    unsigned m = 0;
    refresh_fds(dev, &io->tx_gen, &io->tx_fd4, &io->tx_fd6);
    for (unsigned i = 0; i < n; i++) {
        uint8_t *slot = io->tx + (size_t)i * SLOT;
        uint8_t *pkt = slot + WG_MSG_DATA_HEADER_SIZE;
        size_t len = io->tx_len[i];
        if (dev->pkt_rd && dev->pkt_rd(dev->pkt_ctx, pkt, len))
            continue;
        struct wgd_peer *peer = route(dev, pkt, len);
        if (!peer || peer->blocked)
            continue;
        struct wgd_keypair *k = peer->kp_cur;
        if (!keypair_usable(dev, k, now) || !peer->endpoint_len || peer->staged_n ||
            k->kp.send_counter >= WG_REJECT_AFTER_MESSAGES) {
            wgd_peer_stage(peer, pkt, len);
            wgd_send_staged(peer, false);
            continue;
        }
        size_t plen = wg_keypair_padded_len(len, dev->mtu);
        memset(pkt + len, 0, plen - len);
        io->tx_ctr[m] = k->kp.send_counter++;
        wg_msg_data_header_write(slot, k->kp.remote_index, io->tx_ctr[m]);
        memcpy(io->tx_key[m], k->kp.send_key, WG_KEY_SIZE);
        memcpy(&io->tx_addr[m], &peer->endpoint, peer->endpoint_len);
        io->tx_plen[m] = plen;
        io->tx_iov[m].iov_base = slot;
        io->tx_iov[m].iov_len = WG_MSG_DATA_HEADER_SIZE + plen + WG_AEAD_TAG_SIZE;
        io->tx_msgs[m].msg_hdr.msg_name = &io->tx_addr[m];
        io->tx_msgs[m].msg_hdr.msg_namelen = peer->endpoint_len;
        io->tx_fd[m] = peer->endpoint.sa.sa_family == AF_INET6 ? io->tx_fd6 : io->tx_fd4;
        peer->tx_bytes += io->tx_iov[m].iov_len;
        if (peer != last) {
            /* timer bookkeeping once per peer per batch, not per packet */
            wgd_timers_any_authenticated_packet_traversal(peer);
            wgd_timers_any_authenticated_packet_sent(peer);
            wgd_timers_data_sent(peer);
            if (needs_rekey_on_send(dev, k, now))
                wgd_handshake_send_initiation(peer, false);
            last = peer;
        }
        m++;
    }
    return m;
}

static void *tx_main(void *arg)
{
    struct wg_device *dev = arg;
    struct wgd_io *io = dev->io;
    struct pollfd pfd[2] = {{.fd = dev->tun_src.fd, .events = POLLIN},
                            {.fd = dev->stop_fd, .events = POLLIN}};
    while (!__atomic_load_n(&dev->stopping, __ATOMIC_RELAXED)) {
        unsigned n = 0;
        while (n < WGDEV_BATCH) {
            uint8_t *slot = io->tx + (size_t)n * SLOT;
            ssize_t r = read(dev->tun_src.fd, slot + WG_MSG_DATA_HEADER_SIZE, WGDEV_MAX_PACKET);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0 && errno != EAGAIN) {
                /* the interface is gone (deleted): stop like wireguard-go does */
                log_error("wg", "%s: tun read: %s, stopping", dev->ifname, strerror(errno));
                wg_device_stop(dev);
                return NULL;
            }
            if (r <= 0)
                break;
            io->tx_len[n++] = (size_t)r;
        }
        if (!n) {
            if (poll(pfd, 2, -1) > 0 && (pfd[1].revents & POLLIN))
                break;
            if (pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
                log_error("wg", "%s: tun device closed, stopping", dev->ifname);
                wg_device_stop(dev);
                return NULL;
            }
            continue;
        }
        pthread_mutex_lock(&dev->lock);
        unsigned m = tx_prepare(dev, n);
        pthread_mutex_unlock(&dev->lock);
        for (unsigned j = 0; j < m; j++) {
            uint8_t nonce[CHACHA20POLY1305_NONCE_SIZE];
            uint8_t *p = (uint8_t *)io->tx_iov[j].iov_base + WG_MSG_DATA_HEADER_SIZE;
            chacha20poly1305_nonce_from_counter(nonce, io->tx_ctr[j]);
            chacha20poly1305_seal(p, p, io->tx_plen[j], NULL, 0, nonce, io->tx_key[j]);
        }
        if (m) {
            flush_tx(io, m);
            sodium_memzero(io->tx_key, sizeof(io->tx_key[0]) * m);
        }
    }
    return NULL;
}

/* Length of the IP packet at p (padded plaintext of plen bytes) and its source address. */
static size_t inner_packet(const uint8_t *p, size_t plen, int *family, const uint8_t **src)
{
    size_t tot;
    if (plen >= 20 && p[0] >> 4 == 4) {
        tot = (size_t)p[2] << 8 | p[3];
        *family = AF_INET;
        *src = p + 12;
        return tot >= 20 && tot <= plen ? tot : 0;
    }
    if (plen >= 40 && p[0] >> 4 == 6) {
        tot = 40 + ((size_t)p[4] << 8 | p[5]);
        *family = AF_INET6;
        *src = p + 8;
        return tot <= plen ? tot : 0;
    }
    return 0;
}

enum { RX_DROP, RX_DECRYPT, RX_OTHER, RX_WRITE };

/* Phase 1 of RX for a data message, under the lock: find the keypair, pre-check the counter. */
static void rx_classify(struct wg_device *dev, unsigned i, const uint8_t *buf, size_t len, uint64_t now)
{
    struct wgd_io *io = dev->io;
    struct wgd_index *e = wgd_index_lookup(dev, wg_get_le32(buf + 4));
    io->rx_state[i] = RX_DROP;
    if (!e || !e->kp || !e->kp->kp.valid || now - e->kp->kp.birth_ns >= dev->reject_after_ns)
        return;
    uint64_t ctr = (uint64_t)wg_get_le32(buf + 8) | (uint64_t)wg_get_le32(buf + 12) << 32;
    if (!wg_replay_check(&e->kp->kp.replay, ctr))
        return;
    memcpy(io->rx_key[i], e->kp->kp.recv_key, WG_KEY_SIZE);
    io->rx_kp[i] = e->kp;
    io->rx_state[i] = RX_DECRYPT;
}

/* Phase 3 of RX for an authenticated data message, under the lock (kernel receive.c). */
static void rx_finish(struct wg_device *dev, unsigned i, uint8_t *buf, size_t len,
                      const union wgd_addr *from, socklen_t from_len, uint64_t now)
{
    struct wgd_io *io = dev->io;
    struct wgd_index *e = wgd_index_lookup(dev, wg_get_le32(buf + 4));
    size_t plen = len - WG_MSG_DATA_MIN_SIZE;
    uint64_t ctr = (uint64_t)wg_get_le32(buf + 8) | (uint64_t)wg_get_le32(buf + 12) << 32;
    io->rx_state[i] = RX_DROP;
    /* the keypair may have been replaced while we decrypted without the lock */
    if (!e || e->kp != io->rx_kp[i] || sodium_memcmp(e->kp->kp.recv_key, io->rx_key[i], WG_KEY_SIZE))
        return;
    struct wgd_keypair *k = e->kp;
    struct wgd_peer *peer = e->peer;
    if (!wg_replay_update(&k->kp.replay, ctr))
        return;
    if (k == peer->kp_next) {
        /* the initiator used the new session: it is confirmed (kernel received_with_keypair) */
        wgd_keypair_free(dev, peer->kp_prev);
        peer->kp_prev = peer->kp_cur;
        peer->kp_cur = k;
        peer->kp_next = NULL;
        wgd_timers_handshake_complete(peer);
        wgd_send_staged(peer, false);
    }
    wgd_peer_set_endpoint(peer, &from->sa, from_len);
    peer->rx_bytes += len;
    wgd_timers_any_authenticated_packet_received(peer);
    wgd_timers_any_authenticated_packet_traversal(peer);
    if (peer->kp_cur == k && k->kp.is_initiator && !peer->sent_lastminute_handshake &&
        now - k->kp.birth_ns >= dev->reject_after_ns -
                                    (WG_KEEPALIVE_TIMEOUT + WG_REKEY_TIMEOUT) * WG_NSEC_PER_SEC) {
        peer->sent_lastminute_handshake = true;
        wgd_handshake_send_initiation(peer, false);
    }
    if (plen == 0)
        return; /* keepalive */
    int family;
    const uint8_t *src;
    size_t tot = inner_packet(buf + WG_MSG_DATA_HEADER_SIZE, plen, &family, &src);
    if (!tot || wg_allowedips_lookup(&dev->aips, family, src) != peer || peer->blocked)
        return;
    if (dev->pkt_wr && !dev->pkt_wr(dev->pkt_ctx, peer->public_key, buf + WG_MSG_DATA_HEADER_SIZE, tot))
        return;
    wgd_timers_data_received(peer);
    io->rx_wlen[i] = tot;
    io->rx_state[i] = RX_WRITE;
}

static void receive_ext(struct wg_device *dev, const uint8_t *buf, size_t len,
                        const union wgd_addr *from, socklen_t from_len)
{
    if (!dev->ext_fn)
        return;
    struct wgd_peer *peer = wgd_peer_by_endpoint(dev, &from->sa);
    dev->ext_fn(dev->ext_ctx, dev, peer ? peer->public_key : NULL, &from->sa, from_len, buf, len);
}

/* Splits the received entries into datagrams: an entry coalesced by UDP_GRO carries its
 * segment size in a cmsg; every segment but the last has exactly that size. */
static unsigned rx_split(struct wgd_io *io, unsigned n)
{
    unsigned ns = 0;
    for (unsigned i = 0; i < n; i++) {
        uint8_t *base = io->rx + (size_t)i * SLOT;
        size_t len = io->rx_msgs[i].msg_len, gso = 0;
        struct msghdr *mh = &io->rx_msgs[i].msg_hdr;
        if (len == 0 || mh->msg_flags & MSG_TRUNC)
            continue;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
            if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO &&
                cm->cmsg_len >= CMSG_LEN(sizeof(int))) {
                int g;
                memcpy(&g, CMSG_DATA(cm), sizeof(g));
                gso = g > 0 ? (size_t)g : 0;
            }
        }
        if (!gso || gso > len)
            gso = len;
        for (size_t off = 0; off < len && ns < RX_SEGS; off += gso) {
            io->rx_seg[ns] = base + off;
            io->rx_seglen[ns] = len - off < gso ? len - off : gso;
            io->rx_from[ns] = (uint8_t)i;
            ns++;
        }
    }
    return ns;
}

static void rx_batch(struct wg_device *dev, unsigned n)
{
    struct wgd_io *io = dev->io;
    uint64_t now = wgd_now_ns();
    unsigned ns = rx_split(io, n);

    pthread_mutex_lock(&dev->lock);
    for (unsigned i = 0; i < ns; i++) {
        uint8_t *buf = io->rx_seg[i];
        size_t len = io->rx_seglen[i];
        if (buf[0] < 0x10 && wg_msg_type(buf, len) == WG_MSG_DATA)
            rx_classify(dev, i, buf, len, now);
        else
            io->rx_state[i] = RX_OTHER;
    }
    pthread_mutex_unlock(&dev->lock);

    for (unsigned i = 0; i < ns; i++) {
        if (io->rx_state[i] != RX_DECRYPT)
            continue;
        uint8_t *buf = io->rx_seg[i];
        size_t len = io->rx_seglen[i];
        uint8_t nonce[CHACHA20POLY1305_NONCE_SIZE];
        uint64_t ctr = (uint64_t)wg_get_le32(buf + 8) | (uint64_t)wg_get_le32(buf + 12) << 32;
        chacha20poly1305_nonce_from_counter(nonce, ctr);
        if (chacha20poly1305_open(buf + WG_MSG_DATA_HEADER_SIZE, buf + WG_MSG_DATA_HEADER_SIZE,
                                  len - WG_MSG_DATA_HEADER_SIZE, NULL, 0, nonce, io->rx_key[i]))
            io->rx_state[i] = RX_DROP;
    }

    pthread_mutex_lock(&dev->lock);
    for (unsigned i = 0; i < ns; i++) {
        uint8_t *buf = io->rx_seg[i];
        size_t len = io->rx_seglen[i];
        unsigned e = io->rx_from[i];
        socklen_t fl = io->rx_msgs[e].msg_hdr.msg_namelen;
        if (io->rx_state[i] == RX_DECRYPT) {
            rx_finish(dev, i, buf, len, &io->rx_addr[e], fl, now);
        } else if (io->rx_state[i] == RX_OTHER) {
            if (buf[0] >= 0x10)
                receive_ext(dev, buf, len, &io->rx_addr[e], fl);
            else if (wg_msg_type(buf, len))
                wgd_handshake_receive(dev, buf, len, &io->rx_addr[e], fl);
        }
    }
    pthread_mutex_unlock(&dev->lock);
    sodium_memzero(io->rx_key, sizeof(io->rx_key[0]) * ns);

    for (unsigned i = 0; i < ns; i++) {
        if (io->rx_state[i] != RX_WRITE)
            continue;
        uint8_t *p = io->rx_seg[i] + WG_MSG_DATA_HEADER_SIZE;
        if (write(dev->tun_src.fd, p, io->rx_wlen[i]) < 0 && errno != EAGAIN)
            log_debug("wg", "%s: tun write: %d", dev->ifname, -errno);
    }
}

static void *rx_main(void *arg)
{
    struct wg_device *dev = arg;
    struct wgd_io *io = dev->io;
    while (!__atomic_load_n(&dev->stopping, __ATOMIC_RELAXED)) {
        pthread_mutex_lock(&dev->lock);
        refresh_fds(dev, &io->rx_gen, &io->rx_fd4, &io->rx_fd6);
        pthread_mutex_unlock(&dev->lock);
        int fds[2] = {io->rx_fd4, io->rx_fd6};
        bool any = false;
        for (int f = 0; f < 2; f++) {
            if (fds[f] < 0)
                continue;
            for (int round = 0; round < 8; round++) {
                for (unsigned i = 0; i < WGDEV_BATCH; i++) {
                    io->rx_msgs[i].msg_hdr.msg_name = &io->rx_addr[i];
                    io->rx_msgs[i].msg_hdr.msg_namelen = sizeof(io->rx_addr[i]);
                    io->rx_msgs[i].msg_hdr.msg_control = io->rx_ctrl[i].buf;
                    io->rx_msgs[i].msg_hdr.msg_controllen = sizeof(io->rx_ctrl[i].buf);
                }
                int n = recvmmsg(fds[f], io->rx_msgs, WGDEV_BATCH, MSG_DONTWAIT, NULL);
                if (n <= 0)
                    break;
                any = true;
                rx_batch(dev, (unsigned)n);
                if (n < WGDEV_BATCH)
                    break;
            }
        }
        if (any)
            continue;
        /* wake_fd brings a listen-port change in at once; the timeout is a backstop */
        struct pollfd pfd[4] = {{.fd = dev->stop_fd, .events = POLLIN},
                                {.fd = io->rx_fd4, .events = POLLIN},
                                {.fd = io->rx_fd6, .events = POLLIN},
                                {.fd = dev->wake_fd, .events = POLLIN}};
        if (poll(pfd, 4, 1000) > 0) {
            if (pfd[0].revents & POLLIN)
                break;
            if (pfd[3].revents & POLLIN) {
                uint64_t v;
                (void)!read(dev->wake_fd, &v, sizeof(v));
            }
        }
    }
    return NULL;
}

int wgd_data_threads_start(struct wg_device *dev)
{
    int ret = pthread_create(&dev->tx_thread, NULL, tx_main, dev);
    if (ret)
        return -ret;
    ret = pthread_create(&dev->rx_thread, NULL, rx_main, dev);
    if (ret) {
        __atomic_store_n(&dev->stopping, true, __ATOMIC_RELAXED);
        wg_device_stop(dev);
        pthread_join(dev->tx_thread, NULL);
        return -ret;
    }
    dev->threads_started = true;
    return 0;
}

void wgd_data_threads_join(struct wg_device *dev)
{
    if (!dev->threads_started)
        return;
    __atomic_store_n(&dev->stopping, true, __ATOMIC_RELAXED);
    wg_device_stop(dev);
    pthread_join(dev->tx_thread, NULL);
    pthread_join(dev->rx_thread, NULL);
    dev->threads_started = false;
    struct wgd_io *io = dev->io;
    int fds[] = {io->tx_fd4, io->tx_fd6, io->rx_fd4, io->rx_fd6};
    for (size_t i = 0; i < 4; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    io->tx_fd4 = io->tx_fd6 = io->rx_fd4 = io->rx_fd6 = -2;
}
