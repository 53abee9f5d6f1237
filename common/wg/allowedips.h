/* Allowed IPs: a longest-prefix-match table from IPv4/IPv6 prefixes to peers, as a compressed
 * binary (PATRICIA-style) trie like the kernel's allowedips.c: every node holds a prefix, inner
 * nodes without a peer exist only where two subtrees diverge. Lookup walks at most 33 / 129 nodes.
 * Peers are opaque pointers, never dereferenced. Addresses are in network byte order.
 * Not thread-safe: the caller serialises writers against readers. */
#ifndef ZTNA_COMMON_WG_ALLOWEDIPS_H
#define ZTNA_COMMON_WG_ALLOWEDIPS_H

#include <stddef.h>
#include <stdint.h>

struct wg_allowedips_node;

struct wg_allowedips {
    struct wg_allowedips_node *root4;
    struct wg_allowedips_node *root6;
    size_t count; /* prefixes with a peer */
};

void wg_allowedips_init(struct wg_allowedips *t);
/* Frees every node. Accepts NULL. */
void wg_allowedips_free(struct wg_allowedips *t);

/* family AF_INET (addr 4 bytes, cidr 0..32) or AF_INET6 (16 bytes, 0..128). Host bits beyond
 * cidr are ignored. Inserting an existing prefix moves it to peer. 0, -EINVAL, -ENOMEM. */
int wg_allowedips_insert(struct wg_allowedips *t, int family, const uint8_t *addr, uint8_t cidr,
                         void *peer);
/* Removes the prefix if it belongs to peer. 0, -ENOENT, -EINVAL. */
int wg_allowedips_remove(struct wg_allowedips *t, int family, const uint8_t *addr, uint8_t cidr,
                         void *peer);
/* Removes every prefix of peer. */
void wg_allowedips_remove_by_peer(struct wg_allowedips *t, void *peer);
/* The peer of the longest prefix containing addr, or NULL. */
void *wg_allowedips_lookup(const struct wg_allowedips *t, int family, const uint8_t *addr);

/* Calls cb for each prefix of peer (addr masked, network order); stops at and returns the first
 * non-zero return of cb. Do not modify t from cb. */
typedef int (*wg_allowedips_walk_fn)(void *ctx, int family, const uint8_t *addr, uint8_t cidr);
int wg_allowedips_walk_by_peer(const struct wg_allowedips *t, void *peer, wg_allowedips_walk_fn cb,
                               void *ctx);

#endif
