/* The agent's DNS stub resolution logic (no I/O): given a query that reached 100.100.100.100,
 * answer it from the netmap's table of tailnet names, or say it must go to the upstream
 * resolver. Tailnet names never leak upstream:
 *   - names under the tailnet domain      -> answered here (A/AAAA, NODATA, NXDOMAIN)
 *   - single-label names ("laptop")       -> looked up as <label>.<tailnet domain>, answered
 *                                            with the asked name as owner; NXDOMAIN if absent
 *   - reverse names in 100.64.0.0/10, and in the tailnet's IPv6 prefix when one is set
 *                                         -> PTR from the table; NXDOMAIN if absent
 *   - anything else                       -> DNS_STUB_FORWARD (the caller relays the packet)
 * A table is immutable once built; build a new one for each netmap and swap it. */
#ifndef ZTNA_AGENT_DNS_STUB_H
#define ZTNA_AGENT_DNS_STUB_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dns_stub_table;

enum dns_stub_action {
    DNS_STUB_ANSWER,    /* a response was written to out */
    DNS_STUB_FORWARD,   /* relay the query upstream unchanged */
    DNS_STUB_DROP,      /* not a query: ignore */
};

/* New empty table for the tailnet domain (e.g. "acme.ztna.example"); free with
 * dns_stub_table_free(). NULL on a bad name or allocation failure. */
struct dns_stub_table *dns_stub_table_new(const char *tailnet_domain);
void dns_stub_table_free(struct dns_stub_table *t);
/* Adds an address for a name under the tailnet domain; -EINVAL outside it, -E2BIG past
 * DNS_STUB_MAX_NAMES, -ENOMEM. Must not be called after the first dns_stub_resolve(). */
int dns_stub_table_add_a(struct dns_stub_table *t, const char *name, struct in_addr addr);
int dns_stub_table_add_aaaa(struct dns_stub_table *t, const char *name,
                            const struct in6_addr *addr);
/* The tailnet's IPv6 prefix (len 1..128): full ip6.arpa names inside it are answered from the
 * AAAA entries (NXDOMAIN when absent), never forwarded. Without it they are forwarded. 0 or
 * -EINVAL (bad length, or sealed). */
int dns_stub_table_set_prefix6(struct dns_stub_table *t, const struct in6_addr *prefix,
                               unsigned len);
/* Sorts the table; call once after the last add. Resolving is then read-only, so several
 * threads may resolve on one sealed table. */
void dns_stub_table_seal(struct dns_stub_table *t);
/* Decides for one query; on DNS_STUB_ANSWER writes the response (*out_len bytes, within the
 * client's UDP limit, else truncated with TC) to out (cap >= 512). An unsealed table answers
 * SERVFAIL. */
enum dns_stub_action dns_stub_resolve(const struct dns_stub_table *t, const uint8_t *query,
                                      size_t len, uint8_t *out, size_t cap, size_t *out_len);

#endif
