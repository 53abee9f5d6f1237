/* The nf_tables transaction of nftfilter (linux/netfilter/nf_tables.h layout; `nft --debug=netlink`
 * prints the same expressions). The table it creates, in nft syntax (ruleset in docs/agent.md):
 *   set tcp4 { type ipv4_addr . inet_service; flags interval }   likewise udp4, tcp6, udp6
 *   set proto4 { type ipv4_addr . inet_proto; flags interval }    likewise proto6
 *   chain filter {
 *     ct state established,related ct direction reply accept
 *     meta nfproto ipv4 meta l4proto tcp ip saddr . tcp dport @tcp4 accept      (udp4 likewise)
 *     meta nfproto ipv4 ip saddr . meta l4proto @proto4 accept
 *     (the same three for ipv6)
 *     counter log prefix "ztna-deny " group G snaplen 256 drop }
 *   chain input { type filter hook input priority filter; policy accept; iifname IF jump filter }
 *   chain forward { ... hook forward ... iifname IF jump filter }
 * The sets never hold TCP or UDP in proto4/proto6, so each packet meets one set lookup. */
#include "agent/kernel/nftfilter_msg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

/* nft's datatype ids (src/datatype.h), concatenated as (first << 6) | second. */
enum { TYPE_IPADDR = 7, TYPE_IP6ADDR = 8, TYPE_INET_PROTOCOL = 12, TYPE_INET_SERVICE = 13 };
#define CONCAT_BITS 6
#define IFNAME_LEN 16     /* IFNAMSIZ: iifname compares the whole zero-padded name */
#define TABLE_NAME_MAX 64 /* ours; the kernel allows NFT_NAME_MAXLEN */
#define CHAIN_FILTER "filter"

const char *nftf_set_name(int family, enum nftf_kind kind)
{
    static const char *const names[2][NFTF_KIND_N] = {{"tcp4", "udp4", "proto4"},
                                                      {"tcp6", "udp6", "proto6"}};
    return names[family == 6][kind];
}

static int reserve(struct nftf_batch *b, size_t need)
{
    if (b->len + need <= b->cap)
        return 0;
    if (b->len + need > NFTF_BATCH_MAX)
        return -E2BIG;
    size_t ncap = b->cap ? b->cap * 2 : 65536;
    while (ncap < b->len + need)
        ncap *= 2;
    uint8_t *p = realloc(b->buf, ncap);
    if (!p)
        return -ENOMEM;
    b->buf = p;
    b->cap = ncap;
    return 0;
}

/* A new message at the batch's tail, with room for NFTF_MSG_MAX bytes; NULL on -ENOMEM/-E2BIG
 * (in *err). Finished by msg_end(). */
static struct nlmsghdr *msg_begin(struct nftf_batch *b, uint16_t type, uint16_t flags,
                                  uint8_t family, uint16_t res_id, uint32_t seq, int *err)
{
    *err = reserve(b, NFTF_MSG_MAX);
    if (*err)
        return NULL;
    memset(b->buf + b->len, 0, NFTF_MSG_MAX);
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(b->buf + b->len);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | flags;
    nlh->nlmsg_seq = seq;
    struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
    g->nfgen_family = family;
    g->version = NFNETLINK_V0;
    g->res_id = htons(res_id);
    return nlh;
}

static void msg_end(struct nftf_batch *b, struct nlmsghdr *nlh) { b->len += nlh->nlmsg_len; }

/* One acked nf_tables message of type t (NFT_MSG_*) with sequence number b->seq_last + 1. */
static struct nlmsghdr *nft_msg(struct nftf_batch *b, int t, uint16_t flags, int *err)
{
    return msg_begin(b, (uint16_t)(NFNL_SUBSYS_NFTABLES << 8 | t), flags | NLM_F_ACK,
                     NFPROTO_INET, 0, ++b->seq_last, err);
}

static int batch_mark(struct nftf_batch *b, uint16_t type, uint32_t seq)
{
    int err;
    struct nlmsghdr *nlh = msg_begin(b, type, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES, seq, &err);
    if (nlh)
        msg_end(b, nlh);
    return err;
}

