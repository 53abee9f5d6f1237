/* The MagicDNS authority's network side, two threads:
 *   - UDP: blocking recvmmsg (MSG_WAITFORONE) / sendmmsg batches, two system calls per wake-up;
 *     a receive timeout lets it notice a stop.
 *   - TCP: one epoll set with the listener, its connections (RFC 7766: 2-byte length prefix,
 *     several queries per connection, pipelining, idle timeout, bounded connections) and an
 *     eventfd to stop.
 *
 * Snapshot lifetime (hazard pointers, one per thread): a thread publishes in its slot the
 * snapshot it is about to read and re-checks `snap`; it clears the slot before sleeping. A
 * swapper exchanges `snap` and frees the old snapshot once no slot names it. Readers take no
 * lock. */
#include "server/dns/dns_server.h"
#include "server/dns/dns_limits.h"
#include "common/dns/dns_msg.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct tcp_conn {
    int fd;
    bool want_out;          /* registered for EPOLLOUT (output pending) instead of EPOLLIN */
    uint64_t last_ms;
    size_t in_len;
    size_t out_off, out_len;
    uint8_t in[2 + DNS_MSG_MAX];
    uint8_t out[2 + DNS_MSG_MAX];
};

struct dns_server {
    int udp_fd, tcp_fd, ep_fd, stop_fd;
    uint16_t port;
    bool pktinfo;           /* bound to a wildcard address: reply from the address asked */
    pthread_t tcp_thread, udp_thread;
    bool tcp_started, udp_started;
    atomic_bool stopping;
    _Atomic(struct dns_snapshot *) snap;
    _Atomic(struct dns_snapshot *) hazard[2]; /* per thread (HZ_TCP, HZ_UDP); NULL when idle */
    pthread_mutex_t swap_lock;                /* serialises swappers only, never readers */
    unsigned tcp_max_conn, tcp_idle_ms;
    struct tcp_conn **conns;                  /* worker-owned, tcp_max_conn slots */
    /* UDP batch state, worker-owned */
    struct mmsghdr rmsg[DNS_UDP_BATCH], smsg[DNS_UDP_BATCH];
    struct iovec riov[DNS_UDP_BATCH], siov[DNS_UDP_BATCH];
    struct sockaddr_storage peer[DNS_UDP_BATCH];
    union {
        struct cmsghdr align;
        uint8_t b[DNS_UDP_CMSG_BUF];
    } rctl[DNS_UDP_BATCH], sctl[DNS_UDP_BATCH];
    uint8_t rx[DNS_UDP_BATCH][DNS_UDP_RECV_BUF];
    uint8_t tx[DNS_UDP_BATCH][DNS_UDP_ANSWER_MAX];
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

enum { HZ_TCP, HZ_UDP };

static const struct dns_snapshot *snapshot_acquire(struct dns_server *srv, int slot)
{
    struct dns_snapshot *s = atomic_load(&srv->snap);
    for (;;) {
        atomic_store(&srv->hazard[slot], s);
        struct dns_snapshot *again = atomic_load(&srv->snap);
        if (again == s)
            return s;
        s = again;
    }
}

/* --- UDP ------------------------------------------------------------------------------------ */

/* On a wildcard socket the kernel would pick the reply's source address by route, which on a
 * multi-homed host may differ from the address the client asked: echo the destination of the
 * query as the source of the answer (IP_PKTINFO / IPV6_PKTINFO). Returns the control length. */
static size_t reply_cmsg(struct msghdr *rx, uint8_t *out, size_t cap)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(rx); c; c = CMSG_NXTHDR(rx, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
            CMSG_SPACE(sizeof(struct in_pktinfo)) <= cap) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof(pi));
            pi.ipi_spec_dst = pi.ipi_addr;
            pi.ipi_ifindex = 0;
            struct cmsghdr *o = (struct cmsghdr *)out;
            o->cmsg_level = IPPROTO_IP;
            o->cmsg_type = IP_PKTINFO;
            o->cmsg_len = CMSG_LEN(sizeof(pi));
            memcpy(CMSG_DATA(o), &pi, sizeof(pi));
            return CMSG_SPACE(sizeof(pi));
        }
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
            CMSG_SPACE(sizeof(struct in6_pktinfo)) <= cap) {
            struct cmsghdr *o = (struct cmsghdr *)out;
            o->cmsg_level = IPPROTO_IPV6;
            o->cmsg_type = IPV6_PKTINFO;
            o->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
            memcpy(CMSG_DATA(o), CMSG_DATA(c), sizeof(struct in6_pktinfo));
            return CMSG_SPACE(sizeof(struct in6_pktinfo));
        }
    }
    return 0;
}

