/* Unit tests of nftfilter's message layer (no kernel):
 *  - rects: random filters (nested and overlapping prefixes, overlapping port ranges, proto any)
 *    turned into set elements, checked pairwise disjoint and, at random points and at every
 *    element's corners, against a naive scan of the entries (itself cross-checked against
 *    common/filter's filter_allows);
 *  - batch: walked by hand from the uapi layout (not through libmnl): framing, BEGIN/END, one
 *    acked sequence number per message, the order of objects, element messages under the size
 *    limit whose decoded elements are exactly the rects, iifname compared as 16 zero-padded
 *    bytes, the NFLOG group, the jump to the filter chain; bad names and entries refused;
 *  - nflog: NFLOG packet messages built by hand counted per (family, proto, src, dport), a
 *    packet cut at the snap length still counted, a cut transport header and overflow in other. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>

#include "agent/kernel/nftfilter_msg.h"
#include "common/filter/filter.h"
#include "tests/check.h"

static uint64_t rng = 0x243f6a8885a308d3ULL;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* --- naive reference ------------------------------------------------------------------------ */

static bool in_prefix(const struct filter_entry *e, const uint8_t a[16])
{
    for (unsigned bit = 0; bit < e->plen; bit++) {
        unsigned byte = bit / 8, mask = 0x80u >> (bit % 8);
        if ((e->addr[byte] & mask) != (a[byte] & mask))
            return false;
    }
    return true;
}

static bool naive_allows(const struct filter_entry *e, size_t n, int family, const uint8_t a[16],
                         uint8_t proto, uint16_t dport)
{
    uint8_t icmp = family == 4 ? 1 : 58;
    for (size_t i = 0; i < n; i++) {
        if (e[i].family != family || !in_prefix(&e[i], a))
            continue;
        bool ports = proto == 6 || proto == 17;
        bool proto_ok = e[i].proto == FILTER_PROTO_ANY || (ports && e[i].proto == proto) ||
                        (e[i].proto == FILTER_PROTO_ICMP && proto == icmp);
        if (proto_ok && (!ports || (e[i].port_lo <= dport && dport <= e[i].port_hi)))
            return true;
    }
    return false;
}

static bool in_rects(const struct nftf_rect *r, size_t n, int family, const uint8_t a[16],
                     uint16_t v)
{
    size_t alen = family == 4 ? 4 : 16;
    for (size_t i = 0; i < n; i++)
        if (memcmp(r[i].lo, a, alen) <= 0 && memcmp(a, r[i].hi, alen) <= 0 && r[i].vlo <= v &&
            v <= r[i].vhi)
            return true;
    return false;
}

/* Random entries in a small space so that they overlap: 100.64.0.0/24 (or fd7a:115c:a1e0::/120)
 * with prefixes /24../32, now and then a /16 or /0, ports 0..60 with now and then 0-65535. */
static void random_entry(struct filter_entry *e, int family)
{
    static const uint8_t protos[] = {FILTER_PROTO_TCP, FILTER_PROTO_UDP, FILTER_PROTO_ICMP,
                                     FILTER_PROTO_ANY};
    memset(e, 0, sizeof(*e));
    e->family = (uint8_t)family;
    e->proto = protos[rnd() % 4];
    if (family == 4) {
        e->addr[0] = 100, e->addr[1] = 64, e->addr[2] = 0, e->addr[3] = (uint8_t)rnd();
        e->plen = (uint8_t)(24 + rnd() % 9);
    } else {
        static const uint8_t p[] = {0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0};
        memcpy(e->addr, p, sizeof(p));
        e->addr[15] = (uint8_t)rnd();
        e->plen = (uint8_t)(120 + rnd() % 9);
    }
    uint32_t r = rnd() % 40;
    if (r == 0)
        e->plen = 0;
    else if (r == 1)
        e->plen = family == 4 ? 16 : 112;
    e->port_lo = (uint16_t)(rnd() % 60);
    e->port_hi = (uint16_t)(e->port_lo + rnd() % 8);
    if (rnd() % 10 == 0) {
        e->port_lo = 0;
        e->port_hi = 65535;
    }
}