/* --- expressions ---------------------------------------------------------------------------- */

struct expr {
    struct nlattr *elem, *data;
};

static struct expr expr_begin(struct nlmsghdr *nlh, const char *name)
{
    struct expr x;
    x.elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
    mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, name);
    x.data = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
    return x;
}

static void expr_end(struct nlmsghdr *nlh, struct expr x)
{
    mnl_attr_nest_end(nlh, x.data);
    mnl_attr_nest_end(nlh, x.elem);
}

static void put_be32(struct nlmsghdr *nlh, uint16_t type, uint32_t v)
{
    mnl_attr_put_u32(nlh, type, htonl(v));
}

static void put_data(struct nlmsghdr *nlh, uint16_t type, const void *v, size_t len)
{
    struct nlattr *d = mnl_attr_nest_start(nlh, type);
    mnl_attr_put(nlh, NFTA_DATA_VALUE, len, v);
    mnl_attr_nest_end(nlh, d);
}

static void e_meta(struct nlmsghdr *nlh, uint32_t key, uint32_t dreg)
{
    struct expr x = expr_begin(nlh, "meta");
    put_be32(nlh, NFTA_META_KEY, key);
    put_be32(nlh, NFTA_META_DREG, dreg);
    expr_end(nlh, x);
}

static void e_ct(struct nlmsghdr *nlh, uint32_t key, uint32_t dreg)
{
    struct expr x = expr_begin(nlh, "ct");
    put_be32(nlh, NFTA_CT_KEY, key);
    put_be32(nlh, NFTA_CT_DREG, dreg);
    expr_end(nlh, x);
}

static void e_cmp(struct nlmsghdr *nlh, uint32_t op, const void *v, size_t len)
{
    struct expr x = expr_begin(nlh, "cmp");
    put_be32(nlh, NFTA_CMP_SREG, NFT_REG_1);
    put_be32(nlh, NFTA_CMP_OP, op);
    put_data(nlh, NFTA_CMP_DATA, v, len);
    expr_end(nlh, x);
}

static void e_payload(struct nlmsghdr *nlh, uint32_t base, uint32_t off, uint32_t len,
                      uint32_t dreg)
{
    struct expr x = expr_begin(nlh, "payload");
    put_be32(nlh, NFTA_PAYLOAD_DREG, dreg);
    put_be32(nlh, NFTA_PAYLOAD_BASE, base);
    put_be32(nlh, NFTA_PAYLOAD_OFFSET, off);
    put_be32(nlh, NFTA_PAYLOAD_LEN, len);
    expr_end(nlh, x);
}

/* reg1 = (reg1 & mask) ^ 0 over 4 bytes (host order, as ct state is stored). */
static void e_bitwise_and32(struct nlmsghdr *nlh, uint32_t mask)
{
    uint32_t zero = 0;
    struct expr x = expr_begin(nlh, "bitwise");
    put_be32(nlh, NFTA_BITWISE_SREG, NFT_REG_1);
    put_be32(nlh, NFTA_BITWISE_DREG, NFT_REG_1);
    put_be32(nlh, NFTA_BITWISE_LEN, 4);
    put_data(nlh, NFTA_BITWISE_MASK, &mask, 4);
    put_data(nlh, NFTA_BITWISE_XOR, &zero, 4);
    expr_end(nlh, x);
}

static void e_lookup(struct nlmsghdr *nlh, const char *set)
{
    struct expr x = expr_begin(nlh, "lookup");
    mnl_attr_put_strz(nlh, NFTA_LOOKUP_SET, set);
    put_be32(nlh, NFTA_LOOKUP_SREG, NFT_REG_1);
    expr_end(nlh, x);
}

static void e_counter(struct nlmsghdr *nlh)
{
    struct expr x = expr_begin(nlh, "counter");
    mnl_attr_put_u64(nlh, NFTA_COUNTER_BYTES, 0);
    mnl_attr_put_u64(nlh, NFTA_COUNTER_PACKETS, 0);
    expr_end(nlh, x);
}

