/* Allowed IPs as a compressed binary trie, one per address family. Keys are 128-bit (two host
 * order words, IPv4 in the top 32 bits), stored masked to the node's prefix length, with the mask
 * precomputed so a lookup step is two XOR/AND pairs. Invariant: a node without a peer has exactly
 * two children (it only marks where two subtrees diverge); insert and remove keep it. */
#include "common/wg/allowedips.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct wg_allowedips_node {
    struct wg_allowedips_node *bit[2];
    void *peer;
    uint64_t key[2];
    uint64_t mask[2];
    uint8_t cidr;
};

static bool key_from_addr(uint64_t key[2], struct wg_allowedips_node ***root, uint8_t *max_cidr,
                          const struct wg_allowedips *t, int family, const uint8_t *addr)
{
    uint64_t v = 0;
    if (!addr)
        return false;
    if (family == AF_INET) {
        for (int i = 0; i < 4; i++)
            v = v << 8 | addr[i];
        key[0] = v << 32;
        key[1] = 0;
        if (root)
            *root = (struct wg_allowedips_node **)&t->root4;
        *max_cidr = 32;
        return true;
    }
    if (family == AF_INET6) {
        for (int w = 0; w < 2; w++) {
            v = 0;
            for (int i = 0; i < 8; i++)
                v = v << 8 | addr[8 * w + i];
            key[w] = v;
        }
        if (root)
            *root = (struct wg_allowedips_node **)&t->root6;
        *max_cidr = 128;
        return true;
    }
    return false;
}

static void mask_for(uint64_t mask[2], unsigned cidr)
{
    mask[0] = cidr == 0 ? 0 : cidr >= 64 ? ~0ULL : ~0ULL << (64 - cidr);
    mask[1] = cidr <= 64 ? 0 : cidr >= 128 ? ~0ULL : ~0ULL << (128 - cidr);
}

static inline unsigned bit_at(const uint64_t key[2], unsigned i)
{
    return i < 64 ? (unsigned)(key[0] >> (63 - i)) & 1 : (unsigned)(key[1] >> (127 - i)) & 1;
}

static inline bool prefix_matches(const struct wg_allowedips_node *n, const uint64_t key[2])
{
    return (((key[0] ^ n->key[0]) & n->mask[0]) | ((key[1] ^ n->key[1]) & n->mask[1])) == 0;
}

static unsigned common_bits(const uint64_t a[2], const uint64_t b[2])
{
    uint64_t x = a[0] ^ b[0];
    if (x)
        return (unsigned)__builtin_clzll(x);
    x = a[1] ^ b[1];
    return x ? 64 + (unsigned)__builtin_clzll(x) : 128;
}

static struct wg_allowedips_node *node_new(const uint64_t key[2], uint8_t cidr, void *peer)
{
    struct wg_allowedips_node *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    mask_for(n->mask, cidr);
    n->key[0] = key[0] & n->mask[0];
    n->key[1] = key[1] & n->mask[1];
    n->cidr = cidr;
    n->peer = peer;
    return n;
}

static void node_free_all(struct wg_allowedips_node *n)
{
    if (!n)
        return;
    node_free_all(n->bit[0]);
    node_free_all(n->bit[1]);
    free(n);
}

void wg_allowedips_init(struct wg_allowedips *t)
{
    memset(t, 0, sizeof(*t));
}

void wg_allowedips_free(struct wg_allowedips *t)
{
    if (!t)
        return;
    node_free_all(t->root4);
    node_free_all(t->root6);
    wg_allowedips_init(t);
}

int wg_allowedips_insert(struct wg_allowedips *t, int family, const uint8_t *addr, uint8_t cidr,
                         void *peer)
{
    struct wg_allowedips_node **root, *parent = NULL, *node, *newnode, *inter;
    uint64_t key[2], mask[2];
    uint8_t max_cidr;

    if (!peer || !key_from_addr(key, &root, &max_cidr, t, family, addr) || cidr > max_cidr)
        return -EINVAL;
    mask_for(mask, cidr);
    key[0] &= mask[0];
    key[1] &= mask[1];

    /* Descend to the deepest node whose prefix contains key/cidr. */
    for (node = *root; node && node->cidr <= cidr && prefix_matches(node, key);) {
        parent = node;
        if (node->cidr == cidr) {
            if (!node->peer)
                t->count++;
            node->peer = peer;
            return 0;
        }
        node = node->bit[bit_at(key, node->cidr)];
    }
    newnode = node_new(key, cidr, peer);
    if (!newnode)
        return -ENOMEM;
    t->count++;
    struct wg_allowedips_node **down = parent ? &parent->bit[bit_at(key, parent->cidr)] : root;
    struct wg_allowedips_node *old = *down;
    if (!old) {
        *down = newnode;
        return 0;
    }
    unsigned cb = common_bits(old->key, key);
    if (cb >= cidr) {
        /* The new prefix contains the old subtree. */
        newnode->bit[bit_at(old->key, cidr)] = old;
        *down = newnode;
        return 0;
    }
    /* They diverge at bit cb: a peerless node there gets both as children. */
    inter = node_new(key, (uint8_t)cb, NULL);
    if (!inter) {
        free(newnode);
        t->count--;
        return -ENOMEM;
    }
    inter->bit[bit_at(old->key, cb)] = old;
    inter->bit[bit_at(key, cb)] = newnode;
    *down = inter;
    return 0;
}

