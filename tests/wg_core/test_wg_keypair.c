/* Transport keypairs: seal/open in place and out of place, padding, keepalives, reordering
 * within the window, tampering, buffer limits, and the rekey / reject limits by time and by
 * message count. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "common/wg/keypair.h"
#include "common/wg/messages.h"
#include "tests/check.h"

#define SEC WG_NSEC_PER_SEC

static void pair(struct wg_keypair *a, struct wg_keypair *b, uint64_t birth)
{
    memset(a, 0, sizeof(*a));
    memset(b, 0, sizeof(*b));
    randombytes_buf(a->send_key, 32);
    randombytes_buf(a->recv_key, 32);
    memcpy(b->send_key, a->recv_key, 32);
    memcpy(b->recv_key, a->send_key, 32);
    a->local_index = b->remote_index = 7;
    a->remote_index = b->local_index = 9;
    a->birth_ns = b->birth_ns = birth;
    a->is_initiator = true;
    a->valid = b->valid = true;
    wg_replay_init(&a->replay);
    wg_replay_init(&b->replay);
}

static void test_padding(void)
{
    CHECK(wg_keypair_padded_len(0, 1420) == 0);
    CHECK(wg_keypair_padded_len(1, 1420) == 16);
    CHECK(wg_keypair_padded_len(16, 1420) == 16);
    CHECK(wg_keypair_padded_len(17, 0) == 32);
    CHECK(wg_keypair_padded_len(1419, 1420) == 1420); /* capped at the MTU */
    CHECK(wg_keypair_padded_len(1419, 0) == 1424);
    CHECK(wg_keypair_padded_len(1421, 1420) == 1424);
    CHECK(wg_keypair_sealed_len(0, 1420) == WG_MSG_DATA_MIN_SIZE);
}

static void test_seal_open(void)
{
    struct wg_keypair a, b;
    uint8_t buf[2048] = {0}, msg[2048], plain[2048] = {0};
    size_t len = 0, plen = 0;
    uint64_t ctr = 99;
    pair(&a, &b, SEC);

    /* In place: the plaintext already sits after the header. */
    for (int i = 0; i < 100; i++)
        buf[16 + i] = (uint8_t)i;
    CHECK(wg_keypair_seal(&a, buf + 16, 100, 1420, buf, sizeof(buf), &len, 2 * SEC) == 0);
    CHECK(len == 16 + 112 + 16 && wg_get_le32(buf + 4) == 9 && a.send_counter == 1);
    CHECK(wg_keypair_open(&b, buf, len, buf + 16, len - 16, &plen, &ctr, 2 * SEC) == 0);
    CHECK(plen == 112 && ctr == 0);
    for (int i = 0; i < 100; i++)
        CHECK(buf[16 + i] == (uint8_t)i);

    /* Keepalive. */
    CHECK(wg_keypair_seal(&a, NULL, 0, 1420, msg, sizeof(msg), &len, 2 * SEC) == 0);
    CHECK(len == 32);
    CHECK(wg_keypair_open(&b, msg, len, plain, sizeof(plain), &plen, &ctr, 2 * SEC) == 0);
    CHECK(plen == 0 && ctr == 1);

    /* Reordering within the window: seal 50, deliver backwards, then duplicates. */
    static uint8_t batch[50][64];
    size_t blen[50];
    for (int i = 0; i < 50; i++)
        CHECK(wg_keypair_seal(&a, (const uint8_t *)"hello", 5, 1420, batch[i], 64, &blen[i], 3 * SEC) == 0);
    for (int i = 49; i >= 0; i--)
        CHECK(wg_keypair_open(&b, batch[i], blen[i], plain, sizeof(plain), &plen, NULL, 3 * SEC) == 0);
    CHECK(wg_keypair_open(&b, batch[7], blen[7], plain, sizeof(plain), &plen, NULL, 3 * SEC) == -ESTALE);

    /* Tampering: header counter, ciphertext, tag; none moves the window. */
    CHECK(wg_keypair_seal(&a, (const uint8_t *)"x", 1, 1420, msg, sizeof(msg), &len, 3 * SEC) == 0);
    for (size_t off = 8; off < len; off++) {
        uint8_t bad[64];
        memcpy(bad, msg, len);
        bad[off] ^= 0x80;
        int ret = wg_keypair_open(&b, bad, len, plain, sizeof(plain), &plen, NULL, 3 * SEC);
        CHECK(ret == -EBADMSG || ret == -ESTALE);
    }
    CHECK(wg_keypair_open(&b, msg, len, plain, sizeof(plain), &plen, NULL, 3 * SEC) == 0);
    /* Wrong direction key. */
    CHECK(wg_keypair_seal(&a, (const uint8_t *)"x", 1, 1420, msg, sizeof(msg), &len, 3 * SEC) == 0);
    CHECK(wg_keypair_open(&a, msg, len, plain, sizeof(plain), &plen, NULL, 3 * SEC) == -EBADMSG);
    /* Buffers and malformed messages. */
    CHECK(wg_keypair_open(&b, msg, len, plain, 15, &plen, NULL, 3 * SEC) == -ENOBUFS);
    CHECK(wg_keypair_open(&b, msg, 31, plain, sizeof(plain), &plen, NULL, 3 * SEC) == -EBADMSG);
    CHECK(wg_keypair_seal(&a, plain, 100, 1420, msg, 16 + 112 + 15, &len, 3 * SEC) == -ENOBUFS);
    CHECK(wg_keypair_seal(&a, plain, WG_MAX_PLAINTEXT_SIZE + 1, 0, msg, sizeof(msg), &len, 3 * SEC) == -EINVAL);
    wg_keypair_clear(&a);
    CHECK(!a.valid);
    CHECK(wg_keypair_seal(&a, plain, 1, 1420, msg, sizeof(msg), &len, 3 * SEC) == -EINVAL);
    wg_keypair_clear(NULL);
}

