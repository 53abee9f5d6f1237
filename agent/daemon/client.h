/* The CLI side of the local API (api_proto.h): one request, one reply. */
#ifndef ZTNA_AGENT_DAEMON_CLIENT_H
#define ZTNA_AGENT_DAEMON_CLIENT_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Sends req (borrowed) to the daemon at socket_path and waits up to timeout_ms for the reply.
 * Returns 0 with *data new (cJSON_Delete) or -1 with err set to a sentence naming the problem
 * (the daemon's own error, or why the daemon could not be reached). */
int client_call(const char *socket_path, const cJSON *req, int timeout_ms, cJSON **data,
                char *err, size_t err_len);

#endif
