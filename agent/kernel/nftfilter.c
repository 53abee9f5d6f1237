/* Socket side of nftfilter: one nf_tables transaction per call, sent in one sendmsg (the kernel
 * takes a batch from one skb, all or nothing), every message acked (NLM_F_ACK). nfnetlink runs
 * the batch inside sendmsg, so the acks are queued by the time it returns; the first failing
 * message (lowest sequence number) is logged with the kernel's extended-ack reason. */
#include "agent/kernel/nftfilter.h"
#include "agent/kernel/nftfilter_msg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>

#include "common/log.h"

#define ACK_ROOM 512 /* receive-buffer bytes per expected ack (header, error, ext-ack text) */

struct acks {
    const struct nftf_batch *b;
    uint32_t got;
    uint32_t bad_seq; /* lowest failing sequence number, 0 if none */
    int bad_err;
    char why[160]; /* the kernel's NLMSGERR_ATTR_MSG for bad_seq */
};

static int extack_cb(const struct nlattr *a, void *data)
{
    char *why = data;
    if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
        snprintf(why, 160, "%s", mnl_attr_get_str(a));
    return MNL_CB_OK;
}

static void ack_take(struct acks *k, const struct nlmsghdr *nlh)
{
    if (nlh->nlmsg_type != NLMSG_ERROR ||
        nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(struct nlmsgerr))
        return;
    uint32_t seq = nlh->nlmsg_seq;
    if (seq < k->b->seq_first || seq > k->b->seq_last)
        return;
    const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
    k->got++;
    if (!e->error || (k->bad_seq && k->bad_seq < seq))
        return;
    k->bad_seq = seq;
    k->bad_err = e->error;
    k->why[0] = 0;
    if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) /* NETLINK_CAP_ACK: the TLVs follow the bare header */
        mnl_attr_parse(nlh, sizeof(*e), extack_cb, k->why);
}

int nftf_batch_run(const struct nftf_batch *b)
{
    static _Thread_local uint8_t buf[NFTF_RECV_MAX];
    struct acks k = {.b = b};
    uint32_t want = b->seq_last - b->seq_first + 1;
    int one = 1, ret = 0;
    struct timeval tv = {.tv_sec = NFTF_RECV_TIMEOUT_S};
    struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);

    if (!nl)
        return -errno;
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        ret = -errno;
        goto out;
    }
    int fd = mnl_socket_get_fd(nl);
    setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
    setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int snd = (int)b->len + 65536, rcv = (int)(want * ACK_ROOM) + 65536;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof(snd)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));

    ssize_t sent = mnl_socket_sendto(nl, b->buf, b->len);
    if (sent < 0 || (size_t)sent != b->len) {
        ret = sent < 0 ? -errno : -EMSGSIZE;
        log_error("nftfilter", "sending the %zu-byte nf_tables batch: %s", b->len, strerror(-ret));
        goto out;
    }
    for (unsigned i = 0; i < NFTF_RECV_MAX_READS && k.got < want; i++) {
        /* After a failure the kernel has queued everything it will send: do not wait. */
        ssize_t r = recv(fd, buf, sizeof(buf), k.bad_seq ? MSG_DONTWAIT : 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (k.bad_seq && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            ret = -errno;
            log_error("nftfilter", "waiting for the kernel's acks (%u of %u): %s", k.got, want,
                      strerror(errno));
            goto out;
        }
        const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
        int left = (int)r;
        for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left))
            ack_take(&k, nlh);
    }
    if (k.bad_seq) {
        char what[128];
        ret = k.bad_err;
        int type = nftf_batch_describe(b, k.bad_seq, what, sizeof(what));
        /* A missing table on delete is the caller's business, not an error worth a log line. */
        if (ret != -ENOENT || type != NFT_MSG_DELTABLE)
            log_error("nftfilter", "the kernel refused %s: %s%s%s", what, strerror(-ret),
                      k.why[0] ? ": " : "", k.why);
    } else if (k.got < want) {
        ret = -EPROTO;
        log_error("nftfilter", "the kernel acked %u of %u nf_tables messages", k.got, want);
    }
out:
    mnl_socket_close(nl);
    return ret;
}

/* Each batch has a socket of its own, so sequence numbers start at 1 and never wrap. */
#define SEQ_FIRST 1

int nft_filter_apply(const char *table, const char *ifname, const struct filter_entry *e, size_t n,
                     uint16_t nflog_group)
{
    struct nftf_batch b;
    int ret = nftf_batch_build_apply(&b, table, ifname, e, n, nflog_group, SEQ_FIRST);
    if (ret)
        return ret;
    ret = nftf_batch_run(&b);
    nftf_batch_free(&b);
    return ret;
}

int nft_filter_delete(const char *table)
{
    struct nftf_batch b;
    int ret = nftf_batch_build_delete(&b, table, SEQ_FIRST);
    if (ret)
        return ret;
    ret = nftf_batch_run(&b);
    nftf_batch_free(&b);
    return ret;
}