/* Splices out a peerless node with fewer than two children; true if it did. */
static bool compact_slot(struct wg_allowedips_node **slot)
{
    struct wg_allowedips_node *n = *slot;
    if (n->peer || (n->bit[0] && n->bit[1]))
        return false;
    *slot = n->bit[0] ? n->bit[0] : n->bit[1];
    free(n);
    return true;
}

int wg_allowedips_remove(struct wg_allowedips *t, int family, const uint8_t *addr, uint8_t cidr,
                         void *peer)
{
    struct wg_allowedips_node **root, **slots[130], **slot, *node = NULL;
    uint64_t key[2], mask[2];
    uint8_t max_cidr;
    int depth = 0;

    if (!peer || !key_from_addr(key, &root, &max_cidr, t, family, addr) || cidr > max_cidr)
        return -EINVAL;
    mask_for(mask, cidr);
    key[0] &= mask[0];
    key[1] &= mask[1];
    for (slot = root; *slot;) {
        node = *slot;
        if (node->cidr > cidr || !prefix_matches(node, key))
            return -ENOENT;
        slots[depth++] = slot;
        if (node->cidr == cidr)
            break;
        slot = &node->bit[bit_at(key, node->cidr)];
        node = NULL;
    }
    if (!node || node->cidr != cidr || node->peer != peer)
        return -ENOENT;
    node->peer = NULL;
    t->count--;
    /* Only nodes on the path can have lost a child. */
    while (depth-- > 0)
        if (!compact_slot(slots[depth]))
            break;
    return 0;
}

static void remove_by_peer(struct wg_allowedips_node **slot, void *peer, size_t *count)
{
    struct wg_allowedips_node *n = *slot;
    if (!n)
        return;
    remove_by_peer(&n->bit[0], peer, count);
    remove_by_peer(&n->bit[1], peer, count);
    if (n->peer == peer) {
        n->peer = NULL;
        (*count)--;
    }
    compact_slot(slot);
}

void wg_allowedips_remove_by_peer(struct wg_allowedips *t, void *peer)
{
    if (!peer)
        return;
    remove_by_peer(&t->root4, peer, &t->count);
    remove_by_peer(&t->root6, peer, &t->count);
}

void *wg_allowedips_lookup(const struct wg_allowedips *t, int family, const uint8_t *addr)
{
    uint64_t key[2];
    uint8_t max_cidr;
    struct wg_allowedips_node **root;
    void *found = NULL;

    if (!key_from_addr(key, &root, &max_cidr, t, family, addr))
        return NULL;
    for (const struct wg_allowedips_node *n = *root; n && prefix_matches(n, key);) {
        if (n->peer)
            found = n->peer;
        if (n->cidr >= max_cidr)
            break;
        n = n->bit[bit_at(key, n->cidr)];
    }
    return found;
}

static int walk(const struct wg_allowedips_node *n, int family, void *peer,
                wg_allowedips_walk_fn cb, void *ctx)
{
    if (!n)
        return 0;
    if (n->peer == peer) {
        uint8_t addr[16];
        if (family == AF_INET) {
            for (int i = 0; i < 4; i++)
                addr[i] = (uint8_t)(n->key[0] >> (56 - 8 * i));
        } else {
            for (int i = 0; i < 16; i++)
                addr[i] = (uint8_t)(n->key[i / 8] >> (56 - 8 * (i % 8)));
        }
        int ret = cb(ctx, family, addr, n->cidr);
        if (ret)
            return ret;
    }
    int ret = walk(n->bit[0], family, peer, cb, ctx);
    return ret ? ret : walk(n->bit[1], family, peer, cb, ctx);
}

int wg_allowedips_walk_by_peer(const struct wg_allowedips *t, void *peer, wg_allowedips_walk_fn cb,
                               void *ctx)
{
    if (!peer)
        return 0;
    int ret = walk(t->root4, AF_INET, peer, cb, ctx);
    return ret ? ret : walk(t->root6, AF_INET6, peer, cb, ctx);
}
