/* The four WireGuard messages (whitepaper section 5.4). Wire layouts, little-endian integers:
 *
 *   initiation (148): type=1 u8, 3 zero, sender u32, ephemeral[32], static[32+16],
 *                     timestamp[12+16], mac1[16], mac2[16]
 *   response    (92): type=2 u8, 3 zero, sender u32, receiver u32, ephemeral[32], empty[0+16],
 *                     mac1[16], mac2[16]
 *   cookie reply (64): type=3 u8, 3 zero, receiver u32, nonce[24], cookie[16+16]
 *   data      (32+): type=4 u8, 3 zero, receiver u32, counter u64, packet[n+16]
 *
 * Parsers take untrusted bytes, check the exact length for the type and the three zero bytes,
 * and fill a typed struct; they return false on any mismatch. Writers produce the wire bytes. */
#ifndef ZTNA_COMMON_WG_MESSAGES_H
#define ZTNA_COMMON_WG_MESSAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/wg/wg_const.h"

struct wg_msg_initiation {
    uint32_t sender_index;
    uint8_t ephemeral[WG_KEY_SIZE];
    uint8_t encrypted_static[WG_KEY_SIZE + WG_AEAD_TAG_SIZE];
    uint8_t encrypted_timestamp[WG_TIMESTAMP_SIZE + WG_AEAD_TAG_SIZE];
    uint8_t mac1[WG_MAC_SIZE];
    uint8_t mac2[WG_MAC_SIZE];
};

struct wg_msg_response {
    uint32_t sender_index;
    uint32_t receiver_index;
    uint8_t ephemeral[WG_KEY_SIZE];
    uint8_t encrypted_nothing[WG_AEAD_TAG_SIZE];
    uint8_t mac1[WG_MAC_SIZE];
    uint8_t mac2[WG_MAC_SIZE];
};

struct wg_msg_cookie_reply {
    uint32_t receiver_index;
    uint8_t nonce[WG_COOKIE_NONCE_SIZE];
    uint8_t encrypted_cookie[WG_COOKIE_SIZE + WG_AEAD_TAG_SIZE];
};

/* Header of a transport data message; the ciphertext is borrowed from the parsed buffer. */
struct wg_msg_data {
    uint32_t receiver_index;
    uint64_t counter;
    const uint8_t *ciphertext; /* borrowed: valid while the parsed buffer is */
    size_t ciphertext_len;     /* >= 16, includes the tag */
};

/* The message type of buf (1..4) if its first four bytes are a known type and its length is
 * valid for that type; 0 otherwise. */
uint8_t wg_msg_type(const uint8_t *buf, size_t len);

bool wg_msg_initiation_parse(struct wg_msg_initiation *out, const uint8_t *buf, size_t len);
bool wg_msg_response_parse(struct wg_msg_response *out, const uint8_t *buf, size_t len);
bool wg_msg_cookie_reply_parse(struct wg_msg_cookie_reply *out, const uint8_t *buf, size_t len);
bool wg_msg_data_parse(struct wg_msg_data *out, const uint8_t *buf, size_t len);

void wg_msg_initiation_write(uint8_t out[static WG_MSG_INITIATION_SIZE],
                             const struct wg_msg_initiation *m);
void wg_msg_response_write(uint8_t out[static WG_MSG_RESPONSE_SIZE],
                           const struct wg_msg_response *m);
void wg_msg_cookie_reply_write(uint8_t out[static WG_MSG_COOKIE_REPLY_SIZE],
                               const struct wg_msg_cookie_reply *m);
/* Writes only the 16-byte header (type, receiver, counter). */
void wg_msg_data_header_write(uint8_t out[static WG_MSG_DATA_HEADER_SIZE], uint32_t receiver_index,
                              uint64_t counter);

/* Little-endian helpers for the fixed offsets. */
static inline void wg_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline uint32_t wg_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif
