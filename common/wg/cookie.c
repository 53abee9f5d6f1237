/* mac1 / mac2 / cookie replies (whitepaper 5.4.4, 5.4.7). MAC(key, x) = Keyed-BLAKE2s(key, 16, x);
 * the cookie reply encrypts the cookie with XChaCha20-Poly1305 under HASH("cookie--" || S_pub),
 * with the triggering message's mac1 as associated data so it cannot be replayed to other
 * handshakes. */
#include "common/wg/cookie.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "common/crypto/blake2s.h"
#include "common/crypto/chacha20poly1305.h"
#include "common/wg/messages.h"

static bool handshake_len_ok(size_t len)
{
    return len == WG_MSG_INITIATION_SIZE || len == WG_MSG_RESPONSE_SIZE;
}

/* HASH(label || public key). */
static void precompute_key(uint8_t key[static 32], const char label[static 8],
                           const uint8_t pub[static 32])
{
    struct blake2s_state s;
    blake2s_init(&s, 32, NULL, 0);
    blake2s_update(&s, label, 8);
    blake2s_update(&s, pub, 32);
    blake2s_final(&s, key);
}

static void mac(uint8_t out[static WG_MAC_SIZE], const uint8_t *key, size_t keylen,
                const uint8_t *in, size_t inlen)
{
    blake2s_hash(out, WG_MAC_SIZE, in, inlen, key, keylen);
}

/* cookie = MAC(R, source), R replaced when older than COOKIE_SECRET_MAX_AGE. */
static void make_cookie(struct wg_cookie_checker *c, uint8_t cookie[static WG_COOKIE_SIZE],
                        const uint8_t *source, size_t source_len, uint64_t now_ns)
{
    if (!c->secret_valid || now_ns < c->secret_birth_ns ||
        now_ns - c->secret_birth_ns >= WG_COOKIE_SECRET_MAX_AGE * WG_NSEC_PER_SEC) {
        randombytes_buf(c->secret, sizeof(c->secret));
        c->secret_birth_ns = now_ns;
        c->secret_valid = true;
    }
    mac(cookie, c->secret, sizeof(c->secret), source, source_len);
}

void wg_cookie_checker_init(struct wg_cookie_checker *c, const uint8_t local_public[WG_KEY_SIZE])
{
    sodium_memzero(c, sizeof(*c));
    precompute_key(c->mac1_key, WG_LABEL_MAC1, local_public);
    precompute_key(c->cookie_encryption_key, WG_LABEL_COOKIE, local_public);
}

enum wg_cookie_mac_state wg_cookie_checker_validate(struct wg_cookie_checker *c, const uint8_t *msg,
                                                    size_t len, const uint8_t *source,
                                                    size_t source_len, bool check_cookie,
                                                    uint64_t now_ns)
{
    uint8_t computed[WG_MAC_SIZE], cookie[WG_COOKIE_SIZE];
    enum wg_cookie_mac_state ret = WG_COOKIE_MAC_INVALID;

    if (!msg || !handshake_len_ok(len))
        return WG_COOKIE_MAC_INVALID;
    size_t mac1_off = len - 2 * WG_MAC_SIZE, mac2_off = len - WG_MAC_SIZE;
    mac(computed, c->mac1_key, sizeof(c->mac1_key), msg, mac1_off);
    if (sodium_memcmp(computed, msg + mac1_off, WG_MAC_SIZE) != 0)
        goto out;
    ret = WG_COOKIE_MAC_VALID_NO_COOKIE;
    if (!check_cookie || !source || source_len == 0 || source_len > WG_COOKIE_SOURCE_MAX)
        goto out;
    make_cookie(c, cookie, source, source_len, now_ns);
    mac(computed, cookie, sizeof(cookie), msg, mac2_off);
    if (sodium_memcmp(computed, msg + mac2_off, WG_MAC_SIZE) == 0)
        ret = WG_COOKIE_MAC_VALID_WITH_COOKIE;
out:
    sodium_memzero(cookie, sizeof(cookie));
    return ret;
}

