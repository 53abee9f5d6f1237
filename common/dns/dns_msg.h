/* DNS message codec (RFC 1035, EDNS0 per RFC 6891), shared by the server's authority and the
 * agent's stub. Parsing reads untrusted bytes through common/cursor.h; names are decompressed
 * with loop and length limits. Building writes into a caller-owned buffer and never allocates.
 *
 * Names are kept in wire form (length-prefixed labels ending with the root label), at most
 * DNS_NAME_MAX bytes, with the case as received: compare with dns_name_equal(). */
#ifndef ZTNA_COMMON_DNS_MSG_H
#define ZTNA_COMMON_DNS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HDR_LEN        12
#define DNS_NAME_MAX       255   /* RFC 1035 3.1, wire length including the root label */
#define DNS_LABEL_MAX      63
#define DNS_PTR_HOPS_MAX   64    /* compression pointers followed per name */
#define DNS_UDP_MIN        512   /* RFC 1035 4.2.1; also the floor for an EDNS payload size */
#define DNS_MSG_MAX        65535 /* TCP (RFC 7766) */

enum dns_type {
    DNS_TYPE_A = 1, DNS_TYPE_NS = 2, DNS_TYPE_CNAME = 5, DNS_TYPE_SOA = 6, DNS_TYPE_PTR = 12,
    DNS_TYPE_MX = 15, DNS_TYPE_TXT = 16, DNS_TYPE_AAAA = 28, DNS_TYPE_OPT = 41,
    DNS_TYPE_IXFR = 251, DNS_TYPE_AXFR = 252, DNS_TYPE_ANY = 255,
};
enum { DNS_CLASS_IN = 1, DNS_CLASS_ANY = 255 };
enum dns_rcode {
    DNS_RCODE_NOERROR = 0, DNS_RCODE_FORMERR = 1, DNS_RCODE_SERVFAIL = 2, DNS_RCODE_NXDOMAIN = 3,
    DNS_RCODE_NOTIMP = 4, DNS_RCODE_REFUSED = 5, DNS_RCODE_BADVERS = 16, /* extended, via OPT */
};
#define DNS_FLAG_QR 0x8000
#define DNS_FLAG_AA 0x0400
#define DNS_FLAG_TC 0x0200
#define DNS_FLAG_RD 0x0100
#define DNS_FLAG_RA 0x0080
#define DNS_FLAG_AD 0x0020
#define DNS_FLAG_CD 0x0010
#define DNS_OPCODE(flags) (((flags) >> 11) & 0xf)
#define DNS_RCODE(flags)  ((flags) & 0xf)
#define DNS_EDNS_DO 0x8000

struct dns_header {
    uint16_t id, flags, qdcount, ancount, nscount, arcount;
};

struct dns_name {
    uint8_t len;                /* wire length, 1 (root) .. DNS_NAME_MAX */
    uint8_t wire[DNS_NAME_MAX];
};

struct dns_edns {
    bool present;
    uint16_t udp_size;  /* requestor's payload size, as sent */
    uint8_t ext_rcode;
    uint8_t version;
    uint16_t flags;     /* DNS_EDNS_DO, ... */
};

struct dns_query {
    struct dns_header hdr;
    struct dns_name qname;  /* decompressed, case as received */
    uint16_t qtype, qclass;
    struct dns_edns edns;
};

struct dns_rr {
    struct dns_name name;
    uint16_t type, rclass;
    uint32_t ttl;
    uint16_t rdlen;
    size_t rdata_off;   /* offset of the rdata in the parsed message */
};

/* --- Names (dns_name.c) --- */
/* Reads a possibly compressed name at *off in msg; on success *off is just past it. Pointers must
 * point strictly backwards (no loops), at most DNS_PTR_HOPS_MAX of them, labels <= 63 bytes,
 * total <= 255 bytes, no reserved label types. */
bool dns_name_parse(const uint8_t *msg, size_t msg_len, size_t *off, struct dns_name *out);
bool dns_name_equal(const struct dns_name *a, const struct dns_name *b);   /* ASCII case-fold */
void dns_name_lower(struct dns_name *n);
/* True if n is sub or equal to the (already lower-case) parent. */
bool dns_name_is_under(const struct dns_name *n, const struct dns_name *parent);
/* "host.example.com" or "host.example.com." ("." is the root); -EINVAL on empty labels, labels
 * over 63 bytes or names over 255 bytes. Bytes are taken literally (no escapes). */
int dns_name_from_text(struct dns_name *out, const char *text);
/* Presentation form with a trailing dot, \DDD for bytes outside [!-~] and \. \\ escapes.
 * Returns 0, or -ENOSPC if cap is too small. */
int dns_name_to_text(const struct dns_name *n, char *out, size_t cap);
unsigned dns_name_label_count(const struct dns_name *n);

/* --- Messages (dns_msg.c) --- */
bool dns_header_parse(const uint8_t *msg, size_t len, struct dns_header *h);
void dns_header_write(uint8_t out[static DNS_HDR_LEN], const struct dns_header *h);
/* Parses a query: header, exactly one question, the other sections walked and checked, and the
 * OPT RR if any. Returns 0; -EMSGSIZE if shorter than a header (drop it); -EBADMSG if malformed
 * (answer FORMERR; q->hdr is valid). */
int dns_query_parse(const uint8_t *msg, size_t len, struct dns_query *q);
/* Parses one RR at *off (rdata not interpreted, but bounds-checked). */
bool dns_rr_parse(const uint8_t *msg, size_t len, size_t *off, struct dns_rr *rr);
/* Parses one question at *off; on success *off is just past it. */
bool dns_question_parse(const uint8_t *msg, size_t len, size_t *off, struct dns_name *name,
                        uint16_t *qtype, uint16_t *qclass);

#endif
