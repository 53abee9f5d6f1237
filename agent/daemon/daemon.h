/* `ztna daemon`: the agent. One struct agent holds everything; it is passed explicitly.
 *
 * Threads and locking: the userspace WireGuard device owns the one epoll loop (agent/wg/device.h).
 * The daemon puts ONE fd in it, its own inner epoll set (loop.c), which holds the local API
 * socket and its clients, libcurl's sockets and timers (curlloop.c), the map stream's socket
 * (mapstream.c), and the DNS upstream socket; plus one
 * AGENT_TICK_MS timer. Every daemon callback therefore runs on the loop thread with the device
 * lock held, and the packet hooks (DNS stub, filter) run on the data threads with the same lock:
 * every field below is protected by the device lock. With `--backend kernel` there is no
 * userspace device: kengine_run() polls the inner set and runs the tick on one thread (kengine.h). */
#ifndef ZTNA_AGENT_DAEMON_DAEMON_H
#define ZTNA_AGENT_DAEMON_DAEMON_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/daemon/agent_limits.h"
#include "agent/daemon/netmap.h"
#include "agent/daemon/state.h"

struct wg_device;
struct agentpq_wgdev;
struct ctl;
struct http;
struct api;
struct dnsio;
struct posture_async;
struct filter;
struct filter_matcher;
struct dns_stub_table;
struct kengine;
struct agentpq;
struct wg_device_config;
struct filter_deny_count;

/* An fd in the daemon's inner epoll set; epoll data.ptr points at one of these. A heap-allocated
 * source puts it first in its struct and is released with loop_release() (freed after the
 * current dispatch, since an event for it may still be pending in the batch). */
struct agent;
struct loop_src {
    int fd;
    void (*fn)(struct agent *a, struct loop_src *src, uint32_t events);
    bool dead;
    struct loop_src *next_dead;
};

/* Recent policy denials shown by `ztna status` (kept after being reported). */
struct agent_denial {
    uint8_t family;  /* 4 or 6 */
    uint8_t src[16]; /* IPv4 in the first 4 bytes */
    uint8_t proto;
    uint16_t dport;
    uint64_t packets, unreported; /* all seen; not yet sent in a heartbeat */
    int64_t last;                 /* unix seconds */
};

struct agent {
    /* configuration (command line) */
    char state_dir[256], socket_path[108], tun[16];
    uint16_t listen_port;
    /* identity and saved state (state.c) */
    struct agent_keys keys;
    struct agent_state st;
    /* data plane: the userspace device (dev, pq), or with kernel the kernel engine (kengine.h) */
    bool kernel;
    struct kengine *kern;
    struct wg_device *dev;
    struct agentpq_wgdev *pq;
    bool tun_addr_set;
    struct in_addr tun_addr;
    bool tun_addr6_set;
    struct in6_addr tun_addr6;
    uint8_t tun_addr6_len;
    /* the inner loop (loop.c) */
    int epfd;
    struct loop_src *dead; /* released sources, freed after the dispatch */
    /* control plane */
    struct http *http;
    struct ctl *ctl;
    struct netmap *nm;     /* current map, or NULL */
    char last_error[1100];  /* last control error, for status */
    int64_t last_map_at;   /* unix seconds of the last accepted map message */
    uint64_t maps_refused;
    /* policy (filter.c) */
    struct filter *filter;    /* NULL with filter_on: nothing allowed */
    bool filter_on;           /* false: the netmap's filter is null, everything allowed */
    struct filter_matcher *fm;
    struct agent_denial denials[AGENT_DENIAL_SLOTS];
    size_t n_denials;
    uint64_t ip6_chatter_dropped; /* the kernel's IPv6 link chatter from the TUN (pktpath.c) */
    /* DNS stub (dnsio.c) */
    struct dnsio *dns;
    /* posture collection in a worker thread (posture_async.c) */
    struct posture_async *posture;
    /* local API (api.c) */
    struct api *api;
};

/* loop.c: inner epoll set. */
int loop_init(struct agent *a);
void loop_fini(struct agent *a);
int loop_add(struct agent *a, struct loop_src *src, uint32_t events);
int loop_mod(struct agent *a, struct loop_src *src, uint32_t events);
void loop_del(struct agent *a, struct loop_src *src);
/* Removes src from the set, closes its fd and frees it (the struct it starts) after dispatch. */
void loop_release(struct agent *a, struct loop_src *src);
uint64_t agent_now_ms(void); /* CLOCK_MONOTONIC */
/* Runs the callbacks of the ready sources (without blocking). */
void loop_dispatch(struct agent *a);

/* engine.c: the netmap applied to the data plane. */
int engine_init(struct agent *a);
/* Applies next (borrowed) over prev (borrowed, may be NULL): peers, allowed IPs, endpoints, PQ,
 * DNS table, filter, the TUN address. */
void engine_apply(struct agent *a, const struct netmap *prev, const struct netmap *next);
/* Removes every peer (down, logout). */
void engine_clear(struct agent *a);
/* Counters for the heartbeat's "stats" (new cJSON object): peers, peers_pq, peers_classical
 * (explicit classical-only PSK), peers_failing (no PQ PSK, exchange failed at least once in a row),
 * rx_bytes, tx_bytes, map_version, maps_refused, denied_packets. */
struct cJSON *engine_stats(struct agent *a);
/* The backend's pieces, whichever it is: "userspace" or "kernel"; the PQ exchange (borrowed);
 * the device's configuration and state (new, wg_device_config_free()); one IP packet to the host
 * as if it came out of the tunnel (kernel: a DNS stub answer, sent on the stub's socket). */
const char *engine_backend_name(const struct agent *a);
/* The device part of the configuration: our private key, the listen port, no peers (wipe the
 * key with sodium_memzero after use). */
void engine_device_base(const struct agent *a, struct wg_device_config *cfg);
struct agentpq *engine_pq(struct agent *a);
int engine_device_get(struct agent *a, struct wg_device_config **out);
int engine_tun_write(struct agent *a, const uint8_t *pkt, size_t len);

/* filter.c: the packet hooks. */
int pktpath_init(struct agent *a);
void pktpath_fini(struct agent *a);
int pktpath_set_filter(struct agent *a, const struct netmap *nm);
/* Moves the matcher's denial counters into a->denials. */
void pktpath_collect_denials(struct agent *a);
/* Adds n denial counters (other: packets that found no counter) to a->denials (the kernel
 * backend's NFLOG denials go the same way as the matcher's). */
void pktpath_merge_denials(struct agent *a, const struct filter_deny_count *got, size_t n,
                           uint64_t other);
/* Collects, then returns the JSON array of the denials not yet reported (new cJSON, NULL when
 * none) and marks them reported: [{"src","proto","dport","count"}]. */
struct cJSON *pktpath_take_denials(struct agent *a);
/* One denial as JSON (new): count = unreported packets or, with !unreported, all and "last". */
struct cJSON *pktpath_denial_json(const struct agent_denial *d, bool unreported);

#endif
