/* Posture collection off the event loop: agent/posture may run `nft` and `iptables` (bounded,
 * but seconds in the worst case), and the loop holds the device lock, so it runs in a worker
 * thread and hands its result back through an eventfd in the daemon's inner loop. */
#ifndef ZTNA_AGENT_DAEMON_POSTURE_ASYNC_H
#define ZTNA_AGENT_DAEMON_POSTURE_ASYNC_H

#include <cjson/cJSON.h>

struct agent;

/* posture: new object (the callee owns it), or NULL when out of memory. */
typedef void (*posture_ready_fn)(struct agent *a, cJSON *posture);

int posture_async_init(struct agent *a, posture_ready_fn ready);
/* Starts a collection unless one is running. 0, -EBUSY or -errno. */
int posture_async_start(struct agent *a);
/* Waits for a running collection (bounded by agent/posture's timeouts) and frees everything. */
void posture_async_fini(struct agent *a);
/* What the daemon sends without agent/posture: os, os_version (os-release), kernel. New. */
cJSON *posture_minimal(void);
/* PRETTY_NAME of /etc/os-release, or "unknown". */
void posture_os_release(char *out, size_t cap);

#endif
