/* TUN and UDP socket setup. Everything here is done once per device (or per listen-port change);
 * the data path only reads and writes the fds. */
#include "agent/wg/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int wgd_tun_open(const char *ifname, unsigned mtu)
{
    struct ifreq ifr;
    int fd, ret, s = -1;

    if (strlen(ifname) >= IFNAMSIZ)
        return -ENAMETOOLONG;
    fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        ret = -errno;
        goto err;
    }
    s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        ret = -errno;
        goto err;
    }
    ifr.ifr_mtu = (int)mtu;
    if (ioctl(s, SIOCSIFMTU, &ifr) < 0) {
        ret = -errno;
        goto err;
    }
    close(s);
    return fd;
err:
    if (s >= 0)
        close(s);
    close(fd);
    return ret;
}

int wgd_udp_set_fwmark(int fd, uint32_t fwmark)
{
    if (fd < 0)
        return 0;
    if (setsockopt(fd, SOL_SOCKET, SO_MARK, &fwmark, sizeof(fwmark)) < 0)
        return -errno;
    return 0;
}

static int udp_bind(int family, uint16_t port, uint32_t fwmark, int *fd_out, uint16_t *bound)
{
    int fd, one = 1, bufsz = 4 << 20, ret;
    union {
        struct sockaddr_in a4;
        struct sockaddr_in6 a6;
        struct sockaddr sa;
    } a;
    socklen_t al;

    fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    memset(&a, 0, sizeof(a));
    if (family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        a.a6.sin6_family = AF_INET6;
        a.a6.sin6_port = htons(port);
        al = sizeof(a.a6);
    } else {
        a.a4.sin_family = AF_INET;
        a.a4.sin_port = htons(port);
        al = sizeof(a.a4);
    }
    /* Bigger buffers absorb bursts between two loop iterations; FORCE works as root only. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz, sizeof(bufsz)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsz, sizeof(bufsz)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
    /* UDP GRO: the kernel may hand us up to 64 coalesced datagrams at once (best effort) */
    setsockopt(fd, IPPROTO_UDP, 104 /* UDP_GRO */, &one, sizeof(one));
    if (fwmark && (ret = wgd_udp_set_fwmark(fd, fwmark)) < 0)
        goto err;
    if (bind(fd, &a.sa, al) < 0) {
        ret = -errno;
        goto err;
    }
    al = sizeof(a);
    if (getsockname(fd, &a.sa, &al) < 0) {
        ret = -errno;
        goto err;
    }
    *bound = ntohs(family == AF_INET6 ? a.a6.sin6_port : a.a4.sin_port);
    *fd_out = fd;
    return 0;
err:
    close(fd);
    return ret;
}

int wgd_udp_open(uint16_t *port, uint32_t fwmark, int *fd4, int *fd6)
{
    int ret = -EADDRINUSE;
    *fd4 = *fd6 = -1;
    /* With port 0, the IPv4 socket picks a port and IPv6 must get the same one; retry a few
     * times if another process holds it on IPv6 (as wireguard-go does). */
    for (int attempt = 0; attempt < 10; attempt++) {
        uint16_t p4 = 0, p6 = 0;
        ret = udp_bind(AF_INET, *port, fwmark, fd4, &p4);
        if (ret)
            return ret;
        ret = udp_bind(AF_INET6, p4, fwmark, fd6, &p6);
        if (ret == 0 || ret == -EAFNOSUPPORT) {
            *port = p4;
            return 0;
        }
        close(*fd4);
        *fd4 = *fd6 = -1;
        if (*port)
            return ret;
    }
    return ret;
}
