/* The agent side of the post-quantum PSK exchange: a set of pqx peers driven over a data-plane
 * backend through callbacks, so the userspace device and the kernel backend both use it.
 * Not thread-safe: call everything from the one thread that owns the data plane's event loop. */
#ifndef ZTNA_AGENT_PQ_AGENTPQ_H
#define ZTNA_AGENT_PQ_AGENTPQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/pqx/pqx_peer.h"

#define AGENTPQ_MAX_PEERS 4096
#define AGENTPQ_TICK_MS 100 /* how often the glue runs timers */
#define AGENTPQ_STASH 4     /* replies held while an endpoint is learned */
/* A kernel-backend peer runs the exchange on its WireGuard port + this (the kernel owns the
 * WireGuard socket); a userspace peer on its WireGuard port itself. */
#define AGENTPQ_PORT_OFFSET 1

/* What the exchange needs from a data plane. Each returns 0 or -errno; peer keys are borrowed. */
struct agentpq_backend {
    int (*install_psk)(void *ctx, const uint8_t peer[static 32], const uint8_t psk[static 32]);
    int (*set_blocked)(void *ctx, const uint8_t peer[static 32], bool blocked);
    int (*send)(void *ctx, const uint8_t peer[static 32], const uint8_t *buf, size_t len);
    /* Optional (NULL: never called). Sets the peer's endpoint when send() said -EDESTADDRREQ and
     * an authenticated pqx message from it arrived from addr (the responder learns where to answer). */
    int (*set_endpoint)(void *ctx, const uint8_t peer[static 32], const struct sockaddr *addr,
                        socklen_t addr_len);
    void *ctx;
    /* Optional (NULL: never called). Starts a WireGuard handshake with the peer now; called right
     * after a PQ PSK was installed (and the CONFIRM, if any, sent), so the new PSK is used at once. */
    int (*handshake_now)(void *ctx, const uint8_t peer[static 32]);
    /* Optional. Sends a datagram from the exchange's socket to addr. With it the glue picks every
     * destination itself (docs/pq-exchange.md, "Ports"), send is not used, and the data plane
     * reports its endpoints with agentpq_peer_set_wg_endpoint(): a reply goes to the source of
     * the message it answers; anything else to the address the peer's last authenticated message
     * came from, and, while there is none or after a failed attempt, also to the configured PQ
     * endpoint (agentpq_pq_endpoint_set) or else to both the WireGuard endpoint and its
     * port + AGENTPQ_PORT_OFFSET (so a userspace and a kernel peer find each other). */
    int (*send_to)(void *ctx, const struct sockaddr *addr, socklen_t addr_len, const uint8_t *buf,
                   size_t len);
};

/* Where a peer's exchange messages went and came from (agentpq_peer_info). */
struct agentpq_peer_info {
    uint64_t initiated, responded;   /* completed exchanges as initiator / as responder */
    struct sockaddr_storage pq_addr; /* source of the last authenticated message */
    socklen_t pq_addr_len;           /* 0: none yet */
};

struct agentpq;

/* New instance (free with agentpq_free()); cfg NULL means the defaults. NULL on ENOMEM. */
struct agentpq *agentpq_new(const struct agentpq_backend *be, const struct pqx_config *cfg);
void agentpq_free(struct agentpq *pq);
/* Sets our WireGuard static private key; a change restarts every peer (random PSK, blocked). */
int agentpq_set_private_key(struct agentpq *pq, const uint8_t priv[static 32], uint64_t now_ms);
/* Adds a peer: random PSK, blocked, exchange started. classical = explicit classical-only
 * configuration (also if agentpq_classical_set() named the key). A known peer is left as it is,
 * except that classical = true makes it classical-only. Returns 0, -EINVAL (no private key yet,
 * or a bad key), -ENOSPC or -ENOMEM. */
int agentpq_peer_add(struct agentpq *pq, const uint8_t pub[static 32], bool classical, uint64_t now_ms);
void agentpq_peer_remove(struct agentpq *pq, const uint8_t pub[static 32]);
/* The data plane created the peer anew (it may have been removed and re-added meanwhile): forget
 * its exchange state and start over (random PSK, blocked, or classical-only if configured).
 * Same returns as agentpq_peer_add(). */
