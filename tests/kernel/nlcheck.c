/* See nlcheck.h. Deliberately written from the uapi headers alone. */
#include "tests/kernel/nlcheck.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/wireguard.h>

static void bad(struct seen *s, const char *fmt, ...)
{
    if (s->n_errors++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->errors, sizeof(s->errors), fmt, ap);
        va_end(ap);
    }
}

static uint16_t rd16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}
static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Walks attributes in [p, p+len) whose offsets from the message start base must be 4-aligned.
 * Calls fn for each; checks every header and the exact end of the region. */
typedef void (*attr_fn)(struct seen *s, const uint8_t *msg, uint16_t type, bool nested,
                        const uint8_t *data, size_t len, void *ctx);

static void walk(struct seen *s, const uint8_t *msg, const uint8_t *p, size_t len, attr_fn fn,
                 void *ctx)
{
    size_t off = 0;
    while (off < len) {
        if ((size_t)(p + off - msg) % 4 != 0)
            bad(s, "attribute at %zu not aligned", (size_t)(p + off - msg));
        if (len - off < 4) {
            bad(s, "truncated attribute header");
            return;
        }
        uint16_t alen = rd16(p + off), type = rd16(p + off + 2);
        if (alen < 4 || alen > len - off) {
            bad(s, "attribute length %u out of bounds (%zu left)", alen, len - off);
            return;
        }
        bool nested = type & NLA_F_NESTED;
        if (type & NLA_F_NET_BYTEORDER)
            bad(s, "unexpected NLA_F_NET_BYTEORDER");
        fn(s, msg, type & NLA_TYPE_MASK, nested, p + off + 4, alen - 4u, ctx);
        size_t step = ((size_t)alen + 3) & ~(size_t)3;
        if (step > len - off) {
            bad(s, "padding past the enclosing region");
            return;
        }
        off += step;
    }
}

/* Geometric growth so that checking tens of thousands of entries stays linear. */
static bool grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 64;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        abort();
    *arr = p;
    *cap = ncap;
    return true;
}

static void need(struct seen *s, bool cond, const char *what)
{
    if (!cond)
        bad(s, "%s", what);
}

struct aip_ctx {
    struct wg_allowedip a;
    size_t addr_len;
    bool has_family, has_addr, has_cidr;
};

static void aip_attr(struct seen *s, const uint8_t *msg, uint16_t type, bool nested,
                     const uint8_t *d, size_t len, void *ctx)
{
    struct aip_ctx *c = ctx;
    need(s, !nested, "allowed-ip attribute flagged nested");
    if (type == WGALLOWEDIP_A_FAMILY) {
        need(s, len == 2 && !c->has_family, "family length or duplicate");
        c->a.family = len == 2 ? rd16(d) : 0;
        c->has_family = true;
    } else if (type == WGALLOWEDIP_A_IPADDR) {
        need(s, (len == 4 || len == 16) && !c->has_addr, "ipaddr length or duplicate");
        if (len == 4 || len == 16)
            memcpy(&c->a.ip6, d, len);
        c->addr_len = len;
        c->has_addr = true;
    } else if (type == WGALLOWEDIP_A_CIDR_MASK) {
        need(s, len == 1 && !c->has_cidr, "cidr length or duplicate");
        c->a.cidr = len == 1 ? d[0] : 255;
        c->has_cidr = true;
    } else {
        bad(s, "unknown allowed-ip attribute %u", type);
    }
}

static void aips_attr(struct seen *s, const uint8_t *msg, uint16_t type, bool nested,
                      const uint8_t *d, size_t len, void *ctx)
{
    need(s, type == 0, "allowed-ip entry type not 0");
    need(s, nested, "allowed-ip entry without NLA_F_NESTED");
    struct aip_ctx c;
    memset(&c, 0, sizeof(c));
    walk(s, msg, d, len, aip_attr, &c);
    need(s, c.has_family && c.has_addr && c.has_cidr, "allowed-ip entry incomplete");
    if (c.a.family == AF_INET)
        need(s, c.addr_len == 4 && c.a.cidr <= 32, "AF_INET entry: address length or cidr");
    else if (c.a.family == AF_INET6)
        need(s, c.addr_len == 16 && c.a.cidr <= 128, "AF_INET6 entry: address length or cidr");
    else
        bad(s, "allowed-ip entry with family %u", c.a.family);
    if (!grow((void **)&s->aips, &s->cap_aips, s->n_aips, sizeof(*s->aips)))
        return;
    s->aips[s->n_aips++] = c.a;
}

struct peer_ctx {
    struct seen_peer *p;
    int index;
    bool has_key;
};

