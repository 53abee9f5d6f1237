/* Fuzz target for the DNS stub's answer-size helpers (agent/daemon/dnsio.h), which read untrusted
 * messages: queries from TCP clients (dnsio_edns_for_tcp) and upstream answers (dnsio_truncate,
 * dnsio_strip_opt). Nothing may be read or written out of bounds; what they produce must hold:
 * the rewritten query grows by at most one OPT, a stripped message only shrinks, a TC stand-in
 * fits its buffer and carries TC. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/daemon/dnsio.h"
#include "common/dns/dns_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t out[4200], small[512];
    size_t out_len = 0;
    bool added = false;
    if (size > 4096)
        return 0;
    uint8_t *msg = malloc(size ? size : 1); /* exact size: ASan sees any over-read */
    if (!msg)
        return 0;
    memcpy(msg, data, size);
    int r = dnsio_edns_for_tcp(msg, size, out, sizeof(out), &out_len, &added);
    if (r == 0 && (out_len > size + 11 || (!added && out_len != size) || out_len < DNS_HDR_LEN))
        __builtin_trap();
    size_t n = dnsio_truncate(msg, size, size && (data[0] & 1), small, sizeof(small));
    if (n && (n > sizeof(small) || n < DNS_HDR_LEN || !(small[2] & 0x02)))
        __builtin_trap();
    n = dnsio_strip_opt(msg, size);
    if (n > size)
        __builtin_trap();
    free(msg);
    return 0;
}
