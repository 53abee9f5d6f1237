/* The netmap as the agent holds it, and the map messages of docs/control-protocol.md: verified
 * against the pinned server key, parsed once into typed structs, checked against the map held
 * (recipient, version, delta base) and applied. Pure: no I/O, no clocks. */
#ifndef ZTNA_AGENT_DAEMON_NETMAP_H
#define ZTNA_AGENT_DAEMON_NETMAP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/daemon/agent_limits.h"
#include "common/ctl/map_batch.h"
#include "common/filter/filter.h"

#define NETMAP_SIG_TAG MAP_BATCH_MSG_TAG
#define NETMAP_MAX_SEARCH 4
#define NETMAP_REASON_MAX 192 /* self.quarantine.reason, NUL included (longer is cut) */

struct nm_node {
    int64_t id, org_id, last_seen;
    char name[AGENT_NAME_MAX];
    char fqdn[AGENT_FQDN_MAX];
    struct in_addr ip;
    /* "tailnet_ip6" (absent: the server has IPv6 off, has_ip6 false); self also carries the
     * tailnet's "tailnet_prefix6" (the TUN address's prefix length), which holds ip6 */
    bool has_ip6;
    struct in6_addr ip6, prefix6;
    uint8_t prefix6_len;
    char tags[AGENT_MAX_TAGS][AGENT_NAME_MAX];
    size_t n_tags;
    char endpoints[AGENT_MAX_ENDPOINTS][AGENT_ENDPOINT_MAX];
    size_t n_endpoints;
    uint8_t wg_key[32];
    bool online, expired;
    bool classical; /* pq: "classical-allowed" */
    /* self only: the server's "quarantine" (its posture report is missing or stale: rules that
     * need a posture deny this machine); reason is plain text, "" when not quarantined */
    bool quarantined;
    char quarantine_reason[NETMAP_REASON_MAX];
};

struct nm_dns {
    char suffix[AGENT_FQDN_MAX];
    char resolver[16];
    char search[NETMAP_MAX_SEARCH][AGENT_FQDN_MAX];
    size_t n_search;
};

struct netmap {
    int64_t version, machine_id;
    struct nm_node self;
    struct nm_node *peers; /* owned, sorted by id */
    size_t n_peers;
    struct nm_dns dns;
    bool has_filter;            /* false: "filter": null, everything allowed */
    struct filter_entry *filter; /* owned */
    size_t n_filter;
};

/* {"quarantined": bool, "reason": string or null} of a self node (ztna status). New, or NULL. */
struct cJSON *netmap_quarantine_json(const struct nm_node *self);

enum nm_type { NM_FULL, NM_DELTA, NM_KEEPALIVE };

struct nm_msg {
    enum nm_type type;
    int64_t machine_id, version, prev_version, generated_at;
    bool has_self, has_dns, has_filter_field, filter_null;
    struct nm_node self;
    struct nm_node *peers; /* full: peers; delta: upsert (owned) */
    size_t n_peers;
    int64_t *remove; /* owned */
    size_t n_remove;
    struct nm_dns dns;
    struct filter_entry *filter; /* owned */
    size_t n_filter;
};

enum nm_verdict {
    NM_APPLIED,   /* *next is the new map */
    NM_UNCHANGED, /* keepalive at our version */
    NM_RESYNC,    /* valid, but not applicable to what we hold: poll again with since=0 */
    NM_REFUSED,   /* unsigned, badly signed, malformed, older, or for another machine */
};

/* Checks {"payload": base64, "sig": 128 hex} (a poll reply's data member as JSON text) against
 * the pinned key: Ed25519 over NETMAP_SIG_TAG || payload. With a "path" member (a stream's
 * frame, ["l<64 hex>", "r<64 hex>", ...], at most MAP_BATCH_DEPTH_MAX steps) the signature is
 * the batch's instead: over MAP_BATCH_TAG || the root the path folds the message's leaf into
 * (map_batch_verify()). Other members are ignored. On success *payload is new (free()) with
 * *len bytes. 0, -EBADMSG with why, -ENOMEM. */
int netmap_msg_verify(const char *data, size_t data_len, const uint8_t server_pk[static 32],
                      uint8_t **payload, size_t *len, char *why, size_t why_len);
/* Parses a verified payload into m (zeroed first; netmap_msg_fini() after, also on failure). */
int netmap_msg_parse(const uint8_t *payload, size_t len, struct nm_msg *m, char *why, size_t why_len);
void netmap_msg_fini(struct nm_msg *m);

/* The whole receive step: verify, parse, check against cur (may be NULL) and my_id, apply. On
 * NM_APPLIED *next is new (netmap_free()); cur is never changed. why explains anything else. */
enum nm_verdict netmap_receive(const struct netmap *cur, const uint8_t server_pk[static 32],
                               int64_t my_id, const char *data, size_t data_len,
                               struct netmap **next, char *why, size_t why_len);

void netmap_free(struct netmap *nm);
/* Borrowed pointer into nm, or NULL. */
const struct nm_node *netmap_peer_by_id(const struct netmap *nm, int64_t id);

#endif