static void peer_attr(struct seen *s, const uint8_t *msg, uint16_t type, bool nested,
                      const uint8_t *d, size_t len, void *ctx)
{
    struct peer_ctx *pc = ctx;
    if (pc->index++ == 0)
        need(s, type == WGPEER_A_PUBLIC_KEY, "peer entry does not start with its public key");
    need(s, nested == (type == WGPEER_A_ALLOWEDIPS), "peer attribute NLA_F_NESTED mismatch");
    switch (type) {
    case WGPEER_A_PUBLIC_KEY:
        need(s, len == 32, "public key length");
        if (len == 32)
            memcpy(pc->p->key, d, 32);
        pc->has_key = true;
        break;
    case WGPEER_A_PRESHARED_KEY:
        need(s, len == 32, "psk length");
        pc->p->has_psk = true;
        break;
    case WGPEER_A_FLAGS:
        need(s, len == 4, "peer flags length");
        pc->p->flags = len == 4 ? rd32(d) : 0;
        need(s, (pc->p->flags & ~(uint32_t)__WGPEER_F_ALL) == 0, "unknown peer flag");
        break;
    case WGPEER_A_ENDPOINT:
        need(s, (len == sizeof(struct sockaddr_in) && rd16(d) == AF_INET) ||
                    (len == sizeof(struct sockaddr_in6) && rd16(d) == AF_INET6),
             "endpoint length/family");
        pc->p->has_endpoint = true;
        break;
    case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
        need(s, len == 2, "keepalive length");
        pc->p->has_keepalive = true;
        break;
    case WGPEER_A_ALLOWEDIPS:
        pc->p->first_aip = s->n_aips;
        walk(s, msg, d, len, aips_attr, NULL);
        pc->p->n_aip = s->n_aips - pc->p->first_aip;
        need(s, pc->p->n_aip > 0, "empty allowed-ips nest");
        break;
    default:
        bad(s, "unexpected peer attribute %u in a SET", type);
    }
}

static void peers_attr(struct seen *s, const uint8_t *msg, uint16_t type, bool nested,
                       const uint8_t *d, size_t len, void *ctx)
{
    need(s, type == 0, "peer entry type not 0");
    need(s, nested, "peer entry without NLA_F_NESTED");
    if (!grow((void **)&s->peers, &s->cap_peers, s->n_peers, sizeof(*s->peers)))
        return;
    struct seen_peer *p = &s->peers[s->n_peers++];
    memset(p, 0, sizeof(*p));
    p->first_aip = s->n_aips;
    struct peer_ctx pc = {.p = p};
    walk(s, msg, d, len, peer_attr, &pc);
    need(s, pc.has_key, "peer without public key");
}

static void device_attr(struct seen *s, const uint8_t *msg, uint16_t type, bool nested,
                        const uint8_t *d, size_t len, void *ctx)
{
    bool *dev_attrs = ctx;
    need(s, nested == (type == WGDEVICE_A_PEERS), "device attribute NLA_F_NESTED mismatch");
    switch (type) {
    case WGDEVICE_A_IFNAME:
        need(s, len >= 2 && len <= 16 && d[len - 1] == 0 && strlen((const char *)d) == len - 1,
             "ifname not a NUL-terminated string of <= 15 characters");
        break;
    case WGDEVICE_A_PRIVATE_KEY:
        need(s, len == 32, "private key length");
        *dev_attrs = true;
        break;
    case WGDEVICE_A_LISTEN_PORT:
        need(s, len == 2, "listen port length");
        *dev_attrs = true;
        break;
    case WGDEVICE_A_FWMARK:
        need(s, len == 4, "fwmark length");
        *dev_attrs = true;
        break;
    case WGDEVICE_A_FLAGS:
        need(s, len == 4, "device flags length");
        s->device_flags |= len == 4 ? rd32(d) : 0;
        *dev_attrs = true;
        break;
    case WGDEVICE_A_PEERS:
        need(s, len > 0, "empty peers nest");
        walk(s, msg, d, len, peers_attr, NULL);
        break;
    default:
        bad(s, "unexpected device attribute %u in a SET", type);
    }
}

void nlcheck_set_message(struct seen *s, const uint8_t *msg, size_t len, size_t buf_size,
                         uint16_t family)
{
    s->n_msgs++;
    if (len > s->max_len)
        s->max_len = len;
    need(s, len <= buf_size, "message longer than its buffer");
    if (len < 20) {
        bad(s, "message shorter than nlmsghdr + genlmsghdr");
        return;
    }
    need(s, rd32(msg) == len, "nlmsg_len differs from the emitted length");
    need(s, rd16(msg + 4) == family, "nlmsg_type is not the family id");
    uint16_t flags = rd16(msg + 6);
    need(s, (flags & (NLM_F_REQUEST | NLM_F_ACK)) == (NLM_F_REQUEST | NLM_F_ACK),
         "SET without NLM_F_REQUEST|NLM_F_ACK");
    need(s, msg[16] == WG_CMD_SET_DEVICE && msg[17] == WG_GENL_VERSION, "genl cmd/version");
    bool dev_attrs = false;
    walk(s, msg, msg + 20, len - 20, device_attr, &dev_attrs);
    if (dev_attrs)
        s->n_device_attr_msgs++;
    if (s->n_msgs == 1)
        s->first_has_device_attrs = dev_attrs;
}

void nlcheck_free(struct seen *s)
{
    free(s->peers);
    free(s->aips);
    memset(s, 0, sizeof(*s));
}
