/* Fuzz target: the agent stub's resolve path; every answer must parse as a DNS message. */
#include "agent/dns/dns_stub.h"
#include "tests/dns/dns_test_util.h"

#include <arpa/inet.h>
#include <stdlib.h>

static struct dns_stub_table *tab;
static uint8_t out[4096];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!tab) {
        tab = dns_stub_table_new("acme.ztna.test");
        struct in_addr a;
        inet_pton(AF_INET, "100.64.0.1", &a);
        struct in6_addr a6, p6;
        inet_pton(AF_INET6, "fd7a:115c:a1e0::6440:1", &a6);
        inet_pton(AF_INET6, "fd7a:115c:a1e0::", &p6);
        if (!tab || dns_stub_table_add_a(tab, "laptop.acme.ztna.test", a) < 0 ||
            dns_stub_table_add_aaaa(tab, "laptop.acme.ztna.test", &a6) < 0 ||
            dns_stub_table_set_prefix6(tab, &p6, 48) < 0)
            abort();
        dns_stub_table_seal(tab);
    }
    size_t len;
    if (dns_stub_resolve(tab, data, size, out, sizeof(out), &len) == DNS_STUB_ANSWER) {
        struct tresp *r = malloc(sizeof(*r));
        if (!r || !tresp_parse(out, len, r) || !(r->h.flags & DNS_FLAG_QR))
            abort();
        free(r);
    }
    return 0;
}
