/* Internals of the userspace WireGuard device shared by its files (not a public API):
 * device.c (loop), config.c (set/get, extension points), peer.c (peers, indices, keypairs),
 * aips.c (allowed IPs), timers.c (protocol timers), handshake.c (messages 1-3, cookies, load),
 * data.c (TUN <-> UDP data path, TX and RX threads), uapi_server.c (the UAPI socket). */
#ifndef ZTNA_AGENT_WG_WGDEV_H
#define ZTNA_AGENT_WG_WGDEV_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "agent/wg/device.h"
#include "agent/wg/timer.h"
#include "agent/wg/wgdev_limits.h"
#include "common/wg/allowedips.h"
#include "common/wg/cookie.h"
#include "common/wg/keypair.h"
#include "common/wg/noise.h"

struct wg_device;
struct wgd_peer;
struct wgd_aip;

/* Something in the epoll set: epoll_event.data.ptr points at one of these. */
struct wgd_source {
    int fd;
    void (*fn)(struct wg_device *dev, struct wgd_source *src, uint32_t events);
};

union wgd_addr {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
};

/* An entry of the receiver-index table: a handshake in flight or a keypair. */
struct wgd_index {
    uint32_t index;
    struct wgd_peer *peer;
    struct wgd_keypair *kp; /* NULL: the peer's handshake */
    struct wgd_index *next;
    bool linked;
};

struct wgd_keypair {
    struct wg_keypair kp;
    struct wgd_index idx;
};

struct wgd_staged {
    uint16_t len;
    uint8_t data[];
};

struct wgd_peer {
    struct wg_device *dev;
    uint8_t public_key[WG_KEY_LEN];
    struct wg_noise_handshake hs;
    struct wg_cookie cookie;
    struct wgd_index hs_idx;
    struct wgd_keypair *kp_cur, *kp_prev, *kp_next; /* owned */
    union wgd_addr endpoint;
    socklen_t endpoint_len; /* 0 = none */
    uint16_t persistent_keepalive;
    struct wgd_aip *aips; /* owned list of this peer's prefixes (aips.c) */
    uint64_t rx_bytes, tx_bytes;
    struct timespec last_handshake; /* CLOCK_REALTIME */
    uint64_t last_sent_handshake_ns;
    unsigned handshake_attempts;
    bool sent_lastminute_handshake;
    bool need_another_keepalive;
    bool blocked;
    struct wgd_staged *staged[WGDEV_STAGED_MAX]; /* ring of owned packets */
    unsigned staged_head, staged_n;
    struct wgd_timer t_retransmit, t_send_keepalive, t_new_handshake, t_zero_keys, t_persistent;
    struct wgd_peer *hnext;        /* public-key hash chain */
    struct wgd_peer *prev, *next;  /* insertion order, for `get` */
};

struct wgd_ext_timer {
    struct wgd_timer t;
    struct wg_device *dev;
    unsigned ms;
    wg_device_timer_fn fn;
    void *ctx;
};

struct wgd_ext_fd {
    struct wgd_source src;
    wg_device_fd_fn fn;
    void *ctx;
};

#define WGD_HASH_BUCKETS 4096u
#define WGD_RATE_SLOTS 1024u

struct wgd_rate_slot {
    uint8_t ip[16];
    uint64_t last_ns;
    uint64_t tokens; /* in ns of credit */
};

/* Threads: the loop thread (timers, UAPI, extension fds), a TX thread (TUN -> UDP) and an RX
 * thread (UDP -> TUN). Everything in this struct and every peer is protected by `lock`, which
 * every callback runs under; the data threads drop it only around the AEAD work and the TUN
 * read/write, on copies of the keys they need (so a keypair may be freed meanwhile). */
struct wg_device {
    pthread_mutex_t lock;
    pthread_t tx_thread, rx_thread;
    bool threads_started;
    unsigned sock_gen; /* bumped when the UDP sockets change; data threads re-dup them */
    int wake_fd;       /* eventfd: tells the RX thread to pick up new sockets now */
    char ifname[WG_IFNAME_MAX];
    char uapi_path[108];
    unsigned mtu;
    int epfd, stop_fd;
    struct wgd_source tun_src, udp4_src, udp6_src, uapi_src, timer_src, stop_src;
    unsigned uapi_clients;
    struct wg_noise_identity identity;
    struct wg_cookie_checker cookie_checker;
    uint16_t listen_port;
    uint32_t fwmark;
    struct wg_allowedips aips;
    struct wgd_aip *aip_buckets[WGD_HASH_BUCKETS];
    struct wgd_peer *peer_buckets[WGD_HASH_BUCKETS];
    struct wgd_index *index_buckets[WGD_HASH_BUCKETS];
    struct wgd_peer *peers_head, *peers_tail;
    size_t n_peers;
    struct wgd_timer_heap timers;
    struct wgd_timer t_load;
    /* Under-load detection: handshake messages counted per second. */
    uint64_t load_window_start_ns;
    unsigned load_count;
    uint64_t under_load_until_ns;
    struct wgd_rate_slot rate[WGD_RATE_SLOTS];
    /* Protocol times (ns); overridable for tests only, see cmd_wireguard.c. */
    uint64_t rekey_after_ns, reject_after_ns;
    bool pq_guard;                 /* see wg_device_set_pq_guard() */
    wg_peer_created_fn created_fn;
    void *created_ctx;
    wg_ext_handler_fn ext_fn;
    void *ext_ctx;
    wg_tun_read_hook_fn pkt_rd; /* packet hooks (daemon), see device.h */
    wg_tun_write_hook_fn pkt_wr;
    void *pkt_ctx;
    struct wgd_ext_timer *ext_timers[WGDEV_MAX_TIMERS];
    size_t n_ext_timers;
    struct wgd_ext_fd *ext_fds[WGDEV_MAX_TIMERS];
    size_t n_ext_fds;
    struct wgd_io *io; /* data-path buffers, data.c */
    volatile bool stopping;
};

