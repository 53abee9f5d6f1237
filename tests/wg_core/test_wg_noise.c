/* The Noise IKpsk2 core against the Cacophony vector (every message and the handshake hash), and
 * full WireGuard handshakes between two in-memory identities: with and without PSK, data both
 * ways, wrong static key / wrong PSK never giving a session, replayed and flooding initiations,
 * and the message parsers' length and reserved-byte checks. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/crypto/chacha20poly1305.h"
#include "common/crypto/x25519.h"
#include "common/wg/keypair.h"
#include "common/wg/messages.h"
#include "common/wg/noise.h"
#include "tests/check.h"
#include "tests/crypto/json_file.h"

#define SEC WG_NSEC_PER_SEC

/* --- Cacophony ------------------------------------------------------------------------------ */

static struct wg_noise_handshake *lookup_one(void *ctx, const uint8_t remote_static[32])
{
    struct wg_noise_handshake *hs = ctx;
    return memcmp(hs->remote_static, remote_static, 32) == 0 ? hs : NULL;
}

static void test_cacophony(void)
{
    cJSON *j = json_file_load(ZTNA_VECTORS_DIR "/noise/cacophony_IKpsk2_25519_ChaChaPoly_BLAKE2s.json");
    CHECK(j != NULL);
    if (!j)
        return;
    const cJSON *v = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "vectors"), 0);
    const char *name = json_str(v, "protocol_name");
    size_t n, prologue_len;
    uint8_t *prologue = json_hex(v, "init_prologue", &prologue_len);
    uint8_t *is = json_hex(v, "init_static", &n), *ie = json_hex(v, "init_ephemeral", &n);
    uint8_t *irs = json_hex(v, "init_remote_static", &n);
    uint8_t *rs = json_hex(v, "resp_static", &n), *re = json_hex(v, "resp_ephemeral", &n);
    uint8_t *hh = json_hex(v, "handshake_hash", &n);
    const char *psk_hex = cJSON_GetArrayItem(cJSON_GetObjectItem(v, "init_psks"), 0)->valuestring;
    uint8_t psk[32];
    CHECK(hex_decode(psk, 32, psk_hex));
    CHECK(strcmp(name, "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s") == 0);

    struct wg_noise_identity id_i, id_r;
    CHECK(wg_noise_identity_init(&id_i, is) == 0);
    CHECK(wg_noise_identity_init(&id_r, rs) == 0);
    wg_noise_protocol_init(&id_i.protocol, (const uint8_t *)name, strlen(name), prologue,
                           prologue_len);
    id_r.protocol = id_i.protocol;
    CHECK_MEM(id_r.public_key, irs, 32); /* the initiator's pre-known responder key */

    struct wg_noise_handshake hs_i, hs_r;
    wg_noise_handshake_init(&hs_i, &id_i, irs, psk);
    wg_noise_handshake_init(&hs_r, &id_r, id_i.public_key, psk);

    const cJSON *msgs = cJSON_GetObjectItem(v, "messages");
    CHECK(cJSON_GetArraySize(msgs) == 6);
    struct wg_keypair kp_i, kp_r;
    uint64_t nonce_i = 0, nonce_r = 0;
    for (int m = 0; m < cJSON_GetArraySize(msgs); m++) {
        const cJSON *msg = cJSON_GetArrayItem(msgs, m);
        size_t plen, clen;
        uint8_t *payload = json_hex(msg, "payload", &plen), *ct = json_hex(msg, "ciphertext", &clen);
        uint8_t out[256], back[256];
        CHECK(payload && ct && clen < sizeof(out));
        if (!payload || !ct || clen >= sizeof(out)) {
            free(payload);
            free(ct);
            continue;
        }
        if (m == 0) {
            /* -> e, es, s, ss */
            CHECK(clen == WG_NOISE_INITIATION_BODY_SIZE(plen));
            CHECK(wg_noise_handshake_write_initiation(&hs_i, ie, payload, plen, out) == 0);
            CHECK_MEM(out, ct, clen);
            struct wg_noise_initiation_read r;
            CHECK(wg_noise_handshake_read_initiation(&id_r, ct, clen, lookup_one, &hs_r, back, &r) == 0);
            CHECK(r.hs == &hs_r);
            CHECK_MEM(back, payload, plen);
            wg_noise_handshake_commit_initiation(&r, 0);
            CHECK(hs_r.state == WG_HANDSHAKE_CONSUMED_INITIATION);
        } else if (m == 1) {
            /* <- e, ee, se, psk */
            CHECK(clen == WG_NOISE_RESPONSE_BODY_SIZE(plen));
            CHECK(wg_noise_handshake_write_response(&hs_r, re, payload, plen, out) == 0);
            CHECK_MEM(out, ct, clen);
            CHECK(wg_noise_handshake_read_response(&hs_i, ct, clen, back) == 0);
            CHECK_MEM(back, payload, plen);
            /* The handshake hash both sides reached. */
            CHECK_MEM(hs_i.hash, hh, 32);
            CHECK_MEM(hs_r.hash, hh, 32);
            CHECK(wg_noise_handshake_begin_session(&hs_i, &kp_i, 1) == 0);
            CHECK(wg_noise_handshake_begin_session(&hs_r, &kp_r, 1) == 0);
            CHECK(kp_i.is_initiator && !kp_r.is_initiator);
            CHECK(hs_i.state == WG_HANDSHAKE_ZEROED);
        } else {
            /* Transport messages alternate, each direction counting its own nonces. */
            bool from_i = (m % 2) == 0;
            struct wg_keypair *tx = from_i ? &kp_i : &kp_r, *rx = from_i ? &kp_r : &kp_i;
            uint8_t nonce[12];
            chacha20poly1305_nonce_from_counter(nonce, from_i ? nonce_i++ : nonce_r++);
            CHECK(clen == plen + 16);
            chacha20poly1305_seal(out, payload, plen, NULL, 0, nonce, tx->send_key);
            CHECK_MEM(out, ct, clen);
            CHECK(chacha20poly1305_open(back, ct, clen, NULL, 0, nonce, rx->recv_key) == 0);
            CHECK_MEM(back, payload, plen);
        }
        free(payload);
        free(ct);
    }
    free(prologue);
    free(is);
    free(ie);
    free(irs);
    free(rs);
    free(re);
    free(hh);
    cJSON_Delete(j);
}

