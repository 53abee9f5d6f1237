/* WG_CMD_GET_DEVICE reply parsing: a bounds-checked walk over netlink messages and nested
 * attributes (common/cursor.h), never trusting a length before checking it against what is left.
 * Each nest is walked by its own cursor over exactly its payload. Unknown attributes are skipped
 * (newer kernels may add some); known ones must have their exact size. */
#include "agent/kernel/wgnl.h"

#include <errno.h>
#include <string.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/wireguard.h>

#include "common/cursor.h"

struct nla {
    uint16_t type; /* without NLA_F_NESTED / NLA_F_NET_BYTEORDER */
    const uint8_t *data;
    size_t len;
};

/* Next attribute of the walk, or false at the end; sets *bad on a malformed header. */
static bool nla_next(struct cursor *c, struct nla *a, bool *bad)
{
    struct nlattr h;
    if (cursor_left(c) == 0)
        return false;
    if (!cursor_copy(c, &h, sizeof(h)) || h.nla_len < sizeof(h)) {
        *bad = true;
        return false;
    }
    size_t plen = h.nla_len - sizeof(h);
    a->type = h.nla_type & NLA_TYPE_MASK;
    a->len = plen;
    a->data = cursor_take(c, plen);
    if (!a->data) {
        *bad = true;
        return false;
    }
    size_t pad = NLA_ALIGN(h.nla_len) - h.nla_len;
    if (pad > cursor_left(c))
        pad = cursor_left(c); /* the last attribute may come unpadded */
    cursor_take(c, pad);
    return true;
}

static bool get_u16(const struct nla *a, uint16_t *v)
{
    return a->len == sizeof(*v) && memcpy(v, a->data, sizeof(*v));
}
static bool get_u32(const struct nla *a, uint32_t *v)
{
    return a->len == sizeof(*v) && memcpy(v, a->data, sizeof(*v));
}
static bool get_u64(const struct nla *a, uint64_t *v)
{
    return a->len == sizeof(*v) && memcpy(v, a->data, sizeof(*v));
}
static bool get_key(const struct nla *a, uint8_t key[static WG_KEY_LEN])
{
    return a->len == WG_KEY_LEN && memcpy(key, a->data, WG_KEY_LEN);
}

static int allowedip_parse(struct wg_allowedip *out, const struct nla *nest)
{
    struct cursor c = cursor_init(nest->data, nest->len);
    struct nla a;
    bool bad = false, has_addr = false, has_cidr = false;
    const struct nla *addr = NULL;
    struct nla addr_copy;

    memset(out, 0, sizeof(*out));
    while (nla_next(&c, &a, &bad)) {
        if (a.type == WGALLOWEDIP_A_FAMILY) {
            if (!get_u16(&a, &out->family))
                return -EBADMSG;
        } else if (a.type == WGALLOWEDIP_A_IPADDR) {
            addr_copy = a;
            addr = &addr_copy;
        } else if (a.type == WGALLOWEDIP_A_CIDR_MASK) {
            if (a.len != 1)
                return -EBADMSG;
            out->cidr = a.data[0];
            has_cidr = true;
        }
    }
    if (bad || !addr || !has_cidr)
        return -EBADMSG;
    if (out->family == AF_INET && addr->len == sizeof(out->ip4) && out->cidr <= 32)
        has_addr = memcpy(&out->ip4, addr->data, sizeof(out->ip4)) != NULL;
    else if (out->family == AF_INET6 && addr->len == sizeof(out->ip6) && out->cidr <= 128)
        has_addr = memcpy(&out->ip6, addr->data, sizeof(out->ip6)) != NULL;
    return has_addr ? 0 : -EBADMSG;
}

