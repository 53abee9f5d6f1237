/* Parsers of the control protocol's untrusted text (fuzzed by tests/control/fuzz_netmap_parse.c):
 * the map poll's query numbers and the endpoints a machine reports. No civetweb, no SQLite. */
#ifndef ZTNA_SERVER_NETMAP_PARSE_H
#define ZTNA_SERVER_NETMAP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/netmap.h"

/* A canonical decimal (digits only, no sign, no leading zero unless "0") within [lo, hi]. */
bool nm_parse_decimal(const char *s, int64_t lo, int64_t hi, int64_t *out);

/* "a.b.c.d:port" or "[v6]:port" (port 1..65535) into its canonical text (inet_ntop form, IPv6
 * lower case and compressed) in out. False on anything else. */
bool nm_endpoint_parse(const char *s, char out[static NM_ENDPOINT_MAX]);

/* The endpoint "addr:port" for a bare address as civetweb reports the peer ("127.0.0.1",
 * "::1"); false if addr is not an IP address or port is 0. */
bool nm_endpoint_format(const char *addr, int port, char out[static NM_ENDPOINT_MAX]);

#endif
