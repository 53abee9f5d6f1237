/* WireGuard protocol constants (whitepaper section 6 and the reference implementations).
 * Times are in seconds unless the name says otherwise; the pure code takes time in nanoseconds
 * from the caller's monotonic clock (WG_NSEC_PER_SEC). */
#ifndef ZTNA_COMMON_WG_CONST_H
#define ZTNA_COMMON_WG_CONST_H

#include <stdint.h>

#define WG_NSEC_PER_SEC 1000000000ULL

/* Section 6.1: keypair limits. */
#define WG_REKEY_AFTER_MESSAGES (1ULL << 60)
#define WG_REJECT_AFTER_MESSAGES (UINT64_MAX - (1ULL << 13)) /* 2^64 - 2^13 - 1 */
#define WG_REKEY_AFTER_TIME 120
#define WG_REJECT_AFTER_TIME 180
#define WG_REKEY_ATTEMPT_TIME 90
#define WG_REKEY_TIMEOUT 5
#define WG_KEEPALIVE_TIMEOUT 10
#define WG_COOKIE_SECRET_MAX_AGE 120
#define WG_COOKIE_SECRET_LATENCY 5
/* Handshake initiations sent per peer at most every REKEY_TIMEOUT, so at most this many are tried
 * in REKEY_ATTEMPT_TIME before giving up. */
#define WG_MAX_TIMER_HANDSHAKES (WG_REKEY_ATTEMPT_TIME / WG_REKEY_TIMEOUT)
/* Random jitter added to handshake retransmissions, milliseconds. */
#define WG_REKEY_TIMEOUT_JITTER_MAX_MS 333

/* Handshake flood protection: consumed initiations per peer per second (an initiation arriving
 * sooner after the previous accepted one is dropped), and the per-source rate limiter for
 * handshake messages under load (token bucket: rate and burst). */
#define WG_INITIATIONS_PER_SECOND 50
#define WG_HANDSHAKE_PACKETS_PER_SECOND 20
#define WG_HANDSHAKE_PACKETS_BURST 5
#define WG_MAX_QUEUED_INCOMING_HANDSHAKES 4096
#define WG_MAX_STAGED_PACKETS 128
#define WG_MAX_PEERS (1U << 20)

/* Message types: the first byte; the next three are zero on the wire. */
#define WG_MSG_INITIATION 1
#define WG_MSG_RESPONSE 2
#define WG_MSG_COOKIE_REPLY 3
#define WG_MSG_DATA 4

/* Message sizes, bytes. */
#define WG_KEY_SIZE 32
#define WG_AEAD_TAG_SIZE 16
#define WG_MAC_SIZE 16
#define WG_COOKIE_SIZE 16
#define WG_COOKIE_NONCE_SIZE 24
#define WG_TIMESTAMP_SIZE 12 /* TAI64N */
#define WG_MSG_INITIATION_SIZE 148
#define WG_MSG_RESPONSE_SIZE 92
#define WG_MSG_COOKIE_REPLY_SIZE 64
#define WG_MSG_DATA_HEADER_SIZE 16
#define WG_MSG_DATA_MIN_SIZE (WG_MSG_DATA_HEADER_SIZE + WG_AEAD_TAG_SIZE) /* 32: keepalive */
#define WG_MESSAGE_PADDING_MULTIPLE 16
/* Largest transport data message we build or accept (a 65535-byte IP packet, padded). */
#define WG_MAX_PLAINTEXT_SIZE 65536
#define WG_MSG_DATA_MAX_SIZE (WG_MSG_DATA_MIN_SIZE + WG_MAX_PLAINTEXT_SIZE)

/* Anti-replay window (RFC 6479 style): 8192-bit ring of 64-bit blocks, of which one block is
 * always being recycled, so 8128 counters behind the highest one are tracked. */
#define WG_REPLAY_BITS_TOTAL 8192
#define WG_REPLAY_BLOCK_BITS 64
#define WG_REPLAY_WINDOW_SIZE (WG_REPLAY_BITS_TOTAL - WG_REPLAY_BLOCK_BITS) /* 8128 */

/* Noise parameters WireGuard fixes. */
#define WG_NOISE_CONSTRUCTION "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
#define WG_NOISE_IDENTIFIER "WireGuard v1 zx2c4 Jason@zx2c4.com"
#define WG_LABEL_MAC1 "mac1----"
#define WG_LABEL_COOKIE "cookie--"

#endif
