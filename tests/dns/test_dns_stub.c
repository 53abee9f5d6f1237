/* The agent's stub resolution logic: tailnet names answered, short names through the tailnet
 * domain, 100.64.0.0/10 reverse names answered, nothing of the tailnet forwarded, everything
 * else forwarded; EDNS, BADVERS, truncation; checked against a naive linear-scan reference on
 * random tables and names. */
#include "agent/dns/dns_stub.h"
#include "tests/dns/dns_test_util.h"
#include "tests/check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static uint8_t out[4096];

static enum dns_stub_action ask(const struct dns_stub_table *t, const struct tq *q,
                                struct tresp *r, size_t *len)
{
    uint8_t in[512];
    size_t ql = tq_build(in, sizeof(in), q);
    CHECK(ql > 0);
    enum dns_stub_action a = dns_stub_resolve(t, in, ql, out, sizeof(out), len);
    if (a == DNS_STUB_ANSWER) {
        CHECK(*len > 0 && tresp_parse(out, *len, r));
        CHECK(r->h.id == q->id && (r->h.flags & DNS_FLAG_QR));
    }
    return a;
}

static struct tq query(const char *name, uint16_t qtype)
{
    return (struct tq){.name = name, .qtype = qtype, .id = 0x4242, .rd = true,
                       .edns_version = -1};
}

static struct dns_stub_table *table(void)
{
    struct dns_stub_table *t = dns_stub_table_new("Acme.ztna.example");
    struct in_addr a;
    struct in6_addr a6;
    CHECK(t != NULL);
    inet_pton(AF_INET, "100.64.0.1", &a);
    CHECK(dns_stub_table_add_a(t, "laptop.acme.ztna.example", a) == 0);
    inet_pton(AF_INET, "100.64.0.2", &a);
    CHECK(dns_stub_table_add_a(t, "server.acme.ztna.example", a) == 0);
    inet_pton(AF_INET6, "fd7a:115c:a1e0::2", &a6);
    CHECK(dns_stub_table_add_aaaa(t, "server.acme.ztna.example", &a6) == 0);
    for (int i = 1; i <= 60; i++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "100.64.1.%d", i);
        inet_pton(AF_INET, ip, &a);
        CHECK(dns_stub_table_add_a(t, "big.acme.ztna.example", a) == 0);
    }
    CHECK(dns_stub_table_add_a(t, "laptop.other.example", a) == -EINVAL);
    return t;
}