static void e_log(struct nlmsghdr *nlh, uint16_t group)
{
    struct expr x = expr_begin(nlh, "log");
    mnl_attr_put_strz(nlh, NFTA_LOG_PREFIX, NFTF_LOG_PREFIX);
    mnl_attr_put_u16(nlh, NFTA_LOG_GROUP, htons(group));
    put_be32(nlh, NFTA_LOG_SNAPLEN, NFTF_LOG_SNAPLEN);
    expr_end(nlh, x);
}

/* code: NF_ACCEPT, NF_DROP or NFT_JUMP (to chain). */
static void e_verdict(struct nlmsghdr *nlh, int code, const char *chain)
{
    struct expr x = expr_begin(nlh, "immediate");
    put_be32(nlh, NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT);
    struct nlattr *d = mnl_attr_nest_start(nlh, NFTA_IMMEDIATE_DATA);
    struct nlattr *v = mnl_attr_nest_start(nlh, NFTA_DATA_VERDICT);
    put_be32(nlh, NFTA_VERDICT_CODE, (uint32_t)code);
    if (chain)
        mnl_attr_put_strz(nlh, NFTA_VERDICT_CHAIN, chain);
    mnl_attr_nest_end(nlh, v);
    mnl_attr_nest_end(nlh, d);
    expr_end(nlh, x);
}

/* --- objects -------------------------------------------------------------------------------- */

static int put_table(struct nftf_batch *b, int type, const char *table)
{
    int err;
    struct nlmsghdr *nlh = nft_msg(b, type, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0, &err);
    if (!nlh)
        return err;
    mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, table);
    if (type == NFT_MSG_NEWTABLE)
        put_be32(nlh, NFTA_TABLE_FLAGS, 0);
    msg_end(b, nlh);
    return 0;
}

/* hook < 0: a regular chain. */
static int put_chain(struct nftf_batch *b, const char *table, const char *name, int hook)
{
    int err;
    struct nlmsghdr *nlh = nft_msg(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, &err);
    if (!nlh)
        return err;
    mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, table);
    mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, name);
    if (hook >= 0) {
        struct nlattr *h = mnl_attr_nest_start(nlh, NFTA_CHAIN_HOOK);
        put_be32(nlh, NFTA_HOOK_HOOKNUM, (uint32_t)hook);
        put_be32(nlh, NFTA_HOOK_PRIORITY, 0); /* NF_IP_PRI_FILTER */
        mnl_attr_nest_end(nlh, h);
        put_be32(nlh, NFTA_CHAIN_POLICY, NF_ACCEPT);
        mnl_attr_put_strz(nlh, NFTA_CHAIN_TYPE, "filter");
    }
    msg_end(b, nlh);
    return 0;
}

static struct nlmsghdr *rule_begin(struct nftf_batch *b, const char *table, const char *chain,
                                   struct nlattr **exprs, int *err)
{
    struct nlmsghdr *nlh = nft_msg(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, err);
    if (!nlh)
        return NULL;
    mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, table);
    mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, chain);
    *exprs = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
    return nlh;
}

static void rule_end(struct nftf_batch *b, struct nlmsghdr *nlh, struct nlattr *exprs)
{
    mnl_attr_nest_end(nlh, exprs);
    msg_end(b, nlh);
}

