/* The agent's DNS stub resolution logic: see dns_stub.h for the decision table. */
#include "agent/dns/dns_stub.h"
#include "common/dns/dns_build.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DNS_STUB_MAX_NAMES 65536
#define DNS_STUB_TTL       60
#define DNS_STUB_PAYLOAD   1232

struct stub_entry {
    struct dns_name name;   /* lower case, fully qualified */
    uint16_t type;          /* A or AAAA */
    uint8_t rdlen;
    uint8_t rdata[16];
};

struct dns_stub_table {
    struct dns_name domain;     /* lower case */
    struct stub_entry *e;       /* sorted by name, type once sealed */
    size_t n, cap;
    uint32_t *by_v4;            /* indices of A entries sorted by address, once sealed */
    size_t n_v4;
    uint32_t *by_v6;            /* the same for AAAA entries */
    size_t n_v6;
    struct in6_addr prefix6;    /* the tailnet's IPv6 prefix (reverse names answered here) */
    uint8_t prefix6_len;        /* 0: none (IPv6 off) */
    bool sealed;
};

struct dns_stub_table *dns_stub_table_new(const char *tailnet_domain)
{
    struct dns_stub_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    if (dns_name_from_text(&t->domain, tailnet_domain) < 0 || t->domain.len <= 1) {
        free(t);
        return NULL;
    }
    dns_name_lower(&t->domain);
    return t;
}

void dns_stub_table_free(struct dns_stub_table *t)
{
    if (!t)
        return;
    free(t->e);
    free(t->by_v4);
    free(t->by_v6);
    free(t);
}

static int add(struct dns_stub_table *t, const char *name, uint16_t type, const void *rd,
               uint8_t rdlen)
{
    struct stub_entry e = {.type = type, .rdlen = rdlen};
    if (t->sealed || dns_name_from_text(&e.name, name) < 0 || !dns_name_is_under(&e.name, &t->domain))
        return -EINVAL;
    if (t->n >= DNS_STUB_MAX_NAMES)
        return -E2BIG;
    dns_name_lower(&e.name);
    memcpy(e.rdata, rd, rdlen);
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 64;
        struct stub_entry *ne = realloc(t->e, nc * sizeof(*ne));
        if (!ne)
            return -ENOMEM;
        t->e = ne;
        t->cap = nc;
    }
    t->e[t->n++] = e;
    return 0;
}

int dns_stub_table_add_a(struct dns_stub_table *t, const char *name, struct in_addr addr)
{
    return add(t, name, DNS_TYPE_A, &addr.s_addr, 4);
}

int dns_stub_table_add_aaaa(struct dns_stub_table *t, const char *name,
                            const struct in6_addr *addr)
{
    return add(t, name, DNS_TYPE_AAAA, addr->s6_addr, 16);
}

static int name_cmp(const struct dns_name *a, const struct dns_name *b)
{
    size_t l = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->wire, b->wire, l);
    return c ? c : (int)a->len - (int)b->len;
}

static int entry_cmp(const void *x, const void *y)
{
    const struct stub_entry *a = x, *b = y;
    int c = name_cmp(&a->name, &b->name);
    return c ? c : (int)a->type - (int)b->type;
}

int dns_stub_table_set_prefix6(struct dns_stub_table *t, const struct in6_addr *prefix,
                               unsigned len)
{
    if (t->sealed || len < 1 || len > 128)
        return -EINVAL;
    t->prefix6 = *prefix;
    t->prefix6_len = (uint8_t)len;
    return 0;
}

static const struct dns_stub_table *sort_table;   /* only during seal's qsort */

static int addr_cmp(const void *x, const void *y)
{
    const struct stub_entry *a = &sort_table->e[*(const uint32_t *)x];
    const struct stub_entry *b = &sort_table->e[*(const uint32_t *)y];
    return memcmp(a->rdata, b->rdata, a->rdlen);
}

/* New array of the indices of the entries of this type, sorted by address; NULL on ENOMEM. */
static uint32_t *addr_index(struct dns_stub_table *t, uint16_t type, size_t *n)
{
    uint32_t *idx = malloc((t->n ? t->n : 1) * sizeof(*idx));
    size_t k = 0;
    if (!idx)
        return NULL;
    for (size_t i = 0; i < t->n; i++)
        if (t->e[i].type == type)
            idx[k++] = (uint32_t)i;
    sort_table = t;
    qsort(idx, k, sizeof(*idx), addr_cmp);
    sort_table = NULL;
    *n = k;
    return idx;
}

