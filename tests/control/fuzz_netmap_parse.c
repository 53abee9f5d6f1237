/* Fuzzes the control protocol's text parsers (server/netmap_parse.c). Invariants: never crashes;
 * an accepted endpoint's canonical form is accepted again and is a fixed point; an accepted
 * decimal is in range and prints back to the input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/netmap_parse.h"

/* Not assert(): release builds define NDEBUG and the invariants must still hold. */
#define FZ_ASSERT(x) do { if (!(x)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char in[128], canon[NM_ENDPOINT_MAX], again[NM_ENDPOINT_MAX], back[32];
    int64_t v;

    if (size >= sizeof(in))
        size = sizeof(in) - 1;
    memcpy(in, data, size);
    in[size] = '\0';
    if (nm_endpoint_parse(in, canon)) {
        FZ_ASSERT(strlen(canon) < NM_ENDPOINT_MAX);
        FZ_ASSERT(nm_endpoint_parse(canon, again));
        FZ_ASSERT(strcmp(canon, again) == 0);
    }
    if (nm_parse_decimal(in, 0, 1LL << 53, &v)) {
        FZ_ASSERT(v >= 0 && v <= (1LL << 53));
        snprintf(back, sizeof(back), "%lld", (long long)v);
        FZ_ASSERT(strcmp(back, in) == 0);
    }
    if (nm_parse_decimal(in, 1, 55, &v))
        FZ_ASSERT(v >= 1 && v <= 55);
    return 0;
}
