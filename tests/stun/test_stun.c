/* STUN codec: RFC 5769 sample responses (IPv4, IPv6; with SOFTWARE, MESSAGE-INTEGRITY and
 * FINGERPRINT), build/parse round trips, the strict length rules (every truncation, every bit
 * flip of a fingerprinted message is refused), MAPPED-ADDRESS fallback, and HOST:PORT parsing. */
#include "common/stun/stun.h"

#include <errno.h>
#include <stdlib.h>
#include <arpa/inet.h>

#include "tests/check.h"

/* RFC 5769 section 2.2: sample IPv4 response (192.0.2.1:32853). */
static const uint8_t rfc5769_v4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
    0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};
/* RFC 5769 section 2.3: sample IPv6 response ([2001:db8:1234:5678:11:2233:4455:6677]:32853). */
static const uint8_t rfc5769_v6[] = {
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
    0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14,
    0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75,
    0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
};
static const uint8_t rfc_txid[12] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
                                     0xfa, 0x87, 0xdf, 0xae};

static const char *fmt(const struct sockaddr_storage *ss)
{
    static char buf[64];
    return stun_addr_format((const struct sockaddr *)ss, buf, sizeof(buf));
}

static void test_vectors(void)
{
    struct stun_msg m;

    CHECK(stun_crc32((const uint8_t *)"123456789", 9) == 0xCBF43926u);
    CHECK(stun_msg_parse(rfc5769_v4, sizeof(rfc5769_v4), &m));
    CHECK(m.type == STUN_BINDING_SUCCESS && m.has_mapped && m.mapped_xor && m.has_fingerprint);
    CHECK(m.unknown_required); /* MESSAGE-INTEGRITY is comprehension-required, not ours */
    CHECK_MEM(m.txid, rfc_txid, 12);
    CHECK(strcmp(fmt(&m.mapped), "192.0.2.1:32853") == 0);
    CHECK(stun_msg_parse(rfc5769_v6, sizeof(rfc5769_v6), &m));
    CHECK(m.has_mapped && m.mapped_xor && m.has_fingerprint);
    CHECK(strcmp(fmt(&m.mapped), "[2001:db8:1234:5678:11:2233:4455:6677]:32853") == 0);
}

/* Every truncation and extension of a message is refused; every single-bit flip of a
 * fingerprinted message is refused or (a flip in FINGERPRINT's type) loses the fingerprint. */
static void test_strict(const uint8_t *msg, size_t len)
{
    uint8_t buf[STUN_MAX_MSG + 4];
    struct stun_msg m;
    int accepted = 0;

    for (size_t l = 0; l < len; l++)
        accepted += stun_msg_parse(msg, l, &m);
    memcpy(buf, msg, len);
    buf[len] = 0;
    accepted += stun_msg_parse(buf, len + 1, &m);
    for (size_t i = 0; i < len * 8; i++) {
        memcpy(buf, msg, len);
        buf[i / 8] ^= (uint8_t)(1u << (i % 8));
        accepted += stun_msg_parse(buf, len, &m) && m.has_fingerprint;
    }
    CHECK(accepted == 0);
}

