/* Kernel WireGuard backend, without a kernel: SET messages built by agent/kernel for devices with
 * 0, 1 and many peers are walked by an independent checker (tests/kernel/nlcheck.c: nla types,
 * lengths, nesting, NLA_F_NESTED, alignment) and reassembled: every peer and allowed IP appears
 * exactly once and in order across chunks, device attributes only in the first message,
 * WGPEER_F_REPLACE_ALLOWEDIPS / PSK / endpoint / keepalive only in a peer's first chunk, and no
 * message exceeds its buffer. Canned GET dumps (built here with libmnl, split across parts, with
 * unknown attributes) are parsed back into the model and compared; malformed replies and every
 * truncation are rejected without crashing. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/wireguard.h>

#include "agent/kernel/wgnl.h"
#include "tests/check.h"
#include "tests/kernel/nlcheck.h"

#define FAMILY 0x1d

static uint64_t rng = 0x243f6a8885a308d3ULL;
static uint32_t rnd(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)rng;
}

/* A config with n peers; peer i has aips(i) allowed IPs (v4 and v6 alternating). */
static struct wg_device_config *make_cfg(size_t n, size_t (*aips)(size_t))
{
    struct wg_device_config *c = calloc(1, sizeof(*c));
    snprintf(c->ifname, sizeof(c->ifname), "zkem0");
    c->flags = WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT | WG_DEVICE_HAS_FWMARK |
               WG_DEVICE_REPLACE_PEERS;
    memset(c->private_key, 0x41, 32);
    c->listen_port = 51820;
    c->fwmark = 0x1234;
    c->n_peers = n;
    c->peers = calloc(n ? n : 1, sizeof(*c->peers));
    for (size_t i = 0; i < n; i++) {
        struct wg_peer_config *p = &c->peers[i];
        for (int k = 0; k < 32; k++)
            p->public_key[k] = (uint8_t)(i * 31 + k + (i >> 8));
        p->public_key[0] = (uint8_t)i, p->public_key[1] = (uint8_t)(i >> 8);
        p->flags = WG_PEER_REPLACE_ALLOWEDIPS;
        if (i % 3 == 0) {
            p->flags |= WG_PEER_HAS_PRESHARED_KEY;
            memset(p->preshared_key, 0x55, 32);
        }
        if (i % 4 == 1) {
            p->flags |= WG_PEER_HAS_ENDPOINT;
            p->endpoint.addr4.sin_family = AF_INET;
            p->endpoint.addr4.sin_port = htons((uint16_t)(40000 + i));
            p->endpoint.addr4.sin_addr.s_addr = htonl(0xc6120000u | (uint32_t)i); /* 198.18/15 */
        } else if (i % 4 == 2) {
            p->flags |= WG_PEER_HAS_ENDPOINT;
            p->endpoint.addr6.sin6_family = AF_INET6;
            p->endpoint.addr6.sin6_port = htons(51820);
            p->endpoint.addr6.sin6_addr.s6_addr[0] = 0xfd;
            p->endpoint.addr6.sin6_addr.s6_addr[15] = (uint8_t)i;
        }
        if (i % 5 == 0) {
            p->flags |= WG_PEER_HAS_KEEPALIVE;
            p->persistent_keepalive = 25;
        }
        if (i % 7 == 6)
            p->flags |= WG_PEER_UPDATE_ONLY;
        p->n_allowedips = aips(i);
        p->allowedips = calloc(p->n_allowedips ? p->n_allowedips : 1, sizeof(*p->allowedips));
        for (size_t j = 0; j < p->n_allowedips; j++) {
            struct wg_allowedip *a = &p->allowedips[j];
            if (j % 2 == 0) {
                a->family = AF_INET;
                a->cidr = (uint8_t)(32 - j % 8);
                a->ip4.s_addr = htonl(0x64400000u | (uint32_t)((i << 12) + j)); /* 100.64/10 */
            } else {
                a->family = AF_INET6;
                a->cidr = (uint8_t)(128 - j % 16);
                a->ip6.s6_addr[0] = 0xfd;
                a->ip6.s6_addr[1] = 0x7a;
                a->ip6.s6_addr[12] = (uint8_t)(i >> 8);
                a->ip6.s6_addr[13] = (uint8_t)i;
                a->ip6.s6_addr[14] = (uint8_t)(j >> 8);
                a->ip6.s6_addr[15] = (uint8_t)j;
            }
        }
    }
    return c;
}

