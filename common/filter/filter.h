/* Compiled packet filter: the traffic allowed INTO one node, as the server compiles it and the
 * agent enforces it. An entry is (source prefix, destination port range, protocol); a packet is
 * allowed if any entry covers (source address, destination port, protocol). Default deny.
 *
 * The built `struct filter` is immutable and indexed per (family, protocol) by elementary source
 * intervals, each holding its merged, sorted port ranges: a lookup is two binary searches and
 * never allocates. Build a new one and swap the pointer to change the policy. */
#ifndef ZTNA_FILTER_H
#define ZTNA_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum filter_proto {
    FILTER_PROTO_ANY = 0,  /* every IP protocol, ports ignored for non TCP/UDP */
    FILTER_PROTO_ICMP = 1, /* ICMP or ICMPv6 (ports ignored) */
    FILTER_PROTO_TCP = 6,
    FILTER_PROTO_UDP = 17,
};

struct filter_entry {
    uint8_t family;   /* 4 or 6 */
    uint8_t plen;     /* prefix length, <= 32 or <= 128 */
    uint8_t proto;    /* enum filter_proto */
    uint8_t addr[16]; /* IPv4 uses the first 4 bytes; host bits are ignored */
    uint16_t port_lo, port_hi;
};

struct filter;

/* Builds an index over e[0..n). *out is new: free with filter_free(). 0, -EINVAL, -E2BIG, -ENOMEM. */
int filter_build(struct filter **out, const struct filter_entry *e, size_t n);
void filter_free(struct filter *f);
/* The entries the filter was built from (normalized), valid until filter_free(). */
const struct filter_entry *filter_entries(const struct filter *f, size_t *n);

/* ipproto is the IP protocol number (6, 17, 1, 58, ...); dport is ignored for non TCP/UDP.
 * family 4 reads addr[0..4). A NULL filter allows nothing. */
bool filter_allows(const struct filter *f, int family, const uint8_t addr[16], uint8_t ipproto,
                   uint16_t dport);

/* Entry text: "tcp 100.64.0.1/32 22-22". JSON: {"entries":["tcp 100.64.0.1/32 22", ...]}.
 * filter_json_write: *out is new, free(). filter_json_parse: *out is new, free(). */
int filter_entry_format(const struct filter_entry *e, char *buf, size_t len);
int filter_entry_parse(const char *s, struct filter_entry *e);
int filter_json_write(const struct filter_entry *e, size_t n, char **out);
int filter_json_parse(const char *json, struct filter_entry **out, size_t *n);
/* As filter_json_parse; on failure why (may be NULL) gets a sentence naming the problem. */
int filter_json_parse_why(const char *json, struct filter_entry **out, size_t *n, char *why,
                          size_t why_len);
/* Parses "a.b.c.d", "a.b.c.d/len", IPv6 likewise. 0 or -EINVAL. */
int filter_prefix_parse(const char *s, uint8_t *family, uint8_t addr[16], uint8_t *plen);

#endif