int agentpq_peer_restart(struct agentpq *pq, const uint8_t pub[static 32], uint64_t now_ms);
/* Explicit classical-only configuration for a peer key, remembered whether or not the peer exists
 * yet (agentpq_peer_add() honours it) and applied at once to a known peer: on = no exchange, all-zero
 * PSK, unblocked, status "classical-only"; off = back to a random PSK, blocked, exchange started.
 * Returns 0, -ENOSPC (more than AGENTPQ_MAX_PEERS keys) or -ENOMEM. */
int agentpq_classical_set(struct agentpq *pq, const uint8_t pub[static 32], bool on, uint64_t now_ms);
bool agentpq_classical_get(const struct agentpq *pq, const uint8_t pub[static 32]);
size_t agentpq_peer_count(const struct agentpq *pq);
/* Key of peer i (< count); borrowed, valid until the peer set changes. */
const uint8_t *agentpq_peer_key(const struct agentpq *pq, size_t i);
bool agentpq_peer_known(const struct agentpq *pq, const uint8_t pub[static 32]);
/* A datagram with first byte >= 0x10 from the data plane's socket, received from `from` (may be
 * NULL). The pair hint routes it; the data plane's own endpoint match is not needed. */
void agentpq_receive(struct agentpq *pq, const struct sockaddr *from, socklen_t from_len,
                     const uint8_t *buf, size_t len, uint64_t now_ms, uint64_t real_ms);
void agentpq_tick(struct agentpq *pq, uint64_t now_ms, uint64_t real_ms);
/* Peer status by key (state, last error, failures, next_exchange_ms = when the next attempt or
 * retry is due); -ENOENT if unknown. This is what `ztna status` shows per peer. */
int agentpq_peer_status(const struct agentpq *pq, const uint8_t pub[static 32], struct pqx_status *st);
/* Writes one line per peer ("<base64 key> psk=pq exch=idle error=none epoch=N ... next_in_ms=N")
 * to buf (docs/pq-exchange.md lists the fields).
 * Returns the length that would have been written (like snprintf). */
size_t agentpq_status_format(const struct agentpq *pq, char *buf, size_t size, uint64_t now_ms);

/* The data plane's WireGuard endpoint of a known peer (NULL or addr_len 0: none). Only used with
 * a send_to backend. Returns 0, -ENOENT (unknown peer) or -EINVAL (not IPv4/IPv6). */
int agentpq_peer_set_wg_endpoint(struct agentpq *pq, const uint8_t pub[static 32],
                                 const struct sockaddr *addr, socklen_t addr_len);
/* Configured PQ exchange endpoint of a peer key (remembered before the peer exists; NULL
 * removes it): used instead of the WireGuard-endpoint guesses while no authenticated message
 * told where the peer is. Returns 0, -EINVAL, -ENOSPC or -ENOMEM. */
int agentpq_pq_endpoint_set(struct agentpq *pq, const uint8_t pub[static 32],
                            const struct sockaddr *addr, socklen_t addr_len);
/* Parses "IPv4:port" or "[IPv6]:port" (numeric, port 1..65535). 0 or -EINVAL. */
int agentpq_endpoint_parse(const char *s, struct sockaddr_storage *out, socklen_t *out_len);
/* Parses the option "BASE64KEY=host:port" (`ztna wireguard --pq-endpoint`). 0 or -EINVAL. */
int agentpq_pq_endpoint_option(const char *s, uint8_t key[static 32], struct sockaddr_storage *out,
                               socklen_t *out_len);
/* An IPv4 or IPv6 address as IPv6 (IPv4 v4-mapped, for a dual-stack socket or for comparing);
 * false if neither. */
bool agentpq_addr_v6(const struct sockaddr *a, socklen_t len, struct sockaddr_in6 *o);
/* Roles and exchange address of a peer; -ENOENT if unknown. */
int agentpq_peer_info(const struct agentpq *pq, const uint8_t pub[static 32],
                      struct agentpq_peer_info *info);
/* "198.18.0.1:51821", "[2001:db8::1]:51821" (v4-mapped IPv6 shown as IPv4), "-" if none. */
void agentpq_addr_format(const struct sockaddr *addr, socklen_t len, char *buf, size_t size);

/* Clock helpers (CLOCK_MONOTONIC / CLOCK_REALTIME in ms). */
uint64_t agentpq_now_ms(void);
uint64_t agentpq_real_ms(void);

#endif
