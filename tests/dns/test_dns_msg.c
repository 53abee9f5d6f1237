/* DNS codec: names (text, compare, decompression limits), queries, EDNS, builder compression
 * checked against a naive reference (uncompressed writing), and every truncation of valid input. */
#include "common/dns/dns_build.h"
#include "tests/check.h"

#include <errno.h>
#include <stdlib.h>

static uint64_t rng = 0x2545f4914f6cdd1dULL;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static void test_names_text(void)
{
    struct dns_name n, m;
    char buf[1024];
    CHECK(dns_name_from_text(&n, "Laptop.Acme.example") == 0);
    CHECK(n.len == 21);
    CHECK(memcmp(n.wire, "\6Laptop\4Acme\7example", 21) == 0);
    CHECK(dns_name_to_text(&n, buf, sizeof(buf)) == 0 && strcmp(buf, "Laptop.Acme.example.") == 0);
    CHECK(dns_name_from_text(&m, "laptop.acme.EXAMPLE.") == 0);
    CHECK(dns_name_equal(&n, &m));
    dns_name_lower(&n);
    CHECK(memcmp(n.wire, "\6laptop\4acme\7example", 21) == 0);
    CHECK(dns_name_from_text(&m, "laptop.acme.exampl") == 0 && !dns_name_equal(&n, &m));
    CHECK(dns_name_from_text(&m, ".") == 0 && m.len == 1);
    CHECK(dns_name_to_text(&m, buf, sizeof(buf)) == 0 && strcmp(buf, ".") == 0);
    CHECK(dns_name_from_text(&m, "") == -EINVAL);
    CHECK(dns_name_from_text(&m, "a..b") == -EINVAL);
    CHECK(dns_name_label_count(&n) == 3);
    /* 63-byte label ok, 64 not */
    char l63[80];
    memset(l63, 'x', 63);
    strcpy(l63 + 63, ".com");
    CHECK(dns_name_from_text(&m, l63) == 0);
    memset(l63, 'x', 64);
    strcpy(l63 + 64, ".com");
    CHECK(dns_name_from_text(&m, l63) == -EINVAL);
    /* 255 wire bytes ok, 256 not: 4 labels of 62 (=252) + "\1a" (2) + root (1) = 255 */
    char longn[300];
    size_t o = 0;
    for (int i = 0; i < 4; i++) {
        memset(longn + o, 'a' + i, 62);
        o += 62;
        longn[o++] = '.';
    }
    longn[o++] = 'z';
    longn[o] = 0;
    CHECK(dns_name_from_text(&m, longn) == 0 && m.len == 255);
    longn[o++] = 'z';
    longn[o] = 0;
    CHECK(dns_name_from_text(&m, longn) == -EINVAL);
    /* escapes in presentation */
    struct dns_name e = {.len = 5, .wire = {3, 'a', '.', 0x01, 0}};
    CHECK(dns_name_to_text(&e, buf, sizeof(buf)) == 0 && strcmp(buf, "a\\.\\001.") == 0);
    CHECK(dns_name_to_text(&e, buf, 4) == -ENOSPC);
    struct dns_name parent;
    dns_name_from_text(&parent, "acme.example");
    dns_name_from_text(&m, "X.ACME.example");
    CHECK(dns_name_is_under(&m, &parent));
    dns_name_from_text(&m, "xacme.example");
    CHECK(!dns_name_is_under(&m, &parent));
}