static void random_addr(uint8_t a[16], int family)
{
    memset(a, 0, 16);
    if (family == 4) {
        a[0] = 100, a[1] = 64, a[2] = (uint8_t)(rnd() % 3 == 0 ? rnd() : 0), a[3] = (uint8_t)rnd();
        if (rnd() % 20 == 0)
            a[1] = (uint8_t)rnd();
    } else {
        static const uint8_t p[] = {0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0};
        memcpy(a, p, sizeof(p));
        a[14] = (uint8_t)(rnd() % 3 == 0 ? rnd() : 0);
        a[15] = (uint8_t)rnd();
    }
}

static const uint8_t kind_proto[NFTF_KIND_N] = {6, 17, 0};

static void check_point(const struct filter_entry *e, size_t n, const struct filter *f, int family,
                        enum nftf_kind k, const struct nftf_rect *r, size_t nr, const uint8_t a[16],
                        uint16_t v, size_t *bad)
{
    uint8_t proto = k == NFTF_PROTO ? (uint8_t)v : kind_proto[k];
    uint16_t dport = k == NFTF_PROTO ? 0 : v;
    if (k == NFTF_PROTO && (v > 255 || proto == 6 || proto == 17))
        return; /* TCP and UDP never meet the proto set */
    bool want = naive_allows(e, n, family, a, proto, dport);
    bool fa = filter_allows(f, family, a, proto, dport), ir = in_rects(r, nr, family, a, v);
    if (want != fa || want != ir) {
        if ((*bad)++ < 5)
            fprintf(
                stderr,
                "family %d kind %d proto %u port %u addr %u.%u/%02x: naive %d filter %d rects %d\n",
                family, k, proto, dport, a[2], a[3], a[15], want, fa, ir);
    }
}

static void test_rects_random(void)
{
    size_t bad = 0, checked_sets = 0, total_elems = 0;
    for (int round = 0; round < 120; round++) {
        size_t n = 1 + rnd() % 40;
        struct filter_entry e[40];
        for (size_t i = 0; i < n; i++)
            random_entry(&e[i], rnd() % 3 ? 4 : 6);
        struct filter *f;
        CHECK(filter_build(&f, e, n) == 0);
        for (int family = 4; family <= 6; family += 2) {
            for (int k = 0; k < NFTF_KIND_N; k++) {
                struct nftf_rect *r;
                size_t nr;
                CHECK(nftf_rects_build(e, n, family, (enum nftf_kind)k, &r, &nr) == 0);
                checked_sets++;
                total_elems += nr;
                size_t alen = family == 4 ? 4 : 16;
                for (size_t i = 0; i < nr; i++) {
                    CHECK(memcmp(r[i].lo, r[i].hi, alen) <= 0 && r[i].vlo <= r[i].vhi);
                    for (size_t j = i + 1; j < nr; j++) { /* pairwise disjoint */
                        bool addr_overlap = memcmp(r[i].lo, r[j].hi, alen) <= 0 &&
                                            memcmp(r[j].lo, r[i].hi, alen) <= 0;
                        bool v_overlap = r[i].vlo <= r[j].vhi && r[j].vlo <= r[i].vhi;
                        CHECK(!(addr_overlap && v_overlap));
                    }
                }
                for (int p = 0; p < 300; p++) {
                    uint8_t a[16];
                    random_addr(a, family);
                    check_point(e, n, f, family, (enum nftf_kind)k, r, nr, a,
                                (uint16_t)(k == NFTF_PROTO ? rnd() % 256 : rnd() % 70), &bad);
                }
                for (size_t i = 0; i < nr; i++) { /* corners and one past them */
                    const uint16_t vs[] = {r[i].vlo, r[i].vhi, (uint16_t)(r[i].vlo - 1),
                                           (uint16_t)(r[i].vhi + 1)};
                    for (int c = 0; c < 4; c++) {
                        check_point(e, n, f, family, (enum nftf_kind)k, r, nr, r[i].lo, vs[c],
                                    &bad);
                        check_point(e, n, f, family, (enum nftf_kind)k, r, nr, r[i].hi, vs[c],
                                    &bad);
                    }
                }
                free(r);
            }
        }
        filter_free(f);
    }
    if (bad)
        fprintf(stderr, "rects: %zu points disagree with the naive reference\n", bad);
    CHECK(bad == 0);
    printf("rects: %zu sets, %zu elements checked\n", checked_sets, total_elems);
}

