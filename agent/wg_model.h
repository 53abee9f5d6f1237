/* The WireGuard peer model shared by every data-plane backend (userspace engine, kernel via
 * generic netlink) and by their drivers (UAPI socket, `ztna daemon`). It mirrors the device/peer
 * attributes of the WireGuard UAPI and netlink interfaces, so one `set` or `get` means the same
 * thing on every backend. Ownership: a wg_device_config and everything it points to is owned by
 * whoever built it and freed with wg_device_config_free(). */
#ifndef ZTNA_AGENT_WG_MODEL_H
#define ZTNA_AGENT_WG_MODEL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include <sodium.h>

#define WG_KEY_LEN 32
#define WG_IFNAME_MAX 16

struct wg_allowedip {
    uint16_t family; /* AF_INET or AF_INET6 */
    uint8_t cidr;
    union {
        struct in_addr ip4;
        struct in6_addr ip6;
    };
};

enum wg_peer_flags {
    WG_PEER_REMOVE = 1u << 0,             /* remove this peer */
    WG_PEER_REPLACE_ALLOWEDIPS = 1u << 1, /* replace instead of add to its allowed IPs */
    WG_PEER_UPDATE_ONLY = 1u << 2,        /* only if it already exists */
    WG_PEER_HAS_PRESHARED_KEY = 1u << 3,
    WG_PEER_HAS_ENDPOINT = 1u << 4,
    WG_PEER_HAS_KEEPALIVE = 1u << 5,
};

struct wg_peer_config {
    uint8_t public_key[WG_KEY_LEN];
    uint8_t preshared_key[WG_KEY_LEN]; /* valid with WG_PEER_HAS_PRESHARED_KEY; all-zero = none */
    union {
        struct sockaddr addr;
        struct sockaddr_in addr4;
        struct sockaddr_in6 addr6;
    } endpoint;                       /* valid with WG_PEER_HAS_ENDPOINT */
    uint16_t persistent_keepalive;    /* seconds, 0 = off; valid with WG_PEER_HAS_KEEPALIVE */
    uint32_t flags;                   /* enum wg_peer_flags */
    struct wg_allowedip *allowedips;  /* owned */
    size_t n_allowedips;
    /* Read-only state, filled by `get`. */
    struct timespec last_handshake;   /* CLOCK_REALTIME; zero if never */
    uint64_t rx_bytes, tx_bytes;
};

enum wg_device_flags {
    WG_DEVICE_REPLACE_PEERS = 1u << 0,
    WG_DEVICE_HAS_PRIVATE_KEY = 1u << 1,
    WG_DEVICE_HAS_LISTEN_PORT = 1u << 2,
    WG_DEVICE_HAS_FWMARK = 1u << 3,
};

struct wg_device_config {
    char ifname[WG_IFNAME_MAX];
    uint8_t private_key[WG_KEY_LEN]; /* valid with WG_DEVICE_HAS_PRIVATE_KEY */
    uint8_t public_key[WG_KEY_LEN];  /* filled by `get` */
    uint16_t listen_port;
    uint32_t fwmark;
    uint32_t flags;                  /* enum wg_device_flags */
    struct wg_peer_config *peers;    /* owned */
    size_t n_peers;
};

/* Frees cfg's peers and allowed IPs, wipes key material, then frees cfg. Accepts NULL. */
static inline void wg_device_config_free(struct wg_device_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n_peers; i++) {
        free(cfg->peers[i].allowedips);
        sodium_memzero(cfg->peers[i].preshared_key, WG_KEY_LEN);
    }
    free(cfg->peers);
    sodium_memzero(cfg->private_key, WG_KEY_LEN);
    free(cfg);
}

#endif