static void *udp_main(void *arg)
{
    struct dns_server *srv = arg;
    while (!atomic_load(&srv->stopping)) {
        atomic_store(&srv->hazard[HZ_UDP], NULL);
        for (int i = 0; i < DNS_UDP_BATCH; i++) {
            srv->riov[i] = (struct iovec){srv->rx[i], DNS_UDP_RECV_BUF};
            srv->rmsg[i].msg_hdr = (struct msghdr){
                .msg_name = &srv->peer[i], .msg_namelen = sizeof(srv->peer[i]),
                .msg_iov = &srv->riov[i], .msg_iovlen = 1,
                .msg_control = srv->pktinfo ? srv->rctl[i].b : NULL,
                .msg_controllen = srv->pktinfo ? sizeof(srv->rctl[i].b) : 0};
        }
        /* Blocks for the first datagram only, then takes what is already queued. */
        int n = recvmmsg(srv->udp_fd, srv->rmsg, DNS_UDP_BATCH, MSG_WAITFORONE, NULL);
        if (n <= 0) {   /* receive timeout (look at `stopping`), EINTR, or shut down */
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                nanosleep(&(struct timespec){0, 1000000}, NULL);   /* no busy loop on errors */
            continue;
        }
        const struct dns_snapshot *s = snapshot_acquire(srv, HZ_UDP);
        int m = 0;
        for (int i = 0; i < n; i++) {
            size_t len = dns_answer(s, srv->rx[i], srv->rmsg[i].msg_len, srv->tx[m],
                                    DNS_UDP_ANSWER_MAX, false);
            if (!len)
                continue;
            srv->siov[m] = (struct iovec){srv->tx[m], len};
            srv->smsg[m].msg_hdr = (struct msghdr){
                .msg_name = &srv->peer[i], .msg_namelen = srv->rmsg[i].msg_hdr.msg_namelen,
                .msg_iov = &srv->siov[m], .msg_iovlen = 1};
            if (srv->pktinfo) {
                size_t cl = reply_cmsg(&srv->rmsg[i].msg_hdr, srv->sctl[m].b,
                                       sizeof(srv->sctl[m].b));
                srv->smsg[m].msg_hdr.msg_control = cl ? srv->sctl[m].b : NULL;
                srv->smsg[m].msg_hdr.msg_controllen = cl;
            }
            m++;
        }
        for (int sent = 0; sent < m;) {
            int r = sendmmsg(srv->udp_fd, srv->smsg + sent, (unsigned)(m - sent), MSG_DONTWAIT);
            if (r <= 0) {
                if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                    sent++;   /* skip the datagram that failed (e.g. unreachable peer) */
                    continue;
                }
                break;        /* socket buffer full: UDP may drop, the client retries */
            }
            sent += r;
        }
    }
    atomic_store(&srv->hazard[HZ_UDP], NULL);
    return NULL;
}

/* --- TCP ------------------------------------------------------------------------------------ */

