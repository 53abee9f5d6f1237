/* The data path. TUN -> UDP: read a batch of packets, route each by destination through the
 * allowed-IPs trie, seal it in place behind a 16-byte header room, send the batch with one
 * sendmmsg per socket. UDP -> TUN: recvmmsg a batch, open each data message in place, check the
 * inner source against the peer's allowed IPs, write it to the TUN. Buffers are allocated once
 * per device (no per-packet allocation). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent/wg/wgdev.h"
#include "common/log.h"
#include "common/wg/messages.h"

#define SLOT (WG_MSG_DATA_HEADER_SIZE + WGDEV_MAX_PACKET + 1 + 2 * WG_AEAD_TAG_SIZE)

struct wgd_io {
    uint8_t *tx, *rx, *scratch; /* mmap'd: untouched pages cost no memory */
    size_t map_len;
    struct mmsghdr tx_msgs[WGDEV_BATCH], rx_msgs[WGDEV_BATCH];
    struct iovec tx_iov[WGDEV_BATCH], rx_iov[WGDEV_BATCH];
    union wgd_addr rx_addr[WGDEV_BATCH];
    int tx_fd[WGDEV_BATCH];
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

static void flush_tx(struct wg_device *dev, unsigned n)
{
    struct wgd_io *io = dev->io;
    unsigned start = 0;
    /* one sendmmsg per run of packets on the same socket */
    while (start < n) {
        unsigned end = start + 1;
        while (end < n && io->tx_fd[end] == io->tx_fd[start])
            end++;
        unsigned off = start;
        for (int tries = 0; off < end && tries < 8; tries++) {
            int r = sendmmsg(io->tx_fd[start], io->tx_msgs + off, end - off, 0);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                off++; /* drop the packet the kernel refused (unreachable, ...) */
                continue;
            }
            off += (unsigned)r;
        }
        start = end;
    }
}

void wgd_data_on_tun(struct wg_device *dev, struct wgd_source *src, uint32_t events)
{
    struct wgd_io *io = dev->io;
    (void)events;
    for (int round = 0; round < 8; round++) {
        unsigned n = 0;
        bool again = true;
        uint64_t now = wgd_now_ns();
        struct wgd_peer *last = NULL;
        while (n < WGDEV_BATCH) {
            uint8_t *slot = io->tx + (size_t)n * SLOT;
            ssize_t r = read(src->fd, slot + WG_MSG_DATA_HEADER_SIZE, WGDEV_MAX_PACKET);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                again = false;
                break;
            }
            struct wgd_peer *peer = route(dev, slot + WG_MSG_DATA_HEADER_SIZE, (size_t)r);
            if (!peer || peer->blocked)
                continue;
            struct wgd_keypair *k = peer->kp_cur;
            if (!keypair_usable(dev, k, now) || !peer->endpoint_len || peer->staged_n) {
                wgd_peer_stage(peer, slot + WG_MSG_DATA_HEADER_SIZE, (size_t)r);
                wgd_send_staged(peer, false);
                continue;
            }
            size_t out_len;
            if (wg_keypair_seal(&k->kp, slot + WG_MSG_DATA_HEADER_SIZE, (size_t)r, dev->mtu, slot,
                                SLOT, &out_len, now)) {
                wgd_peer_stage(peer, slot + WG_MSG_DATA_HEADER_SIZE, (size_t)r);
                wgd_handshake_send_initiation(peer, false);
                continue;
            }
            io->tx_iov[n].iov_base = slot;
            io->tx_iov[n].iov_len = out_len;
            io->tx_msgs[n].msg_hdr.msg_name = &peer->endpoint;
            io->tx_msgs[n].msg_hdr.msg_namelen = peer->endpoint_len;
            io->tx_fd[n] = fd_for(dev, peer->endpoint.sa.sa_family);
            peer->tx_bytes += out_len;
            if (peer != last) {
                /* timer bookkeeping once per peer per batch, not per packet */
                wgd_timers_any_authenticated_packet_traversal(peer);
                wgd_timers_any_authenticated_packet_sent(peer);
                wgd_timers_data_sent(peer);
                if (needs_rekey_on_send(dev, k, now))
                    wgd_handshake_send_initiation(peer, false);
                last = peer;
            }
            n++;
        }
        if (n)
            flush_tx(dev, n);
        if (!again)
            break;
    }
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

static void receive_data(struct wg_device *dev, uint8_t *buf, size_t len,
                         const union wgd_addr *from, socklen_t from_len, uint64_t now)
{
    struct wgd_index *e = wgd_index_lookup(dev, wg_get_le32(buf + 4));
    size_t plen;
    if (!e || !e->kp)
        return;
    struct wgd_keypair *k = e->kp;
    struct wgd_peer *peer = e->peer;
    if (wg_keypair_open(&k->kp, buf, len, buf + WG_MSG_DATA_HEADER_SIZE, SLOT, &plen, NULL, now))
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
    wgd_timers_data_received(peer);
    if (write(dev->tun_src.fd, buf + WG_MSG_DATA_HEADER_SIZE, tot) < 0 && errno != EAGAIN)
        log_debug("wg", "%s: tun write: %d", dev->ifname, -errno);
}

static void receive_ext(struct wg_device *dev, const uint8_t *buf, size_t len,
                        const union wgd_addr *from, socklen_t from_len)
{
    if (!dev->ext_fn)
        return;
    struct wgd_peer *peer = wgd_peer_by_endpoint(dev, &from->sa);
    dev->ext_fn(dev->ext_ctx, dev, peer ? peer->public_key : NULL, &from->sa, from_len, buf, len);
}

void wgd_data_on_udp(struct wg_device *dev, struct wgd_source *src, uint32_t events)
{
    struct wgd_io *io = dev->io;
    (void)events;
    for (int round = 0; round < 8; round++) {
        for (unsigned i = 0; i < WGDEV_BATCH; i++) {
            io->rx_msgs[i].msg_hdr.msg_name = &io->rx_addr[i];
            io->rx_msgs[i].msg_hdr.msg_namelen = sizeof(io->rx_addr[i]);
        }
        int n = recvmmsg(src->fd, io->rx_msgs, WGDEV_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        uint64_t now = wgd_now_ns();
        for (int i = 0; i < n; i++) {
            uint8_t *buf = io->rx + (size_t)i * SLOT;
            size_t len = io->rx_msgs[i].msg_len;
            socklen_t fl = io->rx_msgs[i].msg_hdr.msg_namelen;
            if (len == 0 || io->rx_msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
                continue;
            if (buf[0] >= 0x10) {
                receive_ext(dev, buf, len, &io->rx_addr[i], fl);
                continue;
            }
            uint8_t type = wg_msg_type(buf, len);
            if (type == WG_MSG_DATA)
                receive_data(dev, buf, len, &io->rx_addr[i], fl, now);
            else if (type)
                wgd_handshake_receive(dev, buf, len, &io->rx_addr[i], fl);
        }
        if (n < WGDEV_BATCH)
            return;
    }
}