int wg_cookie_checker_create_reply(struct wg_cookie_checker *c, const uint8_t *msg, size_t len,
                                   const uint8_t *source, size_t source_len, uint64_t now_ns,
                                   uint8_t out[static WG_MSG_COOKIE_REPLY_SIZE])
{
    struct wg_msg_cookie_reply r;
    uint8_t cookie[WG_COOKIE_SIZE];

    if (!msg || !handshake_len_ok(len) || !source || source_len == 0 ||
        source_len > WG_COOKIE_SOURCE_MAX)
        return -EINVAL;
    /* Both handshake messages carry the sender index at offset 4. */
    r.receiver_index = wg_get_le32(msg + 4);
    randombytes_buf(r.nonce, sizeof(r.nonce));
    make_cookie(c, cookie, source, source_len, now_ns);
    xchacha20poly1305_seal(r.encrypted_cookie, cookie, sizeof(cookie), msg + len - 2 * WG_MAC_SIZE,
                           WG_MAC_SIZE, r.nonce, c->cookie_encryption_key);
    wg_msg_cookie_reply_write(out, &r);
    sodium_memzero(cookie, sizeof(cookie));
    return 0;
}

void wg_cookie_init(struct wg_cookie *ck, const uint8_t remote_public[WG_KEY_SIZE])
{
    sodium_memzero(ck, sizeof(*ck));
    precompute_key(ck->mac1_key, WG_LABEL_MAC1, remote_public);
    precompute_key(ck->cookie_decryption_key, WG_LABEL_COOKIE, remote_public);
}

void wg_cookie_add_macs(struct wg_cookie *ck, uint8_t *msg, size_t len, uint64_t now_ns)
{
    if (!msg || !handshake_len_ok(len))
        return;
    size_t mac1_off = len - 2 * WG_MAC_SIZE, mac2_off = len - WG_MAC_SIZE;
    mac(msg + mac1_off, ck->mac1_key, sizeof(ck->mac1_key), msg, mac1_off);
    memcpy(ck->last_mac1_sent, msg + mac1_off, WG_MAC_SIZE);
    ck->have_sent_mac1 = true;

    /* The responder's secret may rotate up to COOKIE_SECRET_LATENCY after our cookie was made. */
    bool fresh = ck->cookie_valid && now_ns >= ck->cookie_birth_ns &&
                 now_ns - ck->cookie_birth_ns <
                     (WG_COOKIE_SECRET_MAX_AGE - WG_COOKIE_SECRET_LATENCY) * WG_NSEC_PER_SEC;
    if (fresh)
        mac(msg + mac2_off, ck->cookie, sizeof(ck->cookie), msg, mac2_off);
    else
        memset(msg + mac2_off, 0, WG_MAC_SIZE);
}

int wg_cookie_consume_reply(struct wg_cookie *ck, const uint8_t *msg, size_t len, uint64_t now_ns)
{
    struct wg_msg_cookie_reply r;
    uint8_t cookie[WG_COOKIE_SIZE];

    if (!wg_msg_cookie_reply_parse(&r, msg, len))
        return -EBADMSG;
    if (!ck->have_sent_mac1)
        return -ENOENT;
    if (xchacha20poly1305_open(cookie, r.encrypted_cookie, sizeof(r.encrypted_cookie),
                               ck->last_mac1_sent, WG_MAC_SIZE, r.nonce,
                               ck->cookie_decryption_key) != 0)
        return -EBADMSG;
    memcpy(ck->cookie, cookie, sizeof(cookie));
    ck->cookie_birth_ns = now_ns;
    ck->cookie_valid = true;
    ck->have_sent_mac1 = false;
    sodium_memzero(cookie, sizeof(cookie));
    return 0;
}