static size_t aips_three(size_t i) { return 3 + 0 * i; }
static size_t aips_mixed(size_t i)
{
    if (i % 50 == 7)
        return 1500; /* one peer alone overflows a message */
    if (i % 9 == 4)
        return 0;
    return 1 + i % 13;
}

struct emit_ctx {
    struct seen seen;
    size_t buf_size;
    int fail_at; /* emit returns -EIO at this message (1-based), 0 = never */
    uint32_t last_seq;
};

static int emit(void *vctx, const void *msg, size_t len)
{
    struct emit_ctx *e = vctx;
    const struct nlmsghdr *nlh = msg;
    if (e->seen.n_msgs > 0)
        CHECK(nlh->nlmsg_seq == e->last_seq + 1);
    e->last_seq = nlh->nlmsg_seq;
    nlcheck_set_message(&e->seen, msg, len, e->buf_size, FAMILY);
    if (e->fail_at && (int)e->seen.n_msgs == e->fail_at)
        return -EIO;
    return 0;
}

static bool aip_eq(const struct wg_allowedip *a, const struct wg_allowedip *b)
{
    if (a->family != b->family || a->cidr != b->cidr)
        return false;
    return a->family == AF_INET ? a->ip4.s_addr == b->ip4.s_addr
                                : memcmp(&a->ip6, &b->ip6, 16) == 0;
}

static uint32_t want_peer_flags(const struct wg_peer_config *p)
{
    return (p->flags & WG_PEER_REMOVE ? WGPEER_F_REMOVE_ME : 0) |
           (p->flags & WG_PEER_REPLACE_ALLOWEDIPS ? WGPEER_F_REPLACE_ALLOWEDIPS : 0) |
           (p->flags & WG_PEER_UPDATE_ONLY ? WGPEER_F_UPDATE_ONLY : 0);
}

/* Reassembles the chunks against cfg; returns the number of violations. */
static int reassemble(const struct wg_device_config *cfg, const struct seen *s)
{
    int errs = 0;
    size_t ci = 0, pos = 0;
    bool started = false;
    for (size_t k = 0; k < s->n_peers; k++) {
        const struct seen_peer *sp = &s->peers[k];
        bool cont = started && ci < cfg->n_peers &&
                    memcmp(sp->key, cfg->peers[ci].public_key, 32) == 0 && pos > 0 &&
                    pos < cfg->peers[ci].n_allowedips;
        if (cont) {
            errs += sp->flags & WGPEER_F_REPLACE_ALLOWEDIPS ? 1 : 0;
            errs += sp->has_psk || sp->has_endpoint || sp->has_keepalive;
        } else {
            if (started) {
                errs += pos != cfg->peers[ci].n_allowedips; /* previous peer incomplete */
                ci++;
            }
            started = true;
            pos = 0;
            if (ci >= cfg->n_peers) {
                errs++;
                break;
            }
            const struct wg_peer_config *p = &cfg->peers[ci];
            errs += memcmp(sp->key, p->public_key, 32) != 0;
            errs += sp->flags != want_peer_flags(p);
            errs += sp->has_psk != !!(p->flags & WG_PEER_HAS_PRESHARED_KEY);
            errs += sp->has_endpoint != !!(p->flags & WG_PEER_HAS_ENDPOINT);
            errs += sp->has_keepalive != !!(p->flags & WG_PEER_HAS_KEEPALIVE);
        }
        const struct wg_peer_config *p = &cfg->peers[ci];
        for (size_t j = 0; j < sp->n_aip; j++, pos++)
            errs += pos >= p->n_allowedips || !aip_eq(&s->aips[sp->first_aip + j], &p->allowedips[pos]);
    }
    if (cfg->n_peers) {
        errs += !started || ci != cfg->n_peers - 1;
        errs += started && ci < cfg->n_peers && pos != cfg->peers[ci].n_allowedips;
    }
    return errs;
}