static void test_decompression_limits(void)
{
    struct dns_name n;
    size_t off;
    /* name at 12: "\3foo" + pointer to a name at 20 ("\3bar\0") */
    uint8_t ok[32] = {0};
    memcpy(ok + 12, "\3bar\0", 5);          /* 12..16 */
    memcpy(ok + 17, "\3foo\xc0\x0c", 6);     /* 17..22 */
    off = 17;
    CHECK(dns_name_parse(ok, 23, &off, &n) && off == 23 && n.len == 9);
    CHECK(memcmp(n.wire, "\3foo\3bar", 9) == 0);
    /* self pointer */
    uint8_t self[14] = {0};
    self[12] = 0xc0;
    self[13] = 12;
    off = 12;
    CHECK(!dns_name_parse(self, sizeof(self), &off, &n));
    /* forward pointer */
    uint8_t fwd[20] = {0};
    fwd[12] = 0xc0;
    fwd[13] = 16;
    off = 12;
    CHECK(!dns_name_parse(fwd, sizeof(fwd), &off, &n));
    /* two-step loop: 12 -> label + ptr 16 ... 16 -> ptr 12 (backwards, then back again) */
    uint8_t loop[20] = {0};
    memcpy(loop + 12, "\1a\xc0\x10", 4);  /* at 14: ptr to 16 (forward) */
    loop[16] = 0xc0;
    loop[17] = 12;
    off = 16;
    CHECK(!dns_name_parse(loop, 18, &off, &n));
    /* pointer past the end, truncated pointer */
    uint8_t past[14] = {0};
    past[12] = 0xc0;
    past[13] = 0xff;
    off = 12;
    CHECK(!dns_name_parse(past, sizeof(past), &off, &n));
    off = 12;
    CHECK(!dns_name_parse(past, 13, &off, &n));
    /* reserved label types */
    uint8_t rsv[16] = {0};
    rsv[12] = 0x41;
    off = 12;
    CHECK(!dns_name_parse(rsv, sizeof(rsv), &off, &n));
    rsv[12] = 0x80;
    off = 12;
    CHECK(!dns_name_parse(rsv, sizeof(rsv), &off, &n));
    /* a chain of backward pointers each adding a label grows past 255 bytes: rejected */
    uint8_t chain[2048] = {0};
    size_t p = 12;
    chain[p++] = 0;   /* root at 12 */
    size_t prev = 12;
    for (int i = 0; i < 200; i++) {
        size_t here = p;
        chain[p++] = 2;
        chain[p++] = 'a';
        chain[p++] = 'b';
        chain[p++] = (uint8_t)(0xc0 | prev >> 8);
        chain[p++] = (uint8_t)prev;
        prev = here;
    }
    off = prev;
    CHECK(!dns_name_parse(chain, p, &off, &n));
    /* but 50 such labels (151 bytes) parse */
    off = 13 + 5 * 49;
    CHECK(dns_name_parse(chain, p, &off, &n) && n.len == 151);
    /* a chain of pure pointers longer than the hop limit */
    uint8_t hops[400] = {0};
    hops[12] = 0;
    for (int i = 0; i < 100; i++) {
        hops[13 + 2 * i] = 0xc0;
        hops[14 + 2 * i] = (uint8_t)(i == 0 ? 12 : 13 + 2 * (i - 1));
    }
    off = 13 + 2 * 99;
    CHECK(!dns_name_parse(hops, 13 + 200, &off, &n));
    off = 13 + 2 * 10;
    CHECK(dns_name_parse(hops, 13 + 200, &off, &n) && n.len == 1);
}

static size_t make_query(uint8_t *buf, size_t cap, int version, uint16_t udp, uint16_t flags)
{
    struct dns_builder b;
    struct dns_name n;
    dns_name_from_text(&n, "www.Example.org");
    dns_builder_init(&b, buf, cap);
    struct dns_header h = {.id = 0x1234, .flags = DNS_FLAG_RD, .qdcount = 1,
                           .arcount = version >= 0};
    dns_builder_header(&b, &h);
    dns_builder_question(&b, &n, DNS_TYPE_A, DNS_CLASS_IN);
    if (version >= 0)
        dns_builder_opt(&b, udp, 0, (uint8_t)version, flags);
    return dns_builder_ok(&b) ? b.len : 0;
}

static void test_query_parse(void)
{
    uint8_t buf[512];
    struct dns_query q;
    size_t len = make_query(buf, sizeof(buf), -1, 0, 0);
    CHECK(len == 12 + 17 + 4);
    CHECK(dns_query_parse(buf, len, &q) == 0);
    CHECK(q.hdr.id == 0x1234 && q.qtype == DNS_TYPE_A && q.qclass == DNS_CLASS_IN);
    CHECK(!q.edns.present && q.qname.len == 17 && memcmp(q.qname.wire, "\3www\7Example", 12) == 0);

    len = make_query(buf, sizeof(buf), 0, 1232, DNS_EDNS_DO);
    CHECK(dns_query_parse(buf, len, &q) == 0);
    CHECK(q.edns.present && q.edns.udp_size == 1232 && q.edns.version == 0 &&
          (q.edns.flags & DNS_EDNS_DO));
    len = make_query(buf, sizeof(buf), 1, 4096, 0);
    CHECK(dns_query_parse(buf, len, &q) == 0 && q.edns.version == 1);

    /* every truncation of a valid query fails cleanly (exact-size copies for ASan) */
    len = make_query(buf, sizeof(buf), 0, 1232, 0);
    for (size_t l = 0; l < len; l++) {
        uint8_t *cp = malloc(l ? l : 1);
        memcpy(cp, buf, l);
        int r = dns_query_parse(cp, l, &q);
        CHECK(r == (l < DNS_HDR_LEN ? -EMSGSIZE : -EBADMSG));
        free(cp);
    }
    /* two OPT RRs: FORMERR */
    len = make_query(buf, sizeof(buf), 0, 1232, 0);
    memcpy(buf + len, buf + len - 11, 11);
    buf[11] = 2;
    CHECK(dns_query_parse(buf, len + 11, &q) == -EBADMSG);
    /* OPT in the answer section: FORMERR */
    len = make_query(buf, sizeof(buf), 0, 1232, 0);
    buf[7] = 1;
    buf[11] = 0;
    CHECK(dns_query_parse(buf, len, &q) == -EBADMSG);
    /* OPT with a non-root owner: FORMERR */
    len = make_query(buf, sizeof(buf), -1, 0, 0);
    memcpy(buf + len, "\1x\0\0\x29\x04\xd0\0\0\0\0\0\0", 13);
    buf[11] = 1;
    CHECK(dns_query_parse(buf, len + 13, &q) == -EBADMSG);
    /* OPT option that overruns its rdata */
    len = make_query(buf, sizeof(buf), 0, 1232, 0);
    buf[len - 1] = 4;
    memcpy(buf + len, "\0\x0a\0\x09", 4);   /* option len 9, but only 0 follow */
    CHECK(dns_query_parse(buf, len + 4, &q) == -EBADMSG);
    /* qdcount 0 and 2 */
    len = make_query(buf, sizeof(buf), -1, 0, 0);
    buf[5] = 0;
    CHECK(dns_query_parse(buf, len, &q) == -EBADMSG);
    buf[5] = 2;
    CHECK(dns_query_parse(buf, len, &q) == -EBADMSG);
}