void dns_stub_table_seal(struct dns_stub_table *t)
{
    if (t->sealed)
        return;
    if (t->n)
        qsort(t->e, t->n, sizeof(*t->e), entry_cmp);
    free(t->by_v4);
    free(t->by_v6);
    t->by_v4 = addr_index(t, DNS_TYPE_A, &t->n_v4);
    t->by_v6 = addr_index(t, DNS_TYPE_AAAA, &t->n_v6);
    if (!t->by_v4 || !t->by_v6)
        return;   /* stays unsealed: resolves answer SERVFAIL */
    t->sealed = true;
}

/* First entry with this name, or n. */
static size_t lower_bound(const struct dns_stub_table *t, const struct dns_name *key)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (name_cmp(&t->e[mid].name, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Index of the entry for addr (alen bytes) in the address index idx[0..n), or -1. */
static long addr_find(const struct dns_stub_table *t, const uint32_t *idx, size_t n,
                      const uint8_t *addr, size_t alen)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(t->e[idx[mid]].rdata, addr, alen);
        if (c == 0)
            return idx[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* --- Answers ------------------------------------------------------------------------------- */

struct reply {
    struct dns_builder b;
    const struct dns_query *q;
    uint16_t an;
};

static void reply_begin(struct reply *r, const struct dns_query *q, uint8_t *out, size_t cap,
                        unsigned rcode, uint16_t flags)
{
    struct dns_header h = {
        .id = q->hdr.id,
        .flags = (uint16_t)(DNS_FLAG_QR | DNS_FLAG_RA | (q->hdr.flags & (0x7800 | DNS_FLAG_RD)) |
                            flags | (rcode & 0xf)),
        .qdcount = 1,
    };
    r->q = q;
    r->an = 0;
    dns_builder_init(&r->b, out, cap);
    dns_builder_header(&r->b, &h);
    dns_builder_question(&r->b, &q->qname, q->qtype, q->qclass);
}

/* Appends OPT if the query had one (room for it was kept out of cap) and fixes the counts. */
static size_t reply_end(struct reply *r, uint8_t *out, unsigned rcode)
{
    dns_builder_set_count(&r->b, 1, r->an);
    if (!r->q->edns.present)
        return r->b.len;
    r->b.cap += 11;
    dns_builder_opt(&r->b, DNS_STUB_PAYLOAD, (uint8_t)(rcode >> 4), 0,
                    r->q->edns.flags & DNS_EDNS_DO);
    dns_builder_set_count(&r->b, 3, 1);
    (void)out;
    return r->b.len;
}

/* Parses d.c.b.a.in-addr.arpa. into addr; false if not exactly that shape. */
static bool reverse_v4(const struct dns_name *n, uint8_t addr[4])
{
    size_t i = 0;
    for (int k = 3; k >= 0; k--) {
        uint8_t l = n->wire[i];
        if (l == 0 || l > 3 || i + 1 + l >= n->len)
            return false;
        unsigned v = 0;
        for (size_t j = 1; j <= l; j++) {
            uint8_t c = n->wire[i + j];
            if (c < '0' || c > '9')
                return false;
            v = v * 10 + (unsigned)(c - '0');
        }
        if (v > 255 || (l > 1 && n->wire[i + 1] == '0'))
            return false;
        addr[k] = (uint8_t)v;
        i += 1 + (size_t)l;
    }
    return n->len - i == 14 && memcmp(n->wire + i, "\7in-addr\4arpa\0", 14) == 0;
}

/* Parses the 32 nibble labels of x.x...x.ip6.arpa. (lower case) into addr; false otherwise. */
static bool reverse_v6(const struct dns_name *n, uint8_t addr[16])
{
    size_t i = 0;
    memset(addr, 0, 16);
    for (int k = 31; k >= 0; k--) {
        if (i + 2 >= n->len || n->wire[i] != 1)
            return false;
        uint8_t c = n->wire[i + 1], v;
        if (c >= '0' && c <= '9')
            v = (uint8_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = (uint8_t)(c - 'a' + 10);
        else
            return false;
        addr[k / 2] |= (uint8_t)(k % 2 ? v : v << 4);
        i += 2;
    }
    return n->len - i == 10 && memcmp(n->wire + i, "\3ip6\4arpa\0", 10) == 0;
}

static bool in_prefix6(const struct dns_stub_table *t, const uint8_t addr[16])
{
    if (!t->prefix6_len)
        return false;
    for (unsigned b = 0; b < t->prefix6_len; b++)
        if ((t->prefix6.s6_addr[b / 8] ^ addr[b / 8]) & (0x80 >> (b % 8)))
            return false;
    return true;
}

static size_t answer(const struct dns_stub_table *t, const struct dns_query *q,
                     const struct dns_name *key, long ptr_entry, bool is_ptr, uint8_t *out,
                     size_t limit)
{
    struct reply r;
    size_t optl = q->edns.present ? 11 : 0;
    size_t first = is_ptr ? 0 : lower_bound(t, key);
    bool exists = is_ptr ? ptr_entry >= 0
                         : (first < t->n && name_cmp(&t->e[first].name, key) == 0) ||
                               name_cmp(key, &t->domain) == 0;   /* the domain itself: NODATA */
    unsigned rcode = exists ? DNS_RCODE_NOERROR : DNS_RCODE_NXDOMAIN;

    reply_begin(&r, q, out, limit - optl, rcode, DNS_FLAG_AA);
    if (is_ptr && exists && (q->qtype == DNS_TYPE_PTR || q->qtype == DNS_TYPE_ANY)) {
        dns_builder_rr_name(&r.b, &q->qname, DNS_TYPE_PTR, DNS_STUB_TTL, &t->e[ptr_entry].name);
        r.an++;
    }
    for (size_t i = first; !is_ptr && exists && i < t->n &&
                           name_cmp(&t->e[i].name, key) == 0; i++) {
        if (t->e[i].type != q->qtype && q->qtype != DNS_TYPE_ANY)
            continue;
        dns_builder_rr(&r.b, &q->qname, t->e[i].type, DNS_STUB_TTL, t->e[i].rdata,
                       t->e[i].rdlen);
        r.an++;
    }
    if (!dns_builder_ok(&r.b)) {   /* too big for the client's UDP limit: question + TC */
        reply_begin(&r, q, out, limit - optl, rcode, DNS_FLAG_AA | DNS_FLAG_TC);
        return reply_end(&r, out, rcode);
    }
    return reply_end(&r, out, rcode);
}

static size_t error_reply(const struct dns_query *q, unsigned rcode, uint8_t *out, size_t limit)
{
    struct reply r;
    reply_begin(&r, q, out, limit - (q->edns.present ? 11 : 0), rcode, 0);
    return reply_end(&r, out, rcode);
}

enum dns_stub_action dns_stub_resolve(const struct dns_stub_table *t, const uint8_t *query,
                                      size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    struct dns_query q;
    int r = dns_query_parse(query, len, &q);
    *out_len = 0;
    if (r == -EMSGSIZE || (q.hdr.flags & DNS_FLAG_QR) || cap < DNS_UDP_MIN)
        return DNS_STUB_DROP;
    if (r < 0) {
        struct dns_header h = {.id = q.hdr.id,
                               .flags = DNS_FLAG_QR | DNS_FLAG_RA | DNS_RCODE_FORMERR};
        dns_header_write(out, &h);
        *out_len = DNS_HDR_LEN;
        return DNS_STUB_ANSWER;
    }
    size_t limit = DNS_UDP_MIN;
    if (q.edns.present && q.edns.udp_size > limit)
        limit = q.edns.udp_size;
    if (limit > cap)
        limit = cap;
    if (DNS_OPCODE(q.hdr.flags) != 0) {
        *out_len = error_reply(&q, DNS_RCODE_NOTIMP, out, limit);
        return DNS_STUB_ANSWER;
    }
    if (q.edns.present && q.edns.version != 0) {
        *out_len = error_reply(&q, DNS_RCODE_BADVERS, out, limit);
        return DNS_STUB_ANSWER;
    }
    if (!t->sealed) {
        *out_len = error_reply(&q, DNS_RCODE_SERVFAIL, out, limit);
        return DNS_STUB_ANSWER;
    }

    struct dns_name key = q.qname;
    dns_name_lower(&key);
    uint8_t addr[4], addr6[16];
    if (dns_name_is_under(&key, &t->domain)) {
        *out_len = answer(t, &q, &key, -1, false, out, limit);
    } else if (dns_name_label_count(&key) == 1) {
        /* short name: <label>.<tailnet domain> */
        if (key.len - 1 + t->domain.len > DNS_NAME_MAX) {
            *out_len = error_reply(&q, DNS_RCODE_NXDOMAIN, out, limit);
            return DNS_STUB_ANSWER;
        }
        memcpy(key.wire + key.len - 1, t->domain.wire, t->domain.len);
        key.len = (uint8_t)(key.len - 1 + t->domain.len);
        *out_len = answer(t, &q, &key, -1, false, out, limit);
    } else if (reverse_v4(&key, addr) && addr[0] == 100 && (addr[1] & 0xc0) == 64) {
        /* 100.64.0.0/10: the tailnet's own space, never asked upstream */
        *out_len = answer(t, &q, &key, addr_find(t, t->by_v4, t->n_v4, addr, 4), true, out, limit);
    } else if (reverse_v6(&key, addr6) && in_prefix6(t, addr6)) {
        /* the tailnet's IPv6 prefix: its own space too */
        *out_len = answer(t, &q, &key, addr_find(t, t->by_v6, t->n_v6, addr6, 16), true, out, limit);
    } else {
        return DNS_STUB_FORWARD;
    }
    return DNS_STUB_ANSWER;
}
