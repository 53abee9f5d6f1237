/* Peers: the public-key table, the receiver-index table, keypair slots and the staged queue.
 * Keypairs rotate like the kernel's: next (responder, unconfirmed) -> current -> previous. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/wg/wgdev.h"

static uint32_t key_hash(const uint8_t pub[static WG_KEY_LEN])
{
    uint32_t h;
    memcpy(&h, pub, sizeof(h)); /* public keys are uniformly distributed */
    return h % WGD_HASH_BUCKETS;
}

struct wgd_peer *wgd_peer_lookup(struct wg_device *dev, const uint8_t pub[static WG_KEY_LEN])
{
    for (struct wgd_peer *p = dev->peer_buckets[key_hash(pub)]; p; p = p->hnext)
        if (!memcmp(p->public_key, pub, WG_KEY_LEN))
            return p;
    return NULL;
}

int wgd_index_assign(struct wg_device *dev, struct wgd_index *e)
{
    wgd_index_unlink(dev, e);
    for (int tries = 0; tries < 64; tries++) {
        uint32_t idx = randombytes_random();
        if (wgd_index_lookup(dev, idx))
            continue;
        e->index = idx;
        uint32_t b = idx % WGD_HASH_BUCKETS;
        e->next = dev->index_buckets[b];
        dev->index_buckets[b] = e;
        e->linked = true;
        return 0;
    }
    return -EAGAIN;
}

void wgd_index_unlink(struct wg_device *dev, struct wgd_index *e)
{
    if (!e->linked)
        return;
    for (struct wgd_index **pp = &dev->index_buckets[e->index % WGD_HASH_BUCKETS]; *pp;
         pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    }
    e->linked = false;
    e->next = NULL;
}

struct wgd_index *wgd_index_lookup(struct wg_device *dev, uint32_t index)
{
    for (struct wgd_index *e = dev->index_buckets[index % WGD_HASH_BUCKETS]; e; e = e->next)
        if (e->index == index)
            return e;
    return NULL;
}

void wgd_keypair_free(struct wg_device *dev, struct wgd_keypair *k)
{
    if (!k)
        return;
    wgd_index_unlink(dev, &k->idx);
    wg_keypair_clear(&k->kp);
    sodium_memzero(k, sizeof(*k));
    free(k);
}

void wgd_peer_keypairs_clear(struct wgd_peer *peer)
{
    wgd_keypair_free(peer->dev, peer->kp_cur);
    wgd_keypair_free(peer->dev, peer->kp_prev);
    wgd_keypair_free(peer->dev, peer->kp_next);
    peer->kp_cur = peer->kp_prev = peer->kp_next = NULL;
}

void wgd_peer_stage(struct wgd_peer *peer, const uint8_t *pkt, size_t len)
{
    struct wgd_staged *s;
    if (len > UINT16_MAX)
        return;
    if (peer->staged_n == WGDEV_STAGED_MAX) {
        /* full: drop the oldest, as the kernel does */
        free(peer->staged[peer->staged_head]);
        peer->staged[peer->staged_head] = NULL;
        peer->staged_head = (peer->staged_head + 1) % WGDEV_STAGED_MAX;
        peer->staged_n--;
    }
    s = malloc(sizeof(*s) + len);
    if (!s)
        return;
    s->len = (uint16_t)len;
    memcpy(s->data, pkt, len);
    peer->staged[(peer->staged_head + peer->staged_n) % WGDEV_STAGED_MAX] = s;
    peer->staged_n++;
}

void wgd_peer_staged_clear(struct wgd_peer *peer)
{
    while (peer->staged_n) {
        free(peer->staged[peer->staged_head]);
        peer->staged[peer->staged_head] = NULL;
        peer->staged_head = (peer->staged_head + 1) % WGDEV_STAGED_MAX;
        peer->staged_n--;
    }
    peer->staged_head = 0;
}

int wgd_peer_create(struct wg_device *dev, const uint8_t pub[static WG_KEY_LEN],
                    struct wgd_peer **out)
{
    struct wgd_peer *p;
    if (dev->n_peers >= WGDEV_MAX_PEERS)
        return -E2BIG;
    p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->dev = dev;
    memcpy(p->public_key, pub, WG_KEY_LEN);
    wg_noise_handshake_init(&p->hs, &dev->identity, pub, NULL);
    wg_cookie_init(&p->cookie, pub);
    p->hs_idx.peer = p;
    wgd_timers_init(p);
    uint32_t b = key_hash(pub);
    p->hnext = dev->peer_buckets[b];
    dev->peer_buckets[b] = p;
    p->prev = dev->peers_tail;
    if (dev->peers_tail)
        dev->peers_tail->next = p;
    else
        dev->peers_head = p;
    dev->peers_tail = p;
    dev->n_peers++;
    *out = p;
    return 0;
}

void wgd_peer_remove(struct wgd_peer *peer)
{
    struct wg_device *dev = peer->dev;
    for (struct wgd_peer **pp = &dev->peer_buckets[key_hash(peer->public_key)]; *pp;
         pp = &(*pp)->hnext) {
        if (*pp == peer) {
            *pp = peer->hnext;
            break;
        }
    }
    if (peer->prev)
        peer->prev->next = peer->next;
    else
        dev->peers_head = peer->next;
    if (peer->next)
        peer->next->prev = peer->prev;
    else
        dev->peers_tail = peer->prev;
    dev->n_peers--;
    wgd_timers_stop(peer);
    wgd_aips_remove_peer(dev, peer);
    wgd_index_unlink(dev, &peer->hs_idx);
    wgd_peer_keypairs_clear(peer);
    wgd_peer_staged_clear(peer);
    sodium_memzero(peer, sizeof(*peer));
    free(peer);
}

static bool addr_equal(const struct sockaddr *a, const union wgd_addr *b)
{
    if (a->sa_family != b->sa.sa_family)
        return false;
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)a;
        return x->sin_port == b->in4.sin_port && x->sin_addr.s_addr == b->in4.sin_addr.s_addr;
    }
    if (a->sa_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
        return x->sin6_port == b->in6.sin6_port &&
               !memcmp(&x->sin6_addr, &b->in6.sin6_addr, sizeof(x->sin6_addr));
    }
    return false;
}

struct wgd_peer *wgd_peer_by_endpoint(struct wg_device *dev, const struct sockaddr *sa)
{
    /* Linear: only extension messages (rare, control traffic) use it. */
    for (struct wgd_peer *p = dev->peers_head; p; p = p->next)
        if (p->endpoint_len && addr_equal(sa, &p->endpoint))
            return p;
    return NULL;
}

void wgd_peer_set_endpoint(struct wgd_peer *peer, const struct sockaddr *sa, socklen_t len)
{
    if (peer->endpoint_len && addr_equal(sa, &peer->endpoint))
        return;
    if (len > sizeof(peer->endpoint))
        return;
    memset(&peer->endpoint, 0, sizeof(peer->endpoint));
    memcpy(&peer->endpoint, sa, len);
    peer->endpoint_len = len;
}
