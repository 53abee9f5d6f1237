/* The answering logic on the standard test snapshot: every outcome of dns_answer(), parsed back
 * through the codec. */
#include "tests/dns/dns_test_util.h"
#include "server/dns/dns_limits.h"
#include "tests/check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>

static struct dns_snapshot *snap;
static uint8_t out[DNS_ANSWER_BUF];

/* Runs a query and parses the response; returns its length (0 = dropped). */
static size_t ask(const struct tq *q, bool tcp, struct tresp *r)
{
    uint8_t in[512];
    size_t ql = tq_build(in, sizeof(in), q);
    CHECK(ql > 0);
    size_t len = dns_answer(snap, in, ql, out, sizeof(out), tcp);
    if (len) {
        CHECK(tresp_parse(out, len, r));
        CHECK(r->h.id == q->id);
        CHECK(r->h.flags & DNS_FLAG_QR);
    }
    return len;
}

static struct tq query(const char *name, uint16_t qtype)
{
    return (struct tq){.name = name, .qtype = qtype, .id = 0xbeef, .rd = true,
                       .edns_version = -1};
}

static bool a_is(const struct tresp *r, const struct dns_rr *rr, const char *ip)
{
    struct in_addr a;
    inet_pton(AF_INET, ip, &a);
    return rr->type == DNS_TYPE_A && rr->rdlen == 4 && memcmp(out + rr->rdata_off, &a, 4) == 0;
}

static bool owner_is(const struct dns_rr *rr, const char *name)
{
    struct dns_name n;
    dns_name_from_text(&n, name);
    return rr->name.len == n.len && memcmp(rr->name.wire, n.wire, n.len) == 0;   /* exact case */
}

static void test_a_and_case(void)
{
    struct tresp r;
    struct tq q = query("LaPtOp.AcMe.ztna.TEST", DNS_TYPE_A);
    CHECK(ask(&q, false, &r));
    CHECK(tresp_rcode(&r) == DNS_RCODE_NOERROR);
    CHECK((r.h.flags & DNS_FLAG_AA) && (r.h.flags & DNS_FLAG_RD) && !(r.h.flags & DNS_FLAG_TC));
    CHECK(r.n[0] == 1 && r.n[1] == 0 && r.n[2] == 0 && !r.edns);
    CHECK(a_is(&r, &r.rr[0][0], "100.64.0.1"));
    CHECK(r.rr[0][0].ttl == DNS_TTL);
    /* question and owner echo the asked case (0x20) */
    CHECK(memcmp(r.qname.wire, "\6LaPtOp\4AcMe", 12) == 0 && r.qtype == DNS_TYPE_A);
    CHECK(owner_is(&r.rr[0][0], "LaPtOp.AcMe.ztna.TEST"));
    q.rd = false;
    CHECK(ask(&q, false, &r) && !(r.h.flags & DNS_FLAG_RD));
}

static void soa_checks(const struct tresp *r, const struct dns_rr *soa, const char *owner,
                       uint32_t serial)
{
    CHECK(soa->type == DNS_TYPE_SOA);
    CHECK(owner_is(soa, owner));
    /* serial sits 20 bytes before the end of the rdata */
    const uint8_t *p = out + soa->rdata_off + soa->rdlen - 20;
    CHECK(((uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]) == serial);
    size_t off = soa->rdata_off;
    struct dns_name mname;
    CHECK(dns_name_parse(out, soa->rdata_off + soa->rdlen, &off, &mname));
    (void)r;
}