/* --- WireGuard handshakes ------------------------------------------------------------------- */

struct side {
    struct wg_noise_identity id;
    struct wg_noise_handshake hs; /* the one peer this side knows */
    struct wg_keypair kp;
};

static struct wg_noise_handshake *lookup_side(void *ctx, const uint8_t remote_static[32])
{
    struct side *s = ctx;
    return memcmp(s->hs.remote_static, remote_static, 32) == 0 ? &s->hs : NULL;
}

static void make_pair(struct side *a, struct side *b, const uint8_t *psk_a, const uint8_t *psk_b)
{
    uint8_t ka[32], kb[32];
    x25519_private_generate(ka);
    x25519_private_generate(kb);
    CHECK(wg_noise_identity_init(&a->id, ka) == 0);
    CHECK(wg_noise_identity_init(&b->id, kb) == 0);
    wg_noise_handshake_init(&a->hs, &a->id, b->id.public_key, psk_a);
    wg_noise_handshake_init(&b->hs, &b->id, a->id.public_key, psk_b);
    memset(&a->kp, 0, sizeof(a->kp));
    memset(&b->kp, 0, sizeof(b->kp));
}

/* Sends len bytes from tx to rx and checks they arrive. */
static void data_roundtrip(struct side *tx, struct side *rx, size_t len, uint64_t now)
{
    uint8_t plain[1500], msg[1600], back[1600];
    size_t mlen = 0, blen = 0;
    for (size_t i = 0; i < len; i++)
        plain[i] = (uint8_t)(i ^ 0x5a);
    CHECK(wg_keypair_seal(&tx->kp, plain, len, 1420, msg, sizeof(msg), &mlen, now) == 0);
    CHECK(mlen == wg_keypair_sealed_len(len, 1420));
    CHECK((mlen - 32) % 16 == 0 || (len <= 1420 && mlen - 32 == 1420));
    CHECK(mlen - 32 >= len && mlen - 32 < len + 16);
    CHECK(wg_msg_type(msg, mlen) == WG_MSG_DATA);
    CHECK(wg_get_le32(msg + 4) == rx->kp.local_index);
    CHECK(wg_keypair_open(&rx->kp, msg, mlen, back, sizeof(back), &blen, NULL, now) == 0);
    CHECK(blen >= len && blen == mlen - 32);
    CHECK(len == 0 || memcmp(back, plain, len) == 0);
    for (size_t i = len; i < blen; i++)
        CHECK(back[i] == 0);
    /* The same message again is a replay. */
    CHECK(wg_keypair_open(&rx->kp, msg, mlen, back, sizeof(back), &blen, NULL, now) == -ESTALE);
}