static void test_roundtrip(void)
{
    uint8_t txid[12], buf[STUN_MAX_MSG];
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(51820)};
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(3478)};
    struct stun_msg m;
    size_t n;

    for (int i = 0; i < 12; i++)
        txid[i] = (uint8_t)(0xa0 + i);
    for (int fp = 0; fp < 2; fp++) {
        n = stun_binding_request_build(buf, sizeof(buf), txid, fp);
        CHECK(n == (size_t)(fp ? 28 : 20));
        CHECK(stun_msg_parse(buf, n, &m) && m.type == STUN_BINDING_REQUEST && !m.has_mapped);
        CHECK(m.has_fingerprint == (bool)fp && !m.unknown_required);
        CHECK_MEM(m.txid, txid, 12);
        if (fp)
            test_strict(buf, n);
    }
    CHECK(stun_binding_request_build(buf, 27, txid, true) == 0);

    inet_pton(AF_INET, "198.18.0.2", &sin.sin_addr);
    for (int legacy = 0; legacy < 2; legacy++) {
        n = stun_binding_response_build(buf, sizeof(buf), txid, (struct sockaddr *)&sin, legacy, true);
        CHECK(n == (size_t)(20 + 12 + (legacy ? 12 : 0) + 8));
        CHECK(stun_msg_parse(buf, n, &m) && m.type == STUN_BINDING_SUCCESS && m.mapped_xor);
        CHECK(strcmp(fmt(&m.mapped), "198.18.0.2:51820") == 0);
        test_strict(buf, n);
    }
    inet_pton(AF_INET6, "2001:db8::42", &sin6.sin6_addr);
    n = stun_binding_response_build(buf, sizeof(buf), txid, (struct sockaddr *)&sin6, false, false);
    CHECK(n == 20 + 24 && stun_msg_parse(buf, n, &m) && !m.has_fingerprint);
    CHECK(strcmp(fmt(&m.mapped), "[2001:db8::42]:3478") == 0);
    /* A v4-mapped IPv6 sender (dual-stack socket) is answered as IPv4. */
    inet_pton(AF_INET6, "::ffff:198.18.0.9", &sin6.sin6_addr);
    n = stun_binding_response_build(buf, sizeof(buf), txid, (struct sockaddr *)&sin6, false, false);
    CHECK(n == 32 && stun_msg_parse(buf, n, &m));
    CHECK(strcmp(fmt(&m.mapped), "198.18.0.9:3478") == 0);
    CHECK(stun_binding_response_build(buf, 40, txid, (struct sockaddr *)&sin6, true, true) == 0);
    sin6.sin6_family = AF_UNIX;
    CHECK(stun_binding_response_build(buf, sizeof(buf), txid, (struct sockaddr *)&sin6, 0, 0) == 0);
}

/* Hand-made messages: MAPPED-ADDRESS alone, XOR wins over plain, bad attributes. */
static void test_handmade(void)
{
    uint8_t b[64] = {0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                     11, 12, /* MAPPED-ADDRESS 198.18.0.7:9 */
                     0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x00, 0x09, 198, 18, 0, 7};
    struct stun_msg m;

    CHECK(stun_msg_parse(b, 32, &m) && m.has_mapped && !m.mapped_xor);
    CHECK(strcmp(fmt(&m.mapped), "198.18.0.7:9") == 0);
    b[25] = 3; /* unknown family */
    CHECK(!stun_msg_parse(b, 32, &m));
    b[25] = 2; /* IPv6 family with an IPv4-sized value */
    CHECK(!stun_msg_parse(b, 32, &m));
    b[25] = 1;
    b[3] = 0x0d; /* length not a multiple of 4 */
    CHECK(!stun_msg_parse(b, 33, &m));
    b[3] = 0x0c;
    b[0] = 0x41; /* top bits set */
    CHECK(!stun_msg_parse(b, 32, &m));
    b[0] = 0x01;
    b[4] = 0x22; /* wrong cookie (RFC 3489 message) */
    CHECK(!stun_msg_parse(b, 32, &m));
    b[4] = 0x21;
    /* Attribute overruns the message. */
    b[23] = 0x0c;
    CHECK(!stun_msg_parse(b, 32, &m));
    b[23] = 0x08;
    /* An unknown optional attribute (0x8023) with a 1-byte value padded to 4: fine. */
    memcpy(b + 32, (uint8_t[]){0x80, 0x23, 0x00, 0x01, 0xee, 0, 0, 0}, 8);
    b[3] = 0x14;
    CHECK(stun_msg_parse(b, 40, &m) && !m.unknown_required && m.has_mapped);
    /* The same attribute without its padding. */
    b[3] = 0x11;
    CHECK(!stun_msg_parse(b, 37, &m));
    /* Too many attributes: bounded work. */
    uint8_t many[20 + 4 * (STUN_MAX_ATTRS + 1)];
    memcpy(many, b, 20);
    for (int i = 0; i <= STUN_MAX_ATTRS; i++)
        memcpy(many + 20 + 4 * i, (uint8_t[]){0x80, 0x30, 0, 0}, 4);
    many[2] = 0;
    many[3] = (uint8_t)(4 * (STUN_MAX_ATTRS + 1));
    CHECK(!stun_msg_parse(many, sizeof(many), &m));
    CHECK(stun_msg_parse(many, sizeof(many) - 4, &m) == false); /* length field disagrees */
    many[3] = (uint8_t)(4 * STUN_MAX_ATTRS);
    CHECK(stun_msg_parse(many, sizeof(many) - 4, &m));
}