static void test_rects_merge(void)
{
    /* A /24 with 443 and a /32 inside it with 22-25 and 443: three rectangles for the /24's
     * pieces around the /32 are not needed when ports agree; here they differ. */
    struct filter_entry e[3];
    CHECK(filter_entry_parse("tcp 100.64.7.0/24 443", &e[0]) == 0);
    CHECK(filter_entry_parse("tcp 100.64.7.9/32 22-25", &e[1]) == 0);
    CHECK(filter_entry_parse("any 100.64.7.9/32 444", &e[2]) == 0);
    struct nftf_rect *r;
    size_t nr;
    CHECK(nftf_rects_build(e, 3, 4, NFTF_TCP, &r, &nr) == 0);
    CHECK(nr == 4); /* .0-.8 443; .9 22-25; .9 443-444; .10-.255 443 */
    if (nr == 4) {
        CHECK(r[0].lo[3] == 0 && r[0].hi[3] == 8 && r[0].vlo == 443 && r[0].vhi == 443);
        CHECK(r[1].lo[3] == 9 && r[1].hi[3] == 9 && r[1].vlo == 22 && r[1].vhi == 25);
        CHECK(r[2].lo[3] == 9 && r[2].vlo == 443 && r[2].vhi == 444);
        CHECK(r[3].lo[3] == 10 && r[3].hi[3] == 255);
    }
    free(r);
    CHECK(nftf_rects_build(e, 3, 4, NFTF_PROTO, &r, &nr) == 0);
    CHECK(nr == 3); /* the any entry: every protocol but 6 and 17 */
    free(r);
    CHECK(nftf_rects_build(e, 3, 6, NFTF_TCP, &r, &nr) == 0 && nr == 0 && r == NULL);
    /* A /10 allowing 443 stays one element around the hosts inside it that allow more. */
    CHECK(filter_entry_parse("tcp 100.64.0.0/10 443", &e[0]) == 0);
    CHECK(filter_entry_parse("tcp 100.64.0.7/32 22", &e[1]) == 0);
    CHECK(filter_entry_parse("tcp 100.64.0.9/32 8000-8099", &e[2]) == 0);
    CHECK(nftf_rects_build(e, 3, 4, NFTF_TCP, &r, &nr) == 0);
    CHECK(nr == 3);
    if (nr == 3) { /* sorted by (lo, port) */
        CHECK(r[0].lo[1] == 64 && r[0].lo[3] == 0 && r[0].hi[1] == 127 && r[0].hi[3] == 255 &&
              r[0].vlo == 443 && r[0].vhi == 443);
        CHECK(r[1].lo[3] == 7 && r[1].hi[3] == 7 && r[1].vlo == 22);
        CHECK(r[2].lo[3] == 9 && r[2].hi[3] == 9 && r[2].vlo == 8000 && r[2].vhi == 8099);
    }
    free(r);
    /* 0.0.0.0/0 and ::/0 reach the last address. */
    CHECK(filter_entry_parse("udp 0.0.0.0/0 53", &e[0]) == 0);
    CHECK(filter_entry_parse("udp ::/0 53", &e[1]) == 0);
    CHECK(nftf_rects_build(e, 2, 4, NFTF_UDP, &r, &nr) == 0 && nr == 1);
    if (nr == 1)
        CHECK(r[0].hi[0] == 255 && r[0].hi[3] == 255 && r[0].lo[0] == 0);
    free(r);
    CHECK(nftf_rects_build(e, 2, 6, NFTF_UDP, &r, &nr) == 0 && nr == 1);
    if (nr == 1)
        CHECK(r[0].hi[0] == 255 && r[0].hi[15] == 255);
    free(r);
}

/* --- batch walk ----------------------------------------------------------------------------- */

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

/* Finds attribute type in [p, p+len), checking every header on the way; NULL if absent or if
 * the region is malformed (which also fails a check). */
