/* mac1/mac2 and cookie replies: mac1 checked on both handshake messages, cookie reply round trip
 * (mac2 accepted afterwards from the same source, rejected from another), cookie and secret
 * expiry, replies bound to the last mac1 sent and to the right responder key. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "common/crypto/x25519.h"
#include "common/wg/cookie.h"
#include "common/wg/messages.h"
#include "common/wg/noise.h"
#include "tests/check.h"

#define SEC WG_NSEC_PER_SEC

static void make_initiation(struct wg_noise_handshake *hs, uint8_t out[148], uint64_t unix_s)
{
    uint8_t ts[12];
    wg_tai64n_from_unix_ns(ts, unix_s * SEC);
    CHECK(wg_noise_handshake_create_initiation(hs, 0xabcd, ts, out) == 0);
}

static void test_cookie(void)
{
    uint8_t ka[32], kb[32];
    struct wg_noise_identity a, b;
    struct wg_noise_handshake hs;
    struct wg_cookie_checker checker;
    struct wg_cookie ck;
    uint8_t m[148], reply[64];
    const uint8_t src_a[6] = {198, 18, 0, 1, 0x30, 0x39}, src_b[6] = {198, 18, 0, 1, 0x30, 0x3a};
    uint64_t now = 1000 * SEC;

    x25519_private_generate(ka);
    x25519_private_generate(kb);
    CHECK(wg_noise_identity_init(&a, ka) == 0 && wg_noise_identity_init(&b, kb) == 0);
    wg_noise_handshake_init(&hs, &a, b.public_key, NULL);
    wg_cookie_checker_init(&checker, b.public_key);
    wg_cookie_init(&ck, b.public_key);

    /* No handshake message sent yet: a reply cannot be consumed. */
    make_initiation(&hs, m, 1);
    CHECK(wg_cookie_checker_create_reply(&checker, m, sizeof(m), src_a, 6, now, reply) == 0);
    CHECK(wg_cookie_consume_reply(&ck, reply, sizeof(reply), now) == -ENOENT);

    /* mac1 only. */
    wg_cookie_add_macs(&ck, m, sizeof(m), now);
    uint8_t zero[16] = {0};
    CHECK_MEM(m + 132, zero, 16);
    CHECK(wg_cookie_checker_validate(&checker, m, 148, src_a, 6, false, now) ==
          WG_COOKIE_MAC_VALID_NO_COOKIE);
    CHECK(wg_cookie_checker_validate(&checker, m, 148, src_a, 6, true, now) ==
          WG_COOKIE_MAC_VALID_NO_COOKIE);
    m[10] ^= 1;
    CHECK(wg_cookie_checker_validate(&checker, m, 148, src_a, 6, false, now) == WG_COOKIE_MAC_INVALID);
    m[10] ^= 1;
    m[116] ^= 1; /* mac1 itself */
    CHECK(wg_cookie_checker_validate(&checker, m, 148, src_a, 6, false, now) == WG_COOKIE_MAC_INVALID);
    m[116] ^= 1;
    CHECK(wg_cookie_checker_validate(&checker, m, 147, src_a, 6, false, now) == WG_COOKIE_MAC_INVALID);
    /* mac1 for another responder key does not validate here. */
    struct wg_cookie_checker other;
    wg_cookie_checker_init(&other, a.public_key);
    CHECK(wg_cookie_checker_validate(&other, m, 148, src_a, 6, false, now) == WG_COOKIE_MAC_INVALID);

    /* Under load: cookie reply to src_a, consumed by the initiator. */
    CHECK(wg_cookie_checker_create_reply(&checker, m, sizeof(m), src_a, 6, now, reply) == 0);
    CHECK(wg_msg_type(reply, 64) == WG_MSG_COOKIE_REPLY);
    CHECK(wg_get_le32(reply + 4) == 0xabcd);
    uint8_t bad[64];
    memcpy(bad, reply, 64);
    bad[40] ^= 1;
    CHECK(wg_cookie_consume_reply(&ck, bad, 64, now) == -EBADMSG);
    CHECK(wg_cookie_consume_reply(&ck, reply, 63, now) == -EBADMSG);
    CHECK(wg_cookie_consume_reply(&ck, reply, 64, now) == 0);
    CHECK(wg_cookie_consume_reply(&ck, reply, 64, now) == -ENOENT); /* once */

    /* The next initiation carries mac2, accepted from src_a only. */
    make_initiation(&hs, m, 2);
    wg_cookie_add_macs(&ck, m, sizeof(m), now + SEC);
    CHECK(memcmp(m + 132, zero, 16) != 0);
    CHECK(wg_cookie_checker_validate(&checker, m, 148, src_a, 6, true, now + SEC) ==
          WG_COOKIE_MAC_VALID_WITH_COOKIE);
    CHECK(wg_cookie_checker_validate(&checker, m, 148, src_b, 6, true, now + SEC) ==
          WG_COOKIE_MAC_VALID_NO_COOKIE);
    /* A stale reply (to the previous mac1) is not accepted for this message. */
    CHECK(wg_cookie_consume_reply(&ck, reply, 64, now + SEC) == -EBADMSG);

    /* The response message works the same way. */
    uint8_t resp[92];
    memset(resp, 0x11, sizeof(resp));
    resp[0] = 2;
    resp[1] = resp[2] = resp[3] = 0;
    wg_cookie_add_macs(&ck, resp, sizeof(resp), now + SEC);
    CHECK(wg_cookie_checker_validate(&checker, resp, 92, src_a, 6, true, now + SEC) ==
          WG_COOKIE_MAC_VALID_WITH_COOKIE);

    /* The initiator stops using the cookie after COOKIE_SECRET_MAX_AGE - LATENCY. */
    make_initiation(&hs, m, 3);
    wg_cookie_add_macs(&ck, m, sizeof(m), now + 114 * SEC);
    CHECK(memcmp(m + 132, zero, 16) != 0);
    wg_cookie_add_macs(&ck, m, sizeof(m), now + 115 * SEC);
    CHECK_MEM(m + 132, zero, 16);

    /* The responder's secret rotates after COOKIE_SECRET_MAX_AGE: old cookies stop working. */
    make_initiation(&hs, m, 4);
    wg_cookie_add_macs(&ck, m, sizeof(m), now + 60 * SEC);
    CHECK(wg_cookie_checker_validate(&checker, m, 148, src_a, 6, true, now + 119 * SEC) ==
          WG_COOKIE_MAC_VALID_WITH_COOKIE);
    CHECK(wg_cookie_checker_validate(&checker, m, 148, src_a, 6, true, now + 121 * SEC) ==
          WG_COOKIE_MAC_VALID_NO_COOKIE);

    /* A reply made under another responder key does not decrypt. */
    make_initiation(&hs, m, 5);
    wg_cookie_add_macs(&ck, m, sizeof(m), now);
    CHECK(wg_cookie_checker_create_reply(&other, m, sizeof(m), src_a, 6, now, reply) == 0);
    CHECK(wg_cookie_consume_reply(&ck, reply, 64, now) == -EBADMSG);
    /* IPv6 sources (address + port, 18 bytes) are distinguished the same way. */
    uint8_t v6a[18] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1, [16] = 0x30, [17] = 0x39}, v6b[18];
    memcpy(v6b, v6a, sizeof(v6b));
    v6b[15] = 2;
    uint8_t m6[148], reply6[64];
    make_initiation(&hs, m6, 10);
    wg_cookie_add_macs(&ck, m6, sizeof(m6), now + 200 * SEC);
    CHECK(wg_cookie_checker_create_reply(&checker, m6, sizeof(m6), v6a, 18, now + 200 * SEC, reply6) == 0);
    CHECK(wg_cookie_consume_reply(&ck, reply6, 64, now + 200 * SEC) == 0);
    wg_cookie_add_macs(&ck, m6, sizeof(m6), now + 200 * SEC);
    CHECK(wg_cookie_checker_validate(&checker, m6, 148, v6a, 18, true, now + 200 * SEC) ==
          WG_COOKIE_MAC_VALID_WITH_COOKIE);
    CHECK(wg_cookie_checker_validate(&checker, m6, 148, v6b, 18, true, now + 200 * SEC) ==
          WG_COOKIE_MAC_VALID_NO_COOKIE);
    CHECK(wg_cookie_checker_validate(&checker, m6, 148, v6a, 17, true, now + 200 * SEC) ==
          WG_COOKIE_MAC_VALID_NO_COOKIE);

    /* Bad arguments. */
    CHECK(wg_cookie_checker_create_reply(&checker, m, 100, src_a, 6, now, reply) == -EINVAL);
    CHECK(wg_cookie_checker_create_reply(&checker, m, 148, src_a, 0, now, reply) == -EINVAL);
    CHECK(wg_cookie_checker_create_reply(&checker, m, 148, src_a, 19, now, reply) == -EINVAL);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_cookie();
    return check_finish("test_wg_cookie");
}