static int put_set(struct nftf_batch *b, const char *table, int family, enum nftf_kind kind,
                   uint32_t id)
{
    int err;
    struct nlmsghdr *nlh = nft_msg(b, NFT_MSG_NEWSET, NLM_F_CREATE, &err);
    if (!nlh)
        return err;
    uint32_t alen = family == 4 ? 4 : 16, vlen = kind == NFTF_PROTO ? 1 : 2;
    uint32_t atype = family == 4 ? TYPE_IPADDR : TYPE_IP6ADDR;
    uint32_t vtype = kind == NFTF_PROTO ? TYPE_INET_PROTOCOL : TYPE_INET_SERVICE;
    mnl_attr_put_strz(nlh, NFTA_SET_TABLE, table);
    mnl_attr_put_strz(nlh, NFTA_SET_NAME, nftf_set_name(family, kind));
    put_be32(nlh, NFTA_SET_FLAGS, NFT_SET_INTERVAL | NFT_SET_CONCAT);
    put_be32(nlh, NFTA_SET_KEY_TYPE, atype << CONCAT_BITS | vtype);
    put_be32(nlh, NFTA_SET_KEY_LEN, alen + 4); /* each field padded to a 32-bit register */
    put_be32(nlh, NFTA_SET_ID, id);
    struct nlattr *desc = mnl_attr_nest_start(nlh, NFTA_SET_DESC);
    struct nlattr *concat = mnl_attr_nest_start(nlh, NFTA_SET_DESC_CONCAT);
    uint32_t lens[2] = {alen, vlen}; /* bytes, despite the uapi comment */
    for (int i = 0; i < 2; i++) {
        struct nlattr *f = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
        put_be32(nlh, NFTA_SET_FIELD_LEN, lens[i]);
        mnl_attr_nest_end(nlh, f);
    }
    mnl_attr_nest_end(nlh, concat);
    mnl_attr_nest_end(nlh, desc);
    msg_end(b, nlh);
    return 0;
}

static size_t key_put(uint8_t key[20], const uint8_t addr[16], int family, enum nftf_kind kind,
                      uint16_t v)
{
    size_t alen = family == 4 ? 4 : 16;
    memcpy(key, addr, alen);
    memset(key + alen, 0, 4);
    if (kind == NFTF_PROTO) {
        key[alen] = (uint8_t)v;
    } else {
        key[alen] = (uint8_t)(v >> 8);
        key[alen + 1] = (uint8_t)v;
    }
    return alen + 4;
}

static bool put_elem(struct nlmsghdr *nlh, const struct nftf_rect *r, int family,
                     enum nftf_kind kind)
{
    uint8_t key[20];
    struct nlattr *el = mnl_attr_nest_start_check(nlh, NFTF_MSG_MAX, NFTA_LIST_ELEM), *k;
    if (!el)
        return false;
    size_t klen = key_put(key, r->lo, family, kind, r->vlo);
    if (!(k = mnl_attr_nest_start_check(nlh, NFTF_MSG_MAX, NFTA_SET_ELEM_KEY)) ||
        !mnl_attr_put_check(nlh, NFTF_MSG_MAX, NFTA_DATA_VALUE, klen, key))
        goto full;
    mnl_attr_nest_end(nlh, k);
    key_put(key, r->hi, family, kind, r->vhi);
    if (!(k = mnl_attr_nest_start_check(nlh, NFTF_MSG_MAX, NFTA_SET_ELEM_KEY_END)) ||
        !mnl_attr_put_check(nlh, NFTF_MSG_MAX, NFTA_DATA_VALUE, klen, key))
        goto full;
    mnl_attr_nest_end(nlh, k);
    mnl_attr_nest_end(nlh, el);
    return true;
full:
    mnl_attr_nest_cancel(nlh, el);
    return false;
}

static int put_elems(struct nftf_batch *b, const char *table, int family, enum nftf_kind kind,
                     const struct nftf_rect *r, size_t n)
{
    size_t i = 0;
    while (i < n) {
        int err;
        struct nlmsghdr *nlh = nft_msg(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, &err);
        if (!nlh)
            return err;
        mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, table);
        mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, nftf_set_name(family, kind));
        struct nlattr *list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
        size_t first = i;
        while (i < n && put_elem(nlh, &r[i], family, kind))
            i++;
        if (i == first)
            return -EMSGSIZE; /* cannot happen: one element is < 100 bytes */
        mnl_attr_nest_end(nlh, list);
        msg_end(b, nlh);
    }
    return 0;
}