static const uint8_t *attr(const uint8_t *p, size_t len, uint16_t type, size_t *alen)
{
    size_t off = 0;
    while (off + 4 <= len) {
        uint16_t l = rd16(p + off), t = rd16(p + off + 2) & NLA_TYPE_MASK;
        if (l < 4 || l > len - off) {
            CHECK(!"attribute length out of bounds");
            return NULL;
        }
        if (t == type) {
            *alen = l - 4u;
            return p + off + 4;
        }
        off += (l + 3u) & ~3u;
    }
    CHECK(off == len || off > len - 4 || len < 4);
    return NULL;
}

static const char *attr_str(const uint8_t *p, size_t len, uint16_t type)
{
    size_t l;
    const uint8_t *a = attr(p, len, type, &l);
    return a && l && a[l - 1] == 0 ? (const char *)a : "";
}

static uint32_t attr_be32(const uint8_t *p, size_t len, uint16_t type)
{
    size_t l;
    const uint8_t *a = attr(p, len, type, &l);
    return a && l == 4 ? ntohl(rd32(a)) : 0xdeadbeef;
}

struct walk {
    int types[256];
    size_t ntypes;
    size_t elems[2][NFTF_KIND_N];
    struct nftf_rect *dec[2][NFTF_KIND_N]; /* decoded elements, in order */
    size_t max_msg;
    int jumps, iif_ok, log_group, drop_rules;
};

static void decode_elems(struct walk *w, const uint8_t *p, size_t len, const char *set)
{
    int family = strchr(set, '4') ? 4 : 6, k = set[0] == 't'   ? NFTF_TCP
                                               : set[0] == 'u' ? NFTF_UDP
                                                               : NFTF_PROTO;
    size_t l, alen = family == 4 ? 4 : 16;
    const uint8_t *list = attr(p, len, NFTA_SET_ELEM_LIST_ELEMENTS, &l);
    CHECK(list != NULL);
    size_t off = 0;
    while (list && off + 4 <= l) {
        uint16_t el = rd16(list + off);
        CHECK(el >= 4 && el <= l - off && (rd16(list + off + 2) & NLA_F_NESTED));
        const uint8_t *ep = list + off + 4;
        size_t kl, vl, kel, vel;
        const uint8_t *key = attr(ep, el - 4u, NFTA_SET_ELEM_KEY, &kl);
        const uint8_t *kend = attr(ep, el - 4u, NFTA_SET_ELEM_KEY_END, &kel);
        const uint8_t *kv = key ? attr(key, kl, NFTA_DATA_VALUE, &vl) : NULL;
        const uint8_t *kev = kend ? attr(kend, kel, NFTA_DATA_VALUE, &vel) : NULL;
        CHECK(kv && kev && vl == alen + 4 && vel == alen + 4);
        if (kv && kev && vl == alen + 4 && vel == alen + 4) {
            size_t *n = &w->elems[family == 6][k];
            w->dec[family == 6][k] =
                realloc(w->dec[family == 6][k], (*n + 1) * sizeof(struct nftf_rect));
            struct nftf_rect *r = &w->dec[family == 6][k][(*n)++];
            memset(r, 0, sizeof(*r));
            memcpy(r->lo, kv, alen);
            memcpy(r->hi, kev, alen);
            r->vlo = k == NFTF_PROTO ? kv[alen] : (uint16_t)(kv[alen] << 8 | kv[alen + 1]);
            r->vhi = k == NFTF_PROTO ? kev[alen] : (uint16_t)(kev[alen] << 8 | kev[alen + 1]);
            /* register padding is zero */
            CHECK(kv[alen + 2] == 0 && kv[alen + 3] == 0 && (k != NFTF_PROTO || kv[alen + 1] == 0));
        }
        off += (el + 3u) & ~3u;
    }
}

