/* mac1, mac2 and cookie replies (whitepaper 5.4.4 and 5.4.7). Pure; random bytes come from
 * libsodium's RNG, time from the caller (monotonic ns).
 *
 * Checker (receiver of handshake messages, one per device):
 *   mac1 = MAC(HASH("mac1----" || S_pub_local), msg[0 .. mac1))   always required
 *   cookie = MAC(R, source), R random and replaced every COOKIE_SECRET_MAX_AGE
 *   mac2 = MAC(cookie, msg[0 .. mac2))                               required under load
 * Consumer (sender of handshake messages, one per peer): adds mac1, and mac2 from the last cookie
 * received while it is younger than COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY (the responder's
 * secret may rotate meanwhile; the kernel uses the same margin).
 *
 * "source" is opaque bytes identifying the sender: the IP address (4 or 16 bytes) followed by the
 * UDP port in network byte order. Handshake messages are passed as their whole wire bytes (148 or
 * 92); mac1 and mac2 are their last 32 bytes. */
#ifndef ZTNA_COMMON_WG_COOKIE_H
#define ZTNA_COMMON_WG_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/wg/wg_const.h"

#define WG_COOKIE_SOURCE_MAX 18 /* IPv6 address + port */

struct wg_cookie_checker {
    uint8_t secret[WG_KEY_SIZE];
    uint64_t secret_birth_ns;
    bool secret_valid;
    uint8_t mac1_key[WG_KEY_SIZE];              /* HASH("mac1----" || S_pub_local) */
    uint8_t cookie_encryption_key[WG_KEY_SIZE]; /* HASH("cookie--" || S_pub_local) */
};

enum wg_cookie_mac_state {
    WG_COOKIE_MAC_INVALID,           /* bad mac1: drop silently */
    WG_COOKIE_MAC_VALID_NO_COOKIE,   /* mac1 ok, mac2 absent or wrong: under load, send a reply */
    WG_COOKIE_MAC_VALID_WITH_COOKIE, /* mac1 and mac2 ok: the source address is proven */
};

/* Per-peer consumer side. */
struct wg_cookie {
    uint8_t mac1_key[WG_KEY_SIZE];              /* HASH("mac1----" || S_pub_remote) */
    uint8_t cookie_decryption_key[WG_KEY_SIZE]; /* HASH("cookie--" || S_pub_remote) */
    uint8_t cookie[WG_COOKIE_SIZE];
    uint64_t cookie_birth_ns;
    bool cookie_valid;
    uint8_t last_mac1_sent[WG_MAC_SIZE];
    bool have_sent_mac1;
};

/* (Re)initialises the checker for the local public key (call again when it changes). */
void wg_cookie_checker_init(struct wg_cookie_checker *c, const uint8_t local_public[WG_KEY_SIZE]);

/* Validates mac1 (and mac2 when check_cookie) of a 148- or 92-byte handshake message.
 * Any other length is WG_COOKIE_MAC_INVALID. With check_cookie false a valid mac1 gives
 * WG_COOKIE_MAC_VALID_NO_COOKIE without looking at mac2 (the not-under-load path). */
enum wg_cookie_mac_state wg_cookie_checker_validate(struct wg_cookie_checker *c, const uint8_t *msg,
                                                    size_t len, const uint8_t *source,
                                                    size_t source_len, bool check_cookie,
                                                    uint64_t now_ns);

/* Builds the 64-byte cookie reply to a handshake message (148 or 92 bytes) from source: receiver
 * = the message's sender index, encrypted cookie with the message's mac1 as associated data.
 * 0 / -EINVAL (bad length or source_len). */
int wg_cookie_checker_create_reply(struct wg_cookie_checker *c, const uint8_t *msg, size_t len,
                                   const uint8_t *source, size_t source_len, uint64_t now_ns,
                                   uint8_t out[static WG_MSG_COOKIE_REPLY_SIZE]);

void wg_cookie_init(struct wg_cookie *ck, const uint8_t remote_public[WG_KEY_SIZE]);

/* Writes mac1 and mac2 into the last 32 bytes of a 148- or 92-byte handshake message about to be
 * sent (mac2 zero without a fresh cookie) and remembers mac1 for the cookie reply. */
void wg_cookie_add_macs(struct wg_cookie *ck, uint8_t *msg, size_t len, uint64_t now_ns);

/* Consumes a 64-byte cookie reply whose receiver index the caller matched to this peer.
 * 0, -EBADMSG (bad length / does not decrypt against the last mac1 sent), -ENOENT (no handshake
 * message sent yet). */
int wg_cookie_consume_reply(struct wg_cookie *ck, const uint8_t *msg, size_t len, uint64_t now_ns);

#endif