/* The responder's decision: requests answered (FINGERPRINT mirrored), everything else not. */
static void test_answer(void)
{
    uint8_t txid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, req[64], out[STUN_MAX_MSG];
    struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons(40000)};
    struct stun_msg m;
    size_t n, rl;

    inet_pton(AF_INET, "198.18.0.2", &from.sin_addr);
    for (int fp = 0; fp < 2; fp++) {
        rl = stun_binding_request_build(req, sizeof(req), txid, fp);
        n = stun_binding_answer(req, rl, (struct sockaddr *)&from, out, sizeof(out));
        CHECK(n > 0 && stun_msg_parse(out, n, &m) && m.type == STUN_BINDING_SUCCESS);
        CHECK(m.has_fingerprint == (bool)fp && m.mapped_xor && !memcmp(m.txid, txid, 12));
        CHECK(strcmp(fmt(&m.mapped), "198.18.0.2:40000") == 0);
        /* The answer itself (a response) is not answered. */
        CHECK(stun_binding_answer(out, n, (struct sockaddr *)&from, req, sizeof(req)) == 0);
    }
    CHECK(stun_binding_answer(rfc5769_v4, sizeof(rfc5769_v4), (struct sockaddr *)&from, out,
                              sizeof(out)) == 0);
    rl = stun_binding_request_build(req, sizeof(req), txid, false);
    memcpy(req + rl, (uint8_t[]){0x00, 0x33, 0x00, 0x00}, 4); /* unknown required attribute */
    req[3] = 4;
    CHECK(stun_msg_parse(req, rl + 4, &m) && m.unknown_required);
    CHECK(stun_binding_answer(req, rl + 4, (struct sockaddr *)&from, out, sizeof(out)) == 0);
    req[0] = 0x00, req[1] = 0x11; /* an indication */
    req[3] = 0;
    CHECK(stun_binding_answer(req, rl, (struct sockaddr *)&from, out, sizeof(out)) == 0);
    CHECK(stun_binding_answer(req, 3, (struct sockaddr *)&from, out, sizeof(out)) == 0);
}

static void test_hostport(void)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    char err[128];

    CHECK(stun_hostport_resolve("127.0.0.1:3478", 1, &ss, &sl, err, sizeof(err)) == 0);
    CHECK(strcmp(fmt(&ss), "127.0.0.1:3478") == 0 && sl == sizeof(struct sockaddr_in));
    CHECK(stun_hostport_resolve("198.18.0.1", 3478, &ss, &sl, err, sizeof(err)) == 0);
    CHECK(strcmp(fmt(&ss), "198.18.0.1:3478") == 0);
    CHECK(stun_hostport_resolve("[::1]:99", 1, &ss, &sl, err, sizeof(err)) == 0);
    CHECK(strcmp(fmt(&ss), "[::1]:99") == 0);
    CHECK(stun_hostport_resolve("::1", 7, &ss, &sl, err, sizeof(err)) == 0);
    CHECK(strcmp(fmt(&ss), "[::1]:7") == 0);
    CHECK(stun_hostport_resolve("127.0.0.1:0", 1, &ss, &sl, err, sizeof(err)) == -EINVAL);
    CHECK(strstr(err, "bad port") != NULL);
    CHECK(stun_hostport_resolve("127.0.0.1:65536", 1, &ss, &sl, err, sizeof(err)) == -EINVAL);
    CHECK(stun_hostport_resolve("127.0.0.1:", 1, &ss, &sl, err, sizeof(err)) == -EINVAL);
    CHECK(stun_hostport_resolve("[::1", 1, &ss, &sl, err, sizeof(err)) == -EINVAL);
    CHECK(stun_hostport_resolve(":80", 1, &ss, &sl, err, sizeof(err)) == -EINVAL);
    CHECK(stun_hostport_resolve("no-such-host.invalid:80", 1, &ss, &sl, err, sizeof(err)) == -ENOENT);
    CHECK(strstr(err, "cannot resolve 'no-such-host.invalid'") != NULL);
}

int main(void)
{
    test_vectors();
    test_strict(rfc5769_v4, sizeof(rfc5769_v4));
    test_strict(rfc5769_v6, sizeof(rfc5769_v6));
    test_roundtrip();
    test_handmade();
    test_answer();
    test_hostport();
    return check_finish("test_stun");
}
