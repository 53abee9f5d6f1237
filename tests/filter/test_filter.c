/* Compiled filter: index vs a naive linear scan on random filters, JSON round trip, matcher
 * verdicts for v4/v6 TCP/UDP/ICMP, conntrack replies, table bound and expiry, malformed input. */
#include "common/filter/filter.h"
#include "common/filter/filter_limits.h"
#include "common/filter/matcher.h"
#include "tests/check.h"
#include "tests/filter/pkt_build.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>

static uint64_t rs = 88172645463325252ULL;
static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

static bool naive_allows(const struct filter_entry *e, size_t n, int fam, const uint8_t *a,
                         uint8_t proto, uint16_t port)
{
    for (size_t i = 0; i < n; i++) {
        if (e[i].family != fam)
            continue;
        bool pm = e[i].proto == FILTER_PROTO_ANY ||
                  (e[i].proto == FILTER_PROTO_ICMP && proto == (fam == 4 ? 1 : 58)) ||
                  ((proto == 6 || proto == 17) && e[i].proto == proto);
        if (!pm)
            continue;
        unsigned bits = e[i].plen, k;
        for (k = 0; k < bits; k++)
            if (((e[i].addr[k / 8] ^ a[k / 8]) >> (7 - k % 8)) & 1)
                break;
        if (k < bits)
            continue;
        if (proto != 6 && proto != 17)
            return true;
        if (e[i].port_lo <= port && port <= e[i].port_hi)
            return true;
    }
    return false;
}

static void rand_addr(int fam, uint8_t *a)
{
    memset(a, 0, 16);
    /* a small space so prefixes overlap and queries hit them */
    if (fam == 4) {
        a[0] = 100; a[1] = 64; a[2] = (uint8_t)(rnd() % 4); a[3] = (uint8_t)rnd();
    } else {
        a[0] = 0xfd; a[1] = 0x7a; a[14] = (uint8_t)(rnd() % 4); a[15] = (uint8_t)rnd();
        if (rnd() % 8 == 0)
            a[3] = (uint8_t)rnd();
    }
}