static void test_decisions(void)
{
    struct dns_stub_table *t = table();
    struct tresp r;
    size_t len;
    struct tq q = query("laptop.acme.ztna.example", DNS_TYPE_A);
    /* unsealed: SERVFAIL, not a wrong answer */
    CHECK(ask(t, &q, &r, &len) == DNS_STUB_ANSWER && DNS_RCODE(r.h.flags) == DNS_RCODE_SERVFAIL);
    dns_stub_table_seal(t);
    struct in_addr a = {0};
    CHECK(dns_stub_table_add_a(t, "late.acme.ztna.example", a) == -EINVAL);

    CHECK(ask(t, &q, &r, &len) == DNS_STUB_ANSWER);
    CHECK(DNS_RCODE(r.h.flags) == 0 && r.n[0] == 1 && r.rr[0][0].type == DNS_TYPE_A);
    CHECK(memcmp(out + r.rr[0][0].rdata_off, "\x64\x40\x00\x01", 4) == 0);
    CHECK((r.h.flags & DNS_FLAG_RA) && (r.h.flags & DNS_FLAG_AA));
    q = query("SERVER.acme.ZTNA.example", DNS_TYPE_AAAA);
    CHECK(ask(t, &q, &r, &len) == DNS_STUB_ANSWER && r.n[0] == 1 && r.rr[0][0].rdlen == 16);
    CHECK(memcmp(r.rr[0][0].name.wire, "\6SERVER", 7) == 0);   /* case echoed */
    q = query("laptop.acme.ztna.example", DNS_TYPE_AAAA);   /* NODATA */
    CHECK(ask(t, &q, &r, &len) == DNS_STUB_ANSWER && DNS_RCODE(r.h.flags) == 0 && r.n[0] == 0);
    q = query("acme.ztna.example", DNS_TYPE_SOA);   /* the domain itself: NODATA */
    CHECK(ask(t, &q, &r, &len) == DNS_STUB_ANSWER && DNS_RCODE(r.h.flags) == 0 && r.n[0] == 0);
    q = query("gone.acme.ztna.example", DNS_TYPE_A);   /* never leaks upstream */
    CHECK(ask(t, &q, &r, &len) == DNS_STUB_ANSWER &&
          DNS_RCODE(r.h.flags) == DNS_RCODE_NXDOMAIN);
    q = query("LAPTOP", DNS_TYPE_A);   /* short name */
    CHECK(ask(t, &q, &r, &len) == DNS_STUB_ANSWER && r.n[0] == 1);
    CHECK(r.rr[0][0].name.len == 8 && memcmp(r.rr[0][0].name.wire, "\6LAPTOP\0", 8) == 0);
    q = query("printer", DNS_TYPE_A);
    CHECK(ask(t, &q, &r, &len) == DNS_STUB_ANSWER &&
          DNS_RCODE(r.h.flags) == DNS_RCODE_NXDOMAIN);
    q = query("2.0.64.100.in-addr.arpa", DNS_TYPE_PTR);
    CHECK(ask(t, &q, &r, &len) == DNS_STUB_ANSWER && r.n[0] == 1 &&
          r.rr[0][0].type == DNS_TYPE_PTR);
    size_t off = r.rr[0][0].rdata_off;
    struct dns_name target, want;
    CHECK(dns_name_parse(out, len, &off, &target));
    dns_name_from_text(&want, "server.acme.ztna.example");
    CHECK(dns_name_equal(&target, &want));
    q = query("9.9.127.100.in-addr.arpa", DNS_TYPE_PTR);   /* in 100.64/10, unknown */
    CHECK(ask(t, &q, &r, &len) == DNS_STUB_ANSWER &&
          DNS_RCODE(r.h.flags) == DNS_RCODE_NXDOMAIN);
    q = query("9.9.128.100.in-addr.arpa", DNS_TYPE_PTR);   /* outside 100.64/10 */
    CHECK(ask(t, &q, &r, &len) == DNS_STUB_FORWARD);
    q = query("www.example.com", DNS_TYPE_A);
    CHECK(ask(t, &q, &r, &len) == DNS_STUB_FORWARD);
    q = query("xacme.ztna.example", DNS_TYPE_A);   /* suffix on a label boundary only */
    CHECK(ask(t, &q, &r, &len) == DNS_STUB_FORWARD);

    /* EDNS, BADVERS, NOTIMP, truncation */
    q = query("big.acme.ztna.example", DNS_TYPE_A);
    CHECK(ask(t, &q, &r, &len) == DNS_STUB_ANSWER && len <= 512 && (r.h.flags & DNS_FLAG_TC) &&
          r.n[0] == 0);
    q.edns_version = 0;
    q.udp_size = 1232;
    CHECK(ask(t, &q, &r, &len) == DNS_STUB_ANSWER && r.n[0] == 60 && r.edns && len <= 1232);
    q.edns_version = 1;
    CHECK(ask(t, &q, &r, &len) == DNS_STUB_ANSWER && tresp_rcode(&r) == DNS_RCODE_BADVERS);
    q = query("laptop.acme.ztna.example", DNS_TYPE_A);
    q.opcode = 4;
    CHECK(ask(t, &q, &r, &len) == DNS_STUB_ANSWER && DNS_RCODE(r.h.flags) == DNS_RCODE_NOTIMP);
    uint8_t bad[12] = {1, 2, 0, 0, 0, 1};
    CHECK(dns_stub_resolve(t, bad, sizeof(bad), out, sizeof(out), &len) == DNS_STUB_ANSWER &&
          len == 12 && DNS_RCODE(out[3]) == DNS_RCODE_FORMERR);
    bad[2] = 0x80;
    CHECK(dns_stub_resolve(t, bad, sizeof(bad), out, sizeof(out), &len) == DNS_STUB_DROP);
    dns_stub_table_free(t);
    dns_stub_table_free(NULL);
    CHECK(dns_stub_table_new("bad..name") == NULL);
}

/* Random tables vs a linear scan: same existence and same answer count for every query. */
static void test_reference(void)
{
    static const char *hosts[] = {"a", "b", "c", "web", "db", "x-1", "mail", "z"};
    uint64_t s = 12345;
    for (int iter = 0; iter < 200; iter++) {
        struct dns_stub_table *t = dns_stub_table_new("t.example");
        char names[32][64];
        uint8_t types[32];
        int n = (int)(s % 32);
        for (int i = 0; i < n; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            snprintf(names[i], sizeof(names[i]), "%s.t.example", hosts[(s >> 33) % 8]);
            types[i] = (s >> 40) & 1;
            struct in_addr a = {htonl(0x64400000u | (uint32_t)i)};
            struct in6_addr a6 = {{{0xfd, [15] = (uint8_t)i}}};
            CHECK((types[i] ? dns_stub_table_add_aaaa(t, names[i], &a6)
                            : dns_stub_table_add_a(t, names[i], a)) == 0);
        }
        dns_stub_table_seal(t);
        for (int h = 0; h < 8; h++) {
            char qn[64];
            snprintf(qn, sizeof(qn), "%s.T.example", hosts[h]);
            for (int ty = 0; ty < 2; ty++) {
                unsigned want = 0;
                bool exists = false;
                for (int i = 0; i < n; i++)
                    if (strncasecmp(names[i], qn, 64) == 0) {
                        exists = true;
                        want += types[i] == ty;
                    }
                struct tq q = query(qn, ty ? DNS_TYPE_AAAA : DNS_TYPE_A);
                q.edns_version = 0;
                q.udp_size = 4096;
                struct tresp r;
                size_t len;
                CHECK(ask(t, &q, &r, &len) == DNS_STUB_ANSWER);
                CHECK(r.n[0] == want);
                CHECK(DNS_RCODE(r.h.flags) == (exists ? 0 : DNS_RCODE_NXDOMAIN));
            }
        }
        dns_stub_table_free(t);
    }
}

int main(void)
{
    test_decisions();
    test_reference();
    return check_finish("test_dns_stub");
}
