/* Fuzz target: the whole answer path (parse, lookup, template patching, truncation) over UDP
 * and TCP limits; every response must itself parse as a DNS message. */
#include "tests/dns/dns_test_util.h"
#include "server/dns/dns_limits.h"

#include <stdlib.h>

static struct dns_snapshot *snap;
static uint8_t out[DNS_ANSWER_BUF];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!snap)
        snap = test_snapshot();   /* lives for the process */
    for (int tcp = 0; tcp < 2; tcp++) {
        size_t len = dns_answer(snap, data, size, out, sizeof(out), tcp);
        if (!len)
            continue;
        struct tresp *r = malloc(sizeof(*r));
        if (!r)
            abort();
        if (!tresp_parse(out, len, r) || (!tcp && len > DNS_UDP_ANSWER_MAX) ||
            !(r->h.flags & DNS_FLAG_QR) || r->h.id != (uint16_t)(data[0] << 8 | data[1]))
            abort();
        free(r);
    }
    return 0;
}