static void test_random_vs_naive(void)
{
    static const uint8_t protos[] = {FILTER_PROTO_ANY, FILTER_PROTO_TCP, FILTER_PROTO_UDP,
                                     FILTER_PROTO_ICMP};
    static const uint8_t qprotos[] = {6, 17, 1, 58, 47};
    for (int round = 0; round < 60; round++) {
        size_t n = rnd() % (round < 5 ? 3 : 300);
        struct filter_entry *e = calloc(n + 1, sizeof(*e));
        for (size_t i = 0; i < n; i++) {
            e[i].family = rnd() % 3 ? 4 : 6;
            rand_addr(e[i].family, e[i].addr);
            unsigned max = e[i].family == 4 ? 32 : 128;
            unsigned r = (unsigned)(rnd() % 10);
            e[i].plen = (uint8_t)(r < 6 ? max : r < 9 ? max - rnd() % 12 : rnd() % (max + 1));
            e[i].proto = protos[rnd() % 4];
            e[i].port_lo = (uint16_t)(rnd() % 1000);
            e[i].port_hi = (uint16_t)(e[i].port_lo + rnd() % (rnd() % 4 ? 3 : 800));
            if (rnd() % 20 == 0) {
                e[i].port_lo = 0;
                e[i].port_hi = 65535;
            }
        }
        struct filter *f;
        CHECK(filter_build(&f, e, n) == 0);
        for (int q = 0; q < 3000; q++) {
            int fam = rnd() % 3 ? 4 : 6;
            uint8_t a[16];
            rand_addr(fam, a);
            uint8_t proto = qprotos[rnd() % 5];
            uint16_t port = (uint16_t)(rnd() % 1100);
            bool want = naive_allows(e, n, fam, a, proto, port);
            bool got = filter_allows(f, fam, a, proto, port);
            if (want != got) {
                fprintf(stderr, "round %d query %d fam %d proto %u port %u: want %d got %d\n",
                        round, q, fam, proto, port, want, got);
                CHECK(want == got);
                q = 3000;
            }
        }
        /* JSON round trip gives an equivalent filter */
        char *js;
        struct filter_entry *back;
        size_t nb;
        CHECK(filter_json_write(e, n, &js) == 0);
        CHECK(filter_json_parse(js, &back, &nb) == 0);
        CHECK(nb == n);
        size_t nn;
        const struct filter_entry *norm = filter_entries(f, &nn);
        for (size_t i = 0; i < n && nb == n; i++) {
            CHECK(back[i].family == e[i].family && back[i].plen == e[i].plen);
            CHECK(back[i].proto == e[i].proto && back[i].port_lo == e[i].port_lo);
            CHECK(memcmp(back[i].addr, e[i].addr, 16) == 0);
            CHECK(nn == n && norm[i].plen == e[i].plen);
        }
        free(js);
        free(back);
        filter_free(f);
        free(e);
    }
    /* the exact text (the agent parses any JSON, but the server's cached text is compared) */
    struct filter_entry ex[4] = {
        {.family = 4, .plen = 32, .proto = FILTER_PROTO_TCP, .addr = {100, 64, 0, 1},
         .port_lo = 22, .port_hi = 22},
        {.family = 4, .plen = 0, .proto = FILTER_PROTO_ANY, .port_lo = 0, .port_hi = 65535},
        {.family = 6, .plen = 128, .proto = FILTER_PROTO_UDP,
         .addr = {0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0, [12] = 0x64, 0x40, 0, 5},
         .port_lo = 53, .port_hi = 53},
        {.family = 4, .plen = 32, .proto = FILTER_PROTO_ICMP, .addr = {255, 255, 255, 255}},
    };
    char *text, one[64];
    CHECK(filter_json_write(ex, 4, &text) == 0);
    CHECK(!strcmp(text, "{\"entries\":[\"tcp 100.64.0.1/32 22-22\",\"any 0.0.0.0/0 0-65535\","
                        "\"udp fd7a:115c:a1e0::6440:5/128 53-53\",\"icmp 255.255.255.255/32 0-0\"]}"));
    free(text);
    CHECK(filter_json_write(ex, 0, &text) == 0 && !strcmp(text, "{\"entries\":[]}"));
    free(text);
    CHECK(filter_entry_format(&ex[2], one, sizeof(one)) == 0 &&
          !strcmp(one, "udp fd7a:115c:a1e0::6440:5/128 53-53"));
    CHECK(filter_entry_format(&ex[0], one, 23) == -ENOSPC); /* 23 characters and the NUL */
    CHECK(filter_entry_format(&ex[0], one, 24) == 0);
    struct filter_entry fam0 = {.family = 0};
    CHECK(filter_entry_format(&fam0, one, sizeof(one)) == -EINVAL);
    CHECK(filter_json_write(&fam0, 1, &text) == -EINVAL && text == NULL);
    struct filter *f = NULL;
    struct filter_entry bad = {.family = 4, .plen = 33};
    CHECK(filter_build(&f, &bad, 1) == -EINVAL && f == NULL);
    bad = (struct filter_entry){.family = 4, .plen = 8, .port_lo = 10, .port_hi = 9};
    CHECK(filter_build(&f, &bad, 1) == -EINVAL);
    struct filter_entry pe;
    CHECK(filter_entry_parse("tcp 100.64.0.1/32 22", &pe) == 0 && pe.port_hi == 22);
    CHECK(filter_entry_parse("tcp 100.64.0.1/33 22", &pe) != 0);
    CHECK(filter_entry_parse("sctp 100.64.0.1/32 22", &pe) != 0);
    CHECK(filter_entry_parse("udp fd7a::1/128 90-80", &pe) != 0);
    CHECK(filter_entry_parse("any ::/0 0-65535", &pe) == 0 && pe.family == 6 && pe.plen == 0);
    struct filter_entry *pj;
    size_t pn;
    CHECK(filter_json_parse("{\"entries\":[\"tcp 1.2.3.4/32 x\"]}", &pj, &pn) == -EINVAL);
    CHECK(filter_json_parse("[1,2", &pj, &pn) == -EINVAL);
}