static int allowedip_append(struct wg_peer_config *p, size_t *cap, const struct wg_allowedip *a)
{
    if (p->n_allowedips == *cap) {
        if (*cap >= WGNL_MAX_ALLOWEDIPS)
            return -E2BIG;
        size_t ncap = *cap ? *cap * 2 : 8;
        if (ncap > WGNL_MAX_ALLOWEDIPS)
            ncap = WGNL_MAX_ALLOWEDIPS;
        struct wg_allowedip *n = realloc(p->allowedips, ncap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        p->allowedips = n;
        *cap = ncap;
    }
    p->allowedips[p->n_allowedips++] = *a;
    return 0;
}

static int endpoint_parse(struct wg_peer_config *p, const struct nla *a)
{
    sa_family_t fam;
    if (a->len < sizeof(fam))
        return -EBADMSG;
    memcpy(&fam, a->data, sizeof(fam));
    if (fam == AF_INET && a->len == sizeof(p->endpoint.addr4))
        memcpy(&p->endpoint.addr4, a->data, a->len);
    else if (fam == AF_INET6 && a->len == sizeof(p->endpoint.addr6))
        memcpy(&p->endpoint.addr6, a->data, a->len);
    else
        return -EBADMSG;
    p->flags |= WG_PEER_HAS_ENDPOINT;
    return 0;
}

/* Parses one peer entry into a (zeroed) peer; allowed IPs go to p->allowedips. */
static int peer_parse(struct wg_peer_config *p, const struct nla *nest)
{
    struct cursor c = cursor_init(nest->data, nest->len);
    struct nla a, ip;
    bool bad = false, has_key = false;
    size_t cap = 0;
    int ret = 0;

    while (!ret && nla_next(&c, &a, &bad)) {
        switch (a.type) {
        case WGPEER_A_PUBLIC_KEY:
            has_key = get_key(&a, p->public_key);
            ret = has_key ? 0 : -EBADMSG;
            break;
        case WGPEER_A_PRESHARED_KEY:
            ret = get_key(&a, p->preshared_key) ? 0 : -EBADMSG;
            p->flags |= WG_PEER_HAS_PRESHARED_KEY;
            break;
        case WGPEER_A_ENDPOINT:
            ret = endpoint_parse(p, &a);
            break;
        case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
            ret = get_u16(&a, &p->persistent_keepalive) ? 0 : -EBADMSG;
            p->flags |= WG_PEER_HAS_KEEPALIVE;
            break;
        case WGPEER_A_LAST_HANDSHAKE_TIME: {
            int64_t t[2]; /* struct __kernel_timespec */
            if (a.len != sizeof(t)) {
                ret = -EBADMSG;
                break;
            }
            memcpy(t, a.data, sizeof(t));
            p->last_handshake.tv_sec = (time_t)t[0];
            p->last_handshake.tv_nsec = (long)t[1];
            break;
        }
        case WGPEER_A_RX_BYTES:
            ret = get_u64(&a, &p->rx_bytes) ? 0 : -EBADMSG;
            break;
        case WGPEER_A_TX_BYTES:
            ret = get_u64(&a, &p->tx_bytes) ? 0 : -EBADMSG;
            break;
        case WGPEER_A_ALLOWEDIPS: {
            struct cursor ac = cursor_init(a.data, a.len);
            while (!ret && nla_next(&ac, &ip, &bad)) {
                struct wg_allowedip one;
                ret = allowedip_parse(&one, &ip);
                if (!ret)
                    ret = allowedip_append(p, &cap, &one);
            }
            break;
        }
        default:
            break;
        }
    }
    if (!ret && (bad || !has_key))
        ret = -EBADMSG;
    return ret;
}

/* Appends the peer, or merges it into the previous one when the dump split that peer. */
static int peer_add(struct wg_device_config *cfg, size_t *cap, struct wg_peer_config *p)
{
    if (cfg->n_peers > 0) {
        struct wg_peer_config *last = &cfg->peers[cfg->n_peers - 1];
        if (memcmp(last->public_key, p->public_key, WG_KEY_LEN) == 0) {
            size_t lcap = last->n_allowedips;
            for (size_t i = 0; i < p->n_allowedips; i++) {
                int ret = allowedip_append(last, &lcap, &p->allowedips[i]);
                if (ret)
                    return ret;
            }
            free(p->allowedips);
            p->allowedips = NULL;
            return 0;
        }
    }
    if (cfg->n_peers == *cap) {
        if (*cap >= WGNL_MAX_PEERS)
            return -E2BIG;
        size_t ncap = *cap ? *cap * 2 : 8;
        struct wg_peer_config *n = realloc(cfg->peers, ncap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        cfg->peers = n;
        *cap = ncap;
    }
    cfg->peers[cfg->n_peers++] = *p;
    p->allowedips = NULL;
    return 0;
}

static int device_parse(struct wg_device_config *cfg, struct cursor *c)
{
    struct nla a, pa;
    bool bad = false;
    int ret = 0;
    size_t cap = cfg->n_peers; /* realloc'd to exactly n_peers or grown by us before */

    while (!ret && nla_next(c, &a, &bad)) {
        switch (a.type) {
        case WGDEVICE_A_IFNAME:
            if (a.len == 0 || a.len > WG_IFNAME_MAX || memchr(a.data, 0, a.len) == NULL)
                ret = -EBADMSG;
            else
                memcpy(cfg->ifname, a.data, a.len);
            break;
        case WGDEVICE_A_PRIVATE_KEY:
            ret = get_key(&a, cfg->private_key) ? 0 : -EBADMSG;
            cfg->flags |= WG_DEVICE_HAS_PRIVATE_KEY;
            break;
        case WGDEVICE_A_PUBLIC_KEY:
            ret = get_key(&a, cfg->public_key) ? 0 : -EBADMSG;
            break;
        case WGDEVICE_A_LISTEN_PORT:
            ret = get_u16(&a, &cfg->listen_port) ? 0 : -EBADMSG;
            cfg->flags |= WG_DEVICE_HAS_LISTEN_PORT;
            break;
        case WGDEVICE_A_FWMARK:
            ret = get_u32(&a, &cfg->fwmark) ? 0 : -EBADMSG;
            cfg->flags |= WG_DEVICE_HAS_FWMARK;
            break;
        case WGDEVICE_A_PEERS: {
            struct cursor pc = cursor_init(a.data, a.len);
            while (!ret && nla_next(&pc, &pa, &bad)) {
                struct wg_peer_config p;
                memset(&p, 0, sizeof(p));
                ret = peer_parse(&p, &pa);
                if (!ret)
                    ret = peer_add(cfg, &cap, &p);
                free(p.allowedips);
                sodium_memzero(p.preshared_key, WG_KEY_LEN);
            }
            break;
        }
        default:
            break;
        }
    }
    if (!ret && bad)
        ret = -EBADMSG;
    return ret;
}

int wgnl_get_reply_parse(struct wg_device_config *cfg, const void *buf, size_t len,
                         uint16_t family, bool *done)
{
    struct cursor c = cursor_init(buf, len);
    int ret = 0;

    while (!ret && cursor_left(&c) > 0) {
        struct nlmsghdr h;
        if (!cursor_copy(&c, &h, sizeof(h)) || h.nlmsg_len < sizeof(h))
            return -EBADMSG;
        const uint8_t *payload = cursor_take(&c, h.nlmsg_len - sizeof(h));
        if (!payload)
            return -EBADMSG;
        size_t plen = h.nlmsg_len - sizeof(h);
        size_t pad = NLMSG_ALIGN(h.nlmsg_len) - h.nlmsg_len;
        cursor_take(&c, pad <= cursor_left(&c) ? pad : cursor_left(&c));
        struct cursor m = cursor_init(payload, plen);

        if (h.nlmsg_type == NLMSG_DONE) {
            *done = true;
            int32_t err = 0;
            if (plen >= sizeof(err))
                cursor_copy(&m, &err, sizeof(err));
            ret = err < 0 ? err : 0;
        } else if (h.nlmsg_type == NLMSG_ERROR) {
            int32_t err;
            if (!cursor_copy(&m, &err, sizeof(err)) || err > 0)
                return -EBADMSG;
            ret = err; /* 0 is an ack */
        } else if (h.nlmsg_type == NLMSG_NOOP) {
            continue;
        } else if (h.nlmsg_type == family) {
            struct genlmsghdr g;
            if (h.nlmsg_flags & NLM_F_DUMP_INTR)
                return -EINTR; /* peers changed during the dump: the caller starts over */
            if (!cursor_copy(&m, &g, sizeof(g)) || g.cmd != WG_CMD_GET_DEVICE)
                return -EBADMSG;
            ret = device_parse(cfg, &m);
        } else {
            return -EBADMSG;
        }
    }
    return ret;
}
