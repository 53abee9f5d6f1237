/* Per-peer lists of allowed-IP prefixes beside the trie (which only answers lookups), so that a
 * `get` lists a peer's prefixes in O(its prefixes) instead of walking the whole trie per peer
 * (O(peers^2): a second with 10,000 peers, with the data path waiting on the lock). A hash of
 * prefixes finds the current owner when an insert moves a prefix to another peer, as the trie does. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/wg/wgdev.h"

struct wgd_aip {
    struct wg_allowedip a;     /* masked */
    struct wgd_peer *peer;
    struct wgd_aip *hnext;     /* hash chain */
    struct wgd_aip *pnext, **pprev; /* the owner's list */
};

static void mask(struct wg_allowedip *a)
{
    uint8_t *b = (uint8_t *)&a->ip4;
    unsigned bytes = a->family == AF_INET ? 4 : 16;
    for (unsigned i = 0; i < bytes; i++) {
        unsigned bit = i * 8;
        if (bit >= a->cidr)
            b[i] = 0;
        else if (a->cidr - bit < 8)
            b[i] &= (uint8_t)(0xff << (8 - (a->cidr - bit)));
    }
}

static uint32_t hash(const struct wg_allowedip *a)
{
    const uint8_t *b = (const uint8_t *)&a->ip4;
    uint32_t h = 2166136261u ^ a->family ^ (uint32_t)a->cidr << 8;
    for (unsigned i = 0; i < 16; i++)
        h = (h ^ b[i]) * 16777619u;
    return h % WGD_HASH_BUCKETS;
}

static bool same(const struct wg_allowedip *x, const struct wg_allowedip *y)
{
    return x->family == y->family && x->cidr == y->cidr && !memcmp(&x->ip6, &y->ip6, 16);
}

static void unlink_peer(struct wgd_aip *e)
{
    *e->pprev = e->pnext;
    if (e->pnext)
        e->pnext->pprev = e->pprev;
}

static void link_peer(struct wgd_aip *e, struct wgd_peer *peer)
{
    e->peer = peer;
    e->pnext = peer->aips;
    if (peer->aips)
        peer->aips->pprev = &e->pnext;
    e->pprev = &peer->aips;
    peer->aips = e;
}

int wgd_aips_insert(struct wg_device *dev, struct wgd_peer *peer, const struct wg_allowedip *in)
{
    struct wg_allowedip a;
    memset(&a, 0, sizeof(a));
    a.family = in->family;
    a.cidr = in->cidr;
    memcpy(&a.ip6, &in->ip6, in->family == AF_INET ? 4 : 16);
    if ((a.family != AF_INET && a.family != AF_INET6) || a.cidr > (a.family == AF_INET ? 32 : 128))
        return -EINVAL;
    mask(&a);
    uint32_t h = hash(&a);
    struct wgd_aip *e;
    for (e = dev->aip_buckets[h]; e; e = e->hnext)
        if (same(&e->a, &a))
            break;
    if (!e) {
        e = calloc(1, sizeof(*e));
        if (!e)
            return -ENOMEM;
        e->a = a;
        e->hnext = dev->aip_buckets[h];
        dev->aip_buckets[h] = e;
    } else if (e->peer == peer) {
        return wg_allowedips_insert(&dev->aips, a.family, (const uint8_t *)&a.ip6, a.cidr, peer);
    } else {
        unlink_peer(e);
    }
    link_peer(e, peer);
    return wg_allowedips_insert(&dev->aips, a.family, (const uint8_t *)&a.ip6, a.cidr, peer);
}

void wgd_aips_remove_peer(struct wg_device *dev, struct wgd_peer *peer)
{
    wg_allowedips_remove_by_peer(&dev->aips, peer);
    while (peer->aips) {
        struct wgd_aip *e = peer->aips;
        unlink_peer(e);
        for (struct wgd_aip **pp = &dev->aip_buckets[hash(&e->a)]; *pp; pp = &(*pp)->hnext) {
            if (*pp == e) {
                *pp = e->hnext;
                break;
            }
        }
        free(e);
    }
}

int wgd_aips_list(const struct wgd_peer *peer, struct wg_allowedip **out, size_t *n)
{
    size_t cnt = 0, i = 0;
    for (const struct wgd_aip *e = peer->aips; e; e = e->pnext)
        cnt++;
    *out = NULL;
    *n = 0;
    if (!cnt)
        return 0;
    struct wg_allowedip *v = calloc(cnt, sizeof(*v));
    if (!v)
        return -ENOMEM;
    /* the list is newest first; report in insertion order like wg does */
    for (const struct wgd_aip *e = peer->aips; e; e = e->pnext)
        v[cnt - 1 - i++] = e->a;
    *out = v;
    *n = cnt;
    return 0;
}
