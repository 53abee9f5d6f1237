/* The Internet checksum (RFC 1071), for the IPv4/UDP packets the DNS stub writes to the TUN and
 * the ICMP echoes of `ztna ping`. */
#ifndef ZTNA_AGENT_DAEMON_IPCSUM_H
#define ZTNA_AGENT_DAEMON_IPCSUM_H

#include <stddef.h>
#include <stdint.h>

/* One's complement of the one's complement sum of p[0..n) as big-endian 16-bit words. */
uint16_t ipcsum(const uint8_t *p, size_t n);

#endif
