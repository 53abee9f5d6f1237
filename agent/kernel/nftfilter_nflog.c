/* The NFLOG side of nftfilter: the drop rule logs every denied packet (cut at NFTF_LOG_SNAPLEN)
 * to an NFLOG group; this socket, bound to the group, turns them into the userspace matcher's
 * denial counters. A packet cut by the snap length has its IP length field lowered to what was
 * copied before filter_packet_parse sees it, so a transport header that was cut fails the parse
 * (counted in *other) instead of reading past the copy. */
#include "agent/kernel/nftfilter.h"
#include "agent/kernel/nftfilter_msg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>

#define NFLOG_MAX_READS 4096 /* per nft_denials_read: a flood cannot pin the caller's loop */

void nftf_deny_add(const uint8_t *pkt, size_t len, struct filter_deny_count *out, size_t max,
                   size_t *n, uint64_t *other)
{
    uint8_t copy[NFTF_LOG_SNAPLEN];
    struct filter_pkt p;
    size_t c = len < sizeof(copy) ? len : sizeof(copy);

    memcpy(copy, pkt, c);
    if (c >= 4 && copy[0] >> 4 == 4 && ((size_t)copy[2] << 8 | copy[3]) > c) {
        copy[2] = (uint8_t)(c >> 8);
        copy[3] = (uint8_t)c;
    } else if (c >= 40 && copy[0] >> 4 == 6 && ((size_t)copy[4] << 8 | copy[5]) + 40 > c) {
        copy[4] = (uint8_t)((c - 40) >> 8);
        copy[5] = (uint8_t)(c - 40);
    }
    if (!filter_packet_parse(copy, c, &p)) {
        (*other)++;
        return;
    }
    uint16_t dport = p.has_ports ? p.dport : 0;
    for (size_t i = 0; i < *n; i++) {
        struct filter_deny_count *d = &out[i];
        if (d->family == p.family && d->proto == p.proto && d->dport == dport &&
            !memcmp(d->src, p.src, sizeof(d->src))) {
            d->packets++;
            return;
        }
    }
    if (*n >= max) {
        (*other)++;
        return;
    }
    struct filter_deny_count *d = &out[(*n)++];
    memset(d, 0, sizeof(*d));
    d->family = p.family;
    d->proto = p.proto;
    memcpy(d->src, p.src, sizeof(d->src));
    d->dport = dport;
    d->packets = 1;
}

static int payload_cb(const struct nlattr *a, void *data)
{
    const struct nlattr **payload = data;
    if (mnl_attr_get_type(a) == NFULA_PAYLOAD)
        *payload = a;
    return MNL_CB_OK;
}

bool nftf_nflog_parse(const void *buf, size_t len, struct filter_deny_count *out, size_t max,
                      size_t *n, uint64_t *other)
{
    /* Framing by hand: mnl_nlmsg_ok() casts nlmsg_len to int, so 0xffffffff would pass it. */
    size_t off = 0;
    while (len - off >= sizeof(struct nlmsghdr)) {
        const struct nlmsghdr *nlh = (const struct nlmsghdr *)((const uint8_t *)buf + off);
        size_t mlen = nlh->nlmsg_len;
        if (mlen < sizeof(*nlh) || mlen > len - off)
            return false;
        off += MNL_ALIGN(mlen) < len - off ? MNL_ALIGN(mlen) : len - off;
        if (nlh->nlmsg_type != (NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_PACKET))
            continue; /* acks of the config request, NLMSG_NOOP, ... */
        const struct nlattr *payload = NULL;
        if (mlen < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg)) ||
            mnl_attr_parse(nlh, sizeof(struct nfgenmsg), payload_cb, &payload) != MNL_CB_OK ||
            !payload) {
            (*other)++;
            continue;
        }
        nftf_deny_add(mnl_attr_get_payload(payload), mnl_attr_get_payload_len(payload), out, max,
                      n, other);
    }
    return off == len; /* trailing bytes that are no message: malformed */
}

int nft_denials_open(uint16_t group)
{
    uint8_t buf[512];
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    int ret, size = NFTF_NFLOG_RCVBUF;
    struct timeval tv = {.tv_sec = NFTF_RECV_TIMEOUT_S};

    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        goto err_errno;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)); /* without CAP_NET_ADMIN */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

    /* One config message: bind the group, copy packets up to the snap length, flush soon. */
    memset(buf, 0, sizeof(buf));
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_CONFIG;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    nlh->nlmsg_seq = 1;
    struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
    g->nfgen_family = AF_UNSPEC;
    g->version = NFNETLINK_V0;
    g->res_id = htons(group);
    struct nfulnl_msg_config_cmd cmd = {.command = NFULNL_CFG_CMD_BIND};
    mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof(cmd), &cmd);
    struct nfulnl_msg_config_mode mode = {.copy_range = htonl(NFTF_LOG_SNAPLEN),
                                          .copy_mode = NFULNL_COPY_PACKET};
    mnl_attr_put(nlh, NFULA_CFG_MODE, sizeof(mode), &mode);
    /* The kernel batches up to qthresh packets or timeout; its defaults (100, 1 s) would hold
     * a lone denial back for a second. */
    mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl(NFTF_NFLOG_QTHRESH));
    mnl_attr_put_u32(nlh, NFULA_CFG_TIMEOUT, htonl(NFTF_NFLOG_FLUSH_CS));
    if (send(fd, nlh, nlh->nlmsg_len, 0) < 0)
        goto err_errno;
    for (int i = 0; i < NFLOG_MAX_READS; i++) {
        ssize_t r = recv(fd, buf, sizeof(buf), 0);
        if (r < 0)
            goto err_errno;
        const struct nlmsghdr *a = (const struct nlmsghdr *)buf;
        int left = (int)r;
        for (; mnl_nlmsg_ok(a, left); a = mnl_nlmsg_next(a, &left)) {
            if (a->nlmsg_type != NLMSG_ERROR || a->nlmsg_seq != 1)
                continue; /* a denial that raced the ack: dropped */
            if (a->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(struct nlmsgerr)) {
                ret = -EPROTO;
                goto err;
            }
            const struct nlmsgerr *e = mnl_nlmsg_get_payload(a);
            if (e->error) {
                ret = e->error;
                goto err;
            }
            int fl = fcntl(fd, F_GETFL);
            if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
                goto err_errno;
            return fd;
        }
    }
    ret = -EPROTO;
    goto err;
err_errno:
    ret = -errno;
err:
    close(fd);
    return ret;
}

int nft_denials_read(int fd, struct filter_deny_count *out, size_t max, size_t *n, uint64_t *other)
{
    static _Thread_local uint8_t buf[NFTF_RECV_MAX];
    for (int i = 0; i < NFLOG_MAX_READS; i++) {
        ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            if (errno == EINTR || errno == ENOBUFS)
                continue; /* ENOBUFS: the socket overran and denials were lost; go on */
            return -errno;
        }
        if (!nftf_nflog_parse(buf, (size_t)r, out, max, n, other))
            (*other)++;
    }
    return 0;
}

void nft_denials_close(int fd)
{
    if (fd >= 0)
        close(fd);
}
