/* The DNS stub's I/O: queries the host sends to 100.100.100.100:53 through the TUN (over UDP,
 * and over TCP through dnstcp.h) are answered in-process from the netmap's names, A and AAAA
 * (agent/dns/dns_stub.h) or relayed to the system's upstream resolver (first IPv4 nameserver of
 * /etc/resolv.conf) over UDP; tailnet names never leave the machine.
 * Also answers `ztna dns query` for the local API. Runs with the device lock held. */
#ifndef ZTNA_AGENT_DAEMON_DNSIO_H
#define ZTNA_AGENT_DAEMON_DNSIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct agent;
struct netmap;
struct nm_node;
struct dns_stub_table;

typedef void (*dnsio_reply_fn)(struct agent *a, uint64_t conn_id, cJSON *data, const char *error);

int dnsio_init(struct agent *a, dnsio_reply_fn reply);
void dnsio_fini(struct agent *a);
/* Rebuilds the name table from nm (NULL: no tailnet names). */
void dnsio_set_table(struct agent *a, const struct netmap *nm);
/* What that table holds for one node: its fqdn's A and, when the map gives one, AAAA
 * (tailnet_ip6). 0, or dns_stub_table_add_*()'s -errno. */
int dnsio_table_add_node(struct dns_stub_table *t, const struct nm_node *n);
/* Packet hook: true if pkt was addressed to the stub (answered, relayed or dropped). */
bool dnsio_tun_packet(struct agent *a, const uint8_t *pkt, size_t len);
/* The DNS query in an IPv4/UDP packet addressed to stub:53 (borrowed pointers into pkt). */
struct dnsio_query {
    uint8_t client[4];
    uint16_t sport;
    const uint8_t *msg;
    size_t len;
};
/* 0 with *q filled; -ENOENT: not addressed to stub; -EINVAL: addressed to it but not a well
 * formed, unfragmented UDP datagram to port 53. */
int dnsio_packet_parse(const uint8_t *pkt, size_t len, const uint8_t stub[4], struct dnsio_query *q);
/* Answer-size handling, on untrusted DNS messages (never read past len):
 * dnsio_truncate: the TC=1 stand-in for an answer too big for the client (header with TC, the
 *   question, an OPT if edns); returns its length in out, 0 if resp has no header or cap is short.
 * dnsio_edns_for_tcp: the query as relayed upstream for a TCP client, its OPT payload size raised
 *   to 4096 or an OPT added (*added); 0, -EBADMSG if it does not parse, -ENOSPC.
 * dnsio_strip_opt: removes the last record of msg if it is an OPT; returns the new length. */
size_t dnsio_truncate(const uint8_t *resp, size_t len, bool edns, uint8_t *out, size_t cap);
int dnsio_edns_for_tcp(const uint8_t *q, size_t len, uint8_t *out, size_t cap, size_t *out_len,
                       bool *added);
size_t dnsio_strip_opt(uint8_t *msg, size_t len);
/* Expires relayed queries that got no answer (TCP clients get SERVFAIL); runs the TCP timers. */
void dnsio_tick(struct agent *a, uint64_t now_ms);
/* Resolves name (A) as the stub would; the reply goes to conn_id now or when upstream answers. */
int dnsio_query(struct agent *a, const char *name, uint64_t conn_id);
/* The system resolver: pointed at the stub for nm's suffix when a->st.accept_dns (agent/posture's
 * sysdns: systemd-resolved or /etc/resolv.conf), restored when not. Returns 0 or -errno with err
 * naming the problem. */
int dnsio_system_sync(struct agent *a, const struct netmap *nm, char *err, size_t err_len);
/* "100.100.100.100" upstream in use, for status (borrowed). */
const char *dnsio_upstream(const struct agent *a);

#endif
