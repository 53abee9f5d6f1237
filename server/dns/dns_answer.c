/* Answering one query from a snapshot: pure function, no I/O, no allocation. Outcomes:
 *   dropped   - shorter than a header, or a response (QR set)
 *   FORMERR   - malformed (header only), or an OPT question
 *   NOTIMP    - opcode other than QUERY
 *   BADVERS   - EDNS version other than 0 (RFC 6891 6.1.3)
 *   REFUSED   - class other than IN/ANY, zone transfers, names outside every zone (no AA)
 *   template  - existing name: answer, NODATA, referral-free NS/SOA at the apex (AA)
 *   NXDOMAIN  - inside a zone, name absent: SOA of the zone in authority (AA)
 * A UDP answer larger than the client's limit is replaced by the question with TC set. */
#include "server/dns/dns_server.h"
#include "server/dns/dns_limits.h"
#include "server/dns/dns_snapshot_int.h"
#include "common/dns/dns_msg.h"

#include <errno.h>
#include <string.h>

static inline void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

#define OPT_LEN 11

static size_t opt_put(uint8_t *p, const struct dns_query *q, uint8_t ext_rcode)
{
    p[0] = 0;
    put16(p + 1, DNS_TYPE_OPT);
    put16(p + 3, DNS_EDNS_PAYLOAD);
    p[5] = ext_rcode;
    p[6] = 0;   /* version */
    put16(p + 7, q->edns.flags & DNS_EDNS_DO);   /* RFC 3225: DO echoed */
    put16(p + 9, 0);
    return OPT_LEN;
}

/* Header + echoed question (+ OPT): for errors and for truncated answers. */
static size_t simple_reply(const struct dns_query *q, uint16_t flags, unsigned rcode,
                           uint8_t *out, size_t cap)
{
    size_t need = DNS_HDR_LEN + q->qname.len + 4 + (q->edns.present ? OPT_LEN : 0);
    if (need > cap)
        return 0;
    struct dns_header h = {
        .id = q->hdr.id,
        .flags = (uint16_t)(DNS_FLAG_QR | (q->hdr.flags & (0x7800 | DNS_FLAG_RD)) | flags |
                            (rcode & 0xf)),
        .qdcount = 1,
        .arcount = q->edns.present ? 1 : 0,
    };
    dns_header_write(out, &h);
    size_t o = DNS_HDR_LEN;
    memcpy(out + o, q->qname.wire, q->qname.len);
    o += q->qname.len;
    put16(out + o, q->qtype);
    put16(out + o + 2, q->qclass);
    o += 4;
    if (q->edns.present)
        o += opt_put(out + o, q, (uint8_t)(rcode >> 4));
    return o;
}

static size_t formerr(const struct dns_query *q, uint8_t *out, size_t cap)
{
    if (cap < DNS_HDR_LEN)
        return 0;
    struct dns_header h = {
        .id = q->hdr.id,
        .flags = (uint16_t)(DNS_FLAG_QR | (q->hdr.flags & (0x7800 | DNS_FLAG_RD)) |
                            DNS_RCODE_FORMERR),
    };
    dns_header_write(out, &h);
    return DNS_HDR_LEN;
}

static size_t from_template(const struct dns_snapshot *s, const struct dns_tmpl *t,
                            const struct dns_query *q, uint8_t *out, size_t limit)
{
    const uint8_t *src = s->arena + t->off;
    size_t optl = q->edns.present ? OPT_LEN : 0;
    if (t->len + optl > limit)
        return simple_reply(q, get16(src + 2) | DNS_FLAG_TC, DNS_RCODE(get16(src + 2)), out,
                            limit);
    memcpy(out, src, t->len);
    put16(out, q->hdr.id);
    out[2] |= (uint8_t)((q->hdr.flags & DNS_FLAG_RD) >> 8);
    /* 0x20: the question goes back exactly as asked; compression pointers into it make the
     * answers' owner names echo the same case. */
    memcpy(out + DNS_HDR_LEN, q->qname.wire, q->qname.len);
    put16(out + DNS_HDR_LEN + q->qname.len, q->qtype);
    put16(out + DNS_HDR_LEN + q->qname.len + 2, q->qclass);
    size_t o = t->len;
    if (optl) {
        o += opt_put(out + o, q, 0);
        put16(out + 10, (uint16_t)(get16(out + 10) + 1));
    }
    return o;
}

