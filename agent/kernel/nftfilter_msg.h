/* The message layer of nftfilter, with no I/O, so that tests and fuzzers need no kernel:
 *  - rects: the entries of one (family, set kind) turned into disjoint rectangles
 *    (source interval x port or protocol range), the elements of a pipapo interval set, which
 *    rejects overlapping elements;
 *  - batch: the nf_tables transaction that replaces the table (or deletes it), every message
 *    with NLM_F_ACK and its own sequence number;
 *  - nflog: parsing of what the NFLOG socket receives into denial counters. */
#ifndef ZTNA_AGENT_KERNEL_NFTFILTER_MSG_H
#define ZTNA_AGENT_KERNEL_NFTFILTER_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/filter/matcher.h"

#define NFTF_MAX_ELEMS    (1u << 20) /* elements of one set, checked before allocating more */
#define NFTF_MSG_MAX      16384      /* one message (element nests carry a 16-bit length) */
#define NFTF_BATCH_MAX    (256u << 20) /* whole transaction: one sendmsg */
#define NFTF_LOG_SNAPLEN  256        /* bytes of a denied packet copied to the NFLOG socket */
#define NFTF_LOG_PREFIX   "ztna-deny "
#define NFTF_RECV_MAX     65536      /* receive buffer for acks and NFLOG messages */
#define NFTF_RECV_TIMEOUT_S 5        /* per receive while waiting for acks */
#define NFTF_RECV_MAX_READS 4096     /* reads while waiting for one batch's acks */
#define NFTF_NFLOG_RCVBUF (4u << 20) /* NFLOG socket buffer: bursts of denials */
#define NFTF_NFLOG_QTHRESH 64        /* the kernel sends NFLOG packets in batches of up to 64 */
#define NFTF_NFLOG_FLUSH_CS 10       /* ... or after 10 centiseconds */

/* The three sets per family: saddr . tcp dport, saddr . udp dport, saddr . meta l4proto (ICMP
 * entries, and proto-any entries for every protocol but TCP and UDP). */
enum nftf_kind { NFTF_TCP, NFTF_UDP, NFTF_PROTO, NFTF_KIND_N };

struct nftf_rect {
    uint8_t lo[16], hi[16]; /* source interval, big-endian; IPv4 in the first 4 bytes */
    uint16_t vlo, vhi;      /* destination port range (TCP/UDP) or protocol range (PROTO) */
};

/* Entries must be valid (nftf_entries_check). *out is new (free()), sorted by lo, pairwise
 * disjoint, covering exactly what the entries allow for (family, kind). 0, -ENOMEM, -E2BIG. */
int nftf_rects_build(const struct filter_entry *e, size_t n, int family, enum nftf_kind kind,
                     struct nftf_rect **out, size_t *nout);
/* 0, -EINVAL (family, prefix length, protocol or port range out of bounds), or -E2BIG (more than
 * FILTER_MAX_ENTRIES). */
int nftf_entries_check(const struct filter_entry *e, size_t n);
/* The set's name for (family, kind): "tcp4", "udp4", "proto4", "tcp6", ... */
const char *nftf_set_name(int family, enum nftf_kind kind);

struct nftf_batch {
    uint8_t *buf; /* new: nftf_batch_free() */
    size_t len, cap;
    uint32_t seq_first, seq_last; /* sequence numbers of the acked messages */
};

/* Builds BEGIN, NEWTABLE, DELTABLE, NEWTABLE, sets, elements, chains, rules, END. Table and
 * ifname are checked (-EINVAL); seq is the batch's first sequence number. */
int nftf_batch_build_apply(struct nftf_batch *b, const char *table, const char *ifname,
                           const struct filter_entry *e, size_t n, uint16_t group, uint32_t seq);
int nftf_batch_build_delete(struct nftf_batch *b, const char *table, uint32_t seq);
void nftf_batch_free(struct nftf_batch *b);
/* Sends the batch on a netlink socket of its own and collects every ack (nftfilter.c, the only
 * I/O here). 0, or the first failing message's -errno (logged, with the kernel's reason). */
int nftf_batch_run(const struct nftf_batch *b);
/* Describes the batch message with sequence number seq ("message 5 of the batch: NEWSETELEM
 * tcp4") and returns its NFT_MSG_* type, or -1 if no message has that number. */
int nftf_batch_describe(const struct nftf_batch *b, uint32_t seq, char *buf, size_t len);

/* Parses one received buffer (4-byte aligned) of netlink messages from the NFLOG socket: every
 * NFULNL_MSG_PACKET is counted into out[0..*n) (max slots) or *other. false on malformed
 * framing (what was counted before it stays counted). */
bool nftf_nflog_parse(const void *buf, size_t len, struct filter_deny_count *out, size_t max,
                      size_t *n, uint64_t *other);
/* Adds one denied packet (network header first, possibly cut at the snap length). */
void nftf_deny_add(const uint8_t *pkt, size_t len, struct filter_deny_count *out, size_t max,
                   size_t *n, uint64_t *other);

#endif