/* Looks at one rule's expressions for the hook chains' jump and the drop rule's log. */
static void walk_rule(struct walk *w, const uint8_t *p, size_t len, const char *ifname,
                      uint16_t group)
{
    size_t l;
    const uint8_t *exprs = attr(p, len, NFTA_RULE_EXPRESSIONS, &l);
    CHECK(exprs != NULL);
    size_t off = 0;
    bool iif = false, log = false;
    while (exprs && off + 4 <= l) {
        uint16_t el = rd16(exprs + off);
        const uint8_t *ep = exprs + off + 4;
        const char *name = attr_str(ep, el - 4u, NFTA_EXPR_NAME);
        size_t dl;
        const uint8_t *d = attr(ep, el - 4u, NFTA_EXPR_DATA, &dl);
        CHECK(d != NULL);
        if (d && !strcmp(name, "meta") && attr_be32(d, dl, NFTA_META_KEY) == NFT_META_IIFNAME)
            iif = true;
        if (d && iif && !strcmp(name, "cmp")) {
            size_t cl, vl;
            const uint8_t *c = attr(d, dl, NFTA_CMP_DATA, &cl);
            const uint8_t *v = c ? attr(c, cl, NFTA_DATA_VALUE, &vl) : NULL;
            char want[16] = {0};
            memcpy(want, ifname, strlen(ifname));
            if (v && vl == 16 && !memcmp(v, want, 16))
                w->iif_ok++;
            iif = false;
        }
        if (d && !strcmp(name, "log")) {
            size_t gl;
            const uint8_t *g = attr(d, dl, NFTA_LOG_GROUP, &gl);
            if (g && gl == 2 && ntohs(rd16(g)) == group)
                w->log_group++;
            log = true;
        }
        if (d && !strcmp(name, "immediate")) {
            size_t il, vl2;
            const uint8_t *imm = attr(d, dl, NFTA_IMMEDIATE_DATA, &il);
            const uint8_t *verd = imm ? attr(imm, il, NFTA_DATA_VERDICT, &vl2) : NULL;
            CHECK(verd != NULL);
            if (verd) {
                int32_t code = (int32_t)attr_be32(verd, vl2, NFTA_VERDICT_CODE);
                if (code == NFT_JUMP && !strcmp(attr_str(verd, vl2, NFTA_VERDICT_CHAIN), "filter"))
                    w->jumps++;
                if (code == NF_DROP && log)
                    w->drop_rules++;
            }
        }
        off += (el + 3u) & ~3u;
    }
}

static void walk_batch(struct walk *w, const struct nftf_batch *b, const char *table,
                       const char *ifname, uint16_t group)
{
    size_t off = 0;
    uint32_t seq = b->seq_first;
    bool begin = false, end = false;
    memset(w, 0, sizeof(*w));
    while (off < b->len) {
        CHECK(b->len - off >= sizeof(struct nlmsghdr) + sizeof(struct nfgenmsg));
        const struct nlmsghdr *nlh = (const struct nlmsghdr *)(b->buf + off);
        CHECK(nlh->nlmsg_len % 4 == 0 && nlh->nlmsg_len <= b->len - off);
        CHECK(nlh->nlmsg_len <= NFTF_MSG_MAX);
        if (nlh->nlmsg_len % 4 || nlh->nlmsg_len > b->len - off || nlh->nlmsg_len < 20)
            return;
        if (nlh->nlmsg_len > w->max_msg)
            w->max_msg = nlh->nlmsg_len;
        const struct nfgenmsg *g = (const void *)(nlh + 1);
        const uint8_t *p = (const uint8_t *)(g + 1);
        size_t len = nlh->nlmsg_len - sizeof(*nlh) - sizeof(*g);
        if (nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN || nlh->nlmsg_type == NFNL_MSG_BATCH_END) {
            CHECK(ntohs(g->res_id) == NFNL_SUBSYS_NFTABLES);
            if (nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN)
                CHECK(off == 0 && (begin = true));
            else
                CHECK(off + nlh->nlmsg_len == b->len && (end = true));
        } else {
            CHECK(nlh->nlmsg_type >> 8 == NFNL_SUBSYS_NFTABLES);
            CHECK((nlh->nlmsg_flags & (NLM_F_REQUEST | NLM_F_ACK)) == (NLM_F_REQUEST | NLM_F_ACK));
            CHECK(nlh->nlmsg_seq == seq++);
            CHECK(g->nfgen_family == NFPROTO_INET);
            int t = nlh->nlmsg_type & 0xff;
            if (w->ntypes < 256)
                w->types[w->ntypes++] = t;
            if (t == NFT_MSG_NEWTABLE || t == NFT_MSG_DELTABLE)
                CHECK(!strcmp(attr_str(p, len, NFTA_TABLE_NAME), table));
            if (t == NFT_MSG_NEWSET) {
                CHECK(!strcmp(attr_str(p, len, NFTA_SET_TABLE), table));
                CHECK(attr_be32(p, len, NFTA_SET_FLAGS) == (NFT_SET_INTERVAL | NFT_SET_CONCAT));
            }
            if (t == NFT_MSG_NEWSETELEM)
                decode_elems(w, p, len, attr_str(p, len, NFTA_SET_ELEM_LIST_SET));
            if (t == NFT_MSG_NEWRULE)
                walk_rule(w, p, len, ifname, group);
        }
        off += nlh->nlmsg_len;
    }
    CHECK(begin && end && seq - 1 == b->seq_last);
}

