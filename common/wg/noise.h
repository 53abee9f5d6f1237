/* Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s handshake as WireGuard uses it (whitepaper 5.4.2-5.4.4).
 * Pure: no I/O, no clocks; the caller passes time and indices. Not thread-safe: the caller
 * serialises access to one wg_noise_handshake.
 *
 * Handshake states (enum wg_noise_state):
 *   ZEROED -> CREATED_INITIATION -> CONSUMED_RESPONSE -> (begin_session) ZEROED   initiator
 *   ZEROED -> CONSUMED_INITIATION -> CREATED_RESPONSE -> (begin_session) ZEROED   responder
 *
 * Two layers: the WireGuard calls (create/consume initiation/response on the 148/92-byte wire
 * messages, with a TAI64N payload) and the generic Noise message bodies (any payload, injected
 * ephemeral keys) they are built on, which the Cacophony vectors exercise. mac1/mac2 are the
 * cookie module's job: create_* leave them zero, consume_* do not check them. */
#ifndef ZTNA_COMMON_WG_NOISE_H
#define ZTNA_COMMON_WG_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/wg/wg_const.h"

struct wg_keypair;

/* Protocol name and prologue, reduced to the initial chaining key and hash. */
struct wg_noise_protocol {
    uint8_t initial_chaining_key[WG_KEY_SIZE]; /* HASH(construction) */
    uint8_t initial_hash[WG_KEY_SIZE];         /* HASH(ck || identifier) */
};

/* The local static identity. */
struct wg_noise_identity {
    struct wg_noise_protocol protocol;
    uint8_t private_key[WG_KEY_SIZE];
    uint8_t public_key[WG_KEY_SIZE];
    bool has_identity;
};

enum wg_noise_state {
    WG_HANDSHAKE_ZEROED,
    WG_HANDSHAKE_CREATED_INITIATION,
    WG_HANDSHAKE_CONSUMED_INITIATION,
    WG_HANDSHAKE_CREATED_RESPONSE,
    WG_HANDSHAKE_CONSUMED_RESPONSE,
};

/* Per-peer handshake state. */
struct wg_noise_handshake {
    const struct wg_noise_identity *identity; /* borrowed: must outlive the handshake */
    enum wg_noise_state state;
    uint8_t remote_static[WG_KEY_SIZE];
    uint8_t precomputed_static_static[WG_KEY_SIZE]; /* DH(S_priv, S_pub_remote) */
    bool static_static_ok;                           /* false if that DH was all-zero */
    uint8_t preshared_key[WG_KEY_SIZE];              /* all-zero = no PSK */
    uint8_t ephemeral_private[WG_KEY_SIZE];
    uint8_t remote_ephemeral[WG_KEY_SIZE];
    uint8_t hash[WG_KEY_SIZE];
    uint8_t chaining_key[WG_KEY_SIZE];
    uint32_t local_index;
    uint32_t remote_index;
    uint8_t latest_timestamp[WG_TIMESTAMP_SIZE]; /* greatest TAI64N accepted from this peer */
    uint64_t last_initiation_consumption_ns;     /* caller's monotonic clock; 0 = never */
};

/* construction = Noise protocol name, identifier = prologue. */
void wg_noise_protocol_init(struct wg_noise_protocol *p, const uint8_t *construction,
                            size_t construction_len, const uint8_t *identifier,
                            size_t identifier_len);
/* WireGuard's construction and identifier. */
void wg_noise_protocol_init_wireguard(struct wg_noise_protocol *p);

/* Sets the private key (clamped copy) and derives the public key, with WireGuard's protocol;
 * private_key NULL clears the identity. 0 / -EINVAL. */
int wg_noise_identity_init(struct wg_noise_identity *id, const uint8_t *private_key);
void wg_noise_identity_clear(struct wg_noise_identity *id);

/* Prepares a per-peer handshake (state ZEROED, no timestamp seen yet); psk NULL = none. */
void wg_noise_handshake_init(struct wg_noise_handshake *hs, const struct wg_noise_identity *id,
                             const uint8_t remote_static[static WG_KEY_SIZE], const uint8_t *psk);
/* After the identity's private key changed: recomputes the static-static DH and drops any
 * handshake in flight, but keeps the replay state (latest timestamp, last consumption). */
void wg_noise_handshake_refresh_identity(struct wg_noise_handshake *hs);
void wg_noise_handshake_set_psk(struct wg_noise_handshake *hs, const uint8_t *psk);
/* Wipes the ephemeral state and returns to ZEROED (keeps keys, latest timestamp). */
void wg_noise_handshake_clear(struct wg_noise_handshake *hs);

/* TAI64N of a Unix time in ns, nanoseconds rounded down to 1/WG_INITIATIONS_PER_SECOND s (a
 * power of two below it) so the timestamp does not leak a fine clock. */
void wg_tai64n_from_unix_ns(uint8_t out[static WG_TIMESTAMP_SIZE], uint64_t unix_ns);

/* --- WireGuard messages ------------------------------------------------------------------- */