static void check_set(struct wg_device_config *cfg, size_t buf_size, size_t min_msgs,
                      const char *name)
{
    struct emit_ctx e = {.buf_size = buf_size};
    int rc = wgnl_set_build(cfg, FAMILY, 1000, buf_size, emit, &e);
    CHECK(rc == 0);
    CHECK(e.seen.n_errors == 0);
    if (e.seen.n_errors)
        fprintf(stderr, "%s: checker: %s (%d violations)\n", name, e.seen.errors, e.seen.n_errors);
    CHECK(e.seen.n_msgs >= min_msgs);
    CHECK(e.seen.max_len <= buf_size);
    CHECK(e.seen.first_has_device_attrs);
    CHECK(e.seen.n_device_attr_msgs == 1);
    CHECK(e.seen.device_flags == WGDEVICE_F_REPLACE_PEERS);
    size_t total = 0;
    for (size_t i = 0; i < cfg->n_peers; i++)
        total += cfg->peers[i].n_allowedips;
    CHECK(e.seen.n_aips == total);
    int errs = reassemble(cfg, &e.seen);
    CHECK(errs == 0);
    printf("%s: %zu peers, %zu allowed IPs, %zu message(s) of <= %zu bytes (buffer %zu), "
           "%d reassembly errors\n",
           name, cfg->n_peers, total, e.seen.n_msgs, e.seen.max_len, buf_size, errs);
    nlcheck_free(&e.seen);
}

static void test_set(void)
{
    struct wg_device_config *c0 = make_cfg(0, aips_three);
    check_set(c0, WGNL_MSG_MAX, 1, "set/0 peers");
    struct wg_device_config *c1 = make_cfg(1, aips_three);
    check_set(c1, WGNL_MSG_MAX, 1, "set/1 peer");
    struct wg_device_config *cm = make_cfg(400, aips_mixed);
    check_set(cm, WGNL_MSG_MAX, 5, "set/many peers");
    check_set(cm, 512, 50, "set/many peers, 512-byte buffer");
    check_set(cm, 200, 100, "set/many peers, 200-byte buffer");

    /* The callback's error stops the build and is returned. */
    struct emit_ctx e = {.buf_size = WGNL_MSG_MAX, .fail_at = 2};
    CHECK(wgnl_set_build(cm, FAMILY, 1, WGNL_MSG_MAX, emit, &e) == -EIO);
    CHECK(e.seen.n_msgs == 2);
    nlcheck_free(&e.seen);

    /* One peer entry (PSK + v6 endpoint + keepalive) that cannot fit a tiny message at all. */
    struct emit_ctx t = {.buf_size = 160};
    c1->peers[0].flags |= WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE;
    c1->peers[0].endpoint.addr6.sin6_family = AF_INET6;
    CHECK(wgnl_set_build(c1, FAMILY, 1, 160, emit, &t) == -EMSGSIZE);
    nlcheck_free(&t.seen);

    /* Bad configs. */
    struct emit_ctx b = {.buf_size = WGNL_MSG_MAX};
    c1->peers[0].allowedips[0].cidr = 33;
    CHECK(wgnl_set_build(c1, FAMILY, 1, WGNL_MSG_MAX, emit, &b) == -EINVAL);
    c1->peers[0].allowedips[0].cidr = 32;
    c1->peers[0].allowedips[1].family = AF_UNIX;
    CHECK(wgnl_set_build(c1, FAMILY, 1, WGNL_MSG_MAX, emit, &b) == -EINVAL);
    c1->peers[0].allowedips[1].family = AF_INET6;
    c1->peers[0].endpoint.addr.sa_family = AF_UNIX;
    CHECK(wgnl_set_build(c1, FAMILY, 1, WGNL_MSG_MAX, emit, &b) == -EINVAL);
    c1->peers[0].endpoint.addr.sa_family = AF_INET6;
    c1->ifname[0] = 0;
    CHECK(wgnl_set_build(c1, FAMILY, 1, WGNL_MSG_MAX, emit, &b) == -EINVAL);
    memset(c1->ifname, 'x', sizeof(c1->ifname));
    CHECK(wgnl_set_build(c1, FAMILY, 1, WGNL_MSG_MAX, emit, &b) == -EINVAL);
    CHECK(b.seen.n_msgs == 0);
    nlcheck_free(&b.seen);

    wg_device_config_free(c0);
    wg_device_config_free(c1);
    wg_device_config_free(cm);
}

