/* WG_CMD_SET_DEVICE and WG_CMD_GET_DEVICE request building (see wgnl.h for the chunking rules).
 * Every attribute goes through libmnl's *_check variants against the message buffer size, so a
 * message never exceeds it; when one fills up, the open nests are closed (or the partial entry
 * cancelled) and the message is emitted, and the next one resumes at the same peer / allowed IP. */
#include "agent/kernel/wgnl.h"

#include <errno.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/wireguard.h>
#include <sodium.h>

static struct nlmsghdr *msg_start(void *buf, uint16_t family, uint8_t cmd, uint16_t flags,
                                  uint32_t seq)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = family;
    nlh->nlmsg_flags = flags;
    nlh->nlmsg_seq = seq;
    struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
    g->cmd = cmd;
    g->version = WG_GENL_VERSION;
    return nlh;
}

static bool ifname_ok(const char *ifname)
{
    size_t n = strnlen(ifname, WG_IFNAME_MAX);
    return n > 0 && n < WG_IFNAME_MAX;
}

static bool allowedip_ok(const struct wg_allowedip *a)
{
    return (a->family == AF_INET && a->cidr <= 32) || (a->family == AF_INET6 && a->cidr <= 128);
}

static bool endpoint_ok(const struct wg_peer_config *p)
{
    return p->endpoint.addr.sa_family == AF_INET || p->endpoint.addr.sa_family == AF_INET6;
}

/* Puts one allowed IP as a nest of type 0; false if it does not fit (nothing left behind). */
static bool put_allowedip(struct nlmsghdr *nlh, size_t size, const struct wg_allowedip *a)
{
    struct nlattr *n = mnl_attr_nest_start_check(nlh, size, 0);
    if (!n)
        return false;
    size_t alen = a->family == AF_INET ? sizeof(a->ip4) : sizeof(a->ip6);
    if (!mnl_attr_put_u16_check(nlh, size, WGALLOWEDIP_A_FAMILY, a->family) ||
        !mnl_attr_put_check(nlh, size, WGALLOWEDIP_A_IPADDR, alen, &a->ip4) ||
        !mnl_attr_put_u8_check(nlh, size, WGALLOWEDIP_A_CIDR_MASK, a->cidr)) {
        mnl_attr_nest_cancel(nlh, n);
        return false;
    }
    mnl_attr_nest_end(nlh, n);
    return true;
}

/* The attributes a peer carries only in its first chunk. */
static bool put_peer_head(struct nlmsghdr *nlh, size_t size, const struct wg_peer_config *p)
{
    uint32_t flags = 0;
    if (p->flags & WG_PEER_REMOVE)
        flags |= WGPEER_F_REMOVE_ME;
    if (p->flags & WG_PEER_REPLACE_ALLOWEDIPS)
        flags |= WGPEER_F_REPLACE_ALLOWEDIPS;
    if (p->flags & WG_PEER_UPDATE_ONLY)
        flags |= WGPEER_F_UPDATE_ONLY;
    if ((p->flags & WG_PEER_HAS_PRESHARED_KEY) &&
        !mnl_attr_put_check(nlh, size, WGPEER_A_PRESHARED_KEY, WG_KEY_LEN, p->preshared_key))
        return false;
    if (p->flags & WG_PEER_HAS_ENDPOINT) {
        size_t elen = p->endpoint.addr.sa_family == AF_INET ? sizeof(p->endpoint.addr4)
                                                            : sizeof(p->endpoint.addr6);
        if (!mnl_attr_put_check(nlh, size, WGPEER_A_ENDPOINT, elen, &p->endpoint))
            return false;
    }
    if ((p->flags & WG_PEER_HAS_KEEPALIVE) &&
        !mnl_attr_put_u16_check(nlh, size, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
                                p->persistent_keepalive))
        return false;
    if (flags && !mnl_attr_put_u32_check(nlh, size, WGPEER_A_FLAGS, flags))
        return false;
    return true;
}

static int validate(const struct wg_device_config *cfg)
{
    if (!ifname_ok(cfg->ifname))
        return -EINVAL;
    for (size_t i = 0; i < cfg->n_peers; i++) {
        const struct wg_peer_config *p = &cfg->peers[i];
        if ((p->flags & WG_PEER_HAS_ENDPOINT) && !endpoint_ok(p))
            return -EINVAL;
        if (p->n_allowedips && !p->allowedips)
            return -EINVAL;
        for (size_t j = 0; j < p->n_allowedips; j++)
            if (!allowedip_ok(&p->allowedips[j]))
                return -EINVAL;
    }
    return 0;
}

