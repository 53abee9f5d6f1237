/* Runs the post-quantum PSK exchange for a kernel WireGuard interface (agent/kernel). The kernel
 * owns the WireGuard UDP socket, so the exchange has its own: the same pqx messages on UDP port
 * listen_port + AGENTPQ_PORT_OFFSET. Replies go to the source of the message they answer, other
 * messages where the peer's last completed exchange came from, or (none yet, or after a failed
 * attempt) to its configured PQ endpoint or else both its WireGuard endpoint and that port + the
 * offset, so a userspace peer (exchange on its WireGuard port) works too. A blocked peer has its allowed IPs
 * removed (remembered, given back when its PQ PSK is in), so the kernel routes nothing to or from
 * it; PSKs are set with WG_CMD_SET_DEVICE. The caller polls agentpq_wgkernel_fd() and calls
 * agentpq_wgkernel_tick() every AGENTPQ_TICK_MS, all from one thread.
 * Limit: a peer added with `wg set` straight into the kernel is blocked at the next tick (up to
 * AGENTPQ_TICK_MS later), not atomically; a driver that configures the kernel itself (the daemon)
 * goes through agentpq_wgkernel_apply(), which is. */
#ifndef ZTNA_AGENT_PQ_AGENTPQ_WGKERNEL_H
#define ZTNA_AGENT_PQ_AGENTPQ_WGKERNEL_H

#include "agent/pq/agentpq.h"
#include "agent/wg_model.h"

#define AGENTPQ_KERNEL_PORT_OFFSET AGENTPQ_PORT_OFFSET

/* The kernel calls, replaceable for tests (NULL ops: agent/kernel's netlink functions). */
struct agentpq_kernel_ops {
    int (*device_get)(void *ctx, const char *ifname, struct wg_device_config **out);
    int (*device_set)(void *ctx, const struct wg_device_config *cfg);
    void *ctx;
};
/* The real ones (ctx unused): wg_kernel_device_get / wg_kernel_device_set. */
int agentpq_kernel_device_get(void *ctx, const char *ifname, struct wg_device_config **out);
int agentpq_kernel_device_set(void *ctx, const struct wg_device_config *cfg);

struct agentpq_wgkernel;

/* *out is new (free with agentpq_wgkernel_free()). The UDP socket is bound once the interface
 * has a listen port (at a tick). Returns 0, -EINVAL or -ENOMEM. */
int agentpq_wgkernel_new(const char *ifname, const struct pqx_config *cfg,
                         const struct agentpq_kernel_ops *ops, struct agentpq_wgkernel **out);
/* Closes the socket and frees. Blocked peers keep no allowed IPs (no downgrade when the exchange
 * stops). Accepts NULL. */
void agentpq_wgkernel_free(struct agentpq_wgkernel *k);
/* The exchange's UDP socket (-1 until bound): poll it for input. */
int agentpq_wgkernel_fd(const struct agentpq_wgkernel *k);
/* Reads the pending datagrams of the socket (non-blocking, bounded per call). */
void agentpq_wgkernel_receive(struct agentpq_wgkernel *k);
/* Syncs the key, listen port and peer set from the kernel, then runs the exchange timers. 0 or
 * the -errno of the kernel get. */
int agentpq_wgkernel_tick(struct agentpq_wgkernel *k);
/* Applies cfg to the kernel as the exchange needs it, in the same SET: a peer without a PQ PSK
 * (new, or still blocked) goes in with a random PSK and no allowed IPs (its allowed IPs are kept
 * and given back once its PSK is installed); a PSK in cfg for an exchange-managed peer is ignored;
 * classical-only peers (agentpq_classical_set) and removals pass through. New peers start their
 * exchange at once. 0 or -errno (of the kernel set). */
int agentpq_wgkernel_apply(struct agentpq_wgkernel *k, const struct wg_device_config *cfg);
/* Borrowed; valid until agentpq_wgkernel_free(). */
struct agentpq *agentpq_wgkernel_pq(struct agentpq_wgkernel *k);

#endif