/* Builder with compression vs the naive reference: the decoded names must be identical to
 * what was written, and the message no longer than the uncompressed one. */
static void test_builder_random(void)
{
    static const char *labels[] = {"a", "B", "www", "mail", "example", "ORG", "x1", "long-label"};
    uint8_t comp[4096], plain[4096];
    for (int iter = 0; iter < 2000; iter++) {
        struct dns_name names[12];
        unsigned nn = 1 + rnd() % 12;
        for (unsigned i = 0; i < nn; i++) {
            char text[256] = "";
            unsigned nl = 1 + rnd() % 4;
            for (unsigned k = 0; k < nl; k++) {
                strcat(text, labels[rnd() % 8]);
                if (k + 1 < nl)
                    strcat(text, ".");
            }
            CHECK(dns_name_from_text(&names[i], text) == 0);
        }
        struct dns_builder bc, bp;
        struct dns_header h = {.id = 1, .ancount = (uint16_t)nn};
        dns_builder_init(&bc, comp, sizeof(comp));
        dns_builder_init(&bp, plain, sizeof(plain));
        dns_builder_header(&bc, &h);
        dns_builder_header(&bp, &h);
        for (unsigned i = 0; i < nn; i++) {
            uint8_t rd[4] = {1, 2, 3, (uint8_t)i};
            dns_builder_rr(&bc, &names[i], DNS_TYPE_A, 60, rd, 4);
            dns_builder_name(&bp, &names[i], false);
            dns_builder_u16(&bp, DNS_TYPE_A);
            dns_builder_u16(&bp, DNS_CLASS_IN);
            dns_builder_u32(&bp, 60);
            dns_builder_u16(&bp, 4);
            dns_builder_bytes(&bp, rd, 4);
        }
        CHECK(dns_builder_ok(&bc) && dns_builder_ok(&bp));
        CHECK(bc.len <= bp.len);
        size_t off = DNS_HDR_LEN;
        for (unsigned i = 0; i < nn; i++) {
            struct dns_rr rr;
            CHECK(dns_rr_parse(comp, bc.len, &off, &rr));
            /* case-insensitively equal: a suffix may be shared with another name's case */
            CHECK(dns_name_equal(&rr.name, &names[i]));
            CHECK(rr.type == DNS_TYPE_A && rr.rdlen == 4 && comp[rr.rdata_off + 3] == i);
        }
        CHECK(off == bc.len);
    }
}

static void test_builder_overflow(void)
{
    uint8_t buf[50];
    struct dns_builder b;
    struct dns_name n;
    dns_name_from_text(&n, "some.long.name.example.org");
    dns_builder_init(&b, buf, sizeof(buf));
    struct dns_header h = {0};
    dns_builder_header(&b, &h);
    dns_builder_question(&b, &n, 1, 1);
    CHECK(dns_builder_ok(&b));
    dns_builder_rr(&b, &n, 1, 60, "\1\2\3\4", 4);
    CHECK(!dns_builder_ok(&b));
    size_t len = b.len;
    dns_builder_u16(&b, 7);   /* ignored after overflow */
    CHECK(b.len == len && len <= sizeof(buf));
}

int main(void)
{
    test_names_text();
    test_decompression_limits();
    test_query_parse();
    test_builder_random();
    test_builder_overflow();
    return check_finish("test_dns_msg");
}
