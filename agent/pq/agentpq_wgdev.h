/* Runs the post-quantum PSK exchange for every peer of a userspace WireGuard device
 * (agent/wg/device.h): ext-message handler, a loop timer, peers synced from the device's
 * configuration, PSKs installed with wg_device_apply() and peers blocked until theirs is in. */
#ifndef ZTNA_AGENT_PQ_AGENTPQ_WGDEV_H
#define ZTNA_AGENT_PQ_AGENTPQ_WGDEV_H

#include <stdbool.h>

#include "agent/pq/agentpq.h"
#include "agent/wg/device.h"

struct agentpq_wgdev;

/* Defaults, overridden by the test-only environment ZTNA_PQX_TEST_ROTATE_MS (rotation period;
 * fallback and expiry scale with it: x1.25 and x1.5) and ZTNA_PQX_TEST_RETRANSMIT_MS (100..1000:
 * retransmit interval and minimum backoff; the backoff cap becomes 8 times it). */
void agentpq_config_from_env(struct pqx_config *cfg);
/* True if the environment asks for the exchange (ZTNA_WG_PQ=1). */
bool agentpq_env_enabled(void);
/* Attaches to dev (before or inside wg_device_run()): turns on the device's PQ guard (peers start
 * blocked with a random PSK; see wg_device_set_pq_guard()), asks for a WireGuard handshake after
 * each PQ PSK install, blocks the peers already configured. *out is new: free with
 * agentpq_wgdev_free() after wg_device_destroy(). Returns 0 or -errno. Classical-only peers:
 * agentpq_classical_set(agentpq_wgdev_pq(w), key, true, now). */
int agentpq_wgdev_attach(struct wg_device *dev, const struct pqx_config *cfg,
                         struct agentpq_wgdev **out);
void agentpq_wgdev_free(struct agentpq_wgdev *w);
/* Serves the status socket AGENTPQ_STATUS_DIR/IFNAME.pq (agentpq_statsock.h) from the device
 * loop; removed by agentpq_wgdev_free(). Returns 0 or -errno. */
int agentpq_wgdev_status_listen(struct agentpq_wgdev *w, const char *ifname);
/* Borrowed; valid until agentpq_wgdev_free(). */
struct agentpq *agentpq_wgdev_pq(struct agentpq_wgdev *w);

#endif