static int full_handshake(struct side *a, struct side *b, uint64_t now, uint64_t unix_ns)
{
    uint8_t ts[12], m1[148], m2[92];
    struct wg_noise_handshake *hs = NULL;
    wg_tai64n_from_unix_ns(ts, unix_ns);
    int ret = wg_noise_handshake_create_initiation(&a->hs, 0x1111, ts, m1);
    if (ret)
        return ret;
    CHECK(wg_msg_type(m1, sizeof(m1)) == WG_MSG_INITIATION);
    ret = wg_noise_handshake_consume_initiation(&b->id, m1, sizeof(m1), lookup_side, b, now, &hs);
    if (ret)
        return ret;
    CHECK(hs == &b->hs);
    CHECK(wg_noise_handshake_create_response(hs, 0x2222, m2) == 0);
    CHECK(wg_msg_type(m2, sizeof(m2)) == WG_MSG_RESPONSE);
    /* A response for another local index is not ours. */
    uint8_t other[92];
    memcpy(other, m2, sizeof(other));
    wg_put_le32(other + 8, 0x1112);
    CHECK(wg_noise_handshake_consume_response(&a->hs, other, sizeof(other)) == -EBADMSG);
    ret = wg_noise_handshake_consume_response(&a->hs, m2, sizeof(m2));
    if (ret)
        return ret;
    /* Out-of-order steps are refused. */
    CHECK(wg_noise_handshake_consume_response(&a->hs, m2, sizeof(m2)) == -EINVAL);
    CHECK(wg_noise_handshake_create_response(&a->hs, 3, other) == -EINVAL);
    CHECK(wg_noise_handshake_begin_session(&a->hs, &a->kp, now) == 0);
    CHECK(wg_noise_handshake_begin_session(&a->hs, &a->kp, now) == -EINVAL);
    CHECK(wg_noise_handshake_begin_session(&b->hs, &b->kp, now) == 0);
    /* The response replayed after the session began changes nothing. */
    CHECK(wg_noise_handshake_consume_response(&a->hs, m2, sizeof(m2)) == -EINVAL);
    return 0;
}

static void test_handshake(const uint8_t *psk)
{
    struct side a, b;
    make_pair(&a, &b, psk, psk);
    CHECK(full_handshake(&a, &b, 5 * SEC, 1700000000ULL * SEC) == 0);
    CHECK(a.kp.valid && b.kp.valid);
    CHECK(a.kp.is_initiator && !b.kp.is_initiator);
    CHECK(a.kp.local_index == 0x1111 && a.kp.remote_index == 0x2222);
    CHECK(b.kp.local_index == 0x2222 && b.kp.remote_index == 0x1111);
    CHECK_MEM(a.kp.send_key, b.kp.recv_key, 32);
    CHECK_MEM(a.kp.recv_key, b.kp.send_key, 32);
    CHECK(memcmp(a.kp.send_key, a.kp.recv_key, 32) != 0);
    /* Ephemeral secrets are gone after the session began. */
    uint8_t zero[32] = {0};
    CHECK_MEM(a.hs.ephemeral_private, zero, 32);
    CHECK_MEM(b.hs.ephemeral_private, zero, 32);
    CHECK_MEM(a.hs.chaining_key, zero, 32);
    static const size_t lens[] = {0, 1, 15, 16, 17, 100, 1419, 1420, 1500};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        data_roundtrip(&a, &b, lens[i], 6 * SEC);
        data_roundtrip(&b, &a, lens[i], 6 * SEC);
    }
    /* A second handshake gives different keys. */
    uint8_t old[32];
    memcpy(old, a.kp.send_key, 32);
    CHECK(full_handshake(&a, &b, 7 * SEC, 1700000001ULL * SEC) == 0);
    CHECK(memcmp(old, a.kp.send_key, 32) != 0);
    CHECK_MEM(a.kp.send_key, b.kp.recv_key, 32);
}

