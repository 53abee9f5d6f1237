/* `ztna daemon --backend kernel`: the tunnels on a kernel WireGuard interface (agent/kernel)
 * instead of the userspace engine. The daemon keeps everything else (control session, netmap,
 * engine.c's peer model, addresses, DNS table, local API); this file holds what differs:
 *   - the `wireguard` link named --tun: created at start (a wireguard link of that name left by
 *     an earlier run is replaced, any other interface of that name stops the start), private
 *     key and listen port, link up, 100.100.100.100/32 on it for the MagicDNS stub; deleted at
 *     exit together with the nftables table;
 *   - the peers engine.c builds from the netmap go to the kernel through
 *     agentpq_wgkernel_apply(), so a new peer has a random PSK and no allowed IPs until its PQ
 *     exchange (UDP listen port + 1) installs the PQ PSK; the exchange socket is in the daemon's
 *     loop and ticks every AGENTPQ_TICK_MS;
 *   - the policy filter as the nftables table `ztna` on the link (agent/kernel/nftfilter.h), with
 *     the same meaning as the userspace gate (common/filter/gate.h): a null filter allows all (no
 *     table), a filter allows its entries plus replies to flows this node opened, a filter that
 *     cannot be built or installed is replaced by one that allows nothing, and if even that
 *     cannot be installed the link is set down until a filter is in (fail closed); denials come
 *     back over NFLOG and go into the daemon's denial counters;
 *   - the MagicDNS stub on sockets bound to 100.100.100.100:53 (UDP and TCP): each query is handed
 *     to dnsio.c's packet code as the IPv4/UDP packet it would have been on a TUN, and what dnsio
 *     writes back (engine_tun_write) is sent on the socket it belongs to;
 *   - the event loop: no userspace device to nest in, so kengine_run() polls the daemon's inner
 *     epoll set itself and runs the daemon tick every AGENT_TICK_MS, all on one thread.
 * The kernel calls go through struct kengine_ops so that tests run it against an in-memory kernel
 * (tests/kernel/fakekernel.h). */
#ifndef ZTNA_AGENT_DAEMON_KENGINE_H
#define ZTNA_AGENT_DAEMON_KENGINE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/daemon/agent_limits.h"
#include "agent/wg_model.h"
#include "common/filter/filter.h"


struct agent;
struct netmap;
struct agentpq;
struct wg_device;

enum agent_backend { AGENT_BACKEND_AUTO, AGENT_BACKEND_USERSPACE, AGENT_BACKEND_KERNEL };

/* "auto" | "userspace" | "kernel"; false for anything else. */
bool kengine_backend_parse(const char *s, enum agent_backend *out);
/* Whether this build and machine can run the kernel backend; why says what is missing. */
bool kengine_available(char *why, size_t why_len);

/* Every kernel call of the kernel engine (NULL ops in kengine_init: the real ones). */
struct kengine_ops {
    int (*link_create)(void *ctx, const char *ifname);
    int (*link_delete)(void *ctx, const char *ifname);
    int (*link_set_up)(void *ctx, const char *ifname, bool up);
    int (*addr4)(void *ctx, const char *ifname, struct in_addr addr, unsigned plen, bool del);
    int (*device_get)(void *ctx, const char *ifname, struct wg_device_config **out);
    int (*device_set)(void *ctx, const struct wg_device_config *cfg);
    /* nftables: the filter table on the link (n = 0: nothing allowed but replies), deleted */
    int (*filter_apply)(void *ctx, const char *table, const char *ifname,
                        const struct filter_entry *e, size_t n);
    int (*filter_delete)(void *ctx, const char *table);
    void *ctx;
};

/* Creates the link and configures it (key, port, up, stub address), starts the PQ exchange and
 * the stub sockets. a->tun, a->listen_port, a->keys and a->epfd (loop_init) must be set.
 * 0 or -errno (the step is logged). */
int kengine_init(struct agent *a, const struct kengine_ops *ops);
/* Deletes the filter table and the link, closes everything. Accepts a never-initialised agent. */
void kengine_fini(struct agent *a);
/* Applies the peer part of a netmap as engine.c built it (cfg: removals, then every peer of next
 * with its allowed IPs, keepalive and endpoint when it changed). */
void kengine_apply(struct agent *a, const struct wg_device_config *cfg, const struct netmap *next);
/* Removes every peer. */
void kengine_clear(struct agent *a);
/* The netmap's filter (nm NULL or filter null: no table, everything allowed). 0 or -errno. */
int kengine_set_filter(struct agent *a, const struct netmap *nm);
/* The PQ exchange timers and its socket, the stub's TCP timers; every AGENT_TICK_MS. */
void kengine_tick(struct agent *a);
/* The kernel's view of the device (wg_device_config_free()). 0 or -errno. */
int kengine_device_get(struct agent *a, struct wg_device_config **out);
struct agentpq *kengine_pq(struct agent *a);
/* A packet dnsio wrote "to the TUN": sent on the stub socket it answers. 0 or -errno. */
int kengine_stub_send(struct agent *a, const uint8_t *pkt, size_t len);

/* The stub's pieces that read client bytes, for the fuzz target (tests/kernel/fuzz_kengine_dns.c):
 * kengine_dns_frame: the next query of a DNS-over-TCP stream of len bytes (RFC 7766 2-byte
 *   length): 1 with *qlen (the query is at buf + 2), 0 when more bytes are needed, -EMSGSIZE when
 *   the announced length does not fit a cap-byte buffer (the connection is dropped);
 * kengine_udp_wrap: the IPv4/UDP datagram src:sport -> stub:53 around len bytes already at
 *   pkt + 28 (pkt has room for 28 + len), as dnsio expects it from the TUN. */
int kengine_dns_frame(const uint8_t *buf, size_t len, size_t cap, size_t *qlen);
void kengine_udp_wrap(uint8_t *pkt, struct in_addr src, uint16_t sport, struct in_addr stub,
                      size_t len);

/* The loop: runs until kengine_stop(); tick(ctx = a, NULL) every AGENT_TICK_MS. 0 or -errno. */
int kengine_run(struct agent *a, void (*tick)(void *ctx, struct wg_device *dev));
/* Async-signal-safe. */
void kengine_stop(void);

#endif