/* ---- canned GET dumps ---------------------------------------------------------------------- */

static uint8_t dump[1 << 20];

static struct nlmsghdr *part_start(uint8_t *at)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(at);
    nlh->nlmsg_type = FAMILY;
    nlh->nlmsg_flags = NLM_F_MULTI;
    struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
    g->cmd = WG_CMD_GET_DEVICE;
    g->version = 1;
    return nlh;
}

/* Writes cfg as a dump whose parts hold at most per_part allowed IPs; returns the length and
 * sets *parts. Each part is also recorded in part_off[] for part-by-part parsing. */
#define MAX_PARTS 8192
static size_t part_off[MAX_PARTS + 1];
static size_t build_dump(const struct wg_device_config *cfg, size_t per_part, size_t *parts)
{
    size_t off = 0, peer = 0, aip = 0;
    *parts = 0;
    do {
        if (*parts >= MAX_PARTS || off + 65536 > sizeof(dump))
            abort(); /* test bug: dump too large for the canned buffer */
        part_off[(*parts)++] = off;
        struct nlmsghdr *nlh = part_start(dump + off);
        if (off == 0) {
            mnl_attr_put_u32(nlh, WGDEVICE_A_IFINDEX, 7);
            mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, cfg->ifname);
            mnl_attr_put(nlh, WGDEVICE_A_PRIVATE_KEY, 32, cfg->private_key);
            mnl_attr_put(nlh, WGDEVICE_A_PUBLIC_KEY, 32, cfg->public_key);
            mnl_attr_put_u16(nlh, WGDEVICE_A_LISTEN_PORT, cfg->listen_port);
            mnl_attr_put_u32(nlh, WGDEVICE_A_FWMARK, cfg->fwmark);
            mnl_attr_put_u32(nlh, 40, 0xdeadbeef); /* unknown: skipped */
        }
        size_t budget = per_part;
        if (peer < cfg->n_peers) {
            struct nlattr *peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
            for (; peer < cfg->n_peers && budget > 0; peer++) {
                const struct wg_peer_config *p = &cfg->peers[peer];
                struct nlattr *pn = mnl_attr_nest_start(nlh, 0);
                mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, 32, p->public_key);
                if (aip == 0) {
                    mnl_attr_put(nlh, WGPEER_A_PRESHARED_KEY, 32, p->preshared_key);
                    if (p->flags & WG_PEER_HAS_ENDPOINT)
                        mnl_attr_put(nlh, WGPEER_A_ENDPOINT,
                                     p->endpoint.addr.sa_family == AF_INET ? 16 : 28, &p->endpoint);
                    mnl_attr_put_u16(nlh, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
                                     p->persistent_keepalive);
                    int64_t ts[2] = {p->last_handshake.tv_sec, p->last_handshake.tv_nsec};
                    mnl_attr_put(nlh, WGPEER_A_LAST_HANDSHAKE_TIME, sizeof(ts), ts);
                    mnl_attr_put_u64(nlh, WGPEER_A_RX_BYTES, p->rx_bytes);
                    mnl_attr_put_u64(nlh, WGPEER_A_TX_BYTES, p->tx_bytes);
                    mnl_attr_put_u32(nlh, WGPEER_A_PROTOCOL_VERSION, 1);
                    mnl_attr_put_u8(nlh, 99, 1); /* unknown: skipped */
                }
                if (p->n_allowedips) {
                    struct nlattr *an = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
                    for (; aip < p->n_allowedips && budget > 0; aip++, budget--) {
                        const struct wg_allowedip *a = &p->allowedips[aip];
                        struct nlattr *e = mnl_attr_nest_start(nlh, 0);
                        mnl_attr_put_u16(nlh, WGALLOWEDIP_A_FAMILY, a->family);
                        mnl_attr_put(nlh, WGALLOWEDIP_A_IPADDR, a->family == AF_INET ? 4 : 16,
                                     &a->ip4);
                        mnl_attr_put_u8(nlh, WGALLOWEDIP_A_CIDR_MASK, a->cidr);
                        mnl_attr_nest_end(nlh, e);
                    }
                    mnl_attr_nest_end(nlh, an);
                }
                mnl_attr_nest_end(nlh, pn);
                if (aip < p->n_allowedips)
                    break; /* continue this peer in the next part */
                aip = 0;
            }
            mnl_attr_nest_end(nlh, peers);
        }
        off += NLMSG_ALIGN(nlh->nlmsg_len);
    } while (peer < cfg->n_peers);
    part_off[(*parts)] = off;
    struct nlmsghdr *done = mnl_nlmsg_put_header(dump + off);
    done->nlmsg_type = NLMSG_DONE;
    done->nlmsg_flags = NLM_F_MULTI;
    int32_t zero = 0;
    memcpy(mnl_nlmsg_put_extra_header(done, 4), &zero, 4);
    off += done->nlmsg_len;
    return off;
}

