/* DNS over TCP (RFC 7766) for the stub at 100.100.100.100:53, answered from the TUN packets
 * inside the agent: a minimal, bounded TCP responder. It speaks only as a passive opener for
 * port 53 of one IPv4 address, accepts data in order only (out-of-order segments are dropped and
 * answered with a duplicate ACK), reassembles the 2-byte length-prefixed queries (several per
 * connection, pipelined) and hands each to a resolver callback that answers now or later
 * (dnstcp_answer). No window scaling, SACK or timestamps; MSS min(peer's, DNSTCP_MSS).
 * Not thread safe: the caller serialises (dnsio runs it under the device lock). */
#ifndef ZTNA_AGENT_DAEMON_DNSTCP_H
#define ZTNA_AGENT_DAEMON_DNSTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNSTCP_MAX_CONNS 16          /* concurrent connections; a SYN beyond gets RST */
#define DNSTCP_MSS 1200              /* largest segment we send (and advertise) */
#define DNSTCP_RX_MAX 4096           /* per-connection receive buffer: largest query + 2 */
#define DNSTCP_ANSWER_MAX 4096       /* largest answer we produce (the forwarded EDNS size) */
#define DNSTCP_MAX_INFLIGHT 4        /* queries of one connection unanswered at once */
#define DNSTCP_TX_MAX (DNSTCP_MAX_INFLIGHT * (DNSTCP_ANSWER_MAX + 2)) /* unacked + unsent bytes */
#define DNSTCP_RTO_MS 200            /* first retransmission timeout, doubled on each retry */
#define DNSTCP_MAX_RETRIES 5         /* then the connection is reset */
#define DNSTCP_IDLE_MS 10000         /* no segment and nothing in flight: we close (FIN) */
#define DNSTCP_CLOSE_MS 3000         /* after our FIN, how long we wait for the peer's */

struct dnstcp;

enum dnstcp_verdict {
    DNSTCP_ANSWERED, /* *out_len bytes of answer were written to out */
    DNSTCP_PENDING,  /* will be answered with dnstcp_answer(tag) (or never: then the idle timer) */
    DNSTCP_DROPPED,  /* not a query: no answer */
};

struct dnstcp_ops {
    /* One IPv4 packet to write to the TUN (borrowed for the call). */
    void (*emit)(void *ctx, const uint8_t *pkt, size_t len);
    /* One query (borrowed for the call); out has DNSTCP_ANSWER_MAX bytes. */
    enum dnstcp_verdict (*query)(void *ctx, uint64_t tag, const uint8_t *msg, size_t len,
                                 uint8_t *out, size_t *out_len);
};

/* New responder for stub:53; free with dnstcp_free(). ops and ctx are borrowed for its life.
 * NULL on allocation failure. */
struct dnstcp *dnstcp_new(const uint8_t stub[4], const struct dnstcp_ops *ops, void *ctx);
void dnstcp_free(struct dnstcp *t);
/* One packet the host wrote into the TUN. -ENOENT: not IPv4/TCP to stub:53 (not ours);
 * -EINVAL: ours but malformed or a bad checksum (dropped); 0: handled. */
int dnstcp_input(struct dnstcp *t, const uint8_t *pkt, size_t len, uint64_t now_ms);
/* The answer to the query handed out under tag; ignored if that connection is gone. */
void dnstcp_answer(struct dnstcp *t, uint64_t tag, const uint8_t *msg, size_t len, uint64_t now_ms);
/* Retransmissions and timeouts; call every few tens of milliseconds. */
void dnstcp_tick(struct dnstcp *t, uint64_t now_ms);
/* Connections open now (for tests and status). */
size_t dnstcp_conns(const struct dnstcp *t);

#endif
