/* DNS message building into a caller-owned buffer, with name compression (RFC 1035 4.1.4).
 * A write that does not fit sets `overflow` and every later write is ignored, so callers check
 * once at the end. */
#include "common/dns/dns_build.h"

#include <string.h>

void dns_builder_init(struct dns_builder *b, uint8_t *buf, size_t cap)
{
    b->buf = buf;
    b->cap = cap > DNS_MSG_MAX ? DNS_MSG_MAX : cap;
    b->len = 0;
    b->overflow = false;
    b->ncomp = 0;
}

void dns_builder_bytes(struct dns_builder *b, const void *p, size_t n)
{
    if (b->overflow || b->cap - b->len < n) {
        b->overflow = true;
        return;
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
}

void dns_builder_u16(struct dns_builder *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    dns_builder_bytes(b, x, 2);
}

void dns_builder_u32(struct dns_builder *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    dns_builder_bytes(b, x, 4);
}

void dns_builder_header(struct dns_builder *b, const struct dns_header *h)
{
    if (b->len == 0) {
        uint8_t hdr[DNS_HDR_LEN];
        dns_header_write(hdr, h);
        dns_builder_bytes(b, hdr, sizeof(hdr));
    } else if (b->len >= DNS_HDR_LEN) {
        dns_header_write(b->buf, h);
    }
}

void dns_builder_set_count(struct dns_builder *b, unsigned which, uint16_t v)
{
    if (which < 4 && b->len >= DNS_HDR_LEN) {
        b->buf[4 + 2 * which] = (uint8_t)(v >> 8);
        b->buf[5 + 2 * which] = (uint8_t)v;
    }
}

/* Does the (uncompressed) suffix `suf` of length sl equal the name stored at msg offset `at`?
 * Only names this builder wrote are searched, so the stored name is well formed. */
static bool suffix_matches(const struct dns_builder *b, size_t at, const uint8_t *suf, size_t sl)
{
    struct dns_name stored;
    size_t off = at;
    if (!dns_name_parse(b->buf, b->len, &off, &stored) || stored.len != sl)
        return false;
    struct dns_name s;
    s.len = (uint8_t)sl;
    memcpy(s.wire, suf, sl);
    return dns_name_equal(&s, &stored);
}

void dns_builder_name(struct dns_builder *b, const struct dns_name *n, bool compress)
{
    size_t i = 0, start = b->len;
    while (i < n->len && n->wire[i] != 0) {
        if (compress) {
            /* Try the remaining suffix against every label start of earlier names. */
            for (unsigned k = 0; k < b->ncomp; k++) {
                size_t at = b->comp[k];
                for (;;) {
                    if (suffix_matches(b, at, n->wire + i, n->len - i)) {
                        dns_builder_u16(b, (uint16_t)(0xc000 | at));
                        goto done;
                    }
                    uint8_t l = b->buf[at];
                    if (l == 0 || (l & 0xc0))
                        break;
                    at += 1 + (size_t)l;
                }
            }
        }
        dns_builder_bytes(b, n->wire + i, 1 + (size_t)n->wire[i]);
        i += 1 + (size_t)n->wire[i];
    }
    dns_builder_bytes(b, "", 1);
done:
    if (!b->overflow && start < 0x3fff && b->ncomp < DNS_COMP_MAX && b->buf[start] != 0 &&
        (b->buf[start] & 0xc0) == 0)
        b->comp[b->ncomp++] = (uint16_t)start;
}

void dns_builder_question(struct dns_builder *b, const struct dns_name *n, uint16_t qtype,
                          uint16_t qclass)
{
    dns_builder_name(b, n, true);
    dns_builder_u16(b, qtype);
    dns_builder_u16(b, qclass);
}

static void rr_head(struct dns_builder *b, const struct dns_name *owner, uint16_t type,
                    uint16_t rclass, uint32_t ttl)
{
    dns_builder_name(b, owner, true);
    dns_builder_u16(b, type);
    dns_builder_u16(b, rclass);
    dns_builder_u32(b, ttl);
}

void dns_builder_rr(struct dns_builder *b, const struct dns_name *owner, uint16_t type,
                    uint32_t ttl, const void *rdata, uint16_t rdlen)
{
    rr_head(b, owner, type, DNS_CLASS_IN, ttl);
    dns_builder_u16(b, rdlen);
    dns_builder_bytes(b, rdata, rdlen);
}

/* Writes the rdata length after the rdata was written starting at rdstart. */
static void patch_rdlen(struct dns_builder *b, size_t rdstart)
{
    if (b->overflow)
        return;
    size_t rdlen = b->len - rdstart;
    b->buf[rdstart - 2] = (uint8_t)(rdlen >> 8);
    b->buf[rdstart - 1] = (uint8_t)rdlen;
}

void dns_builder_rr_name(struct dns_builder *b, const struct dns_name *owner, uint16_t type,
                         uint32_t ttl, const struct dns_name *target)
{
    rr_head(b, owner, type, DNS_CLASS_IN, ttl);
    dns_builder_u16(b, 0);
    size_t rdstart = b->len;
    dns_builder_name(b, target, true);
    patch_rdlen(b, rdstart);
}

void dns_builder_rr_soa(struct dns_builder *b, const struct dns_name *owner, uint32_t ttl,
                        const struct dns_name *mname, const struct dns_name *rname,
                        const uint32_t times[static 5])
{
    rr_head(b, owner, DNS_TYPE_SOA, DNS_CLASS_IN, ttl);
    dns_builder_u16(b, 0);
    size_t rdstart = b->len;
    dns_builder_name(b, mname, true);
    dns_builder_name(b, rname, true);
    for (int i = 0; i < 5; i++)
        dns_builder_u32(b, times[i]);
    patch_rdlen(b, rdstart);
}

void dns_builder_opt(struct dns_builder *b, uint16_t udp_size, uint8_t ext_rcode,
                     uint8_t version, uint16_t flags)
{
    dns_builder_bytes(b, "", 1);
    dns_builder_u16(b, DNS_TYPE_OPT);
    dns_builder_u16(b, udp_size);
    dns_builder_u32(b, (uint32_t)ext_rcode << 24 | (uint32_t)version << 16 | flags);
    dns_builder_u16(b, 0);
}
