/* Limits of the MagicDNS authority, in one place (STYLE.md). */
#ifndef ZTNA_SERVER_DNS_LIMITS_H
#define ZTNA_SERVER_DNS_LIMITS_H

#define DNS_SNAP_MAX_ZONES    65536    /* orgs per snapshot */
#define DNS_SNAP_MAX_RECORDS  1000000  /* address records per snapshot */
#define DNS_TTL               60       /* tailnet records change; keep caches short */
#define DNS_NEG_TTL           60       /* SOA minimum: negative caching (RFC 2308) */
#define DNS_EDNS_PAYLOAD      1232     /* what we advertise (DNS flag day 2020) */
#define DNS_UDP_ANSWER_MAX    1232     /* largest UDP answer, whatever the client says: no IP
                                          fragments (DNS flag day 2020), less amplification */
#define DNS_ANSWER_BUF        65535    /* out_cap for dns_answer() over TCP */
#define DNS_UDP_BATCH         64       /* recvmmsg/sendmmsg batch */
#define DNS_UDP_STOP_POLL_MS  200      /* UDP receive timeout: how often `stopping` is read */
#define DNS_UDP_RECV_BUF      4096     /* a query larger than this is truncated, hence FORMERR */
#define DNS_TCP_MAX_CONN      64       /* RFC 7766 6.2.2: bound concurrent connections */
#define DNS_TCP_IDLE_MS       10000    /* RFC 7766 6.2.3: idle timeout, seconds not minutes */
#define DNS_SOCK_BUF          (4 << 20)
#define DNS_UDP_CMSG_BUF      64       /* room for one IP(V6)_PKTINFO */

#endif