static size_t nxdomain(const struct dns_snapshot *s, const struct dns_zone *z,
                       const struct dns_query *q, uint8_t *out, size_t limit)
{
    size_t qend = DNS_HDR_LEN + q->qname.len + 4;
    size_t optl = q->edns.present ? OPT_LEN : 0;
    if (qend + 2 + z->neg_len + optl > limit)
        return simple_reply(q, DNS_FLAG_AA | DNS_FLAG_TC, DNS_RCODE_NXDOMAIN, out, limit);
    simple_reply(q, DNS_FLAG_AA, DNS_RCODE_NXDOMAIN, out, limit);
    put16(out + 8, 1);   /* nscount */
    /* Owner: pointer to where the apex starts inside the echoed question name. */
    put16(out + qend, (uint16_t)(0xc000 | (DNS_HDR_LEN + q->qname.len - z->apex_len)));
    memcpy(out + qend + 2, s->arena + z->neg_off, z->neg_len);
    size_t o = qend + 2 + z->neg_len;
    if (optl)
        o += opt_put(out + o, q, 0);
    return o;
}

static int kind_of(uint16_t qtype)
{
    switch (qtype) {
    case DNS_TYPE_A: return TK_A;
    case DNS_TYPE_AAAA: return TK_AAAA;
    case DNS_TYPE_SOA: return TK_SOA;
    case DNS_TYPE_NS: return TK_NS;
    case DNS_TYPE_ANY: return TK_ANY;
    default: return TK_NODATA;
    }
}

size_t dns_answer(const struct dns_snapshot *s, const uint8_t *in, size_t in_len, uint8_t *out,
                  size_t out_cap, bool tcp)
{
    struct dns_query q;
    int r = dns_query_parse(in, in_len, &q);
    if (r == -EMSGSIZE || (q.hdr.flags & DNS_FLAG_QR))
        return 0;
    if (r < 0)
        return formerr(&q, out, out_cap);

    size_t limit = DNS_UDP_MIN;
    if (tcp)
        limit = DNS_MSG_MAX;
    else if (q.edns.present && q.edns.udp_size > DNS_UDP_MIN)
        limit = q.edns.udp_size < DNS_UDP_ANSWER_MAX ? q.edns.udp_size : DNS_UDP_ANSWER_MAX;
    if (limit > out_cap)
        limit = out_cap;

    if (DNS_OPCODE(q.hdr.flags) != 0)
        return simple_reply(&q, 0, DNS_RCODE_NOTIMP, out, limit);
    if (q.edns.present && q.edns.version != 0)
        return simple_reply(&q, 0, DNS_RCODE_BADVERS, out, limit);
    if (q.qtype == DNS_TYPE_OPT)
        return formerr(&q, out, limit);
    if ((q.qclass != DNS_CLASS_IN && q.qclass != DNS_CLASS_ANY) || q.qtype == DNS_TYPE_AXFR ||
        q.qtype == DNS_TYPE_IXFR)
        return simple_reply(&q, 0, DNS_RCODE_REFUSED, out, limit);

    struct dns_name key = q.qname;
    dns_name_lower(&key);
    const struct dns_node *n =
        dns_snapshot_find(s, key.wire, key.len, dns_key_hash(key.wire, key.len));
    if (n)
        return from_template(s, &n->t[kind_of(q.qtype)], &q, out, limit);

    /* Closest existing ancestor decides the zone: NXDOMAIN inside it, REFUSED outside all. */
    for (size_t i = key.wire[0] + 1u; i < key.len && key.wire[i];) {
        size_t l = key.len - i;
        n = dns_snapshot_find(s, key.wire + i, l, dns_key_hash(key.wire + i, l));
        if (n)
            return nxdomain(s, &s->zones[n->zone], &q, out, limit);
        i += 1 + (size_t)key.wire[i];
    }
    return simple_reply(&q, 0, DNS_RCODE_REFUSED, out, limit);
}
