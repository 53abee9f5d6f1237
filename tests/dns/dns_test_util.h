/* Helpers for the DNS tests: a standard test snapshot, query building and strict response
 * parsing through the codec. */
#ifndef ZTNA_TESTS_DNS_TEST_UTIL_H
#define ZTNA_TESTS_DNS_TEST_UTIL_H

#include "common/dns/dns_build.h"
#include "server/dns/dns_server.h"

#define TRESP_MAX_RR 128

struct tq {
    const char *name;
    uint16_t qtype, qclass;   /* qclass 0 means IN */
    uint16_t id;
    bool rd;
    int edns_version;         /* -1: no OPT */
    uint16_t udp_size;
    bool do_bit;
    uint8_t opcode;
};

struct tresp {
    struct dns_header h;
    struct dns_name qname;
    uint16_t qtype, qclass;
    unsigned n[3];                         /* answer, authority, additional (without OPT) */
    struct dns_rr rr[3][TRESP_MAX_RR];
    bool edns;
    uint8_t ext_rcode, edns_version;
    uint16_t udp_size, edns_flags;
};

/* New snapshot with the standard test zones (see dns_test_util.c); aborts on failure. */
struct dns_snapshot *test_snapshot(void);
/* Same zones plus "new.acme.ztna.test A 100.64.0.99" when `extra` is set. */
struct dns_snapshot *test_snapshot_variant(bool extra);
size_t tq_build(uint8_t *buf, size_t cap, const struct tq *q);
/* Parses a whole response; false if anything is malformed or bytes are left over. */
bool tresp_parse(const uint8_t *msg, size_t len, struct tresp *r);
/* Rcode including the EDNS extended bits. */
static inline unsigned tresp_rcode(const struct tresp *r)
{
    return (unsigned)DNS_RCODE(r->h.flags) | (unsigned)r->ext_rcode << 4;
}

#endif
