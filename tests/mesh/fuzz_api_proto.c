/* Fuzz target for the local API request parser (agent/daemon/api_proto.h): any local user who can
 * open the socket sends these bytes. */
#include <stdint.h>
#include <string.h>

#include "agent/daemon/api_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct api_request r;
    char why[256];
    if (api_request_parse((const char *)data, size, &r, why, sizeof(why)) == 0) {
        /* a parsed request is NUL-terminated and within its bounds */
        if (strlen(r.name) >= sizeof(r.name) || r.n_tags > AGENT_MAX_TAGS)
            __builtin_trap();
    } else if (!memchr(why, 0, sizeof(why))) {
        __builtin_trap();
    }
    return 0;
}
