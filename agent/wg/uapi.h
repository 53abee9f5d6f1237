/* The cross-platform WireGuard UAPI text protocol (as wireguard-go speaks it), pure parsing and
 * formatting with no I/O, so that it can be fuzzed and used by any backend.
 *
 *   set=1\n key=value\n ... \n\n   ->  errno=0\n\n
 *   get=1\n\n                     ->  key=value\n ... errno=0\n\n
 */
#ifndef ZTNA_AGENT_WG_UAPI_H
#define ZTNA_AGENT_WG_UAPI_H

#include <stddef.h>

#include "agent/wg_model.h"

/* Parses the body of a "set=1" request (the key=value lines after "set=1\n", up to but not
 * including the terminating empty line; a trailing empty line is tolerated). On success *out is
 * new (free with wg_device_config_free()). Returns 0, -EINVAL on a bad key or value, -EPROTO on a
 * malformed line, -E2BIG when a limit is exceeded, -ENOMEM. */
int wg_uapi_parse_set(const char *body, size_t len, struct wg_device_config **out);

/* Formats a "get" reply body for cfg (without the final "errno=0\n\n"). *out is new (free());
 * *out_len excludes the NUL. Returns 0 or -ENOMEM. */
int wg_uapi_format_get(const struct wg_device_config *cfg, char **out, size_t *out_len);

/* Parses "1.2.3.4:51820" or "[fd00::1]:51820" (numeric only). Returns false on error. */
bool wg_uapi_parse_endpoint(const char *s, struct sockaddr_storage *ss, socklen_t *sl);

#endif