/* meta nfproto F [meta l4proto P] <saddr> . <dport | l4proto> @set accept */
static int put_allow_rule(struct nftf_batch *b, const char *table, int family, enum nftf_kind kind)
{
    int err;
    struct nlattr *exprs;
    struct nlmsghdr *nlh = rule_begin(b, table, CHAIN_FILTER, &exprs, &err);
    if (!nlh)
        return err;
    uint8_t nfproto = family == 4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
    uint32_t reg2 = family == 4 ? NFT_REG32_01 : NFT_REG32_04; /* after the address */
    e_meta(nlh, NFT_META_NFPROTO, NFT_REG_1);
    e_cmp(nlh, NFT_CMP_EQ, &nfproto, 1);
    if (kind != NFTF_PROTO) {
        uint8_t l4 = kind == NFTF_TCP ? 6 : 17;
        e_meta(nlh, NFT_META_L4PROTO, NFT_REG_1);
        e_cmp(nlh, NFT_CMP_EQ, &l4, 1);
    }
    e_payload(nlh, NFT_PAYLOAD_NETWORK_HEADER, family == 4 ? 12 : 8, family == 4 ? 4 : 16,
              NFT_REG_1);
    if (kind == NFTF_PROTO)
        e_meta(nlh, NFT_META_L4PROTO, reg2);
    else
        e_payload(nlh, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, reg2);
    e_lookup(nlh, nftf_set_name(family, kind));
    e_verdict(nlh, NF_ACCEPT, NULL);
    rule_end(b, nlh, exprs);
    return 0;
}

static int put_filter_chain(struct nftf_batch *b, const char *table, uint16_t group)
{
    int err;
    struct nlattr *exprs;
    struct nlmsghdr *nlh;
    uint8_t reply = 1; /* IP_CT_DIR_REPLY */
    uint32_t zero = 0;

    if ((err = put_chain(b, table, CHAIN_FILTER, -1)))
        return err;
    if (!(nlh = rule_begin(b, table, CHAIN_FILTER, &exprs, &err)))
        return err;
    e_ct(nlh, NFT_CT_STATE, NFT_REG_1);
    e_bitwise_and32(nlh, NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED));
    e_cmp(nlh, NFT_CMP_NEQ, &zero, 4);
    e_ct(nlh, NFT_CT_DIRECTION, NFT_REG_1);
    e_cmp(nlh, NFT_CMP_EQ, &reply, 1);
    e_verdict(nlh, NF_ACCEPT, NULL);
    rule_end(b, nlh, exprs);
    for (int f = 4; f <= 6; f += 2)
        for (int k = 0; k < NFTF_KIND_N; k++)
            if ((err = put_allow_rule(b, table, f, (enum nftf_kind)k)))
                return err;
    if (!(nlh = rule_begin(b, table, CHAIN_FILTER, &exprs, &err)))
        return err;
    e_counter(nlh);
    e_log(nlh, group);
    e_verdict(nlh, NF_DROP, NULL);
    rule_end(b, nlh, exprs);
    return 0;
}

static int put_hook_chain(struct nftf_batch *b, const char *table, const char *name, int hook,
                          const char *ifname)
{
    int err;
    struct nlattr *exprs;
    struct nlmsghdr *nlh;
    char name16[IFNAME_LEN] = {0};

    if ((err = put_chain(b, table, name, hook)))
        return err;
    if (!(nlh = rule_begin(b, table, name, &exprs, &err)))
        return err;
    memcpy(name16, ifname, strlen(ifname));
    e_meta(nlh, NFT_META_IIFNAME, NFT_REG_1);
    e_cmp(nlh, NFT_CMP_EQ, name16, sizeof(name16));
    e_verdict(nlh, NFT_JUMP, CHAIN_FILTER);
    rule_end(b, nlh, exprs);
    return 0;
}

static bool name_ok(const char *s, size_t max)
{
    size_t n = s ? strnlen(s, max) : 0;
    return n > 0 && n < max;
}