static void test_wrong_keys(void)
{
    uint8_t psk1[32], psk2[32];
    randombytes_buf(psk1, 32);
    randombytes_buf(psk2, 32);
    struct side a, b, c;

    /* Different PSKs: the response does not decrypt, the initiator gets no session. */
    make_pair(&a, &b, psk1, psk2);
    CHECK(full_handshake(&a, &b, SEC, 1700000000ULL * SEC) == -EBADMSG);
    CHECK(a.hs.state == WG_HANDSHAKE_CREATED_INITIATION);
    CHECK(wg_noise_handshake_begin_session(&a.hs, &a.kp, SEC) == -EINVAL);
    CHECK(!a.kp.valid);
    /* PSK on one side only. */
    make_pair(&a, &b, psk1, NULL);
    CHECK(full_handshake(&a, &b, SEC, 1700000000ULL * SEC) == -EBADMSG);
    CHECK(!a.kp.valid);

    /* The responder knows a different key for the initiator: unknown peer. */
    make_pair(&a, &b, NULL, NULL);
    make_pair(&c, &a, NULL, NULL); /* new identity for a: b's entry is now stale */
    wg_noise_handshake_init(&a.hs, &a.id, b.id.public_key, NULL);
    CHECK(full_handshake(&a, &b, SEC, 1700000000ULL * SEC) == -ENOENT);
    CHECK(!a.kp.valid && !b.kp.valid);

    /* The initiator has the wrong responder key: the static does not decrypt at b. */
    make_pair(&a, &b, NULL, NULL);
    wg_noise_handshake_init(&a.hs, &a.id, c.id.public_key, NULL);
    CHECK(full_handshake(&a, &b, SEC, 1700000000ULL * SEC) == -EBADMSG);

    /* A low-order remote key never produces a handshake. */
    uint8_t low_order[32] = {0};
    wg_noise_handshake_init(&a.hs, &a.id, low_order, NULL);
    CHECK(!a.hs.static_static_ok);
    uint8_t ts[12] = {0}, m1[148];
    CHECK(wg_noise_handshake_create_initiation(&a.hs, 1, ts, m1) == -EINVAL);

    /* Tampering with any byte of the initiation body breaks it. */
    make_pair(&a, &b, NULL, NULL);
    wg_tai64n_from_unix_ns(ts, 1700000000ULL * SEC);
    CHECK(wg_noise_handshake_create_initiation(&a.hs, 1, ts, m1) == 0);
    for (size_t off = 8; off < 116; off += 7) {
        uint8_t bad[148];
        struct wg_noise_handshake *hs;
        memcpy(bad, m1, sizeof(bad));
        bad[off] ^= 0x01;
        CHECK(wg_noise_handshake_consume_initiation(&b.id, bad, 148, lookup_side, &b, SEC, &hs) != 0);
        CHECK(b.hs.state == WG_HANDSHAKE_ZEROED);
    }
}

static void test_replay_and_flood(void)
{
    struct side a, b;
    struct wg_noise_handshake *hs;
    uint8_t ts[12], m1[148], m_old[148], m_new[148];
    make_pair(&a, &b, NULL, NULL);
    uint64_t t0 = 1700000000ULL * SEC;

    wg_tai64n_from_unix_ns(ts, t0 - SEC);
    CHECK(wg_noise_handshake_create_initiation(&a.hs, 1, ts, m_old) == 0);
    wg_tai64n_from_unix_ns(ts, t0);
    CHECK(wg_noise_handshake_create_initiation(&a.hs, 2, ts, m1) == 0);
    CHECK(wg_noise_handshake_consume_initiation(&b.id, m1, 148, lookup_side, &b, 10 * SEC, &hs) == 0);
    /* The same initiation replayed later: its timestamp is not newer. */
    CHECK(wg_noise_handshake_consume_initiation(&b.id, m1, 148, lookup_side, &b, 20 * SEC, &hs) == -ESTALE);
    CHECK(hs == NULL);
    /* An older one captured earlier. */
    CHECK(wg_noise_handshake_consume_initiation(&b.id, m_old, 148, lookup_side, &b, 30 * SEC, &hs) == -ESTALE);
    /* A newer one too soon after the last accepted: flood. */
    wg_tai64n_from_unix_ns(ts, t0 + SEC);
    CHECK(wg_noise_handshake_create_initiation(&a.hs, 3, ts, m_new) == 0);
    b.hs.last_initiation_consumption_ns = 40 * SEC;
    CHECK(wg_noise_handshake_consume_initiation(&b.id, m_new, 148, lookup_side, &b,
                                                40 * SEC + SEC / 100, &hs) == -EBUSY);
    CHECK(wg_noise_handshake_consume_initiation(&b.id, m_new, 148, lookup_side, &b,
                                                40 * SEC + SEC / 50, &hs) == 0);
    CHECK(hs == &b.hs && b.hs.remote_index == 3);

    /* b's private key changes: a's old initiations no longer decrypt; after a learns the new
     * key, handshakes work again, and the replay state survived the refresh. */
    struct wg_noise_identity b_old = b.id;
    uint8_t kb[32];
    x25519_private_generate(kb);
    CHECK(wg_noise_identity_init(&b.id, kb) == 0);
    wg_noise_handshake_refresh_identity(&b.hs);
    CHECK(b.hs.state == WG_HANDSHAKE_ZEROED && b.hs.static_static_ok);
    CHECK(memcmp(b.hs.latest_timestamp, ts, 12) == 0);
    wg_tai64n_from_unix_ns(ts, t0 + 2 * SEC);
    CHECK(wg_noise_handshake_create_initiation(&a.hs, 4, ts, m_new) == 0);
    CHECK(wg_noise_handshake_consume_initiation(&b.id, m_new, 148, lookup_side, &b, 50 * SEC, &hs) == -EBADMSG);
    wg_noise_handshake_init(&a.hs, &a.id, b.id.public_key, NULL);
    CHECK(wg_noise_handshake_create_initiation(&a.hs, 5, ts, m_new) == 0);
    CHECK(wg_noise_handshake_consume_initiation(&b.id, m_new, 148, lookup_side, &b, 50 * SEC, &hs) == 0);
    /* An initiation with the old timestamp made for the new key is still a replay. */
    wg_tai64n_from_unix_ns(ts, t0 + SEC);
    CHECK(wg_noise_handshake_create_initiation(&a.hs, 6, ts, m_new) == 0);
    CHECK(wg_noise_handshake_consume_initiation(&b.id, m_new, 148, lookup_side, &b, 60 * SEC, &hs) == -ESTALE);
    wg_noise_identity_clear(&b_old);

    /* TAI64N: big-endian seconds from 2^62 + 10, coarse nanoseconds, ordered. */
    uint8_t t1[12], t2[12];
    wg_tai64n_from_unix_ns(t1, 0);
    CHECK(t1[0] == 0x40 && t1[7] == 0x0a && t1[11] == 0);
    wg_tai64n_from_unix_ns(t1, t0 + 1000);
    wg_tai64n_from_unix_ns(t2, t0 + (1U << 24));
    CHECK(memcmp(t1, t2, 12) < 0);
    wg_tai64n_from_unix_ns(t2, t0 + 999999);
    CHECK(memcmp(t1, t2, 12) == 0); /* within one 2^24 ns step */
}

