/* Tailnet IPv6 addresses: derived, never stored. Under the server-wide prefix (--ipv6-prefix,
 * default IP6_DEFAULT_PREFIX) a machine's IPv6 address is the prefix's bits, then zeros, then
 * its IPv4 tailnet address in the last 32 bits: 100.64.0.5 under fd7a:115c:a1e0::/48 is
 * fd7a:115c:a1e0::6440:5. Text is always RFC 5952 form (inet_ntop). */
#ifndef ZTNA_SERVER_IP6_H
#define ZTNA_SERVER_IP6_H

#include <stdbool.h>
#include <stdint.h>

#define IP6_DEFAULT_PREFIX  "fd7a:115c:a1e0::/48"
#define IP6_PREFIX_MIN_LEN  8   /* shorter would route most of IPv6 into the tailnet */
#define IP6_PREFIX_MAX_LEN  96  /* the last 32 bits carry the IPv4 address */
#define IP6_TEXT_MAX        46  /* INET6_ADDRSTRLEN */
#define IP6_PREFIX_TEXT_MAX 50  /* address, "/128", NUL */

/* on false: IPv6 addresses are off (net and len unused). */
struct ip6_prefix {
    bool on;
    uint8_t len;
    uint8_t net[16];
};

/* "off", or ADDR/LEN: an IPv6 unicast prefix, IP6_PREFIX_MIN_LEN <= LEN <= IP6_PREFIX_MAX_LEN,
 * no bits set past LEN. False with *why (a fixed string) on anything else. */
bool ip6_prefix_parse(const char *s, struct ip6_prefix *out, const char **why);
/* "fd7a:115c:a1e0::/48"; "off" when off. */
void ip6_prefix_format(const struct ip6_prefix *p, char out[static IP6_PREFIX_TEXT_MAX]);
/* The address of the machine whose IPv4 tailnet address is ip4 (host order); p must be on. */
void ip6_tailnet_addr(const struct ip6_prefix *p, uint32_t ip4, uint8_t out[static 16]);
/* The same from the dotted quad as stored; false (out "") when p is NULL or off or ip4 is not a
 * dotted quad. */
bool ip6_tailnet_text(const struct ip6_prefix *p, const char *ip4, char out[static IP6_TEXT_MAX]);

/* The inverse: if text is an IPv6 address inside p (on) with zeros between the prefix and the
 * last 32 bits, writes those 32 bits as a dotted quad to out and returns true. */
bool ip6_tailnet_ip4(const struct ip6_prefix *p, const char *text, char out[static 16]);

#endif