static void compare_model(const struct wg_device_config *want, const struct wg_device_config *got)
{
    CHECK(strcmp(want->ifname, got->ifname) == 0);
    CHECK_MEM(want->private_key, got->private_key, 32);
    CHECK_MEM(want->public_key, got->public_key, 32);
    CHECK(want->listen_port == got->listen_port && want->fwmark == got->fwmark);
    CHECK((got->flags & (WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT |
                         WG_DEVICE_HAS_FWMARK)) ==
          (WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT | WG_DEVICE_HAS_FWMARK));
    CHECK(want->n_peers == got->n_peers);
    for (size_t i = 0; i < want->n_peers && i < got->n_peers; i++) {
        const struct wg_peer_config *a = &want->peers[i], *b = &got->peers[i];
        CHECK_MEM(a->public_key, b->public_key, 32);
        CHECK_MEM(a->preshared_key, b->preshared_key, 32);
        CHECK(!!(a->flags & WG_PEER_HAS_ENDPOINT) == !!(b->flags & WG_PEER_HAS_ENDPOINT));
        if (a->flags & WG_PEER_HAS_ENDPOINT)
            CHECK_MEM(&a->endpoint, &b->endpoint,
                      a->endpoint.addr.sa_family == AF_INET ? 16 : 28);
        CHECK(a->persistent_keepalive == b->persistent_keepalive);
        CHECK(a->rx_bytes == b->rx_bytes && a->tx_bytes == b->tx_bytes);
        CHECK(a->last_handshake.tv_sec == b->last_handshake.tv_sec &&
              a->last_handshake.tv_nsec == b->last_handshake.tv_nsec);
        CHECK(a->n_allowedips == b->n_allowedips);
        for (size_t j = 0; j < a->n_allowedips && j < b->n_allowedips; j++)
            CHECK(aip_eq(&a->allowedips[j], &b->allowedips[j]));
    }
}

static void check_dump(struct wg_device_config *cfg, size_t per_part, const char *name)
{
    size_t parts;
    for (size_t i = 0; i < cfg->n_peers; i++) {
        cfg->peers[i].rx_bytes = rnd();
        cfg->peers[i].tx_bytes = (uint64_t)rnd() << 32 | rnd();
        cfg->peers[i].last_handshake.tv_sec = 1700000000 + (time_t)i;
        cfg->peers[i].last_handshake.tv_nsec = (long)(rnd() % 1000000000);
    }
    memset(cfg->public_key, 0x42, 32);
    size_t len = build_dump(cfg, per_part, &parts);

    /* The whole dump in one buffer. */
    struct wg_device_config *got = calloc(1, sizeof(*got));
    bool done = false;
    CHECK(wgnl_get_reply_parse(got, dump, len, FAMILY, &done) == 0 && done);
    compare_model(cfg, got);
    wg_device_config_free(got);

    /* Part by part, as recv() delivers them. */
    got = calloc(1, sizeof(*got));
    done = false;
    for (size_t i = 0; i < parts; i++)
        CHECK(wgnl_get_reply_parse(got, dump + part_off[i], part_off[i + 1] - part_off[i],
                                   FAMILY, &done) == 0 && !done);
    CHECK(wgnl_get_reply_parse(got, dump + part_off[parts], len - part_off[parts], FAMILY,
                               &done) == 0 && done);
    compare_model(cfg, got);
    wg_device_config_free(got);
    printf("%s: %zu peers in %zu dump parts parsed back\n", name, cfg->n_peers, parts);
}

