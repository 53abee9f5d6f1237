/* Fuzz target for the local API request parser (agent/daemon/api_proto.h): any local user who can
 * open the socket sends these bytes. Also `ztna jit request --for`'s duration parser, on the same
 * bytes as a string. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/daemon/api_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct api_request r;
    char why[256];
    if (api_request_parse((const char *)data, size, &r, why, sizeof(why)) == 0) {
        /* a parsed request is NUL-terminated and within its bounds */
        if (strlen(r.name) >= sizeof(r.name) || r.n_tags > AGENT_MAX_TAGS ||
            strlen(r.reason) > API_JIT_MAX_REASON)
            __builtin_trap();
        if (r.cmd == API_JIT_REQUEST &&
            (r.port < 1 || r.port > 65535 || r.duration < 1 || r.duration > API_JIT_MAX_DURATION ||
             (r.proto[0] && strcmp(r.proto, "tcp") && strcmp(r.proto, "udp"))))
            __builtin_trap();
    } else if (!memchr(why, 0, sizeof(why))) {
        __builtin_trap();
    }
    char *s = malloc(size + 1);
    int64_t d = -1;
    if (s) {
        memcpy(s, data, size);
        s[size] = 0;
        int ret = api_duration_parse(s, &d);
        if ((ret == 0 && (d < 1 || d > API_JIT_MAX_DURATION)) || (ret && ret != -EINVAL && ret != -ERANGE))
            __builtin_trap();
        free(s);
    }
    return 0;
}