uint64_t wgd_now_ns(void);
/* device.c: (re)binds the UDP sockets on port (0 = random); keeps the old ones on error. */
int wgd_udp_rebind(struct wg_device *dev, uint16_t port);

/* peer.c */
struct wgd_peer *wgd_peer_lookup(struct wg_device *dev, const uint8_t pub[static WG_KEY_LEN]);
int wgd_peer_create(struct wg_device *dev, const uint8_t pub[static WG_KEY_LEN],
                    struct wgd_peer **out);
void wgd_peer_remove(struct wgd_peer *peer);
struct wgd_peer *wgd_peer_by_endpoint(struct wg_device *dev, const struct sockaddr *sa);
void wgd_peer_set_endpoint(struct wgd_peer *peer, const struct sockaddr *sa, socklen_t len);
int wgd_index_assign(struct wg_device *dev, struct wgd_index *e);
void wgd_index_unlink(struct wg_device *dev, struct wgd_index *e);
struct wgd_index *wgd_index_lookup(struct wg_device *dev, uint32_t index);
void wgd_peer_keypairs_clear(struct wgd_peer *peer);
void wgd_keypair_free(struct wg_device *dev, struct wgd_keypair *k);
void wgd_peer_stage(struct wgd_peer *peer, const uint8_t *pkt, size_t len);
void wgd_peer_staged_clear(struct wgd_peer *peer);
/* pqguard.c: blocks the peer and gives it a random, non-zero PSK (see wg_device_set_pq_guard). */
void wgd_peer_guard(struct wgd_peer *peer);

/* aips.c: allowed IPs, trie + per-peer lists */
int wgd_aips_insert(struct wg_device *dev, struct wgd_peer *peer, const struct wg_allowedip *a);
void wgd_aips_remove_peer(struct wg_device *dev, struct wgd_peer *peer);
/* *out is new (free()), in insertion order. */
int wgd_aips_list(const struct wgd_peer *peer, struct wg_allowedip **out, size_t *n);

/* timers.c: events named after what happened (kernel timers.c). */
void wgd_timers_init(struct wgd_peer *peer);
void wgd_timers_stop(struct wgd_peer *peer);
void wgd_timers_data_sent(struct wgd_peer *peer);
void wgd_timers_data_received(struct wgd_peer *peer);
void wgd_timers_any_authenticated_packet_sent(struct wgd_peer *peer);
void wgd_timers_any_authenticated_packet_received(struct wgd_peer *peer);
void wgd_timers_any_authenticated_packet_traversal(struct wgd_peer *peer);
void wgd_timers_handshake_initiated(struct wgd_peer *peer);
void wgd_timers_handshake_complete(struct wgd_peer *peer);
void wgd_timers_session_derived(struct wgd_peer *peer);

/* handshake.c */
void wgd_handshake_send_initiation(struct wgd_peer *peer, bool is_retry);
void wgd_handshake_receive(struct wg_device *dev, uint8_t *buf, size_t len,
                           const union wgd_addr *from, socklen_t from_len);

/* data.c */
int wgd_io_init(struct wg_device *dev);
void wgd_io_free(struct wg_device *dev);
/* Starts / joins the TX and RX threads (they stop when dev->stop_fd is signalled). */
int wgd_data_threads_start(struct wg_device *dev);
void wgd_data_threads_join(struct wg_device *dev);
/* Sends one datagram to the peer's endpoint (handshakes, keepalives, ext). 0 / -errno. */
int wgd_send_to_peer(struct wgd_peer *peer, const uint8_t *buf, size_t len);
int wgd_send_to(struct wg_device *dev, const union wgd_addr *to, socklen_t to_len,
                const uint8_t *buf, size_t len);
void wgd_send_keepalive(struct wgd_peer *peer);
/* Seals and sends the peer's staged packets (or a keepalive if none and want_keepalive). */
void wgd_send_staged(struct wgd_peer *peer, bool want_keepalive);

#endif
