/* Limits of the compiled filter and the agent-side matcher, in one place. */
#ifndef ZTNA_FILTER_LIMITS_H
#define ZTNA_FILTER_LIMITS_H

#define FILTER_MAX_ENTRIES        (1u << 22) /* entries in one node's compiled filter */
#define FILTER_CT_MAX_CAPACITY    (1u << 20) /* conntrack slots (agent) */
#define FILTER_CT_DEFAULT_CAP     4096
#define FILTER_CT_TCP_TIMEOUT_MS  (2u * 3600u * 1000u) /* idle established TCP flow */
#define FILTER_CT_UDP_TIMEOUT_MS  (120u * 1000u)
#define FILTER_CT_ICMP_TIMEOUT_MS (30u * 1000u)
#define FILTER_DENY_SLOTS         256 /* distinct (source, proto, port) denial counters */
#define FILTER_IPV6_MAX_EXT       8   /* extension headers walked before giving up (deny) */
#define FILTER_JSON_MAX           (64u << 20)

#endif
