/* Building DNS messages into a caller-owned buffer, with name compression; never allocates.
 * A write that does not fit sets `overflow` and later writes are ignored: check once at the end
 * with dns_builder_ok(). */
#ifndef ZTNA_COMMON_DNS_BUILD_H
#define ZTNA_COMMON_DNS_BUILD_H

#include "common/dns/dns_msg.h"

#define DNS_COMP_MAX 64   /* names remembered for compression by a builder */

struct dns_builder {
    uint8_t *buf;        /* borrowed, cap bytes */
    size_t cap, len;
    bool overflow;       /* set once a write did not fit; later writes are ignored */
    uint16_t comp[DNS_COMP_MAX];  /* offsets of names written, for compression */
    unsigned ncomp;
};
void dns_builder_init(struct dns_builder *b, uint8_t *buf, size_t cap);
void dns_builder_header(struct dns_builder *b, const struct dns_header *h); /* at offset 0 */
void dns_builder_bytes(struct dns_builder *b, const void *p, size_t n);
void dns_builder_u16(struct dns_builder *b, uint16_t v);
void dns_builder_u32(struct dns_builder *b, uint32_t v);
/* Writes a name, compressed against earlier names when compress is set. */
void dns_builder_name(struct dns_builder *b, const struct dns_name *n, bool compress);
void dns_builder_question(struct dns_builder *b, const struct dns_name *n, uint16_t qtype,
                          uint16_t qclass);
/* An RR with opaque rdata (A, AAAA, TXT...). */
void dns_builder_rr(struct dns_builder *b, const struct dns_name *owner, uint16_t type,
                    uint32_t ttl, const void *rdata, uint16_t rdlen);
/* An RR whose rdata is one name (NS, CNAME, PTR), compressed. */
void dns_builder_rr_name(struct dns_builder *b, const struct dns_name *owner, uint16_t type,
                         uint32_t ttl, const struct dns_name *target);
void dns_builder_rr_soa(struct dns_builder *b, const struct dns_name *owner, uint32_t ttl,
                        const struct dns_name *mname, const struct dns_name *rname,
                        const uint32_t times[static 5] /* serial refresh retry expire minimum */);
/* The OPT pseudo-RR (root owner, class = payload size, TTL = ext-rcode/version/flags). */
void dns_builder_opt(struct dns_builder *b, uint16_t udp_size, uint8_t ext_rcode,
                     uint8_t version, uint16_t flags);
/* Rewrites the 16-bit count at header offset 4/6/8/10. */
void dns_builder_set_count(struct dns_builder *b, unsigned which /* 0=qd 1=an 2=ns 3=ar */,
                           uint16_t v);
static inline bool dns_builder_ok(const struct dns_builder *b) { return !b->overflow; }

#endif
