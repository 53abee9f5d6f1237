/* Machine request signatures: round trip, tampering with every signed field, the timestamp
 * window, header parsing (strict) and format/parse round trips with random keys. */
#include "common/ctl/ctl_auth.h"
#include "tests/check.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>

static const char body[] = "{\"os_version\":\"12\",\"firewall\":\"on\"}";

static void test_round_trip(void)
{
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    struct ctl_auth a, b;
    CHECK(ctl_auth_sign(&a, sk, "POST", "/api/machine-heartbeat", (const uint8_t *)body,
                        strlen(body), 1700000000) == 0);
    CHECK_MEM(a.machine_key, pk, 32);
    char hdr[CTL_AUTH_HEADER_MAX + 1];
    int n = ctl_auth_header_format(&a, hdr, sizeof(hdr));
    CHECK(n > 0 && (size_t)n == strlen(hdr));
    CHECK(strncmp(hdr, "ZTNA-Ed25519 key=", 17) == 0);
    CHECK(ctl_auth_header_parse(hdr, (size_t)n, &b));
    CHECK(memcmp(&a, &b, sizeof(a)) == 0);
    CHECK(ctl_auth_verify(&b, "POST", "/api/machine-heartbeat", (const uint8_t *)body,
                          strlen(body), 1700000000, 60) == 0);
    /* Window edges: exactly 60 s either way is accepted, 61 s is not. */
    CHECK(ctl_auth_verify(&b, "POST", "/api/machine-heartbeat", (const uint8_t *)body,
                          strlen(body), 1700000060, 60) == 0);
    CHECK(ctl_auth_verify(&b, "POST", "/api/machine-heartbeat", (const uint8_t *)body,
                          strlen(body), 1699999940, 60) == 0);
    CHECK(ctl_auth_verify(&b, "POST", "/api/machine-heartbeat", (const uint8_t *)body,
                          strlen(body), 1700000061, 60) == -ETIME);
    CHECK(ctl_auth_verify(&b, "POST", "/api/machine-heartbeat", (const uint8_t *)body,
                          strlen(body), 1699999939, 60) == -ETIME);
    /* Two signatures of the same request differ by their nonce. */
    struct ctl_auth c;
    CHECK(ctl_auth_sign(&c, sk, "POST", "/api/machine-heartbeat", (const uint8_t *)body,
                        strlen(body), 1700000000) == 0);
    CHECK(memcmp(c.nonce, a.nonce, sizeof(a.nonce)) != 0);
}

