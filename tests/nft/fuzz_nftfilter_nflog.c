/* Fuzz target for the NFLOG message parser (agent/kernel/nftfilter_nflog.c): arbitrary bytes as
 * one received buffer, into few slots so that the overflow path runs too. Whatever it counts
 * must respect the slots and carry a valid family. */
#include <stdlib.h>
#include <string.h>

#include "agent/kernel/nftfilter_msg.h"

#define SLOTS 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct filter_deny_count out[SLOTS + 1];
    size_t n = 0;
    uint64_t other = 0, total = 0;
    out[SLOTS].packets = 0xa5a5;          /* a write past the slots would change it */
    uint32_t *aligned = malloc(size + 4); /* as recv() fills it */
    if (!aligned)
        return 0;
    memcpy(aligned, data, size);
    (void)nftf_nflog_parse(aligned, size, out, SLOTS, &n, &other);
    free(aligned);
    if (n > SLOTS || out[SLOTS].packets != 0xa5a5)
        abort();
    for (size_t i = 0; i < n; i++) {
        if ((out[i].family != 4 && out[i].family != 6) || out[i].packets == 0)
            abort();
        total += out[i].packets;
    }
    if (total + other > size / 16 + 1) /* at most one count per 16-byte nlmsghdr (+1 framing) */
        abort();
    /* the packet itself as the payload */
    n = 0;
    nftf_deny_add(data, size, out, SLOTS, &n, &other);
    if (n > 1)
        abort();
    return 0;
}
