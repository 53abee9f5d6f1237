/* Fuzz target for the DNS stub's packet parser (agent/daemon/dnsio.h): IPv4/UDP packets the host
 * writes into the TUN towards 100.100.100.100. */
#include <stdint.h>
#include <string.h>

#include "agent/daemon/dnsio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t stub[4] = {100, 100, 100, 100};
    uint8_t pkt[2048];
    struct dnsio_query q;
    if (size > sizeof(pkt))
        return 0;
    memcpy(pkt, data, size);
    if (size >= 20)
        memcpy(pkt + 16, stub, 4); /* most inputs should reach the checks past the address */
    if (dnsio_packet_parse(pkt, size, stub, &q) == 0 &&
        (q.msg < pkt || q.msg + q.len > pkt + size))
        __builtin_trap();
    return 0;
}
