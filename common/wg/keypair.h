/* A transport keypair and the data message seal/open on it (whitepaper 5.4.6). Pure, no
 * allocation: the caller owns all buffers. Not thread-safe: the caller serialises sends (the
 * counter) and receives (the replay window) per keypair. */
#ifndef ZTNA_COMMON_WG_KEYPAIR_H
#define ZTNA_COMMON_WG_KEYPAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/wg/replay.h"
#include "common/wg/wg_const.h"

struct wg_keypair {
    uint8_t send_key[WG_KEY_SIZE];
    uint8_t recv_key[WG_KEY_SIZE];
    uint64_t send_counter; /* next nonce to use */
    struct wg_replay replay;
    uint64_t birth_ns; /* caller's monotonic clock at derivation */
    uint32_t local_index;  /* receivers put this in data messages to us */
    uint32_t remote_index; /* we put this in data messages to the peer */
    bool is_initiator;
    bool valid;
};

/* Wipes keys and marks the keypair invalid. Accepts NULL. */
void wg_keypair_clear(struct wg_keypair *kp);

/* Padded plaintext length: plain_len rounded up to a multiple of 16, but not beyond mtu when
 * plain_len <= mtu (mtu 0 = no cap). */
size_t wg_keypair_padded_len(size_t plain_len, size_t mtu);
/* Whole data message length for a plaintext: 16 + padded + 16. */
size_t wg_keypair_sealed_len(size_t plain_len, size_t mtu);

/* Seals plain (plain_len 0 = keepalive) into a data message in out (capacity out_cap):
 * header, padded ciphertext, tag. plain may be out + WG_MSG_DATA_HEADER_SIZE (in place); otherwise
 * the buffers must not overlap. Uses and increments send_counter.
 * 0, -EINVAL (invalid keypair, plain_len > WG_MAX_PLAINTEXT_SIZE), -ENOBUFS (out_cap too small),
 * -EKEYEXPIRED (REJECT_AFTER_MESSAGES or REJECT_AFTER_TIME reached: start a new handshake). */
int wg_keypair_seal(struct wg_keypair *kp, const uint8_t *plain, size_t plain_len, size_t mtu,
                    uint8_t *out, size_t out_cap, size_t *out_len, uint64_t now_ns);

/* Opens a data message whose receiver index the caller matched to kp. plain gets the padded
 * plaintext (msg_len - 32 bytes, 0 = keepalive; the caller trims by the IP header) and may be
 * msg + WG_MSG_DATA_HEADER_SIZE (in place). *counter_out (may be NULL) gets the message counter.
 * 0, -EBADMSG (malformed / authentication failed), -ESTALE (replayed or too old counter),
 * -EKEYEXPIRED (keypair past REJECT_AFTER_TIME or the counter limit), -EINVAL (invalid keypair),
 * -ENOBUFS (plain_cap too small). The replay window is updated only after authentication. */
int wg_keypair_open(struct wg_keypair *kp, const uint8_t *msg, size_t msg_len, uint8_t *plain,
                    size_t plain_cap, size_t *plain_len, uint64_t *counter_out, uint64_t now_ns);

/* Sending side: past REKEY_AFTER_MESSAGES, or (initiator) older than REKEY_AFTER_TIME. */
bool wg_keypair_needs_rekey_on_send(const struct wg_keypair *kp, uint64_t now_ns);
/* Receiving side (initiator only): older than REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT -
 * REKEY_TIMEOUT, so a fresh handshake finishes before the keypair dies. */
bool wg_keypair_needs_rekey_on_recv(const struct wg_keypair *kp, uint64_t now_ns);
/* Must not be used any more: invalid, REJECT_AFTER_TIME old, or send counter at the limit. */
bool wg_keypair_is_expired(const struct wg_keypair *kp, uint64_t now_ns);

#endif