static void conn_close(struct dns_server *srv, unsigned slot)
{
    struct tcp_conn *c = srv->conns[slot];
    epoll_ctl(srv->ep_fd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
    srv->conns[slot] = NULL;
}

static void conn_watch(struct dns_server *srv, struct tcp_conn *c, bool want_out)
{
    if (c->want_out == want_out)
        return;
    struct epoll_event ev = {.events = want_out ? EPOLLOUT : EPOLLIN, .data.ptr = c};
    epoll_ctl(srv->ep_fd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want_out;
}

static void tcp_accept(struct dns_server *srv)
{
    for (int k = 0; k < DNS_TCP_MAX_CONN; k++) {
        int fd = accept4(srv->tcp_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        unsigned slot = 0;
        while (slot < srv->tcp_max_conn && srv->conns[slot])
            slot++;
        struct tcp_conn *c = slot < srv->tcp_max_conn ? malloc(sizeof(*c)) : NULL;
        if (!c) {   /* at the bound (or out of memory): refuse by closing */
            close(fd);
            continue;
        }
        c->fd = fd;
        c->want_out = false;
        c->last_ms = now_ms();
        c->in_len = c->out_off = c->out_len = 0;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(srv->ep_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
            continue;
        }
        srv->conns[slot] = c;
    }
}

/* Sends pending output; returns -1 if the connection must close. */
static int conn_flush(struct tcp_conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (w < 0)
            return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
        c->out_off += (size_t)w;
    }
    c->out_off = c->out_len = 0;
    return 0;
}

/* Answers every complete query in the input buffer, one at a time, stopping while a response
 * is still pending on the socket. Returns -1 if the connection must close. */
static int conn_process(const struct dns_snapshot *s, struct tcp_conn *c)
{
    size_t off = 0;
    int rc = 0;
    while (c->out_len == 0 && c->in_len - off >= 2) {
        size_t mlen = (size_t)c->in[off] << 8 | c->in[off + 1];
        if (mlen < DNS_HDR_LEN) {
            rc = -1;
            break;
        }
        if (c->in_len - off < 2 + mlen)
            break;
        size_t alen = dns_answer(s, c->in + off + 2, mlen, c->out + 2, DNS_MSG_MAX, true);
        off += 2 + mlen;
        if (!alen)
            continue;
        c->out[0] = (uint8_t)(alen >> 8);
        c->out[1] = (uint8_t)alen;
        c->out_len = 2 + alen;
        if (conn_flush(c) < 0) {
            rc = -1;
            break;
        }
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    return rc;
}

static void conn_io(struct dns_server *srv, const struct dns_snapshot *s, unsigned slot,
                    uint32_t events)
{
    struct tcp_conn *c = srv->conns[slot];
    c->last_ms = now_ms();
    if ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN))
        goto close;
    if (c->out_len && conn_flush(c) < 0)
        goto close;
    if (c->out_len == 0 && (events & EPOLLIN)) {
        ssize_t r = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            goto close;
        if (r > 0)
            c->in_len += (size_t)r;
    }
    if (conn_process(s, c) < 0)
        goto close;
    conn_watch(srv, c, c->out_len != 0);
    return;
close:
    conn_close(srv, slot);
}

static void tcp_sweep(struct dns_server *srv)
{
    uint64_t now = now_ms();
    for (unsigned i = 0; i < srv->tcp_max_conn; i++)
        if (srv->conns[i] && now - srv->conns[i]->last_ms >= srv->tcp_idle_ms)
            conn_close(srv, i);
}

/* --- Worker --------------------------------------------------------------------------------- */

static void *tcp_main(void *arg)
{
    struct dns_server *srv = arg;
    struct epoll_event evs[64];
    int timeout = srv->tcp_idle_ms / 2 < 1000 ? (int)(srv->tcp_idle_ms / 2) : 1000;
    uint64_t last_sweep = now_ms();

    for (;;) {
        atomic_store(&srv->hazard[HZ_TCP], NULL);
        int n = epoll_wait(srv->ep_fd, evs, 64, timeout > 0 ? timeout : 1);
        const struct dns_snapshot *s = snapshot_acquire(srv, HZ_TCP);
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &srv->stop_fd) {
                atomic_store(&srv->hazard[HZ_TCP], NULL);
                return NULL;
            } else if (p == &srv->tcp_fd) {
                tcp_accept(srv);
            } else {
                for (unsigned k = 0; k < srv->tcp_max_conn; k++)
                    if (srv->conns[k] == p) {
                        conn_io(srv, s, k, evs[i].events);
                        break;
                    }
            }
        }
        if (now_ms() - last_sweep >= (uint64_t)(timeout > 0 ? timeout : 1)) {
            tcp_sweep(srv);
            last_sweep = now_ms();
        }
    }
}