static void test_limits(void)
{
    struct wg_keypair a, b;
    uint8_t msg[64], plain[64] = {0};
    size_t len = 0, plen = 0;
    uint64_t birth = 10 * SEC;
    pair(&a, &b, birth);

    /* By time. */
    CHECK(!wg_keypair_needs_rekey_on_send(&a, birth + 119 * SEC));
    CHECK(wg_keypair_needs_rekey_on_send(&a, birth + 120 * SEC));
    CHECK(!wg_keypair_needs_rekey_on_send(&b, birth + 150 * SEC)); /* responder never by time */
    CHECK(!wg_keypair_needs_rekey_on_recv(&a, birth + 164 * SEC));
    CHECK(wg_keypair_needs_rekey_on_recv(&a, birth + 165 * SEC));
    CHECK(!wg_keypair_needs_rekey_on_recv(&b, birth + 170 * SEC));
    CHECK(!wg_keypair_is_expired(&a, birth + 179 * SEC));
    CHECK(wg_keypair_is_expired(&a, birth + 180 * SEC));
    CHECK(wg_keypair_seal(&a, plain, 1, 1420, msg, sizeof(msg), &len, birth + 179 * SEC) == 0);
    CHECK(wg_keypair_open(&b, msg, len, plain, sizeof(plain), &plen, NULL, birth + 180 * SEC) == -EKEYEXPIRED);
    CHECK(wg_keypair_open(&b, msg, len, plain, sizeof(plain), &plen, NULL, birth + 179 * SEC) == 0);
    CHECK(wg_keypair_seal(&a, plain, 1, 1420, msg, sizeof(msg), &len, birth + 180 * SEC) == -EKEYEXPIRED);

    /* By messages. */
    pair(&a, &b, birth);
    a.send_counter = WG_REKEY_AFTER_MESSAGES;
    CHECK(!wg_keypair_needs_rekey_on_send(&a, birth));
    CHECK(wg_keypair_seal(&a, plain, 1, 1420, msg, sizeof(msg), &len, birth) == 0);
    CHECK(wg_keypair_needs_rekey_on_send(&a, birth));
    CHECK(wg_keypair_open(&b, msg, len, plain, sizeof(plain), &plen, NULL, birth) == 0);
    a.send_counter = WG_REJECT_AFTER_MESSAGES - 1;
    CHECK(!wg_keypair_is_expired(&a, birth));
    CHECK(wg_keypair_seal(&a, plain, 1, 1420, msg, sizeof(msg), &len, birth) == 0);
    CHECK(wg_keypair_is_expired(&a, birth));
    uint64_t ctr = 0;
    CHECK(wg_keypair_open(&b, msg, len, plain, sizeof(plain), &plen, &ctr, birth) == 0);
    CHECK(ctr == WG_REJECT_AFTER_MESSAGES - 1);
    CHECK(wg_keypair_seal(&a, plain, 1, 1420, msg, sizeof(msg), &len, birth) == -EKEYEXPIRED);
    /* The receiver reached the limit too: the keypair is dead for receiving. */
    CHECK(wg_keypair_open(&b, msg, len, plain, sizeof(plain), &plen, NULL, birth) == -EKEYEXPIRED);
    /* A counter at the limit is never accepted, even before decryption. */
    pair(&a, &b, birth);
    CHECK(wg_keypair_seal(&a, plain, 1, 1420, msg, sizeof(msg), &len, birth) == 0);
    wg_msg_data_header_write(msg, 9, WG_REJECT_AFTER_MESSAGES);
    CHECK(wg_keypair_open(&b, msg, len, plain, sizeof(plain), &plen, NULL, birth) == -ESTALE);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_padding();
    test_seal_open();
    test_limits();
    return check_finish("test_wg_keypair");
}
