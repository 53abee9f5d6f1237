/* `ztna status`'s text rendering (agent/cmd_status.c), a pure function of the daemon's status
 * reply (agent/daemon/api.c) so that it can be tested without a daemon. */
#ifndef ZTNA_AGENT_CMD_STATUS_H
#define ZTNA_AGENT_CMD_STATUS_H

#include <stdio.h>

#include <cjson/cJSON.h>

/* Writes the human-readable status: this machine, "quarantined: <reason>" when the server
 * quarantines it, the control session, each peer and the recent policy denials. */
void status_render(FILE *out, const cJSON *status);

#endif