static void test_matcher(void)
{
    struct filter_entry e[4];
    CHECK(filter_entry_parse("tcp 100.64.0.2/32 22", &e[0]) == 0);
    CHECK(filter_entry_parse("udp 100.64.1.0/24 53", &e[1]) == 0);
    CHECK(filter_entry_parse("icmp 100.64.0.3/32 0-65535", &e[2]) == 0);
    CHECK(filter_entry_parse("tcp fd7a::2/128 443", &e[3]) == 0);
    struct filter *f;
    CHECK(filter_build(&f, e, 4) == 0);
    struct filter_matcher *m;
    CHECK(filter_matcher_new(&m, 8) == 0);
    uint8_t b[128];
    size_t n;
    const char *me = "100.64.0.1", *me6 = "fd7a::1";
    /* no filter set: everything denied */
    n = pkt4(b, "100.64.0.2", me, 6, 40000, 22);
    CHECK(filter_matcher_inbound(m, b, n, 1000) == FILTER_DENY);
    filter_matcher_set_filter(m, f);
    CHECK(filter_matcher_inbound(m, b, n, 1000) == FILTER_ACCEPT_RULE);
    n = pkt4(b, "100.64.0.2", me, 6, 40000, 23);
    CHECK(filter_matcher_inbound(m, b, n, 1000) == FILTER_DENY);
    n = pkt4(b, "100.64.0.2", me, 17, 40000, 22);
    CHECK(filter_matcher_inbound(m, b, n, 1000) == FILTER_DENY);
    n = pkt4(b, "100.64.1.77", me, 17, 5000, 53);
    CHECK(filter_matcher_inbound(m, b, n, 1000) == FILTER_ACCEPT_RULE);
    n = pkt4(b, "100.64.2.77", me, 17, 5000, 53);
    CHECK(filter_matcher_inbound(m, b, n, 1000) == FILTER_DENY);
    n = pkt4(b, "100.64.0.3", me, 1, 8, 7);
    CHECK(filter_matcher_inbound(m, b, n, 1000) == FILTER_ACCEPT_RULE);
    n = pkt4(b, "100.64.0.2", me, 1, 8, 7);
    CHECK(filter_matcher_inbound(m, b, n, 1000) == FILTER_DENY);
    n = pkt6(b, "fd7a::2", me6, 6, 1234, 443);
    CHECK(filter_matcher_inbound(m, b, n, 1000) == FILTER_ACCEPT_RULE);
    n = pkt6(b, "fd7a::3", me6, 6, 1234, 443);
    CHECK(filter_matcher_inbound(m, b, n, 1000) == FILTER_DENY);
    /* an IPv4 packet carrying ICMPv6 is malformed */
    n = pkt4(b, "100.64.0.3", me, 58, 8, 7);
    CHECK(filter_matcher_inbound(m, b, n, 1000) == FILTER_DENY);

    /* conntrack: we open 100.64.0.9:80 (not allowed inbound); the reply passes, others do not */
    n = pkt4(b, me, "100.64.0.9", 6, 50000, 80);
    filter_matcher_outbound(m, b, n, 1000);
    CHECK(filter_matcher_ct_count(m) == 1);
    n = pkt4(b, "100.64.0.9", me, 6, 80, 50000);
    CHECK(filter_matcher_inbound(m, b, n, 2000) == FILTER_ACCEPT_REPLY);
    n = pkt4(b, "100.64.0.9", me, 6, 81, 50000);
    CHECK(filter_matcher_inbound(m, b, n, 2000) == FILTER_DENY);
    n = pkt4(b, "100.64.0.9", me, 6, 80, 50001);
    CHECK(filter_matcher_inbound(m, b, n, 2000) == FILTER_DENY);
    n = pkt4(b, "100.64.0.9", me, 17, 80, 50000);
    CHECK(filter_matcher_inbound(m, b, n, 2000) == FILTER_DENY);
    /* UDP v6 reply, and expiry after the idle timeout */
    n = pkt6(b, me6, "fd7a::9", 17, 6000, 53);
    filter_matcher_outbound(m, b, n, 1000);
    n = pkt6(b, "fd7a::9", me6, 17, 53, 6000);
    CHECK(filter_matcher_inbound(m, b, n, 1000 + FILTER_CT_UDP_TIMEOUT_MS - 1) == FILTER_ACCEPT_REPLY);
    CHECK(filter_matcher_inbound(m, b, n, 1000 + 2 * FILTER_CT_UDP_TIMEOUT_MS) == FILTER_DENY);
    /* ICMP echo: reply with our identifier passes, an unsolicited request does not */
    n = pkt6(b, me6, "fd7a::9", 58, 128, 77);
    filter_matcher_outbound(m, b, n, 5000);
    n = pkt6(b, "fd7a::9", me6, 58, 129, 77);
    CHECK(filter_matcher_inbound(m, b, n, 5001) == FILTER_ACCEPT_REPLY);
    n = pkt6(b, "fd7a::9", me6, 58, 129, 78);
    CHECK(filter_matcher_inbound(m, b, n, 5001) == FILTER_DENY);
    n = pkt6(b, "fd7a::9", me6, 58, 128, 77);
    CHECK(filter_matcher_inbound(m, b, n, 5001) == FILTER_DENY);

    /* bound: 8 slots; 20 flows -> 8 live, oldest evicted, newest kept */
    for (uint16_t i = 0; i < 20; i++) {
        n = pkt4(b, me, "100.64.0.10", 6, (uint16_t)(10000 + i), 80);
        filter_matcher_outbound(m, b, n, 6000 + i);
    }
    CHECK(filter_matcher_ct_count(m) == 8);
    n = pkt4(b, "100.64.0.10", me, 6, 80, 10000);
    CHECK(filter_matcher_inbound(m, b, n, 7000) == FILTER_DENY);
    n = pkt4(b, "100.64.0.10", me, 6, 80, 10019);
    CHECK(filter_matcher_inbound(m, b, n, 7000) == FILTER_ACCEPT_REPLY);
    n = pkt4(b, "100.64.0.10", me, 6, 80, 10012);
    CHECK(filter_matcher_inbound(m, b, n, 7000) == FILTER_ACCEPT_REPLY);

    /* non-first fragment denied; truncated and garbage denied */
    n = pkt4(b, "100.64.0.2", me, 6, 40000, 22);
    b[6] = 0x00; b[7] = 0x10;
    CHECK(filter_matcher_inbound(m, b, n, 8000) == FILTER_DENY);
    n = pkt4(b, "100.64.0.2", me, 6, 40000, 22);
    for (size_t cut = 0; cut < n; cut++)
        CHECK(filter_matcher_inbound(m, b, cut, 8000) == FILTER_DENY);
    n = pkt4(b, "100.64.0.2", me, 6, 40000, 22);
    b[0] = 0x44; /* IHL 16 bytes */
    CHECK(filter_matcher_inbound(m, b, n, 8000) == FILTER_DENY);
    n = pkt6(b, "fd7a::2", me6, 6, 1234, 443);
    for (size_t cut = 0; cut < n; cut++)
        CHECK(filter_matcher_inbound(m, b, cut, 8000) == FILTER_DENY);
    /* v6 with a hop-by-hop header in front of TCP is parsed */
    uint8_t h[128];
    n = pkt6(b, "fd7a::2", me6, 6, 1234, 443);
    memcpy(h, b, 40);
    h[6] = 0; h[5] = (uint8_t)(8 + 20);
    memset(h + 40, 0, 8);
    h[40] = 6; h[41] = 0;
    memcpy(h + 48, b + 40, 20);
    CHECK(filter_matcher_inbound(m, h, 68, 8000) == FILTER_ACCEPT_RULE);
    for (int i = 0; i < 5000; i++) {
        uint8_t junk[100];
        size_t jl = rnd() % sizeof(junk);
        for (size_t j = 0; j < jl; j++)
            junk[j] = (uint8_t)rnd();
        if (jl)
            junk[0] = (uint8_t)((rnd() % 2 ? 0x40 : 0x60) | (junk[0] & 0x0f));
        (void)filter_matcher_inbound(m, junk, jl, 9000);
        filter_matcher_outbound(m, junk, jl, 9000);
    }
    CHECK(filter_matcher_ct_count(m) <= 8);

    /* denial counters by (source, proto, port) */
    struct filter_deny_count dc[FILTER_DENY_SLOTS];
    uint64_t other;
    filter_matcher_denied(m, dc, FILTER_DENY_SLOTS, &other, true);
    for (int i = 0; i < 3; i++) {
        n = pkt4(b, "100.64.0.5", me, 6, 40000, 3389);
        CHECK(filter_matcher_inbound(m, b, n, 10000) == FILTER_DENY);
    }
    n = pkt4(b, "100.64.0.5", me, 6, 40000, 25);
    CHECK(filter_matcher_inbound(m, b, n, 10000) == FILTER_DENY);
    size_t nd = filter_matcher_denied(m, dc, FILTER_DENY_SLOTS, &other, false);
    CHECK(nd == 2 && other == 0);
    bool saw = false;
    for (size_t i = 0; i < nd; i++)
        if (dc[i].dport == 3389 && dc[i].packets == 3 && dc[i].src[3] == 5 && dc[i].proto == 6)
            saw = true;
    CHECK(saw);
    for (unsigned i = 0; i < 2000; i++) { /* overflow goes to "other", bounded */
        n = pkt4(b, "100.64.0.5", me, 6, 40000, (uint16_t)(1000 + i));
        filter_matcher_inbound(m, b, n, 10000);
    }
    nd = filter_matcher_denied(m, dc, FILTER_DENY_SLOTS, &other, true);
    CHECK(nd <= FILTER_DENY_SLOTS && other > 0);
    CHECK(filter_matcher_denied(m, dc, FILTER_DENY_SLOTS, &other, false) == 0 && other == 0);
    filter_matcher_free(m);
    filter_free(f);
}

int main(void)
{
    test_random_vs_naive();
    test_matcher();
    return check_finish("test_filter");
}
