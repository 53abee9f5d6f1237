/* Per-peer state machine of the post-quantum PSK exchange (docs/pq-exchange.md). Pure protocol
 * code: no I/O and no clock reads. The caller feeds datagrams and time in and gets actions out
 * through struct pqx_ops (send a datagram, install a PSK, block/unblock the peer, randomness).
 * Not thread-safe: one peer is driven from one thread (the device's event loop). */
#ifndef ZTNA_PQX_PEER_H
#define ZTNA_PQX_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/mlkem/mlkem768.h"
#include "common/pqx/pqx_keys.h"
#include "common/pqx/pqx_msg.h"
#include "common/pqx/pqx_reasm.h"
#include "common/pqx/pqx_status.h"

struct pqx_peer;

struct pqx_ops {
    /* Sends one datagram (a fragment) to the peer. Errors are ignored: retransmission covers loss. */
    void (*send)(void *ctx, struct pqx_peer *p, const uint8_t *buf, size_t len);
    /* Installs psk as the peer's WireGuard PSK; kind says where it came from (NONE = random). On
     * PQX_PSK_PQ the glue should also ask the data plane for a fresh WireGuard handshake; p->exch
     * still says which role completed it (INIT_SENT: initiator, before its CONFIRM is sent). */
    void (*install_psk)(void *ctx, struct pqx_peer *p, const uint8_t psk[static 32],
                        enum pqx_psk_state kind);
    /* Blocks or unblocks user traffic to and from the peer. */
    void (*set_blocked)(void *ctx, struct pqx_peer *p, bool blocked);
    /* Randomness; NULL means libsodium's randombytes_buf. Tests inject a deterministic one. */
    void (*rng)(void *ctx, uint8_t *buf, size_t len);
};

struct pqx_config {
    uint64_t rotate_ms, fallback_ms, expire_ms, retransmit_ms;
    uint64_t backoff_min_ms, backoff_max_ms;
    unsigned retransmit_max;
};

/* One per device: our static WireGuard key and the actions. Borrowed by every peer. */
struct pqx_local {
    uint8_t static_priv[32];
    uint8_t static_pub[32];
    struct pqx_config cfg;
    const struct pqx_ops *ops;
    void *ops_ctx;
};

struct pqx_peer {
    const struct pqx_local *local; /* borrowed; outlives the peer */
    void *user;                    /* for the glue */
    uint8_t peer_pub[32];
    uint8_t ss[32];
    uint8_t hint_out[PQX_HINT_LEN], hint_in[PQX_HINT_LEN];
    bool designated, blocked, rekey_requested;
    enum pqx_exch_state exch;
    enum pqx_psk_state psk;
    enum pqx_error last_error;
    enum pqx_error rx_error; /* last rejected incoming message; cleared by a completed exchange */
    uint64_t last_epoch, sent_epoch, psk_epoch, installed_ms, exchanges;
    uint64_t next_attempt_ms, last_init_ms;
    unsigned failures, retransmits;
    uint64_t next_retransmit_ms;
    /* Exchange in progress. */
    uint32_t local_index, remote_index;
    uint64_t pend_epoch;
    uint8_t eph_priv[32];
    uint8_t dk[MLKEM768_DK_BYTES];
    uint8_t th1[32], th[32], ikm[PQX_IKM_LEN], in_hash[32];
    /* The last message we sent, for retransmission with the same bytes and msg_id. */
    uint8_t out[PQX_MSG_MAX];
    size_t out_len;
    uint8_t out_kind;
    uint32_t out_msg_id;
    /* Initiator: the CONFIRM of the last completed exchange, re-sent on a duplicate RESP. */
    uint8_t confirm[PQX_CONFIRM_LEN], resp_hash[32];
    uint32_t confirm_msg_id;
    uint64_t confirm_epoch;
    bool have_confirm;
    struct pqx_reasm reasm;
};

/* Fills cfg with the defaults of pqx_limits.h. */
void pqx_config_default(struct pqx_config *cfg);
/* Sets up a peer: computes ss and the hints, installs a random PSK and blocks it.
 * Returns 0, or -EINVAL for a peer key equal to ours or of small order. */
int pqx_peer_init(struct pqx_peer *p, const struct pqx_local *l, const uint8_t peer_pub[static 32],
                  uint64_t now_ms);
/* Wipes every secret. Accepts NULL. Does not free p. */
void pqx_peer_fini(struct pqx_peer *p);
/* Explicit classical-only (admin configuration): stops exchanges, all-zero PSK, unblocked. Turning
 * it off returns the peer to a random PSK, blocked, and starts an exchange. */
void pqx_peer_set_classical(struct pqx_peer *p, bool classical, uint64_t now_ms);
/* True if a datagram's pair hint says it comes from this peer (check before pqx_peer_receive). */
bool pqx_peer_matches(const struct pqx_peer *p, const uint8_t *buf, size_t len);
/* Feeds one datagram (first byte PQX_MSG_TYPE). real_ms is wall-clock ms (epoch floor). Returns 0
 * if it was consumed (even if it ended in an error recorded in the status), -EBADMSG otherwise. */
int pqx_peer_receive(struct pqx_peer *p, const uint8_t *buf, size_t len, uint64_t now_ms,
                     uint64_t real_ms);
/* Runs timers: retransmission, rotation, retry with backoff, expiry. */
void pqx_peer_tick(struct pqx_peer *p, uint64_t now_ms, uint64_t real_ms);
/* The earliest monotonic time at which pqx_peer_tick has work to do (UINT64_MAX if none). */
uint64_t pqx_peer_next_deadline(const struct pqx_peer *p);
void pqx_peer_status(const struct pqx_peer *p, struct pqx_status *st);

#endif
