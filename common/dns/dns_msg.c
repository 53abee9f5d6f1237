/* DNS message parsing: header, questions, RRs, EDNS0 OPT (RFC 1035 4.1, RFC 6891 6.1). */
#include "common/dns/dns_msg.h"
#include "common/cursor.h"

#include <errno.h>
#include <string.h>

bool dns_header_parse(const uint8_t *msg, size_t len, struct dns_header *h)
{
    struct cursor c = cursor_init(msg, len);
    h->id = cursor_be16(&c);
    h->flags = cursor_be16(&c);
    h->qdcount = cursor_be16(&c);
    h->ancount = cursor_be16(&c);
    h->nscount = cursor_be16(&c);
    h->arcount = cursor_be16(&c);
    return c.ok;
}

void dns_header_write(uint8_t out[static DNS_HDR_LEN], const struct dns_header *h)
{
    const uint16_t v[6] = {h->id, h->flags, h->qdcount, h->ancount, h->nscount, h->arcount};
    for (int i = 0; i < 6; i++) {
        out[2 * i] = (uint8_t)(v[i] >> 8);
        out[2 * i + 1] = (uint8_t)v[i];
    }
}

bool dns_question_parse(const uint8_t *msg, size_t len, size_t *off, struct dns_name *name,
                        uint16_t *qtype, uint16_t *qclass)
{
    if (!dns_name_parse(msg, len, off, name))
        return false;
    struct cursor c = cursor_init(msg, len);
    c.off = *off;
    *qtype = cursor_be16(&c);
    *qclass = cursor_be16(&c);
    if (!c.ok)
        return false;
    *off = c.off;
    return true;
}

bool dns_rr_parse(const uint8_t *msg, size_t len, size_t *off, struct dns_rr *rr)
{
    if (!dns_name_parse(msg, len, off, &rr->name))
        return false;
    struct cursor c = cursor_init(msg, len);
    c.off = *off;
    rr->type = cursor_be16(&c);
    rr->rclass = cursor_be16(&c);
    rr->ttl = cursor_be32(&c);
    rr->rdlen = cursor_be16(&c);
    rr->rdata_off = c.off;
    if (!cursor_take(&c, rr->rdlen))
        return false;
    *off = c.off;
    return true;
}

int dns_query_parse(const uint8_t *msg, size_t len, struct dns_query *q)
{
    memset(&q->edns, 0, sizeof(q->edns));
    q->qname.len = 0;
    if (!dns_header_parse(msg, len, &q->hdr))
        return -EMSGSIZE;
    if (q->hdr.qdcount != 1)
        return -EBADMSG;
    size_t off = DNS_HDR_LEN;
    if (!dns_question_parse(msg, len, &off, &q->qname, &q->qtype, &q->qclass))
        return -EBADMSG;

    /* Walk every RR so that a message with lying counts is rejected as a whole, and find the
     * OPT RR: at most one, root owner, additional section only (RFC 6891 6.1.1). */
    unsigned total = (unsigned)q->hdr.ancount + q->hdr.nscount + q->hdr.arcount;
    for (unsigned i = 0; i < total; i++) {
        struct dns_rr rr;
        if (!dns_rr_parse(msg, len, &off, &rr))
            return -EBADMSG;
        if (rr.type != DNS_TYPE_OPT)
            continue;
        if (i < (unsigned)q->hdr.ancount + q->hdr.nscount || q->edns.present || rr.name.len != 1)
            return -EBADMSG;
        q->edns.present = true;
        q->edns.udp_size = rr.rclass;
        q->edns.ext_rcode = (uint8_t)(rr.ttl >> 24);
        q->edns.version = (uint8_t)(rr.ttl >> 16);
        q->edns.flags = (uint16_t)rr.ttl;
        /* Options are {code, len, data}; check they tile the rdata exactly. */
        struct cursor oc = cursor_init(msg + rr.rdata_off, rr.rdlen);
        while (cursor_left(&oc) > 0) {
            cursor_be16(&oc);
            uint16_t ol = cursor_be16(&oc);
            if (!cursor_take(&oc, ol))
                return -EBADMSG;
        }
    }
    /* Trailing garbage after the counted sections is tolerated, as most servers do. */
    return 0;
}
