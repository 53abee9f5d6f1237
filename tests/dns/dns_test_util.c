#include "tests/dns/dns_test_util.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void must(int r, const char *what)
{
    if (r < 0) {
        fprintf(stderr, "test snapshot: %s failed: %d\n", what, r);
        abort();
    }
}

static void add_a(struct dns_snapshot_builder *b, const char *name, const char *ip)
{
    struct in_addr a;
    inet_pton(AF_INET, ip, &a);
    must(dns_snapshot_builder_add_a(b, name, a), name);
}

struct dns_snapshot *test_snapshot_variant(bool extra)
{
    struct dns_snapshot_builder *b = dns_snapshot_builder_new();
    const char *ns[] = {"ns1.acme.ztna.test", "ns2.acme.ztna.test"};
    must(b ? 0 : -1, "builder");
    must(dns_snapshot_builder_add_zone(b, "acme.ztna.test", 7, ns, 2), "zone acme");
    must(dns_snapshot_builder_add_zone(b, "other.ztna.test", 1, NULL, 0), "zone other");
    add_a(b, "ns1.acme.ztna.test", "100.64.0.53");
    add_a(b, "laptop.acme.ztna.test", "100.64.0.1");
    add_a(b, "server.acme.ztna.test", "100.64.0.2");
    struct in6_addr a6;
    inet_pton(AF_INET6, "fd7a:115c:a1e0::2", &a6);
    must(dns_snapshot_builder_add_aaaa(b, "server.acme.ztna.test", &a6), "aaaa");
    add_a(b, "db.eu.acme.ztna.test", "100.64.0.3");
    for (int i = 1; i <= 60; i++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "100.64.1.%d", i);
        add_a(b, "big.acme.ztna.test", ip);
    }
    add_a(b, "laptop.other.ztna.test", "100.64.0.9");
    if (extra)
        add_a(b, "new.acme.ztna.test", "100.64.0.99");
    struct dns_snapshot *s;
    must(dns_snapshot_builder_finish(b, &s), "finish");
    return s;
}

struct dns_snapshot *test_snapshot(void) { return test_snapshot_variant(false); }

size_t tq_build(uint8_t *buf, size_t cap, const struct tq *q)
{
    struct dns_builder b;
    struct dns_name n;
    if (dns_name_from_text(&n, q->name) < 0)
        return 0;
    dns_builder_init(&b, buf, cap);
    struct dns_header h = {.id = q->id, .qdcount = 1, .arcount = q->edns_version >= 0,
                           .flags = (uint16_t)((q->rd ? DNS_FLAG_RD : 0) | q->opcode << 11)};
    dns_builder_header(&b, &h);
    dns_builder_question(&b, &n, q->qtype, q->qclass ? q->qclass : DNS_CLASS_IN);
    if (q->edns_version >= 0)
        dns_builder_opt(&b, q->udp_size, 0, (uint8_t)q->edns_version,
                        q->do_bit ? DNS_EDNS_DO : 0);
    return dns_builder_ok(&b) ? b.len : 0;
}

bool tresp_parse(const uint8_t *msg, size_t len, struct tresp *r)
{
    memset(r, 0, sizeof(*r));
    if (!dns_header_parse(msg, len, &r->h))
        return false;
    size_t off = DNS_HDR_LEN;
    if (r->h.qdcount > 1)
        return false;
    if (r->h.qdcount == 1 &&
        !dns_question_parse(msg, len, &off, &r->qname, &r->qtype, &r->qclass))
        return false;
    const uint16_t cnt[3] = {r->h.ancount, r->h.nscount, r->h.arcount};
    for (int s = 0; s < 3; s++) {
        for (unsigned i = 0; i < cnt[s]; i++) {
            struct dns_rr rr;
            if (!dns_rr_parse(msg, len, &off, &rr))
                return false;
            if (rr.type == DNS_TYPE_OPT) {
                if (s != 2 || r->edns)
                    return false;
                r->edns = true;
                r->udp_size = rr.rclass;
                r->ext_rcode = (uint8_t)(rr.ttl >> 24);
                r->edns_version = (uint8_t)(rr.ttl >> 16);
                r->edns_flags = (uint16_t)rr.ttl;
                continue;
            }
            if (r->n[s] >= TRESP_MAX_RR)
                return false;
            r->rr[s][r->n[s]++] = rr;
        }
    }
    return off == len;
}