/* --- Lifecycle ------------------------------------------------------------------------------ */

/* "host:port" or "[v6]:port" into a socket address. */
static int addr_parse(const char *addr_port, struct sockaddr_storage *ss, socklen_t *sl)
{
    char host[256];
    const char *colon = strrchr(addr_port, ':');
    if (!colon || colon == addr_port)
        return -EINVAL;
    size_t hl = (size_t)(colon - addr_port);
    const char *h = addr_port;
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= sizeof(host))
        return -EINVAL;
    memcpy(host, h, hl);
    host[hl] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 0 || port > 65535)
        return -EINVAL;
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
                             .ai_socktype = SOCK_DGRAM}, *res = NULL;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res)
        return -EINVAL;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sl = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static bool is_wildcard(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
    return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/* Binds UDP then TCP on the same port; with port 0, retries a few ephemeral ports in case the
 * UDP one is taken for TCP. */
static int sockets_open(struct dns_server *srv, struct sockaddr_storage *ss, socklen_t sl)
{
    bool ephemeral = (ss->ss_family == AF_INET ? ((struct sockaddr_in *)ss)->sin_port
                                               : ((struct sockaddr_in6 *)ss)->sin6_port) == 0;
    int one = 1, buf = DNS_SOCK_BUF, r = -EADDRINUSE;
    for (int attempt = 0; attempt < (ephemeral ? 8 : 1); attempt++) {
        if (ephemeral)
            set_port(ss, 0);
        srv->udp_fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);   /* blocking */
        srv->tcp_fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (srv->udp_fd < 0 || srv->tcp_fd < 0)
            return -errno;
        setsockopt(srv->udp_fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
        setsockopt(srv->udp_fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
        struct timeval tv = {0, DNS_UDP_STOP_POLL_MS * 1000};
        setsockopt(srv->udp_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(srv->tcp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        struct sockaddr_storage got;
        socklen_t gl = sizeof(got);
        if (bind(srv->udp_fd, (struct sockaddr *)ss, sl) < 0 ||
            getsockname(srv->udp_fd, (struct sockaddr *)&got, &gl) < 0)
            return -errno;
        srv->pktinfo = is_wildcard(ss);
        if (srv->pktinfo) {
            if (ss->ss_family == AF_INET6)
                setsockopt(srv->udp_fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
            setsockopt(srv->udp_fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
        }
        srv->port = ntohs(got.ss_family == AF_INET ? ((struct sockaddr_in *)&got)->sin_port
                                                   : ((struct sockaddr_in6 *)&got)->sin6_port);
        set_port(ss, srv->port);
        if (bind(srv->tcp_fd, (struct sockaddr *)ss, sl) == 0 && listen(srv->tcp_fd, 128) == 0)
            return 0;
        r = -errno;
        close(srv->udp_fd);
        close(srv->tcp_fd);
        srv->udp_fd = srv->tcp_fd = -1;
    }
    return r;
}

static int epoll_add(struct dns_server *srv, int fd, void *tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
    return epoll_ctl(srv->ep_fd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int dns_server_start(const char *addr_port, const struct dns_server_opts *opts,
                     struct dns_snapshot *snap, struct dns_server **out)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int r;
    struct dns_server *srv = calloc(1, sizeof(*srv));
    *out = NULL;
    if (!srv) {
        dns_snapshot_free(snap);
        return -ENOMEM;
    }
    srv->udp_fd = srv->tcp_fd = srv->ep_fd = srv->stop_fd = -1;
    atomic_init(&srv->snap, snap);
    atomic_init(&srv->hazard[HZ_TCP], NULL);
    atomic_init(&srv->hazard[HZ_UDP], NULL);
    atomic_init(&srv->stopping, false);
    pthread_mutex_init(&srv->swap_lock, NULL);
    srv->tcp_max_conn = opts && opts->tcp_max_conn ? opts->tcp_max_conn : DNS_TCP_MAX_CONN;
    srv->tcp_idle_ms = opts && opts->tcp_idle_ms ? opts->tcp_idle_ms : DNS_TCP_IDLE_MS;
    srv->conns = calloc(srv->tcp_max_conn, sizeof(*srv->conns));
    if (!srv->conns) {
        r = -ENOMEM;
        goto err;
    }
    if ((r = addr_parse(addr_port, &ss, &sl)) < 0 || (r = sockets_open(srv, &ss, sl)) < 0)
        goto err;
    srv->ep_fd = epoll_create1(EPOLL_CLOEXEC);
    srv->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (srv->ep_fd < 0 || srv->stop_fd < 0) {
        r = -errno;
        goto err;
    }
    if ((r = epoll_add(srv, srv->tcp_fd, &srv->tcp_fd)) < 0 ||
        (r = epoll_add(srv, srv->stop_fd, &srv->stop_fd)) < 0)
        goto err;
    if ((r = -pthread_create(&srv->tcp_thread, NULL, tcp_main, srv)) < 0)
        goto err;
    srv->tcp_started = true;
    if ((r = -pthread_create(&srv->udp_thread, NULL, udp_main, srv)) < 0)
        goto err;
    srv->udp_started = true;
    *out = srv;
    return 0;
err:
    dns_server_stop(srv);
    return r;
}

uint16_t dns_server_port(const struct dns_server *srv) { return srv->port; }

void dns_server_swap(struct dns_server *srv, struct dns_snapshot *snap)
{
    pthread_mutex_lock(&srv->swap_lock);
    struct dns_snapshot *old = atomic_exchange(&srv->snap, snap);
    /* Each thread re-reads `snap` before every batch, so it drops `old` within one batch.
     * Bounded wait; if it ever expires (a thread wedged), leak rather than free in use. */
    bool freed = false;
    for (int i = 0; i < 100000; i++) {
        if (atomic_load(&srv->hazard[HZ_TCP]) != old && atomic_load(&srv->hazard[HZ_UDP]) != old) {
            dns_snapshot_free(old);
            freed = true;
            break;
        }
        nanosleep(&(struct timespec){0, 100000}, NULL);
    }
    if (!freed)
        log_warn("dns", "snapshot still in use after 10 s; leaking it");
    pthread_mutex_unlock(&srv->swap_lock);
}

void dns_server_stop(struct dns_server *srv)
{
    if (!srv)
        return;
    atomic_store(&srv->stopping, true);
    if (srv->udp_started) {
        shutdown(srv->udp_fd, SHUT_RDWR);   /* wakes a blocked recvmmsg; else the timeout does */
        pthread_join(srv->udp_thread, NULL);
    }
    if (srv->tcp_started) {
        uint64_t one = 1;
        if (write(srv->stop_fd, &one, sizeof(one)) != sizeof(one))
            log_error("dns", "cannot signal the TCP thread: %s", strerror(errno));
        pthread_join(srv->tcp_thread, NULL);
    }
    for (unsigned i = 0; srv->conns && i < srv->tcp_max_conn; i++)
        if (srv->conns[i])
            conn_close(srv, i);
    free(srv->conns);
    int fds[4] = {srv->udp_fd, srv->tcp_fd, srv->ep_fd, srv->stop_fd};
    for (int i = 0; i < 4; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    dns_snapshot_free(atomic_load(&srv->snap));
    pthread_mutex_destroy(&srv->swap_lock);
    free(srv);
}
