/* The exchange's status on a Unix socket, readable without `wg`: AGENTPQ_STATUS_DIR/IFNAME.pq
 * (mode 0600, not named *.sock so that `wg show` does not take it for an interface). A client
 * connects and reads agentpq_status_format() lines until EOF; `ztna wireguard --pq-status IFNAME`
 * is that client. The server side runs in the data plane's loop thread. */
#ifndef ZTNA_AGENT_PQ_AGENTPQ_STATSOCK_H
#define ZTNA_AGENT_PQ_AGENTPQ_STATSOCK_H

#include <stddef.h>
#include <stdint.h>

#include "agent/pq/agentpq.h"

#define AGENTPQ_STATUS_DIR "/var/run/wireguard"
#define AGENTPQ_STATUS_MAX (AGENTPQ_MAX_PEERS * 320) /* bytes of one status reply */
#define AGENTPQ_STATUS_TIMEOUT_MS 2000               /* per stalled write or read */

/* Creates and listens on the socket of ifname (replacing a stale one). Returns the listening fd
 * (non-blocking, close-on-exec; the caller closes it and calls agentpq_status_unlink()) or -errno. */
int agentpq_status_listen(const char *ifname);
void agentpq_status_unlink(const char *ifname);
/* Accepts the pending clients of listen_fd and writes each the current status, then closes them. */
void agentpq_status_serve(const struct agentpq *pq, int listen_fd, uint64_t now_ms);
/* Client: reads the status of ifname into *out (new, NUL-terminated; free()). 0 or -errno. */
int agentpq_status_query(const char *ifname, char **out);

#endif