static void test_messages(void)
{
    uint8_t buf[200] = {0};
    struct wg_msg_initiation in, in2;
    struct wg_msg_response rs;
    struct wg_msg_cookie_reply cr;
    struct wg_msg_data d;
    memset(&in, 0xab, sizeof(in));
    in.sender_index = 0x01020304;
    wg_msg_initiation_write(buf, &in);
    CHECK(buf[0] == 1 && buf[1] == 0 && buf[4] == 0x04 && buf[7] == 0x01);
    CHECK(wg_msg_initiation_parse(&in2, buf, 148));
    CHECK(memcmp(&in, &in2, sizeof(in)) == 0);
    CHECK(!wg_msg_initiation_parse(&in2, buf, 147));
    CHECK(!wg_msg_initiation_parse(&in2, buf, 149));
    CHECK(wg_msg_type(buf, 148) == 1 && wg_msg_type(buf, 147) == 0);
    buf[2] = 1; /* reserved byte */
    CHECK(!wg_msg_initiation_parse(&in2, buf, 148) && wg_msg_type(buf, 148) == 0);
    buf[0] = 2;
    buf[2] = 0;
    CHECK(!wg_msg_initiation_parse(&in2, buf, 148));
    CHECK(wg_msg_response_parse(&rs, buf, 92) && !wg_msg_response_parse(&rs, buf, 93));
    buf[0] = 3;
    CHECK(wg_msg_cookie_reply_parse(&cr, buf, 64) && !wg_msg_cookie_reply_parse(&cr, buf, 63));
    buf[0] = 4;
    wg_msg_data_header_write(buf, 7, 0x0102030405060708ULL);
    CHECK(!wg_msg_data_parse(&d, buf, 31));
    CHECK(wg_msg_data_parse(&d, buf, 32) && d.ciphertext_len == 16 && d.ciphertext == buf + 16);
    CHECK(d.receiver_index == 7 && d.counter == 0x0102030405060708ULL);
    buf[0] = 5;
    CHECK(wg_msg_type(buf, 32) == 0);
    CHECK(wg_msg_type(NULL, 0) == 0);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    uint8_t psk[32];
    randombytes_buf(psk, sizeof(psk));
    test_cacophony();
    test_handshake(NULL);
    test_handshake(psk);
    test_wrong_keys();
    test_replay_and_flood();
    test_messages();
    return check_finish("test_wg_noise");
}
