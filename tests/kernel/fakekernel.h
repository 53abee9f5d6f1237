/* An in-memory "kernel" WireGuard interface for tests of the kernel binding (agentpq_wgkernel)
 * without the module: fake_set() applies a SET with the kernel's semantics (new peer unless
 * update-only, remove, PSK, endpoint, keepalive, allowed IPs replaced or added; private key, listen
 * port, peers replaced) and also runs it through the
 * real netlink builder (wgnl_set_build) and the independent checker (nlcheck), counting malformed
 * messages in nl_errors; fake_get() returns a copy. Use {fake_get, fake_set, &fake} as
 * struct agentpq_kernel_ops. */
#ifndef ZTNA_TESTS_KERNEL_FAKEKERNEL_H
#define ZTNA_TESTS_KERNEL_FAKEKERNEL_H

#include <stdint.h>

#include "agent/wg_model.h"
#include "tests/kernel/nlcheck.h"

struct fake {
    struct wg_device_config cfg; /* peers owned */
    struct seen last;            /* netlink view of the SETs since the last reset */
    int sets, nl_errors;
};

struct wg_peer_config *fake_peer(struct fake *f, const uint8_t *key);
int fake_set(void *ctx, const struct wg_device_config *cfg);
int fake_get(void *ctx, const char *ifname, struct wg_device_config **out);
/* What `wg set IF peer KEY endpoint 198.18.0.1:PORT allowed-ips IP/32` does to the kernel. */
void fake_wg_set(struct fake *f, const uint8_t *key, uint16_t port, const char *ip);
void fake_free(struct fake *f);

#endif
