/* Tailnet address arithmetic: which addresses of 100.64.0.0/10 a machine may get.
 *
 * Usable: inside 100.64.0.0/10, last octet neither .0 nor .255 (so no address looks like a network
 * or broadcast address to tools that assume /24s), and never 100.100.100.100 (the agent's DNS stub).
 * Addresses are handed out in ascending order; the database's UNIQUE(org_id, ip_num) makes a double
 * allocation impossible and db_machine_insert() retries on the conflict (db_machines.c). */
#ifndef ZTNA_SERVER_IPALLOC_H
#define ZTNA_SERVER_IPALLOC_H

#include <stdbool.h>
#include <stdint.h>

#define IPALLOC_NET       0x64400000u /* 100.64.0.0 */
#define IPALLOC_MASK      0xffc00000u /* /10 */
#define IPALLOC_DNS_STUB  0x64646464u /* 100.100.100.100 */
#define IPALLOC_TEXT_MAX  16          /* "255.255.255.255" + NUL */

bool ipalloc_usable(uint32_t ip);
/* The first usable address strictly above ip (any ip below the range gives the first of the
 * range), or 0 when none is left. */
uint32_t ipalloc_next(uint32_t ip);
void ipalloc_format(uint32_t ip, char out[static IPALLOC_TEXT_MAX]);
/* Dotted quad to host-order integer; false on anything that is not exactly a dotted quad. */
bool ipalloc_parse(const char *s, uint32_t *out);

#endif
