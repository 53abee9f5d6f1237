/* rtnetlink requests for the TUN interface (RTM_NEWLINK flags, RTM_NEWADDR / RTM_DELADDR, IPv4
 * and IPv6). */
#include "agent/daemon/rtnl.h"

#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

static int talk(struct nlmsghdr *nlh)
{
    struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
    char buf[MNL_SOCKET_BUFFER_SIZE];
    int ret;
    if (!nl)
        return -errno;
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        ret = -errno;
        goto out;
    }
    unsigned portid = mnl_socket_get_portid(nl);
    nlh->nlmsg_seq = (unsigned)time(NULL);
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
        ret = -errno;
        goto out;
    }
    ret = (int)mnl_socket_recvfrom(nl, buf, sizeof(buf));
    if (ret < 0) {
        ret = -errno;
        goto out;
    }
    ret = mnl_cb_run(buf, (size_t)ret, nlh->nlmsg_seq, portid, NULL, NULL);
    ret = ret < 0 ? -errno : 0;
out:
    mnl_socket_close(nl);
    return ret;
}

int rtnl_link_set_up(const char *ifname, bool up)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    unsigned idx = if_nametoindex(ifname);
    if (!idx)
        return -ENODEV;
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_NEWLINK;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
    ifm->ifi_family = AF_UNSPEC;
    ifm->ifi_index = (int)idx;
    ifm->ifi_change = IFF_UP;
    ifm->ifi_flags = up ? IFF_UP : 0;
    return talk(nlh);
}

/* RTM_NEWADDR (replacing an equal address) or RTM_DELADDR for addr (alen bytes) on ifname. */
static int addr_msg(const char *ifname, unsigned char family, const void *addr, size_t alen,
                    unsigned plen, uint32_t flags, bool del)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    unsigned idx = if_nametoindex(ifname);
    if (!idx)
        return -ENODEV;
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = del ? RTM_DELADDR : RTM_NEWADDR;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (del ? 0 : NLM_F_CREATE | NLM_F_REPLACE);
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
    ifa->ifa_family = family;
    ifa->ifa_prefixlen = (unsigned char)plen;
    ifa->ifa_flags = (unsigned char)flags;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = idx;
    mnl_attr_put(nlh, IFA_LOCAL, alen, addr);
    mnl_attr_put(nlh, IFA_ADDRESS, alen, addr);
    if (flags && !del)
        mnl_attr_put_u32(nlh, IFA_FLAGS, flags);
    return talk(nlh);
}

int rtnl_addr4(const char *ifname, struct in_addr addr, unsigned plen, bool del)
{
    if (plen > 32)
        return -EINVAL;
    return addr_msg(ifname, AF_INET, &addr, sizeof(addr), plen, 0, del);
}

int rtnl_addr6(const char *ifname, const struct in6_addr *addr, unsigned plen, bool del)
{
    if (plen > 128)
        return -EINVAL;
    /* no duplicate address detection: the address is ours alone (the server allocated it), and
     * DAD would keep it tentative (unusable as a source) for a second or more */
    return addr_msg(ifname, AF_INET6, addr, sizeof(*addr), plen, IFA_F_NODAD, del);
}