static void test_tampering(void)
{
    uint8_t pk[32], sk[64], pk2[32], sk2[64];
    crypto_sign_keypair(pk, sk);
    crypto_sign_keypair(pk2, sk2);
    const uint8_t *bd = (const uint8_t *)body;
    size_t bl = strlen(body);
    struct ctl_auth a, t;
    CHECK(ctl_auth_sign(&a, sk, "POST", "/api/machine-heartbeat", bd, bl, 1000) == 0);
    CHECK(ctl_auth_verify(&a, "POST", "/api/machine-heartbeat", bd, bl, 1000, 60) == 0);
    /* Method, path, query, body each changed. */
    CHECK(ctl_auth_verify(&a, "PUT", "/api/machine-heartbeat", bd, bl, 1000, 60) == -EBADMSG);
    CHECK(ctl_auth_verify(&a, "POST", "/api/machine-heartbeaT", bd, bl, 1000, 60) == -EBADMSG);
    CHECK(ctl_auth_verify(&a, "POST", "/api/machine-heartbeat?x=1", bd, bl, 1000, 60) == -EBADMSG);
    CHECK(ctl_auth_verify(&a, "POST", "/api/machine-heartbeat", bd, bl - 1, 1000, 60) == -EBADMSG);
    CHECK(ctl_auth_verify(&a, "POST", "/api/machine-heartbeat", NULL, 0, 1000, 60) == -EBADMSG);
    uint8_t copy[sizeof(body)];
    memcpy(copy, body, sizeof(body));
    copy[5] ^= 1;
    CHECK(ctl_auth_verify(&a, "POST", "/api/machine-heartbeat", copy, bl, 1000, 60) == -EBADMSG);
    /* Timestamp moved within the window: the signature covers it. */
    t = a;
    t.timestamp++;
    CHECK(ctl_auth_verify(&t, "POST", "/api/machine-heartbeat", bd, bl, 1000, 60) == -EBADMSG);
    /* A fresh nonce on an old signature (replaying with a new nonce) does not verify. */
    t = a;
    t.nonce[0] ^= 0x80;
    CHECK(ctl_auth_verify(&t, "POST", "/api/machine-heartbeat", bd, bl, 1000, 60) == -EBADMSG);
    /* Every signature bit matters. */
    int bad = 0;
    for (int bit = 0; bit < 512; bit++) {
        t = a;
        t.signature[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        bad += ctl_auth_verify(&t, "POST", "/api/machine-heartbeat", bd, bl, 1000, 60) == -EBADMSG;
    }
    CHECK(bad == 512);
    /* Another machine's key claimed with this signature. */
    t = a;
    memcpy(t.machine_key, pk2, 32);
    CHECK(ctl_auth_verify(&t, "POST", "/api/machine-heartbeat", bd, bl, 1000, 60) == -EBADMSG);
    /* A stale replay of a valid request is outside the window. */
    CHECK(ctl_auth_verify(&a, "POST", "/api/machine-heartbeat", bd, bl, 1000 + 3600, 60) == -ETIME);
    /* Bad inputs. */
    CHECK(ctl_auth_verify(&a, "POST", "/api/x\ny", bd, bl, 1000, 60) == -EINVAL);
    CHECK(ctl_auth_verify(&a, "", "/api/x", bd, bl, 1000, 60) == -EINVAL);
    CHECK(ctl_auth_sign(&t, sk, "POST", "/a b", bd, bl, 1000) == -EINVAL);
    char *longpath = malloc(CTL_AUTH_PATH_MAX + 2);
    memset(longpath, 'a', CTL_AUTH_PATH_MAX + 1);
    longpath[0] = '/';
    longpath[CTL_AUTH_PATH_MAX + 1] = 0;
    CHECK(ctl_auth_sign(&t, sk, "GET", longpath, NULL, 0, 1000) == -EINVAL);
    free(longpath);
}

static void test_canonical(void)
{
    uint8_t nonce[16];
    for (int i = 0; i < 16; i++)
        nonce[i] = (uint8_t)i;
    char out[512];
    int n = ctl_auth_canonical(out, sizeof(out), "GET", "/api/x?y=1", 42, nonce, NULL, 0);
    const char *want = "ZTNA-MACHINE-AUTH-V1\nGET\n/api/x?y=1\n42\n000102030405060708090a0b0c0d0e0f\n"
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n";
    CHECK(n == (int)strlen(want) && strcmp(out, want) == 0);
    CHECK(ctl_auth_canonical(out, 40, "GET", "/api/x", 42, nonce, NULL, 0) == -ENOSPC);
}

static void test_header_parse(void)
{
    const char *good = "ZTNA-Ed25519 key=" "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
                       ",ts=1700000000,nonce=000102030405060708090a0b0c0d0e0f,sig="
                       "00000000000000000000000000000000000000000000000000000000000000000"
                       "000000000000000000000000000000000000000000000000000000000000000";
    struct ctl_auth a;
    CHECK(ctl_auth_header_parse(good, strlen(good), &a));
    CHECK(a.timestamp == 1700000000 && a.machine_key[1] == 0x11 && a.nonce[15] == 0x0f);
    char buf[600];
    /* One space after a comma is tolerated, upper-case hex too, and the scheme case-insensitive. */
    snprintf(buf, sizeof(buf), "%s", good);
    char *c = strstr(buf, ",ts=");
    memmove(c + 2, c + 1, strlen(c + 1) + 1);
    c[1] = ' ';
    CHECK(ctl_auth_header_parse(buf, strlen(buf), &a));
    buf[0] = 'z';
    buf[20] = 'A';
    CHECK(ctl_auth_header_parse(buf, strlen(buf), &a));
    /* Rejections: truncated anywhere, extra bytes, wrong order, bad digit, two spaces, sign. */
    size_t gl = strlen(good);
    int rejected = 0;
    for (size_t cut = 0; cut < gl; cut++)
        rejected += !ctl_auth_header_parse(good, cut, &a);
    CHECK(rejected == (int)gl);
    snprintf(buf, sizeof(buf), "%s,", good);
    CHECK(!ctl_auth_header_parse(buf, strlen(buf), &a));
    snprintf(buf, sizeof(buf), "%s", good);
    buf[30] = 'g';
    CHECK(!ctl_auth_header_parse(buf, strlen(buf), &a));
    const char *cases[] = {
        "Bearer abc",
        "ZTNA-Ed25519  key=00",
        "ZTNA-Ed25519 ts=1,key=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        "ZTNA-Ed25519 key=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff,ts=-1",
        "ZTNA-Ed25519 key=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff,ts=01",
        "ZTNA-Ed25519 key=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff,ts=1234567890123",
        "ZTNA-Ed25519 key=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff,  ts=1",
        "",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK(!ctl_auth_header_parse(cases[i], strlen(cases[i]), &a));
    /* The parsed struct is zeroed on failure, so a caller cannot use half a header. */
    uint8_t zero[sizeof(a)] = {0};
    CHECK(memcmp(&a, zero, sizeof(a)) == 0);
    /* Random structs round-trip through format and parse. */
    for (int i = 0; i < 200; i++) {
        struct ctl_auth r, back;
        randombytes_buf(&r, sizeof(r));
        r.timestamp = (int64_t)(randombytes_random() % 4000000000u);
        char hdr[CTL_AUTH_HEADER_MAX + 1];
        int n = ctl_auth_header_format(&r, hdr, sizeof(hdr));
        CHECK(n > 0 && ctl_auth_header_parse(hdr, (size_t)n, &back));
        CHECK(memcmp(&r, &back, sizeof(r)) == 0);
    }
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_round_trip();
    test_tampering();
    test_canonical();
    test_header_parse();
    return check_finish("test_ctl_auth");
}