static int parse_one(const uint8_t *buf, size_t len)
{
    struct wg_device_config *got = calloc(1, sizeof(*got));
    bool done = false;
    int rc = wgnl_get_reply_parse(got, buf, len, FAMILY, &done);
    wg_device_config_free(got);
    return rc;
}

static void test_get_malformed(void)
{
    struct wg_device_config *c1 = make_cfg(2, aips_three);
    size_t parts;
    size_t len = build_dump(c1, 100, &parts);
    CHECK(parse_one(dump, len) == 0);

    /* Every truncation: a cut inside a message is -EBADMSG; at a message boundary it is fine. */
    int bad = 0, ok = 0;
    for (size_t cut = 1; cut < len; cut++) {
        int rc = parse_one(dump, cut);
        bool boundary = cut == part_off[1] || cut == part_off[parts];
        CHECK(boundary ? rc == 0 : rc == -EBADMSG);
        if (boundary)
            ok++;
        else
            bad++;
    }
    printf("get/truncations: %d rejected, %d at message boundaries accepted\n", bad, ok);

    /* Single-field corruptions of the first part, each must be rejected. */
    static uint8_t m[8192];
    struct nlmsghdr *nlh = (struct nlmsghdr *)dump;
    size_t first = part_off[1];
    /* find the WGDEVICE_A_PRIVATE_KEY attribute and make its length 20 (key must be 32) */
    struct nlattr *attr;
    size_t pk_off = 0, peers_off = 0;
    mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
        if (mnl_attr_get_type(attr) == WGDEVICE_A_PRIVATE_KEY)
            pk_off = (size_t)((uint8_t *)attr - dump);
        if (mnl_attr_get_type(attr) == WGDEVICE_A_PEERS)
            peers_off = (size_t)((uint8_t *)attr - dump);
    }
    CHECK(pk_off && peers_off);
    memcpy(m, dump, first);
    uint16_t v = 24; /* 4 + 20 */
    memcpy(m + pk_off, &v, 2);
    CHECK(parse_one(m, first) == -EBADMSG);
    memcpy(m, dump, first);
    v = 2; /* nla_len below the header size */
    memcpy(m + pk_off, &v, 2);
    CHECK(parse_one(m, first) == -EBADMSG);
    memcpy(m, dump, first);
    v = 0xfff0; /* nla_len past the end */
    memcpy(m + peers_off, &v, 2);
    CHECK(parse_one(m, first) == -EBADMSG);
    memcpy(m, dump, first);
    ((struct nlmsghdr *)m)->nlmsg_flags |= NLM_F_DUMP_INTR; /* inconsistent dump: restart */
    CHECK(parse_one(m, first) == -EINTR);
    memcpy(m, dump, first);
    m[16] = WG_CMD_SET_DEVICE; /* wrong genl command */
    CHECK(parse_one(m, first) == -EBADMSG);
    memcpy(m, dump, first);
    uint32_t l = (uint32_t)first + 4; /* nlmsg_len past the buffer */
    memcpy(m, &l, 4);
    CHECK(parse_one(m, first) == -EBADMSG);
    memcpy(m, dump, first);
    uint16_t t = FAMILY + 1; /* a message of another family */
    memcpy(m + 4, &t, 2);
    CHECK(parse_one(m, first) == -EBADMSG);

    /* Peer entry without a public key; allowed IP with cidr 33; bad endpoint length. */
    uint8_t *p = m;
    struct nlmsghdr *h = part_start(p);
    struct nlattr *ps = mnl_attr_nest_start(h, WGDEVICE_A_PEERS);
    struct nlattr *pe = mnl_attr_nest_start(h, 0);
    mnl_attr_put_u64(h, WGPEER_A_RX_BYTES, 5);
    mnl_attr_nest_end(h, pe);
    mnl_attr_nest_end(h, ps);
    CHECK(parse_one(m, h->nlmsg_len) == -EBADMSG);

    h = part_start(p);
    ps = mnl_attr_nest_start(h, WGDEVICE_A_PEERS);
    pe = mnl_attr_nest_start(h, 0);
    mnl_attr_put(h, WGPEER_A_PUBLIC_KEY, 32, c1->peers[0].public_key);
    struct nlattr *an = mnl_attr_nest_start(h, WGPEER_A_ALLOWEDIPS);
    struct nlattr *e = mnl_attr_nest_start(h, 0);
    mnl_attr_put_u16(h, WGALLOWEDIP_A_FAMILY, AF_INET);
    mnl_attr_put_u32(h, WGALLOWEDIP_A_IPADDR, 0x01404064);
    mnl_attr_put_u8(h, WGALLOWEDIP_A_CIDR_MASK, 33);
    mnl_attr_nest_end(h, e);
    mnl_attr_nest_end(h, an);
    mnl_attr_nest_end(h, pe);
    mnl_attr_nest_end(h, ps);
    CHECK(parse_one(m, h->nlmsg_len) == -EBADMSG);

    h = part_start(p);
    ps = mnl_attr_nest_start(h, WGDEVICE_A_PEERS);
    pe = mnl_attr_nest_start(h, 0);
    mnl_attr_put(h, WGPEER_A_PUBLIC_KEY, 32, c1->peers[0].public_key);
    struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6};
    mnl_attr_put(h, WGPEER_A_ENDPOINT, 16, &sa6); /* v6 family with a v4 length */
    mnl_attr_nest_end(h, pe);
    mnl_attr_nest_end(h, ps);
    CHECK(parse_one(m, h->nlmsg_len) == -EBADMSG);

    /* NLMSG_ERROR carries the kernel's error; an ack (0) is not an error. */
    struct nlmsghdr *er = mnl_nlmsg_put_header(m);
    er->nlmsg_type = NLMSG_ERROR;
    struct nlmsgerr *ne = mnl_nlmsg_put_extra_header(er, sizeof(*ne));
    ne->error = -ENODEV;
    CHECK(parse_one(m, er->nlmsg_len) == -ENODEV);
    ne->error = 0;
    CHECK(parse_one(m, er->nlmsg_len) == 0);
    ne->error = 5; /* positive: malformed */
    CHECK(parse_one(m, er->nlmsg_len) == -EBADMSG);
    wg_device_config_free(c1);
}

