/* Socket side of the kernel backend: resolving the generic-netlink family, sending the SET
 * messages one by one and waiting for each ack, collecting the GET dump, and rtnetlink link
 * creation/removal. Message contents live in nlbuild.c / nlparse.c. */
#include "agent/kernel/wgkernel.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/wireguard.h>

#include "agent/kernel/wgnl.h"

struct nl {
    struct mnl_socket *sock;
    uint32_t portid;
    uint32_t seq;
    uint16_t family; /* generic-netlink family id of "wireguard" */
};

static int nl_open(struct nl *nl, int bus)
{
    memset(nl, 0, sizeof(*nl));
    nl->sock = mnl_socket_open(bus);
    if (!nl->sock)
        return -errno;
    if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
        int ret = -errno;
        mnl_socket_close(nl->sock);
        nl->sock = NULL;
        return ret;
    }
    /* The kernel answers at once; a bounded wait turns a lost reply into -EAGAIN, not a hang. */
    struct timeval tv = {.tv_sec = WGNL_RECV_TIMEOUT_S};
    setsockopt(mnl_socket_get_fd(nl->sock), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    nl->portid = mnl_socket_get_portid(nl->sock);
    nl->seq = (uint32_t)time(NULL);
    return 0;
}

static void nl_close(struct nl *nl)
{
    if (nl->sock)
        mnl_socket_close(nl->sock);
    nl->sock = NULL;
}

/* Receives until the ack (or error) of seq; for other replies, calls cb. */
static int nl_recv(struct nl *nl, uint32_t seq, mnl_cb_t cb, void *data)
{
    static _Thread_local uint8_t buf[WGNL_RECV_MAX];
    for (unsigned i = 0; i < WGNL_RECV_MAX_READS; i++) {
        ssize_t n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
        if (n < 0)
            return -errno;
        int r = mnl_cb_run(buf, (size_t)n, seq, nl->portid, cb, data);
        if (r == MNL_CB_STOP)
            return 0;
        if (r == MNL_CB_ERROR)
            return errno ? -errno : -EIO;
    }
    return -EPROTO; /* replies that never end with our ack */
}

static int nl_send(struct nl *nl, const void *msg, size_t len)
{
    if (mnl_socket_sendto(nl->sock, msg, len) < 0)
        return -errno;
    return 0;
}

static int family_attr_cb(const struct nlattr *attr, void *data)
{
    if (mnl_attr_get_type(attr) == CTRL_ATTR_FAMILY_ID &&
        mnl_attr_validate(attr, MNL_TYPE_U16) >= 0)
        *(uint16_t *)data = mnl_attr_get_u16(attr);
    return MNL_CB_OK;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
    mnl_attr_parse(nlh, sizeof(struct genlmsghdr), family_attr_cb, data);
    return MNL_CB_OK;
}

static int nl_open_wireguard(struct nl *nl)
{
    uint8_t buf[256] = {0};
    int ret = nl_open(nl, NETLINK_GENERIC);
    if (ret)
        return ret;
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = GENL_ID_CTRL;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    nlh->nlmsg_seq = ++nl->seq;
    struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
    g->cmd = CTRL_CMD_GETFAMILY;
    g->version = 1;
    mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME);
    ret = nl_send(nl, nlh, nlh->nlmsg_len);
    if (!ret)
        ret = nl_recv(nl, nl->seq, family_cb, &nl->family);
    if (!ret && nl->family == 0)
        ret = -ENOENT;
    if (ret)
        nl_close(nl);
    return ret;
}

bool wg_kernel_probe(char *why, size_t why_len)
{
    struct nl nl;
    int ret = nl_open_wireguard(&nl);
    if (ret == 0) {
        nl_close(&nl);
        return true;
    }
    if (why && why_len)
        snprintf(why, why_len,
                 "kernel WireGuard is not available (generic netlink family \"%s\": %s); "
                 "using the userspace engine",
                 WG_GENL_NAME, ret == -ENOENT ? "not found, module missing" : strerror(-ret));
    return false;
}

static int set_emit(void *ctx, const void *msg, size_t len)
{
    struct nl *nl = ctx;
    const struct nlmsghdr *nlh = msg;
    int ret = nl_send(nl, msg, len);
    return ret ? ret : nl_recv(nl, nlh->nlmsg_seq, NULL, NULL);
}

int wg_kernel_device_set(const struct wg_device_config *cfg)
{
    struct nl nl;
    int ret = nl_open_wireguard(&nl);
    if (ret)
        return ret;
    ret = wgnl_set_build(cfg, nl.family, ++nl.seq, WGNL_MSG_MAX, set_emit, &nl);
    nl_close(&nl);
    return ret;
}

/* One GET dump into a new config; -EINTR when the kernel flagged it inconsistent. */
static int device_get_once(struct nl *nl, const char *ifname, struct wg_device_config **out)
{
    static _Thread_local uint8_t buf[WGNL_RECV_MAX];
    struct wg_device_config *cfg = calloc(1, sizeof(*cfg));
    bool done = false;
    int ret;

    if (!cfg)
        return -ENOMEM;
    uint32_t seq = ++nl->seq;
    ret = wgnl_get_request_build(buf, sizeof(buf), ifname, nl->family, seq);
    if (ret >= 0)
        ret = nl_send(nl, buf, (size_t)ret);
    for (unsigned parts = 0; !ret && !done; parts++) {
        if (parts > WGNL_MAX_PEERS) { /* a dump cannot have more parts than peers */
            ret = -E2BIG;
            break;
        }
        ssize_t n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
        if (n < 0) {
            ret = -errno;
            break;
        }
        ret = wgnl_get_reply_parse(cfg, buf, (size_t)n, nl->family, &done);
    }
    sodium_memzero(buf, sizeof(buf)); /* held the private and preshared keys */
    if (ret) {
        wg_device_config_free(cfg);
        return ret;
    }
    *out = cfg;
    return 0;
}

int wg_kernel_device_get(const char *ifname, struct wg_device_config **out)
{
    struct nl nl;
    int ret;

    *out = NULL;
    /* An interrupted dump leaves unread parts on the socket: retry on a fresh one. */
    for (unsigned attempt = 0; attempt < WGNL_GET_ATTEMPTS; attempt++) {
        ret = nl_open_wireguard(&nl);
        if (ret)
            return ret;
        ret = device_get_once(&nl, ifname, out);
        nl_close(&nl);
        if (ret != -EINTR)
            break;
    }
    return ret;
}

static int link_change(const char *ifname, bool create)
{
    uint8_t buf[512] = {0};
    struct nl nl;
    int ret;

    if (!ifname || strnlen(ifname, IFNAMSIZ) == 0 || strnlen(ifname, IFNAMSIZ) >= IFNAMSIZ)
        return -EINVAL;
    ret = nl_open(&nl, NETLINK_ROUTE);
    if (ret)
        return ret;
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = create ? RTM_NEWLINK : RTM_DELLINK;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (create ? NLM_F_CREATE | NLM_F_EXCL : 0);
    nlh->nlmsg_seq = ++nl.seq;
    struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
    ifm->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
    if (create) {
        struct nlattr *li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, WG_GENL_NAME);
        mnl_attr_nest_end(nlh, li);
    }
    ret = nl_send(&nl, nlh, nlh->nlmsg_len);
    if (!ret)
        ret = nl_recv(&nl, nl.seq, NULL, NULL);
    nl_close(&nl);
    return ret;
}

int wg_kernel_link_create(const char *ifname) { return link_change(ifname, true); }
int wg_kernel_link_delete(const char *ifname) { return link_change(ifname, false); }