static void test_batch(size_t n, int family_mix)
{
    struct filter_entry *e = calloc(n ? n : 1, sizeof(*e));
    for (size_t i = 0; i < n; i++)
        random_entry(&e[i], family_mix && i % 2 ? 6 : 4);
    struct nftf_batch b;
    CHECK(nftf_batch_build_apply(&b, "ztna", "zt-wg0", e, n, 77, 100) == 0);
    CHECK(b.seq_first == 101);
    struct walk w;
    walk_batch(&w, &b, "ztna", "zt-wg0", 77);
    /* NEWTABLE DELTABLE NEWTABLE, then per set NEWSET and its NEWSETELEMs, then chains */
    CHECK(w.ntypes >= 3 + 6 + 1 + 8 + 4);
    CHECK(w.types[0] == NFT_MSG_NEWTABLE && w.types[1] == NFT_MSG_DELTABLE &&
          w.types[2] == NFT_MSG_NEWTABLE);
    size_t sets = 0, chains = 0, rules = 0;
    for (size_t i = 0; i < w.ntypes; i++) {
        sets += w.types[i] == NFT_MSG_NEWSET;
        chains += w.types[i] == NFT_MSG_NEWCHAIN;
        rules += w.types[i] == NFT_MSG_NEWRULE;
        if (w.types[i] == NFT_MSG_NEWSET || w.types[i] == NFT_MSG_NEWSETELEM)
            CHECK(chains == 0); /* sets and their elements before the rules that use them */
    }
    CHECK(sets == 6 && chains == 3 && rules == 1 + 6 + 1 + 2);
    CHECK(w.jumps == 2 && w.iif_ok == 2 && w.log_group == 1 && w.drop_rules == 1);
    CHECK(w.max_msg <= NFTF_MSG_MAX);
    for (int f = 0; f < 2; f++) {
        for (int k = 0; k < NFTF_KIND_N; k++) {
            struct nftf_rect *r;
            size_t nr;
            CHECK(nftf_rects_build(e, n, f ? 6 : 4, (enum nftf_kind)k, &r, &nr) == 0);
            CHECK(w.elems[f][k] == nr);
            if (w.elems[f][k] == nr && nr)
                CHECK(!memcmp(r, w.dec[f][k], nr * sizeof(*r)));
            free(r);
            free(w.dec[f][k]);
        }
    }
    char what[128];
    nftf_batch_describe(&b, 101, what, sizeof(what));
    CHECK(strstr(what, "NEWTABLE ztna") != NULL);
    nftf_batch_describe(&b, b.seq_last, what, sizeof(what));
    CHECK(strstr(what, "NEWRULE forward") != NULL);
    nftf_batch_describe(&b, 101 + 3, what, sizeof(what));
    CHECK(strstr(what, "NEWSET tcp4") != NULL);
    nftf_batch_describe(&b, 101 + 4, what, sizeof(what));
    CHECK(strstr(what, n ? "NEWSETELEM tcp4" : "NEWSET udp4") != NULL);
    nftf_batch_free(&b);
    free(e);
}