int nftf_batch_build_apply(struct nftf_batch *b, const char *table, const char *ifname,
                           const struct filter_entry *e, size_t n, uint16_t group, uint32_t seq)
{
    int ret;
    memset(b, 0, sizeof(*b));
    if (!name_ok(table, TABLE_NAME_MAX) || !name_ok(ifname, IFNAME_LEN))
        return -EINVAL;
    if ((ret = nftf_entries_check(e, n)))
        return ret;
    b->seq_first = seq + 1;
    b->seq_last = seq;
    /* add (a no-op if it exists) + delete + add: replaces the table whether it existed or not. */
    if ((ret = batch_mark(b, NFNL_MSG_BATCH_BEGIN, seq)) ||
        (ret = put_table(b, NFT_MSG_NEWTABLE, table)) ||
        (ret = put_table(b, NFT_MSG_DELTABLE, table)) ||
        (ret = put_table(b, NFT_MSG_NEWTABLE, table)))
        goto out;
    uint32_t id = 1;
    for (int f = 4; f <= 6; f += 2) {
        for (int k = 0; k < NFTF_KIND_N; k++) {
            struct nftf_rect *r;
            size_t nr;
            if ((ret = put_set(b, table, f, (enum nftf_kind)k, id++)))
                goto out;
            if ((ret = nftf_rects_build(e, n, f, (enum nftf_kind)k, &r, &nr)))
                goto out;
            ret = put_elems(b, table, f, (enum nftf_kind)k, r, nr);
            free(r);
            if (ret)
                goto out;
        }
    }
    if ((ret = put_filter_chain(b, table, group)) ||
        (ret = put_hook_chain(b, table, "input", NF_INET_LOCAL_IN, ifname)) ||
        (ret = put_hook_chain(b, table, "forward", NF_INET_FORWARD, ifname)))
        goto out;
    ret = batch_mark(b, NFNL_MSG_BATCH_END, b->seq_last + 1);
out:
    if (ret)
        nftf_batch_free(b);
    return ret;
}

int nftf_batch_build_delete(struct nftf_batch *b, const char *table, uint32_t seq)
{
    int ret;
    memset(b, 0, sizeof(*b));
    if (!name_ok(table, TABLE_NAME_MAX))
        return -EINVAL;
    b->seq_first = seq + 1;
    b->seq_last = seq;
    if ((ret = batch_mark(b, NFNL_MSG_BATCH_BEGIN, seq)) ||
        (ret = put_table(b, NFT_MSG_DELTABLE, table)) ||
        (ret = batch_mark(b, NFNL_MSG_BATCH_END, b->seq_last + 1)))
        nftf_batch_free(b);
    return ret;
}

void nftf_batch_free(struct nftf_batch *b)
{
    if (!b)
        return;
    free(b->buf);
    memset(b, 0, sizeof(*b));
}

static int name_attr_cb(const struct nlattr *a, void *data)
{
    const char **names = data; /* string attributes 1..3 of the message */
    uint16_t t = mnl_attr_get_type(a);
    if (t >= 1 && t <= 3 && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
        names[t] = mnl_attr_get_str(a);
    return MNL_CB_OK;
}

int nftf_batch_describe(const struct nftf_batch *b, uint32_t seq, char *buf, size_t len)
{
    static const char *const types[] = {
        [NFT_MSG_NEWTABLE] = "NEWTABLE", [NFT_MSG_DELTABLE] = "DELTABLE",
        [NFT_MSG_NEWCHAIN] = "NEWCHAIN", [NFT_MSG_NEWRULE] = "NEWRULE",
        [NFT_MSG_NEWSET] = "NEWSET",     [NFT_MSG_NEWSETELEM] = "NEWSETELEM",
    };
    const struct nlmsghdr *nlh = (const struct nlmsghdr *)b->buf;
    int left = (int)b->len;
    unsigned idx = 0;
    snprintf(buf, len, "message seq %u (not in the batch)", seq);
    for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left), idx++) {
        if (nlh->nlmsg_seq != seq || (nlh->nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES)
            continue;
        unsigned t = nlh->nlmsg_type & 0xff;
        const char *names[4] = {0};
        mnl_attr_parse(nlh, sizeof(struct nfgenmsg), name_attr_cb, names);
        /* the object's name: tables 1 (NAME), chains 3 (NAME), rules 2 (CHAIN), sets and
         * element lists 2 (SET) */
        const char *name = names[t == NFT_MSG_NEWCHAIN ? 3 : t <= NFT_MSG_DELTABLE ? 1 : 2];
        snprintf(buf, len, "message %u of the batch: %s %s", idx,
                 t < sizeof(types) / sizeof(types[0]) && types[t] ? types[t] : "NFT_MSG_?",
                 name ? name : "");
        return (int)t;
    }
    return -1;
}
