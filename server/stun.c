/* The STUN responder thread (see stun.h). */
#include "server/stun.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/stun/stun.h"

#define STUN_BURST       64       /* datagrams handled per wake-up before polling again */
#define STUN_SOCK_BUF    (256 * 1024)

struct stun_server {
    int fd;
    int stop_fd;                  /* eventfd: written once by stun_server_stop() */
    bool pktinfo;                 /* bound to a wildcard: answer from the arrival address */
    uint16_t port;
    pthread_t thread;
    atomic_uint_fast64_t answered;
};

/* One datagram: parse, answer a Binding request, drop the rest. */
static void datagram(struct stun_server *s, const uint8_t *pkt, size_t len, struct msghdr *in)
{
    uint8_t out[STUN_MAX_MSG];
    struct iovec iov;
    struct msghdr reply = {0};
    size_t n = stun_binding_answer(pkt, len, (struct sockaddr *)in->msg_name, out, sizeof(out));

    if (!n)
        return;
    iov = (struct iovec){.iov_base = out, .iov_len = n};
    reply.msg_name = in->msg_name;
    reply.msg_namelen = in->msg_namelen;
    reply.msg_iov = &iov;
    reply.msg_iovlen = 1;
    if (s->pktinfo) { /* the received IP_PKTINFO / IPV6_PKTINFO names our source address */
        reply.msg_control = in->msg_control;
        reply.msg_controllen = in->msg_controllen;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(in); c; c = CMSG_NXTHDR(in, c)) {
            if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
                ((struct in_pktinfo *)CMSG_DATA(c))->ipi_ifindex = 0;
        }
    }
    if (sendmsg(s->fd, &reply, MSG_DONTWAIT) == (ssize_t)n)
        atomic_fetch_add(&s->answered, 1);
}

static void *stun_main(void *arg)
{
    struct stun_server *s = arg;
    struct pollfd pfd[2] = {{.fd = s->fd, .events = POLLIN}, {.fd = s->stop_fd, .events = POLLIN}};
    uint8_t pkt[STUN_MAX_MSG + 1];
    union {
        struct cmsghdr align;
        uint8_t buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo))];
    } ctl;

    for (;;) {
        if (poll(pfd, 2, -1) < 0 && errno != EINTR)
            break;
        if (pfd[1].revents)
            break;
        for (int i = 0; i < STUN_BURST; i++) {
            struct sockaddr_storage from;
            struct iovec iov = {.iov_base = pkt, .iov_len = sizeof(pkt)};
            struct msghdr mh = {.msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
                                .msg_iovlen = 1, .msg_control = ctl.buf,
                                .msg_controllen = sizeof(ctl.buf)};
            ssize_t r = recvmsg(s->fd, &mh, MSG_DONTWAIT);

            if (r < 0)
                break; /* EAGAIN: drained; anything else: poll again */
            if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)r > STUN_MAX_MSG)
                continue;
            datagram(s, pkt, (size_t)r, &mh);
        }
    }
    return NULL;
}

/* "ADDR:PORT" or "[V6]:PORT" (port 0..65535) into a socket address to bind. */
static int addr_parse(const char *addr_port, struct sockaddr_storage *ss, socklen_t *sl)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICSERV | AI_PASSIVE, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *res = NULL;
    const char *colon = strrchr(addr_port, ':'), *h = addr_port;
    char host[256], *end;
    size_t hl;
    long port;

    if (!colon || colon == addr_port)
        return -EINVAL;
    hl = (size_t)(colon - addr_port);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (hl == 0 || hl >= sizeof(host) || *end || end == colon + 1 || errno || port < 0 ||
        port > 65535)
        return -EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res)
        return -EADDRNOTAVAIL;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sl = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int socket_open(struct stun_server *s, const char *addr_port)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int one = 1, zero = 0, buf = STUN_SOCK_BUF, r;

    if ((r = addr_parse(addr_port, &ss, &sl)) < 0)
        return r;
    s->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s->fd < 0)
        return -errno;
    setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    if (ss.ss_family == AF_INET6) {
        const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;

        s->pktinfo = IN6_IS_ADDR_UNSPECIFIED(a);
        /* [::] serves IPv4 too (v4-mapped senders are answered as IPv4). */
        setsockopt(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
        if (s->pktinfo) {
            setsockopt(s->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
            setsockopt(s->fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
        }
    } else {
        s->pktinfo = ((struct sockaddr_in *)&ss)->sin_addr.s_addr == htonl(INADDR_ANY);
        if (s->pktinfo)
            setsockopt(s->fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
    }
    if (bind(s->fd, (struct sockaddr *)&ss, sl) < 0 ||
        getsockname(s->fd, (struct sockaddr *)&ss, &sl) < 0)
        return -errno;
    s->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                            : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

int stun_server_start(const char *addr_port, struct stun_server **out)
{
    struct stun_server *s = calloc(1, sizeof(*s));
    int r;

    *out = NULL;
    if (!s)
        return -ENOMEM;
    s->fd = s->stop_fd = -1;
    atomic_init(&s->answered, 0);
    if ((r = socket_open(s, addr_port)) < 0)
        goto err;
    s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->stop_fd < 0) {
        r = -errno;
        goto err;
    }
    if ((r = -pthread_create(&s->thread, NULL, stun_main, s)) < 0)
        goto err;
    *out = s;
    return 0;
err:
    if (s->stop_fd >= 0)
        close(s->stop_fd);
    if (s->fd >= 0)
        close(s->fd);
    free(s);
    return r;
}

uint16_t stun_server_port(const struct stun_server *s)
{
    return s->port;
}

uint64_t stun_server_answered(const struct stun_server *s)
{
    return atomic_load(&((struct stun_server *)s)->answered);
}

void stun_server_stop(struct stun_server *s)
{
    uint64_t one = 1;

    if (!s)
        return;
    if (write(s->stop_fd, &one, sizeof(one)) != sizeof(one))
        log_warn("stun", "cannot signal the responder thread: %s", strerror(errno));
    pthread_join(s->thread, NULL);
    close(s->stop_fd);
    close(s->fd);
    free(s);
}

int stun_start(struct server *srv)
{
    int r;

    if (strcmp(srv->set.stun_listen, "off") == 0) {
        log_info("stun", "STUN responder off (--stun-listen off)");
        return 0;
    }
    r = stun_server_start(srv->set.stun_listen, &srv->stun);
    if (r == -EADDRINUSE && strcmp(srv->set.stun_listen, STUN_DEFAULT_LISTEN) == 0) {
        /* The default port is taken (another ztna-server on this host, e.g. in tests): run
         * without STUN rather than refuse to start; an address chosen on purpose must work. */
        log_error("stun", "cannot listen on %s (the default): address in use; STUN responder "
                  "disabled (set --stun-listen ADDR:PORT or off)", srv->set.stun_listen);
        return 0;
    }
    if (r < 0) {
        log_error("stun", "cannot listen on %s: %s", srv->set.stun_listen, strerror(-r));
        return r;
    }
    log_info("stun", "answering STUN Binding requests on %s (UDP)", srv->set.stun_listen);
    return 0;
}

void stun_stop(struct server *srv)
{
    stun_server_stop(srv->stun);
    srv->stun = NULL;
}
