/* The userspace WireGuard device: a TUN interface, its UDP sockets, the peers and their sessions,
 * driven by an epoll loop thread plus a TX and an RX data thread. A library for `ztna wireguard`,
 * and later for `ztna daemon` and the PQ exchange.
 *
 * Threading: every function here except wg_device_stop() must be called from a timer, fd or ext
 * callback (they run with the device lock held, on the loop thread or a data thread) or before
 * wg_device_run() starts. wg_device_stop() is async-signal-safe. */
#ifndef ZTNA_AGENT_WG_DEVICE_H
#define ZTNA_AGENT_WG_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "agent/wg_model.h"

struct wg_device;

/* Creates device ifname: opens (creates) its TUN. No UDP socket until a private key or listen
 * port is configured. *out is new (free with wg_device_destroy()). Returns 0 or -errno. */
int wg_device_create(const char *ifname, struct wg_device **out);
/* Stops workers, closes everything, removes the UAPI socket, wipes keys. Accepts NULL. */
void wg_device_destroy(struct wg_device *dev);

/* Opens WGDEV_UAPI_DIR/IFNAME.sock (dir mode 0700) and serves get=1/set=1 on it. */
int wg_device_uapi_listen(struct wg_device *dev);

/* Applies cfg with UAPI "set" semantics. Returns 0 or -errno (-EADDRINUSE: port taken). */
int wg_device_apply(struct wg_device *dev, const struct wg_device_config *cfg);
/* Returns the current configuration and state in *out (new; wg_device_config_free()). */
int wg_device_get(struct wg_device *dev, struct wg_device_config **out);

/* Runs the event loop until wg_device_stop(). Returns 0 or -errno. */
int wg_device_run(struct wg_device *dev);
void wg_device_stop(struct wg_device *dev);

/* Extension messages: every datagram on the WireGuard socket whose first byte is >= 0x10.
 * peer_public_key is the peer whose endpoint matches `from`, or NULL. All pointers are borrowed
 * for the duration of the call. */
typedef void (*wg_ext_handler_fn)(void *ctx, struct wg_device *dev,
                                  const uint8_t *peer_public_key, const struct sockaddr *from,
                                  socklen_t from_len, const uint8_t *buf, size_t len);
void wg_device_set_ext_handler(struct wg_device *dev, wg_ext_handler_fn fn, void *ctx);
/* Sends buf (buf[0] >= 0x10) to the peer's current endpoint. -ENOENT unknown peer,
 * -EDESTADDRREQ no endpoint yet, -EINVAL bad type or length. */
int wg_device_send_ext(struct wg_device *dev, const uint8_t peer_public_key[static WG_KEY_LEN],
                       const uint8_t *buf, size_t len);
/* Sends buf (buf[0] >= 0x10) from the WireGuard socket of to's family to `to` (any address: the
 * PQ exchange answers the source of a message and reaches peers whose exchange port differs from
 * their WireGuard endpoint). -EINVAL bad type, length or address, -ENETUNREACH no such socket. */
int wg_device_send_ext_to(struct wg_device *dev, const struct sockaddr *to, socklen_t to_len,
                          const uint8_t *buf, size_t len);
/* A blocked peer sends and receives no user traffic (handshakes and ext messages still flow). */
int wg_device_set_peer_blocked(struct wg_device *dev, const uint8_t peer_public_key[static WG_KEY_LEN],
                               bool blocked);

/* Post-quantum guard (agent/pq): while on, a peer is blocked and gets a random (never zero)
 * preshared key the moment wg_device_apply() creates it, and a change of private key blocks every
 * peer with a fresh random PSK, so no user packet flows before the exchange installs a PQ PSK.
 * created (may be NULL) then runs right after the peer is created, before the rest of its
 * configuration is applied, under the device lock; peer_public_key is borrowed for the call. */
typedef void (*wg_peer_created_fn)(void *ctx, struct wg_device *dev, const uint8_t *peer_public_key);
void wg_device_set_pq_guard(struct wg_device *dev, bool on, wg_peer_created_fn created, void *ctx);
/* 1 if the peer is blocked, 0 if not, -ENOENT if unknown. */
int wg_device_peer_blocked(struct wg_device *dev, const uint8_t peer_public_key[static WG_KEY_LEN]);
/* Sends a handshake initiation to the peer now, ignoring the one-per-REKEY_TIMEOUT limit, so that
 * a just-installed PSK takes effect at once. -ENOENT unknown peer, -EDESTADDRREQ no endpoint. */
int wg_device_peer_handshake_now(struct wg_device *dev,
                                 const uint8_t peer_public_key[static WG_KEY_LEN]);

/* Packet hooks for the daemon (DNS stub, policy filter). Both run on a data thread with the
 * device lock held and must not block; pkt is one inner IP packet, borrowed for the call.
 * tun_read: a packet the host sent into the TUN, before routing; true = consumed (not sent).
 * tun_write: a decrypted packet from peer_public_key, before the TUN write; false = dropped. */
typedef bool (*wg_tun_read_hook_fn)(void *ctx, const uint8_t *pkt, size_t len);
typedef bool (*wg_tun_write_hook_fn)(void *ctx, const uint8_t *peer_public_key, const uint8_t *pkt,
                                     size_t len);
void wg_device_set_packet_hooks(struct wg_device *dev, wg_tun_read_hook_fn rd,
                                wg_tun_write_hook_fn wr, void *ctx);
/* Writes one IP packet to the TUN, as if it came out of the tunnel. Returns 0 or -errno. */
int wg_device_tun_write(struct wg_device *dev, const uint8_t *pkt, size_t len);

/* Periodic work in the loop: fn runs every `ms` milliseconds until the device is destroyed. */
typedef void (*wg_device_timer_fn)(void *ctx, struct wg_device *dev);
int wg_device_add_timer(struct wg_device *dev, unsigned ms, wg_device_timer_fn fn, void *ctx);
/* Extra fds in the loop (e.g. the daemon's control socket): fn runs when fd is readable. */
typedef void (*wg_device_fd_fn)(void *ctx, struct wg_device *dev, int fd);
int wg_device_add_fd(struct wg_device *dev, int fd, wg_device_fd_fn fn, void *ctx);

#endif
