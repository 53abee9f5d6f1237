/* Agent-side stateful matcher: decides for each IP packet arriving from the tunnel whether it
 * may be delivered, from the node's compiled filter plus a connection-tracking table of flows
 * this node opened (so their replies pass). Denied packets are counted per (source, protocol,
 * destination port). Preallocated: no allocation per packet. Not thread-safe: one matcher per
 * data-plane thread, or the caller serializes. */
#ifndef ZTNA_FILTER_MATCHER_H
#define ZTNA_FILTER_MATCHER_H

#include "common/filter/filter.h"

struct filter_pkt {
    uint8_t family; /* 4 or 6 */
    uint8_t proto;  /* L4 protocol number */
    uint8_t src[16], dst[16];
    uint16_t sport, dport; /* TCP/UDP ports; ICMP echo: sport = dport = identifier */
    uint8_t icmp_type;
    bool has_ports;     /* TCP/UDP header present (first fragment) */
    bool is_echo_req;   /* ICMP(v6) echo request */
    bool is_echo_reply; /* ICMP(v6) echo reply */
};

/* Parses through a bounds-checked cursor. false for malformed or truncated packets and for
 * non-first fragments (which carry no ports and are denied). */
bool filter_packet_parse(const uint8_t *pkt, size_t len, struct filter_pkt *out);

enum filter_verdict {
    FILTER_DENY = 0,
    FILTER_ACCEPT_RULE,  /* allowed by the compiled filter */
    FILTER_ACCEPT_REPLY, /* reply to a flow this node opened */
};

struct filter_deny_count {
    uint8_t family, proto;
    uint8_t src[16];
    uint16_t dport;
    uint64_t packets;
};

struct filter_matcher;

/* ct_capacity: conntrack slots (0: FILTER_CT_DEFAULT_CAP). *out new: filter_matcher_free(). */
int filter_matcher_new(struct filter_matcher **out, size_t ct_capacity);
void filter_matcher_free(struct filter_matcher *m);
/* Borrowed: valid until replaced; the caller frees the old filter after the swap. */
void filter_matcher_set_filter(struct filter_matcher *m, const struct filter *f);

/* A packet from the tunnel towards this node. now_ms: monotonic milliseconds. */
enum filter_verdict filter_matcher_inbound(struct filter_matcher *m, const uint8_t *pkt, size_t len,
                                           uint64_t now_ms);
/* A packet this node sends into the tunnel: records the flow so its replies pass. */
void filter_matcher_outbound(struct filter_matcher *m, const uint8_t *pkt, size_t len,
                             uint64_t now_ms);

size_t filter_matcher_ct_count(const struct filter_matcher *m);
/* Copies up to max denial counters to out and returns how many there are; *other gets the
 * denials that found no free counter. reset clears them after copying. */
size_t filter_matcher_denied(struct filter_matcher *m, struct filter_deny_count *out, size_t max,
                             uint64_t *other, bool reset);

#endif
