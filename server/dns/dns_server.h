/* MagicDNS authority: answers for `<host>.<org-slug>.<base-domain>` from an immutable in-memory
 * snapshot, over UDP and TCP, on its own two threads (UDP, TCP).
 *
 * Use from ztna-server:
 *     struct dns_snapshot_builder *b = dns_snapshot_builder_new();
 *     dns_snapshot_builder_add_zone(b, "acme.ztna.example", serial, NULL, 0);
 *     dns_snapshot_builder_add_a(b, "laptop.acme.ztna.example", addr);   // struct in_addr
 *     struct dns_snapshot *snap;
 *     dns_snapshot_builder_finish(b, &snap);                            // frees b
 *     struct dns_server *dns;
 *     dns_server_start("0.0.0.0:53", NULL, snap, &dns);                 // owns snap now
 *     ... on every change: build a new snapshot, dns_server_swap(dns, new_snap);
 *     dns_server_stop(dns);
 *
 * Readers never lock: each thread loads the current snapshot through an atomic pointer and
 * announces it in a hazard slot; dns_server_swap() publishes the new one and frees the old one
 * once no thread announces it any more (waits at most one batch of packets). */
#ifndef ZTNA_SERVER_DNS_SERVER_H
#define ZTNA_SERVER_DNS_SERVER_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dns_snapshot;
struct dns_snapshot_builder;
struct dns_server;

/* --- Snapshots (dns_snapshot.c) --- */
/* New empty builder (free with dns_snapshot_builder_free(), or consumed by _finish()); NULL on
 * allocation failure. */
struct dns_snapshot_builder *dns_snapshot_builder_new(void);
void dns_snapshot_builder_free(struct dns_snapshot_builder *b);
/* Adds a zone apex (e.g. "<org-slug>.<base-domain>") with its SOA serial and NS host names
 * (borrowed during the call; NULL/0 means one NS "ns.<apex>"). A duplicate apex is ignored at
 * _finish (the first one wins). -EINVAL on a bad name, -E2BIG past DNS_SNAP_MAX_ZONES, -ENOMEM. */
int dns_snapshot_builder_add_zone(struct dns_snapshot_builder *b, const char *apex,
                                  uint32_t serial, const char *const *ns, size_t n_ns);
/* Adds an A / AAAA record for a name inside an added zone (zones may be added in any order
 * before _finish). -EINVAL on a bad name, -E2BIG past DNS_SNAP_MAX_RECORDS, -ENOMEM. */
int dns_snapshot_builder_add_a(struct dns_snapshot_builder *b, const char *name,
                               struct in_addr addr);
int dns_snapshot_builder_add_aaaa(struct dns_snapshot_builder *b, const char *name,
                                  const struct in6_addr *addr);
/* Builds the snapshot and frees the builder in every case. *out is new (free with
 * dns_snapshot_free(), or hand it to dns_server_start/swap). Records outside every zone are
 * skipped (with a warning), so one bad row cannot stop every org's updates. -E2BIG if one
 * name's answer exceeds a TCP message, -ENOMEM. */
int dns_snapshot_builder_finish(struct dns_snapshot_builder *b, struct dns_snapshot **out);
void dns_snapshot_free(struct dns_snapshot *s);
size_t dns_snapshot_name_count(const struct dns_snapshot *s);

/* --- Answering (dns_answer.c): pure, no I/O, no allocation --- */
/* Writes the response to the query in (in, in_len) into out (out_cap >= DNS_ANSWER_BUF).
 * tcp selects the size limit (65535 for TCP, else the EDNS payload size or 512). Returns the
 * response length, or 0 if the packet must be dropped (a response, or shorter than a header). */
size_t dns_answer(const struct dns_snapshot *s, const uint8_t *in, size_t in_len, uint8_t *out,
                  size_t out_cap, bool tcp);

/* --- Server (dns_server.c) --- */
struct dns_server_opts {
    unsigned tcp_max_conn;   /* 0: DNS_TCP_MAX_CONN */
    unsigned tcp_idle_ms;    /* 0: DNS_TCP_IDLE_MS */
};
/* Binds UDP and TCP on addr_port ("127.0.0.1:5353", "[::1]:53", port 0 = ephemeral) and starts
 * the UDP and TCP threads. Takes ownership of snap (also on failure). opts may be NULL. */
int dns_server_start(const char *addr_port, const struct dns_server_opts *opts,
                     struct dns_snapshot *snap, struct dns_server **out);
/* Port actually bound (host order). */
uint16_t dns_server_port(const struct dns_server *srv);
/* Publishes snap (takes ownership) and frees the previous snapshot once unused. Thread-safe
 * against the worker and other swappers; blocks at most about one batch of packets. Never call
 * it from a DNS thread. */
void dns_server_swap(struct dns_server *srv, struct dns_snapshot *snap);
/* Stops the threads, closes sockets, frees the current snapshot. Accepts NULL. */
void dns_server_stop(struct dns_server *srv);

#endif
