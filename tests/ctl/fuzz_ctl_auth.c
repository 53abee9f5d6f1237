/* Fuzz target for the machine-auth header parser: parse, and if it parses, the format/parse round
 * trip must give the same struct, and verification of arbitrary fields must not crash. */
#include "common/ctl/ctl_auth.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ctl_auth a, b;
    if (!ctl_auth_header_parse((const char *)data, size, &a))
        return 0;
    char hdr[CTL_AUTH_HEADER_MAX + 1];
    int n = ctl_auth_header_format(&a, hdr, sizeof(hdr));
    if (n < 0 || !ctl_auth_header_parse(hdr, (size_t)n, &b) || memcmp(&a, &b, sizeof(a)) != 0)
        abort();
    if (ctl_auth_verify(&a, "POST", "/api/machine-heartbeat", data, size, a.timestamp, 60) == 0)
        abort(); /* a forged signature over the input itself must never verify */
    return 0;
}
