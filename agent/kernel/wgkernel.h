/* Kernel WireGuard backend: configures a kernel `wireguard` interface from the shared peer model
 * (agent/wg_model.h) through generic netlink (libmnl) and rtnetlink. Where the module is missing,
 * wg_kernel_probe() says so and the caller uses the userspace engine (agent/wg). Every function
 * needs CAP_NET_ADMIN except the probe. Messages are built and parsed by agent/kernel/wgnl.h. */
#ifndef ZTNA_AGENT_KERNEL_WGKERNEL_H
#define ZTNA_AGENT_KERNEL_WGKERNEL_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/wg_model.h"

/* True if the kernel offers the "wireguard" generic-netlink family (the module is built in or
 * loadable). Otherwise false, with a one-line reason in why (if non-NULL) that the caller can log
 * before falling back to the userspace engine. */
bool wg_kernel_probe(char *why, size_t why_len);

/* Creates / deletes a kernel WireGuard interface (rtnetlink, IFLA_INFO_KIND "wireguard").
 * 0 or -errno (-EEXIST, -ENODEV, -EOPNOTSUPP when the kind is unknown, -EPERM, ...). */
int wg_kernel_link_create(const char *ifname);
int wg_kernel_link_delete(const char *ifname);

/* Applies cfg (WG_CMD_SET_DEVICE, split over as many messages as needed). 0 or -errno. */
int wg_kernel_device_set(const struct wg_device_config *cfg);

/* Reads the device (WG_CMD_GET_DEVICE dump). On success *out is new: free it with
 * wg_device_config_free(). 0 or -errno. */
int wg_kernel_device_get(const char *ifname, struct wg_device_config **out);

#endif