int wgnl_set_build(const struct wg_device_config *cfg, uint16_t family, uint32_t seq,
                   size_t buf_size, wgnl_emit_fn emit, void *ctx)
{
    static _Thread_local uint8_t buf[WGNL_MSG_MAX];
    size_t peer = 0, aip = 0; /* resume point: next peer, next allowed IP of that peer */
    bool first = true;
    int ret = validate(cfg);

    if (ret)
        return ret;
    if (buf_size > sizeof(buf) || buf_size < WGNL_MSG_MIN)
        return -EINVAL;
    do {
        size_t start_peer = peer, start_aip = aip;
        memset(buf, 0, buf_size);
        struct nlmsghdr *nlh = msg_start(buf, family, WG_CMD_SET_DEVICE,
                                         NLM_F_REQUEST | NLM_F_ACK, seq++);
        mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, cfg->ifname);
        if (first) {
            uint32_t dflags = cfg->flags & WG_DEVICE_REPLACE_PEERS ? WGDEVICE_F_REPLACE_PEERS : 0;
            if (cfg->flags & WG_DEVICE_HAS_PRIVATE_KEY)
                mnl_attr_put(nlh, WGDEVICE_A_PRIVATE_KEY, WG_KEY_LEN, cfg->private_key);
            if (cfg->flags & WG_DEVICE_HAS_LISTEN_PORT)
                mnl_attr_put_u16(nlh, WGDEVICE_A_LISTEN_PORT, cfg->listen_port);
            if (cfg->flags & WG_DEVICE_HAS_FWMARK)
                mnl_attr_put_u32(nlh, WGDEVICE_A_FWMARK, cfg->fwmark);
            if (dflags)
                mnl_attr_put_u32(nlh, WGDEVICE_A_FLAGS, dflags);
        }
        if (peer < cfg->n_peers) {
            struct nlattr *peers = mnl_attr_nest_start_check(nlh, buf_size, WGDEVICE_A_PEERS);
            if (!peers) {
                ret = -EMSGSIZE;
                break;
            }
            for (; peer < cfg->n_peers; peer++) {
                const struct wg_peer_config *p = &cfg->peers[peer];
                size_t aip_before = aip;
                struct nlattr *pn = mnl_attr_nest_start_check(nlh, buf_size, 0), *an = NULL;
                if (!pn)
                    break;
                if (!mnl_attr_put_check(nlh, buf_size, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN,
                                        p->public_key) ||
                    (aip == 0 && !put_peer_head(nlh, buf_size, p))) {
                    mnl_attr_nest_cancel(nlh, pn);
                    break;
                }
                bool full = false;
                if (aip < p->n_allowedips) {
                    an = mnl_attr_nest_start_check(nlh, buf_size, WGPEER_A_ALLOWEDIPS);
                    full = !an;
                    for (; an && aip < p->n_allowedips; aip++) {
                        if (!put_allowedip(nlh, buf_size, &p->allowedips[aip])) {
                            full = true;
                            break;
                        }
                    }
                }
                if (full && aip == aip_before) { /* nothing of this peer fits: next message */
                    mnl_attr_nest_cancel(nlh, pn);
                    break;
                }
                if (an)
                    mnl_attr_nest_end(nlh, an);
                mnl_attr_nest_end(nlh, pn);
                if (full)
                    break; /* this peer continues in the next message at aip */
                aip = 0;
            }
            if (peer == start_peer && aip == start_aip)
                mnl_attr_nest_cancel(nlh, peers);
            else
                mnl_attr_nest_end(nlh, peers);
        }
        /* A message that carries nothing new would loop forever: one entry cannot fit. */
        if (!first && peer == start_peer && aip == start_aip) {
            ret = -EMSGSIZE;
            break;
        }
        first = false;
        ret = emit(ctx, nlh, nlh->nlmsg_len);
    } while (!ret && peer < cfg->n_peers);
    sodium_memzero(buf, sizeof(buf)); /* private and preshared keys */
    return ret;
}

int wgnl_get_request_build(void *buf, size_t buf_size, const char *ifname, uint16_t family,
                           uint32_t seq)
{
    if (!ifname_ok(ifname) || buf_size < 256)
        return -EINVAL;
    memset(buf, 0, 256);
    struct nlmsghdr *nlh = msg_start(buf, family, WG_CMD_GET_DEVICE,
                                     NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP, seq);
    mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, ifname);
    return (int)nlh->nlmsg_len;
}
