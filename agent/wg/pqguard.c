/* The device's hooks for the post-quantum PSK exchange (agent/pq): peers that start blocked with a
 * random PSK (no window between `wg set` adding a peer and the exchange taking it over), and a
 * handshake on demand so that a freshly installed PSK is used at once. */
#include <errno.h>

#include "agent/wg/wgdev.h"

void wgd_peer_guard(struct wgd_peer *peer)
{
    uint8_t psk[WG_KEY_LEN];

    randombytes_buf(psk, sizeof(psk));
    psk[0] |= 1; /* all-zero would mean "no PSK" */
    wg_noise_handshake_set_psk(&peer->hs, psk);
    sodium_memzero(psk, sizeof(psk));
    peer->blocked = true;
    wgd_peer_staged_clear(peer);
}

void wg_device_set_pq_guard(struct wg_device *dev, bool on, wg_peer_created_fn created, void *ctx)
{
    dev->pq_guard = on;
    dev->created_fn = on ? created : NULL;
    dev->created_ctx = on ? ctx : NULL;
}

int wg_device_peer_blocked(struct wg_device *dev, const uint8_t peer_public_key[static WG_KEY_LEN])
{
    struct wgd_peer *p = wgd_peer_lookup(dev, peer_public_key);
    return p ? p->blocked : -ENOENT;
}

int wg_device_peer_handshake_now(struct wg_device *dev,
                                 const uint8_t peer_public_key[static WG_KEY_LEN])
{
    struct wgd_peer *p = wgd_peer_lookup(dev, peer_public_key);

    if (!p)
        return -ENOENT;
    if (!p->endpoint_len)
        return -EDESTADDRREQ;
    p->last_sent_handshake_ns = 0; /* lifts the once-per-REKEY_TIMEOUT limit for this one */
    wgd_handshake_send_initiation(p, false);
    return 0;
}