static void test_nodata_nxdomain(void)
{
    struct tresp r;
    struct tq q = query("laptop.acme.ztna.test", DNS_TYPE_AAAA);
    CHECK(ask(&q, false, &r));
    CHECK(tresp_rcode(&r) == DNS_RCODE_NOERROR && (r.h.flags & DNS_FLAG_AA));
    CHECK(r.n[0] == 0 && r.n[1] == 1 && r.qtype == DNS_TYPE_AAAA);
    soa_checks(&r, &r.rr[1][0], "acme.ztna.test", 7);
    q.qtype = DNS_TYPE_MX;
    CHECK(ask(&q, false, &r) && tresp_rcode(&r) == 0 && r.n[0] == 0 && r.n[1] == 1);
    CHECK(r.qtype == DNS_TYPE_MX);
    /* AAAA exists for server */
    q = query("server.acme.ztna.test", DNS_TYPE_AAAA);
    CHECK(ask(&q, false, &r) && r.n[0] == 1 && r.rr[0][0].type == DNS_TYPE_AAAA &&
          r.rr[0][0].rdlen == 16);
    /* empty non-terminal: NODATA, not NXDOMAIN */
    q = query("eu.acme.ztna.test", DNS_TYPE_A);
    CHECK(ask(&q, false, &r) && tresp_rcode(&r) == 0 && r.n[0] == 0 && r.n[1] == 1);
    q = query("db.eu.acme.ztna.test", DNS_TYPE_A);
    CHECK(ask(&q, false, &r) && r.n[0] == 1 && a_is(&r, &r.rr[0][0], "100.64.0.3"));
    /* NXDOMAIN: SOA of the zone, owner echoes the question's case of the apex part */
    q = query("nope.ACME.ztna.test", DNS_TYPE_A);
    CHECK(ask(&q, false, &r));
    CHECK(tresp_rcode(&r) == DNS_RCODE_NXDOMAIN && (r.h.flags & DNS_FLAG_AA));
    CHECK(r.n[0] == 0 && r.n[1] == 1);
    soa_checks(&r, &r.rr[1][0], "ACME.ztna.test", 7);
    q = query("deep.below.laptop.other.ztna.test", DNS_TYPE_A);
    CHECK(ask(&q, false, &r) && tresp_rcode(&r) == DNS_RCODE_NXDOMAIN);
    soa_checks(&r, &r.rr[1][0], "other.ztna.test", 1);
}

static void test_apex(void)
{
    struct tresp r;
    struct tq q = query("acme.ztna.test", DNS_TYPE_SOA);
    CHECK(ask(&q, false, &r) && tresp_rcode(&r) == 0 && r.n[0] == 1);
    soa_checks(&r, &r.rr[0][0], "acme.ztna.test", 7);
    q.qtype = DNS_TYPE_NS;
    CHECK(ask(&q, false, &r) && r.n[0] == 2 && r.rr[0][0].type == DNS_TYPE_NS);
    /* glue for ns1 (in the snapshot), none for ns2 (no address) */
    CHECK(r.n[2] == 1 && owner_is(&r.rr[2][0], "ns1.acme.ztna.test") &&
          a_is(&r, &r.rr[2][0], "100.64.0.53"));
    size_t off = r.rr[0][1].rdata_off;
    struct dns_name target, want;
    CHECK(dns_name_parse(out, sizeof(out), &off, &target));
    dns_name_from_text(&want, "ns2.acme.ztna.test");
    CHECK(dns_name_equal(&target, &want));
    q.qtype = DNS_TYPE_A;   /* apex has no A: NODATA */
    CHECK(ask(&q, false, &r) && tresp_rcode(&r) == 0 && r.n[0] == 0 && r.n[1] == 1);
    q = query("other.ztna.test", DNS_TYPE_NS);   /* default NS name */
    CHECK(ask(&q, false, &r) && r.n[0] == 1 && r.n[2] == 0);
    off = r.rr[0][0].rdata_off;
    CHECK(dns_name_parse(out, sizeof(out), &off, &target));
    dns_name_from_text(&want, "ns.other.ztna.test");
    CHECK(dns_name_equal(&target, &want));
}

static void test_any(void)
{
    struct tresp r;
    struct tq q = query("laptop.acme.ztna.test", DNS_TYPE_ANY);
    CHECK(ask(&q, false, &r) && r.n[0] == 1 && r.rr[0][0].type == DNS_TYPE_A);
    CHECK(r.qtype == DNS_TYPE_ANY);
    q = query("acme.ztna.test", DNS_TYPE_ANY);   /* RFC 8482: one RRset, the SOA */
    CHECK(ask(&q, false, &r) && r.n[0] == 1 && r.rr[0][0].type == DNS_TYPE_SOA);
    q = query("eu.acme.ztna.test", DNS_TYPE_ANY);
    CHECK(ask(&q, false, &r) && r.n[0] == 0 && r.n[1] == 1);
}