static void test_batch_bad(void)
{
    struct nftf_batch b;
    struct filter_entry e;
    CHECK(filter_entry_parse("tcp 100.64.0.1/32 22", &e) == 0);
    CHECK(nftf_batch_build_apply(&b, "ztna", "", &e, 1, 1, 1) == -EINVAL);
    CHECK(nftf_batch_build_apply(&b, "ztna", "0123456789abcdef", &e, 1, 1, 1) == -EINVAL);
    CHECK(nftf_batch_build_apply(&b, "", "wg0", &e, 1, 1, 1) == -EINVAL);
    CHECK(nftf_batch_build_apply(&b, NULL, "wg0", &e, 1, 1, 1) == -EINVAL);
    CHECK(nftf_batch_build_apply(&b, "ztna", "wg0", NULL, 1, 1, 1) == -EINVAL);
    struct filter_entry bad = e;
    bad.family = 5;
    CHECK(nftf_batch_build_apply(&b, "ztna", "wg0", &bad, 1, 1, 1) == -EINVAL);
    bad = e, bad.plen = 33;
    CHECK(nftf_batch_build_apply(&b, "ztna", "wg0", &bad, 1, 1, 1) == -EINVAL);
    bad = e, bad.proto = 2;
    CHECK(nftf_batch_build_apply(&b, "ztna", "wg0", &bad, 1, 1, 1) == -EINVAL);
    bad = e, bad.port_lo = 30, bad.port_hi = 20;
    CHECK(nftf_batch_build_apply(&b, "ztna", "wg0", &bad, 1, 1, 1) == -EINVAL);
    CHECK(b.buf == NULL);
    CHECK(nftf_batch_build_apply(&b, "ztna", "wg0", NULL, 0, 1, 1) == 0); /* deny all */
    nftf_batch_free(&b);
    CHECK(nftf_batch_build_delete(&b, "ztna", 9) == 0);
    CHECK(b.seq_first == 10 && b.seq_last == 10);
    struct walk w;
    walk_batch(&w, &b, "ztna", "", 0);
    CHECK(w.ntypes == 1 && w.types[0] == NFT_MSG_DELTABLE);
    nftf_batch_free(&b);
}

/* --- NFLOG ------------------------------------------------------------------------------------ */

static size_t put_nflog(uint8_t *buf, const uint8_t *pkt, size_t plen, uint8_t family)
{
    struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
    struct nfgenmsg *g = (struct nfgenmsg *)(nlh + 1);
    uint8_t *p = (uint8_t *)(g + 1);
    memset(buf, 0, 64 + plen + 8);
    struct nfulnl_msg_packet_hdr ph = {.hw_protocol = htons(family == 4 ? 0x0800 : 0x86dd),
                                       .hook = 1};
    struct nlattr *a = (struct nlattr *)p;
    a->nla_type = NFULA_PACKET_HDR, a->nla_len = (uint16_t)(4 + sizeof(ph));
    memcpy(a + 1, &ph, sizeof(ph));
    p += (a->nla_len + 3u) & ~3u;
    a = (struct nlattr *)p;
    a->nla_type = NFULA_PREFIX, a->nla_len = 4 + 11;
    memcpy(a + 1, "ztna-deny ", 11);
    p += (a->nla_len + 3u) & ~3u;
    a = (struct nlattr *)p;
    a->nla_type = NFULA_PAYLOAD, a->nla_len = (uint16_t)(4 + plen);
    memcpy(a + 1, pkt, plen);
    p += (a->nla_len + 3u) & ~3u;
    nlh->nlmsg_len = (uint32_t)(p - buf);
    nlh->nlmsg_type = NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_PACKET;
    g->nfgen_family = family == 4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
    return nlh->nlmsg_len;
}

/* IPv4 TCP (or UDP) packet of total bytes from 100.64.0.src to dport. */
static size_t v4_pkt(uint8_t *p, uint8_t proto, uint8_t src, uint16_t dport, size_t total)
{
    memset(p, 0, total);
    p[0] = 0x45, p[2] = (uint8_t)(total >> 8), p[3] = (uint8_t)total, p[8] = 64, p[9] = proto;
    p[12] = 100, p[13] = 64, p[15] = src;
    p[16] = 100, p[17] = 64, p[19] = 1;
    p[20] = 0x9c, p[21] = 0x40, p[22] = (uint8_t)(dport >> 8), p[23] = (uint8_t)dport;
    if (proto == 6)
        p[32] = 0x50;
    return total;
}

