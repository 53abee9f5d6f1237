/* The control session (docs/control-protocol.md): registration, the map long-poll, heartbeats
 * with posture and denials, endpoint reports, logout; reconnecting with exponential backoff
 * while the data plane keeps running on the map it holds. Runs in the daemon's loop. */
#ifndef ZTNA_AGENT_DAEMON_CONTROL_H
#define ZTNA_AGENT_DAEMON_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "agent/daemon/agent_limits.h"

struct agent;

/* A deferred local-API reply: the connection id and what to send (data new, or error text). */
typedef void (*ctl_reply_fn)(struct agent *a, uint64_t conn_id, cJSON *data, const char *error);

struct ctl_login {
    char server[AGENT_URL_MAX];
    char auth_key[256];                                  /* a pre-auth key, or: */
    char request_id[33], code[129], code_verifier[129]; /* the browser login's exchange */
    char hostname[AGENT_NAME_MAX];
    char tags[AGENT_MAX_TAGS][AGENT_NAME_MAX];
    size_t n_tags;
};

int ctl_init(struct agent *a, ctl_reply_fn reply);
void ctl_fini(struct agent *a);
/* Runs due work (poll, heartbeat, endpoints, retries); called every AGENT_TICK_MS. */
void ctl_tick(struct agent *a, uint64_t now_ms);
/* Starts registration; the reply goes to conn_id when it completes. 0 or -errno. */
int ctl_login(struct agent *a, const struct ctl_login *req, uint64_t conn_id);
int ctl_logout(struct agent *a, uint64_t conn_id);
int ctl_set_tags(struct agent *a, char tags[][AGENT_NAME_MAX], size_t n, uint64_t conn_id);
/* A signed call the machine makes for its owner (the JIT routes of docs/control-protocol.md):
 * method, path, body (JSON text or NULL); the server's data (or the failure, described) goes to
 * conn_id. Shares the one slot of login / logout / set: -EBUSY, -ENOTCONN, -ENOMEM. */
int ctl_machine_call(struct agent *a, const char *method, const char *path, const char *body,
                     uint64_t conn_id);
/* `ztna up` / `ztna down`: starts or stops the session and the tunnels. */
void ctl_set_up(struct agent *a, bool up);
/* The posture for the pending heartbeat is ready (posture_async.c): sends it. p is consumed. */
void ctl_posture_ready(struct agent *a, cJSON *p);
/* Status of the session for `ztna status` (new object). */
cJSON *ctl_status(struct agent *a);

#endif
