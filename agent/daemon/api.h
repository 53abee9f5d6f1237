/* The daemon's local API server on its Unix socket (protocol: api_proto.h, docs/agent.md). */
#ifndef ZTNA_AGENT_DAEMON_API_H
#define ZTNA_AGENT_DAEMON_API_H

#include <stdint.h>

#include <cjson/cJSON.h>

struct agent;

/* Creates the socket (parent directory 0755, socket 0600: root only). 0 or -errno. */
int api_init(struct agent *a);
void api_fini(struct agent *a);
/* Sends a reply to connection conn_id if it is still open: data (new, consumed) or error. */
void api_reply(struct agent *a, uint64_t conn_id, cJSON *data, const char *error);
/* The status document of `ztna status --json` (new). */
cJSON *api_status(struct agent *a);

#endif