static void test_nflog(void)
{
    uint8_t pkt[1500], msg[2048], buf[8192];
    struct filter_deny_count out[4];
    size_t n = 0, off = 0;
    uint64_t other = 0;

    /* two TCP 80 from .2, one UDP 53 from .2, one TCP 80 from .3 in one buffer */
    off += put_nflog(buf + off, pkt, v4_pkt(pkt, 6, 2, 80, 60), 4);
    off += put_nflog(buf + off, pkt, v4_pkt(pkt, 6, 2, 80, 60), 4);
    off += put_nflog(buf + off, pkt, v4_pkt(pkt, 17, 2, 53, 40), 4);
    off += put_nflog(buf + off, pkt, v4_pkt(pkt, 6, 3, 80, 52), 4);
    CHECK(nftf_nflog_parse(buf, off, out, 4, &n, &other));
    CHECK(n == 3 && other == 0);
    CHECK(out[0].family == 4 && out[0].proto == 6 && out[0].dport == 80 && out[0].packets == 2);
    CHECK(out[0].src[0] == 100 && out[0].src[1] == 64 && out[0].src[3] == 2);
    CHECK(out[1].proto == 17 && out[1].dport == 53 && out[1].packets == 1);
    CHECK(out[2].src[3] == 3 && out[2].packets == 1);

    /* a 1400-byte packet cut at the snap length: counted by its header */
    v4_pkt(pkt, 6, 2, 80, 1400);
    CHECK(nftf_nflog_parse(msg, put_nflog(msg, pkt, NFTF_LOG_SNAPLEN, 4), out, 4, &n, &other));
    CHECK(n == 3 && out[0].packets == 3 && other == 0);
    /* the TCP header cut: not counted as a port, counted in other */
    CHECK(nftf_nflog_parse(msg, put_nflog(msg, pkt, 30, 4), out, 4, &n, &other));
    CHECK(n == 3 && other == 1);

    /* IPv6 ICMPv6 echo request from fd7a:115c:a1e0::2: dport 0 */
    memset(pkt, 0, 48);
    pkt[0] = 0x60, pkt[5] = 8, pkt[6] = 58, pkt[7] = 64;
    static const uint8_t pre[] = {0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0};
    memcpy(pkt + 8, pre, 6), pkt[23] = 2;
    memcpy(pkt + 24, pre, 6), pkt[39] = 1;
    pkt[40] = 128, pkt[44] = 0x12, pkt[45] = 0x34;
    CHECK(nftf_nflog_parse(msg, put_nflog(msg, pkt, 48, 6), out, 4, &n, &other));
    CHECK(n == 4 && out[3].family == 6 && out[3].proto == 58 && out[3].dport == 0 &&
          out[3].src[15] == 2 && out[3].src[0] == 0xfd);
    /* slots full: a new key goes to other, an existing one still counts */
    CHECK(nftf_nflog_parse(msg, put_nflog(msg, pkt, v4_pkt(pkt, 6, 9, 22, 60), 4), out, 4, &n,
                           &other));
    CHECK(n == 4 && other == 2);
    CHECK(nftf_nflog_parse(msg, put_nflog(msg, pkt, v4_pkt(pkt, 17, 2, 53, 40), 4), out, 4, &n,
                           &other));
    CHECK(out[1].packets == 2 && other == 2);

    /* framing: trailing garbage is malformed; other message types are skipped */
    size_t l = put_nflog(msg, pkt, v4_pkt(pkt, 6, 2, 80, 60), 4);
    CHECK(!nftf_nflog_parse(msg, l + 3, out, 4, &n, &other));
    ((struct nlmsghdr *)msg)->nlmsg_type = NLMSG_NOOP;
    uint64_t before = out[0].packets;
    CHECK(nftf_nflog_parse(msg, l, out, 4, &n, &other) && out[0].packets == before);
    /* no payload attribute: other */
    l = put_nflog(msg, pkt, v4_pkt(pkt, 6, 2, 80, 60), 4);
    ((struct nlattr *)(msg + l - 64))->nla_type = 99; /* the payload attribute: 4 + 60 bytes */
    CHECK(nftf_nflog_parse(msg, l, out, 4, &n, &other) && other == 3);
}

int main(void)
{
    test_rects_merge();
    test_rects_random();
    test_batch(0, 0);
    test_batch(30, 1);
    test_batch(1000, 1);
    test_batch_bad();
    test_nflog();
    return check_finish("test_nftfilter_msg");
}
