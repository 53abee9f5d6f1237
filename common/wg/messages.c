/* WireGuard message parsing and writing. Every parser checks the exact length for its type (a
 * data message: at least header + tag) and the reserved zero bytes, then reads through the
 * bounds-checked cursor into a typed struct. */
#include "common/wg/messages.h"

#include <string.h>

#include "common/cursor.h"

/* The first four bytes: type, then three reserved bytes that must be zero. */
static bool read_type(struct cursor *c, uint8_t type)
{
    return cursor_le32(c) == type && c->ok;
}

uint8_t wg_msg_type(const uint8_t *buf, size_t len)
{
    if (!buf || len < 4 || buf[1] || buf[2] || buf[3])
        return 0;
    switch (buf[0]) {
    case WG_MSG_INITIATION:
        return len == WG_MSG_INITIATION_SIZE ? WG_MSG_INITIATION : 0;
    case WG_MSG_RESPONSE:
        return len == WG_MSG_RESPONSE_SIZE ? WG_MSG_RESPONSE : 0;
    case WG_MSG_COOKIE_REPLY:
        return len == WG_MSG_COOKIE_REPLY_SIZE ? WG_MSG_COOKIE_REPLY : 0;
    case WG_MSG_DATA:
        return len >= WG_MSG_DATA_MIN_SIZE && len <= WG_MSG_DATA_MAX_SIZE ? WG_MSG_DATA : 0;
    default:
        return 0;
    }
}

bool wg_msg_initiation_parse(struct wg_msg_initiation *out, const uint8_t *buf, size_t len)
{
    if (!buf || len != WG_MSG_INITIATION_SIZE)
        return false;
    struct cursor c = cursor_init(buf, len);
    bool ok = read_type(&c, WG_MSG_INITIATION);
    out->sender_index = cursor_le32(&c);
    cursor_copy(&c, out->ephemeral, sizeof(out->ephemeral));
    cursor_copy(&c, out->encrypted_static, sizeof(out->encrypted_static));
    cursor_copy(&c, out->encrypted_timestamp, sizeof(out->encrypted_timestamp));
    cursor_copy(&c, out->mac1, sizeof(out->mac1));
    cursor_copy(&c, out->mac2, sizeof(out->mac2));
    return ok && c.ok && cursor_left(&c) == 0;
}

bool wg_msg_response_parse(struct wg_msg_response *out, const uint8_t *buf, size_t len)
{
    if (!buf || len != WG_MSG_RESPONSE_SIZE)
        return false;
    struct cursor c = cursor_init(buf, len);
    bool ok = read_type(&c, WG_MSG_RESPONSE);
    out->sender_index = cursor_le32(&c);
    out->receiver_index = cursor_le32(&c);
    cursor_copy(&c, out->ephemeral, sizeof(out->ephemeral));
    cursor_copy(&c, out->encrypted_nothing, sizeof(out->encrypted_nothing));
    cursor_copy(&c, out->mac1, sizeof(out->mac1));
    cursor_copy(&c, out->mac2, sizeof(out->mac2));
    return ok && c.ok && cursor_left(&c) == 0;
}

bool wg_msg_cookie_reply_parse(struct wg_msg_cookie_reply *out, const uint8_t *buf, size_t len)
{
    if (!buf || len != WG_MSG_COOKIE_REPLY_SIZE)
        return false;
    struct cursor c = cursor_init(buf, len);
    bool ok = read_type(&c, WG_MSG_COOKIE_REPLY);
    out->receiver_index = cursor_le32(&c);
    cursor_copy(&c, out->nonce, sizeof(out->nonce));
    cursor_copy(&c, out->encrypted_cookie, sizeof(out->encrypted_cookie));
    return ok && c.ok && cursor_left(&c) == 0;
}

bool wg_msg_data_parse(struct wg_msg_data *out, const uint8_t *buf, size_t len)
{
    if (!buf || len < WG_MSG_DATA_MIN_SIZE || len > WG_MSG_DATA_MAX_SIZE)
        return false;
    struct cursor c = cursor_init(buf, len);
    bool ok = read_type(&c, WG_MSG_DATA);
    out->receiver_index = cursor_le32(&c);
    out->counter = cursor_le64(&c);
    out->ciphertext_len = cursor_left(&c);
    out->ciphertext = cursor_take(&c, out->ciphertext_len);
    return ok && c.ok && out->ciphertext_len >= WG_AEAD_TAG_SIZE;
}

static uint8_t *put(uint8_t *p, const void *src, size_t n)
{
    memcpy(p, src, n);
    return p + n;
}

static uint8_t *put_header(uint8_t *p, uint8_t type)
{
    wg_put_le32(p, type);
    return p + 4;
}

static uint8_t *put_le32(uint8_t *p, uint32_t v)
{
    wg_put_le32(p, v);
    return p + 4;
}

void wg_msg_initiation_write(uint8_t out[static WG_MSG_INITIATION_SIZE],
                             const struct wg_msg_initiation *m)
{
    uint8_t *p = put_header(out, WG_MSG_INITIATION);
    p = put_le32(p, m->sender_index);
    p = put(p, m->ephemeral, sizeof(m->ephemeral));
    p = put(p, m->encrypted_static, sizeof(m->encrypted_static));
    p = put(p, m->encrypted_timestamp, sizeof(m->encrypted_timestamp));
    p = put(p, m->mac1, sizeof(m->mac1));
    put(p, m->mac2, sizeof(m->mac2));
}

void wg_msg_response_write(uint8_t out[static WG_MSG_RESPONSE_SIZE],
                           const struct wg_msg_response *m)
{
    uint8_t *p = put_header(out, WG_MSG_RESPONSE);
    p = put_le32(p, m->sender_index);
    p = put_le32(p, m->receiver_index);
    p = put(p, m->ephemeral, sizeof(m->ephemeral));
    p = put(p, m->encrypted_nothing, sizeof(m->encrypted_nothing));
    p = put(p, m->mac1, sizeof(m->mac1));
    put(p, m->mac2, sizeof(m->mac2));
}

void wg_msg_cookie_reply_write(uint8_t out[static WG_MSG_COOKIE_REPLY_SIZE],
                               const struct wg_msg_cookie_reply *m)
{
    uint8_t *p = put_header(out, WG_MSG_COOKIE_REPLY);
    p = put_le32(p, m->receiver_index);
    p = put(p, m->nonce, sizeof(m->nonce));
    put(p, m->encrypted_cookie, sizeof(m->encrypted_cookie));
}

void wg_msg_data_header_write(uint8_t out[static WG_MSG_DATA_HEADER_SIZE], uint32_t receiver_index,
                              uint64_t counter)
{
    wg_put_le32(out, WG_MSG_DATA);
    wg_put_le32(out + 4, receiver_index);
    wg_put_le32(out + 8, (uint32_t)counter);
    wg_put_le32(out + 12, (uint32_t)(counter >> 32));
}