static void test_refused_and_errors(void)
{
    struct tresp r;
    struct tq q = query("www.example.com", DNS_TYPE_A);
    CHECK(ask(&q, false, &r) && tresp_rcode(&r) == DNS_RCODE_REFUSED);
    CHECK(!(r.h.flags & DNS_FLAG_AA) && r.n[0] + r.n[1] + r.n[2] == 0);
    q = query("ztna.test", DNS_TYPE_A);   /* parent of the zones, not in them */
    CHECK(ask(&q, false, &r) && tresp_rcode(&r) == DNS_RCODE_REFUSED);
    q = query(".", DNS_TYPE_NS);
    CHECK(ask(&q, false, &r) && tresp_rcode(&r) == DNS_RCODE_REFUSED);
    q = query("laptop.acme.ztna.test", DNS_TYPE_A);
    q.qclass = 3;   /* CH */
    CHECK(ask(&q, false, &r) && tresp_rcode(&r) == DNS_RCODE_REFUSED);
    q = query("acme.ztna.test", DNS_TYPE_AXFR);
    CHECK(ask(&q, true, &r) && tresp_rcode(&r) == DNS_RCODE_REFUSED);
    q = query("laptop.acme.ztna.test", DNS_TYPE_A);
    q.opcode = 2;   /* STATUS */
    CHECK(ask(&q, false, &r) && tresp_rcode(&r) == DNS_RCODE_NOTIMP);
    CHECK(DNS_OPCODE(r.h.flags) == 2);
    q = query("laptop.acme.ztna.test", DNS_TYPE_OPT);
    CHECK(ask(&q, false, &r) && tresp_rcode(&r) == DNS_RCODE_FORMERR);

    /* malformed: FORMERR with the id, header only; QR set or too short: dropped */
    uint8_t in[64];
    size_t ql = tq_build(in, sizeof(in), &q);
    size_t len = dns_answer(snap, in, ql - 3, out, sizeof(out), false);
    CHECK(len == DNS_HDR_LEN && DNS_RCODE(out[3]) == DNS_RCODE_FORMERR && out[0] == 0xbe);
    CHECK(dns_answer(snap, in, 11, out, sizeof(out), false) == 0);
    in[2] |= 0x80;
    CHECK(dns_answer(snap, in, ql, out, sizeof(out), false) == 0);
}

static void test_edns_and_truncation(void)
{
    struct tresp r;
    struct tq q = query("laptop.acme.ztna.test", DNS_TYPE_A);
    q.edns_version = 0;
    q.udp_size = 4096;
    q.do_bit = true;
    CHECK(ask(&q, false, &r) && r.edns && r.n[0] == 1 && r.n[2] == 0);
    CHECK(r.udp_size == DNS_EDNS_PAYLOAD && r.edns_version == 0 && (r.edns_flags & DNS_EDNS_DO));
    q.do_bit = false;
    CHECK(ask(&q, false, &r) && r.edns && !(r.edns_flags & DNS_EDNS_DO));
    q.edns_version = 1;   /* BADVERS = 16: header rcode 0, extended 1 */
    CHECK(ask(&q, false, &r) && r.edns && tresp_rcode(&r) == DNS_RCODE_BADVERS);
    CHECK(DNS_RCODE(r.h.flags) == 0 && r.ext_rcode == 1 && r.n[0] == 0);
    q = query("nope.acme.ztna.test", DNS_TYPE_A);
    q.edns_version = 0;
    q.udp_size = 1232;
    CHECK(ask(&q, false, &r) && r.edns && tresp_rcode(&r) == DNS_RCODE_NXDOMAIN && r.n[1] == 1);

    /* big: 60 A records = 12 + 23 + 60*16 = 995 bytes */
    q = query("BIG.acme.ztna.test", DNS_TYPE_A);
    size_t len = ask(&q, false, &r);   /* no EDNS: 512 */
    CHECK(len <= 512 && (r.h.flags & DNS_FLAG_TC) && r.n[0] == 0 && (r.h.flags & DNS_FLAG_AA));
    CHECK(memcmp(r.qname.wire, "\3BIG", 4) == 0);
    q.edns_version = 0;
    q.udp_size = 100;   /* below 512 counts as 512 */
    len = ask(&q, false, &r);
    CHECK(len <= 512 && (r.h.flags & DNS_FLAG_TC) && r.edns);
    q.udp_size = 1232;
    len = ask(&q, false, &r);
    CHECK(len > 512 && len <= 1232 && !(r.h.flags & DNS_FLAG_TC) && r.n[0] == 60);
    q.edns_version = -1;
    len = ask(&q, true, &r);   /* TCP: whole answer */
    CHECK(len > 512 && !(r.h.flags & DNS_FLAG_TC) && r.n[0] == 60);
    for (unsigned i = 0; i < r.n[0]; i++)
        CHECK(owner_is(&r.rr[0][i], "BIG.acme.ztna.test"));
}

