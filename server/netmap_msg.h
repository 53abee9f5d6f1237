/* Internal to server/netmap*.c: the immutable map entry and the one serializer of map messages
 * (docs/control-protocol.md, "Map messages"). */
#ifndef ZTNA_SERVER_NETMAP_MSG_H
#define ZTNA_SERVER_NETMAP_MSG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "server/ip6.h"

/* One machine as every map shows it, rendered once per change. Immutable once published; shared
 * by reference count (nm_node_put() frees at zero). */
struct nm_node {
    atomic_int refs;
    int64_t id;
    uint8_t machine_key[32]; /* Ed25519 public key that signs its requests */
    int64_t changed_at; /* org version of the change that published it */
    bool removed;       /* tombstone */
    bool expired;
    char *peer;         /* the peer object (compact JSON); NULL for a tombstone */
    char *self;         /* the self object (compact JSON); NULL for a tombstone */
    char *tags;         /* JSON array text, to tell a retag from other changes */
};

void nm_node_put(struct nm_node *n); /* accepts NULL */
static inline struct nm_node *nm_node_get(struct nm_node *n)
{
    atomic_fetch_add(&n->refs, 1);
    return n;
}

/* A row of the machines table (joined with machine_control) as the netmap needs it. */
struct nm_row {
    int64_t id, org_id, last_seen, expired_at;
    const char *name, *tailnet_ip, *tags, *endpoints; /* borrowed */
    const uint8_t *wg_public_key;                      /* 32 bytes, borrowed */
    const uint8_t *machine_key;                        /* 32 bytes, borrowed */
    const struct ip6_prefix *ip6; /* the server's IPv6 prefix (borrowed); NULL or off: no IPv6 */
    bool online;
};

/* New node (refs 1) rendered from row; slug and base_domain make the FQDN. NULL on ENOMEM. */
struct nm_node *nm_node_render(const struct nm_row *row, const char *slug, const char *base_domain);
/* New tombstone for id. */
struct nm_node *nm_node_tombstone(int64_t id);
/* True if a and b show the same thing (ignoring versions). */
bool nm_node_same(const struct nm_node *a, const struct nm_node *b);

/* The org's dns object (new string, free()). */
char *nm_dns_render(const char *slug, const char *base_domain);

enum nm_msg_type { NM_MSG_FULL, NM_MSG_DELTA, NM_MSG_KEEPALIVE };

struct nm_msg {
    enum nm_msg_type type;
    int64_t machine_id, version, prev_version, generated_at;
    const struct nm_node *self;   /* full: always; delta: when it changed; else NULL */
    const struct nm_node *const *peers; /* full: peers; delta: upsert */
    size_t npeers;
    const int64_t *remove;        /* delta only */
    size_t nremove;
    const char *dns;              /* full: always; else NULL */
    const char *filter;           /* compact JSON or "null"; full and delta: always */
    const char *quarantine;       /* compact JSON object added to self as "quarantine", or NULL */
};

/* The signed bytes: NETMAP_SIG_PREFIX then the payload JSON. New (free()); *len counts both. */
char *nm_msg_render(const struct nm_msg *m, size_t *len);

#endif
