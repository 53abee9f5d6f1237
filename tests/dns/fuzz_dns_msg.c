/* Fuzz target: the DNS codec's parsers (query, header, every RR, names at every offset) and a
 * rebuild of what parsed, re-parsed to the same names. */
#include "common/dns/dns_build.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dns_query q;
    struct dns_header h;
    if (dns_query_parse(data, size, &q) == 0) {
        /* rebuild the question and check it reads back the same */
        uint8_t buf[600];
        struct dns_builder b;
        dns_builder_init(&b, buf, sizeof(buf));
        dns_builder_header(&b, &q.hdr);
        dns_builder_question(&b, &q.qname, q.qtype, q.qclass);
        size_t off = DNS_HDR_LEN;
        struct dns_name n;
        uint16_t t, c;
        if (!dns_builder_ok(&b) || !dns_question_parse(buf, b.len, &off, &n, &t, &c) ||
            n.len != q.qname.len || memcmp(n.wire, q.qname.wire, n.len) != 0 || t != q.qtype)
            abort();
        char text[DNS_NAME_MAX * 4 + 2];
        if (dns_name_to_text(&q.qname, text, sizeof(text)) != 0)
            abort();
    }
    if (dns_header_parse(data, size, &h)) {
        size_t off = DNS_HDR_LEN;
        struct dns_rr rr;
        for (int i = 0; i < 64 && off < size; i++)
            if (!dns_rr_parse(data, size, &off, &rr))
                break;
    }
    for (size_t off0 = 0; off0 < size && off0 < 512; off0++) {
        size_t off = off0;
        struct dns_name n;
        if (dns_name_parse(data, size, &off, &n) && (off <= off0 || off > size || n.len == 0))
            abort();
    }
    return 0;
}