/* Initiator: builds a 148-byte initiation with sender = local_index, payload = timestamp.
 * 0, or -EINVAL (no identity, low-order static-static or ephemeral DH). */
int wg_noise_handshake_create_initiation(struct wg_noise_handshake *hs, uint32_t local_index,
                                         const uint8_t timestamp[static WG_TIMESTAMP_SIZE],
                                         uint8_t out[static WG_MSG_INITIATION_SIZE]);

/* Finds the handshake of the peer with this static public key; NULL if unknown. */
typedef struct wg_noise_handshake *(*wg_noise_peer_lookup_fn)(void *ctx,
                                                              const uint8_t remote_static[32]);

/* Responder: consumes an initiation (mac1 already checked). On success *out is the peer's
 * handshake, now CONSUMED_INITIATION. Errors: -EBADMSG (malformed or does not decrypt),
 * -ENOENT (unknown static key), -ESTALE (timestamp not greater than the last accepted: replay),
 * -EBUSY (flood: less than 1/WG_INITIATIONS_PER_SECOND s since the last accepted initiation),
 * -EINVAL (no identity / low-order key). now_ns: caller's monotonic clock, must be > 0. */
int wg_noise_handshake_consume_initiation(const struct wg_noise_identity *id, const uint8_t *msg,
                                          size_t len, wg_noise_peer_lookup_fn lookup, void *ctx,
                                          uint64_t now_ns, struct wg_noise_handshake **out);

/* Responder, after consume_initiation: builds a 92-byte response. 0 / -EINVAL (wrong state). */
int wg_noise_handshake_create_response(struct wg_noise_handshake *hs, uint32_t local_index,
                                       uint8_t out[static WG_MSG_RESPONSE_SIZE]);

/* Initiator: consumes a response whose receiver index the caller matched to hs (mac1 already
 * checked). hs becomes CONSUMED_RESPONSE. 0, -EBADMSG, -EINVAL (wrong state). */
int wg_noise_handshake_consume_response(struct wg_noise_handshake *hs, const uint8_t *msg,
                                        size_t len);

/* Both sides, after CONSUMED_RESPONSE (initiator) or CREATED_RESPONSE (responder): derives the
 * transport keypair (Split), fills indices, is_initiator, birth = now_ns, and zeroes the
 * handshake's ephemeral state. 0 / -EINVAL (wrong state). */
int wg_noise_handshake_begin_session(struct wg_noise_handshake *hs, struct wg_keypair *kp,
                                     uint64_t now_ns);

/* --- Generic Noise IKpsk2 message bodies -------------------------------------------------- */

#define WG_NOISE_INITIATION_BODY_SIZE(payload_len) (32 + 48 + (payload_len) + 16)
#define WG_NOISE_RESPONSE_BODY_SIZE(payload_len) (32 + (payload_len) + 16)

/* -> e, es, s, ss, payload. ephemeral_private NULL = fresh random. out gets
 * WG_NOISE_INITIATION_BODY_SIZE(payload_len) bytes. 0 / -EINVAL. */
int wg_noise_handshake_write_initiation(struct wg_noise_handshake *hs,
                                        const uint8_t *ephemeral_private, const uint8_t *payload,
                                        size_t payload_len, uint8_t *out);

/* The result of reading an initiation body, not yet committed to the peer's handshake. */
struct wg_noise_initiation_read {
    struct wg_noise_handshake *hs; /* borrowed from the lookup */
    uint8_t remote_ephemeral[WG_KEY_SIZE];
    uint8_t hash[WG_KEY_SIZE];
    uint8_t chaining_key[WG_KEY_SIZE];
};
/* Reads an initiation body of in_len bytes; payload_out gets in_len - 96 bytes. Errors as
 * consume_initiation (no timestamp or flood checks). Wipe r with wg_noise_initiation_read_wipe()
 * if it is not committed. */
int wg_noise_handshake_read_initiation(const struct wg_noise_identity *id, const uint8_t *in,
                                       size_t in_len, wg_noise_peer_lookup_fn lookup, void *ctx,
                                       uint8_t *payload_out, struct wg_noise_initiation_read *r);
/* Commits r into r->hs (state CONSUMED_INITIATION, remote_index) and wipes r. */
void wg_noise_handshake_commit_initiation(struct wg_noise_initiation_read *r,
                                          uint32_t remote_index);
void wg_noise_initiation_read_wipe(struct wg_noise_initiation_read *r);

/* <- e, ee, se, psk, payload. out gets WG_NOISE_RESPONSE_BODY_SIZE(payload_len) bytes. */
int wg_noise_handshake_write_response(struct wg_noise_handshake *hs,
                                      const uint8_t *ephemeral_private, const uint8_t *payload,
                                      size_t payload_len, uint8_t *out);
/* payload_out gets in_len - 48 bytes. 0 / -EBADMSG / -EINVAL. */
int wg_noise_handshake_read_response(struct wg_noise_handshake *hs, const uint8_t *in,
                                     size_t in_len, uint8_t *payload_out);

#endif
