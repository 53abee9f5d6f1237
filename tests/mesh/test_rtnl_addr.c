/* The TUN's addresses over rtnetlink (agent/daemon/rtnl.h), on a real TUN in a private network
 * namespace: rtnl_addr6 adds the tailnet IPv6 address with its prefix length, usable at once
 * (IFA_F_NODAD: never tentative) with the prefix routed on the interface; adding it again replaces
 * it; deleting removes address and route; bad lengths and unknown interfaces are refused. Read
 * back from /proc/net/if_inet6 and /proc/net/ipv6_route (this namespace's). Skips without root. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_addr.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "agent/daemon/rtnl.h"
#include "tests/check.h"
#include "tests/netns_util.h"

#define TUN "zt6rtnl"

/* Flags of addr on TUN in /proc/net/if_inet6 (its prefix length in *plen), or -1 if absent. */
static int inet6_flags(const char *addr, unsigned *plen)
{
    struct in6_addr a;
    char want[33], hex[33], dev[IFNAMSIZ + 1];
    unsigned idx, len, scope, flags;
    int found = -1;
    FILE *f = fopen("/proc/net/if_inet6", "r");
    inet_pton(AF_INET6, addr, &a);
    for (int i = 0; i < 16; i++)
        sprintf(want + 2 * i, "%02x", a.s6_addr[i]);
    if (!f)
        return -1;
    while (fscanf(f, "%32s %x %x %x %x %16s", hex, &idx, &len, &scope, &flags, dev) == 6)
        if (!strcmp(hex, want) && !strcmp(dev, TUN)) {
            found = (int)flags;
            *plen = len;
        }
    fclose(f);
    return found;
}

/* Whether /proc/net/ipv6_route holds prefix/plen on TUN. */
static bool routed(const char *prefix, unsigned plen)
{
    struct in6_addr a;
    char want[33], line[512], dst[33], dev[IFNAMSIZ + 1];
    unsigned len;
    bool found = false;
    FILE *f = fopen("/proc/net/ipv6_route", "r");
    inet_pton(AF_INET6, prefix, &a);
    for (int i = 0; i < 16; i++)
        sprintf(want + 2 * i, "%02x", a.s6_addr[i]);
    if (!f)
        return false;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "%32s %x %*s %*s %*s %*s %*s %*s %*s %16s", dst, &len, dev) == 3 &&
            !strcmp(dst, want) && len == plen && !strcmp(dev, TUN))
            found = true;
    fclose(f);
    return found;
}

int main(void)
{
    struct ifreq ifr;
    struct in6_addr ip6, other;
    struct in_addr ip4;
    unsigned plen = 0;
    int ret = netns_enter_private(true), fd;
    if (ret)
        return ret;
    fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", TUN);
    CHECK(fd >= 0 && ioctl(fd, TUNSETIFF, &ifr) == 0);
    CHECK(rtnl_link_set_up(TUN, true) == 0);
    inet_pton(AF_INET6, "fd7a:115c:a1e0::6440:5", &ip6);
    inet_pton(AF_INET6, "fd7a:115c:a1e0::6440:6", &other);
    inet_pton(AF_INET, "100.64.0.5", &ip4);

    CHECK(rtnl_addr6(TUN, &ip6, 48, false) == 0);
    int fl = inet6_flags("fd7a:115c:a1e0::6440:5", &plen);
    CHECK(fl >= 0 && plen == 48);
    CHECK(fl >= 0 && (fl & IFA_F_NODAD) && !(fl & IFA_F_TENTATIVE) && !(fl & IFA_F_DADFAILED));
    CHECK(routed("fd7a:115c:a1e0::", 48));
    /* a source address usable at once: a UDP socket binds to it without EADDRNOTAVAIL */
    int s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = ip6};
    CHECK(s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    if (s >= 0)
        close(s);
    /* again: replaced, not doubled; a second address beside it; delete one */
    CHECK(rtnl_addr6(TUN, &ip6, 48, false) == 0);
    CHECK(rtnl_addr6(TUN, &other, 48, false) == 0);
    CHECK(inet6_flags("fd7a:115c:a1e0::6440:6", &plen) >= 0);
    CHECK(rtnl_addr6(TUN, &other, 48, true) == 0);
    CHECK(inet6_flags("fd7a:115c:a1e0::6440:6", &plen) < 0);
    CHECK(inet6_flags("fd7a:115c:a1e0::6440:5", &plen) >= 0 && routed("fd7a:115c:a1e0::", 48));
    CHECK(rtnl_addr6(TUN, &ip6, 48, true) == 0);
    CHECK(inet6_flags("fd7a:115c:a1e0::6440:5", &plen) < 0);
    CHECK(!routed("fd7a:115c:a1e0::", 48));
    CHECK(rtnl_addr6(TUN, &ip6, 48, true) < 0); /* nothing left to delete */
    /* refusals */
    CHECK(rtnl_addr6(TUN, &ip6, 129, false) == -EINVAL);
    CHECK(rtnl_addr6("zt6nosuch", &ip6, 48, false) == -ENODEV);
    CHECK(rtnl_addr4(TUN, ip4, 33, false) == -EINVAL);
    /* the IPv4 path through the same message builder */
    CHECK(rtnl_addr4(TUN, ip4, 10, false) == 0);
    CHECK(if_nametoindex(TUN) > 0);
    CHECK(rtnl_addr4(TUN, ip4, 10, true) == 0);
    CHECK(rtnl_addr4(TUN, ip4, 10, true) < 0);
    if (fd >= 0)
        close(fd);
    return check_finish("test_rtnl_addr");
}