/* test_wgkernel_nl --write-corpus DIR: writes canned dumps as seeds for fuzz_wgkernel_get. */
static int write_corpus(const char *dir)
{
    static const size_t sizes[] = {0, 1, 3, 6};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct wg_device_config *c = make_cfg(sizes[i], aips_mixed);
        size_t parts, len = build_dump(c, 5, &parts);
        char path[512];
        snprintf(path, sizeof(path), "%s/dump_%zu_peers", dir, sizes[i]);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(dump, 1, len, f) != len)
            return 1;
        fclose(f);
        wg_device_config_free(c);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
        return write_corpus(argv[2]);
    test_set();
    struct wg_device_config *c0 = make_cfg(0, aips_three);
    check_dump(c0, 100, "get/0 peers");
    struct wg_device_config *c1 = make_cfg(1, aips_three);
    check_dump(c1, 100, "get/1 peer");
    struct wg_device_config *cm = make_cfg(300, aips_mixed);
    check_dump(cm, 200, "get/many peers, split peers");
    struct wg_device_config *cs = make_cfg(40, aips_mixed);
    check_dump(cs, 1, "get/40 peers, one allowed IP per part");
    wg_device_config_free(cs);
    test_get_malformed();
    wg_device_config_free(c0);
    wg_device_config_free(c1);
    wg_device_config_free(cm);
    return check_finish("test_wgkernel_nl");
}