static void test_builder_errors(void)
{
    struct dns_snapshot_builder *b = dns_snapshot_builder_new();
    struct dns_snapshot *s = NULL;
    struct in_addr a = {htonl(0x64400001)};
    CHECK(dns_snapshot_builder_add_zone(b, "a.test", 1, NULL, 0) == 0);
    CHECK(dns_snapshot_builder_add_zone(b, "a..test", 1, NULL, 0) == -EINVAL);
    CHECK(dns_snapshot_builder_add_a(b, "x.b.test", a) == 0);   /* outside zones: skipped */
    CHECK(dns_snapshot_builder_add_a(b, "x.a.test", a) == 0);
    CHECK(dns_snapshot_builder_finish(b, &s) == 0 && s && dns_snapshot_name_count(s) == 2);
    uint8_t qb[64];
    struct tq tq = query("x.b.test", DNS_TYPE_A);
    size_t tl = tq_build(qb, sizeof(qb), &tq);
    CHECK(dns_answer(s, qb, tl, out, sizeof(out), false) && DNS_RCODE(out[3]) == DNS_RCODE_REFUSED);
    tq = query("x.a.test", DNS_TYPE_A);
    tl = tq_build(qb, sizeof(qb), &tq);
    CHECK(dns_answer(s, qb, tl, out, sizeof(out), false) && DNS_RCODE(out[3]) == 0 && out[7] == 1);
    dns_snapshot_free(s);
    s = NULL;
    b = dns_snapshot_builder_new();
    CHECK(dns_snapshot_builder_add_zone(b, "a.test", 1, NULL, 0) == 0);
    CHECK(dns_snapshot_builder_add_zone(b, "A.test.", 2, NULL, 0) == 0);   /* duplicate */
    CHECK(dns_snapshot_builder_finish(b, &s) == 0 && s && dns_snapshot_name_count(s) == 1);
    uint8_t sq[64];
    struct tq stq = query("a.test", DNS_TYPE_SOA);
    size_t sl = tq_build(sq, sizeof(sq), &stq);
    struct tresp sr;
    size_t rl = dns_answer(s, sq, sl, out, sizeof(out), false);
    CHECK(rl && tresp_parse(out, rl, &sr) && sr.n[0] == 1);
    /* the first one wins: serial 1 */
    CHECK(sr.n[0] == 1 && out[sr.rr[0][0].rdata_off + sr.rr[0][0].rdlen - 17] == 1);
    dns_snapshot_free(s);
    s = NULL;
    /* too many records on one name for a 64 KiB message */
    b = dns_snapshot_builder_new();
    CHECK(dns_snapshot_builder_add_zone(b, "a.test", 1, NULL, 0) == 0);
    for (int i = 0; i < 5000; i++)
        CHECK(dns_snapshot_builder_add_a(b, "huge.a.test", a) == 0);
    CHECK(dns_snapshot_builder_finish(b, &s) == -E2BIG && s == NULL);
    /* empty snapshot answers REFUSED */
    b = dns_snapshot_builder_new();
    CHECK(dns_snapshot_builder_finish(b, &s) == 0 && s);
    uint8_t in[64];
    struct tq q = query("a.test", DNS_TYPE_A);
    size_t ql = tq_build(in, sizeof(in), &q);
    size_t len = dns_answer(s, in, ql, out, sizeof(out), false);
    CHECK(len > 0 && DNS_RCODE(out[3]) == DNS_RCODE_REFUSED);
    dns_snapshot_free(s);
    dns_snapshot_builder_free(NULL);
    dns_snapshot_free(NULL);
}

int main(void)
{
    snap = test_snapshot();
    test_a_and_case();
    test_nodata_nxdomain();
    test_apex();
    test_any();
    test_refused_and_errors();
    test_edns_and_truncation();
    test_builder_errors();
    dns_snapshot_free(snap);
    return check_finish("test_dns_answer");
}
