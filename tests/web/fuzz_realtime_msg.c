/* Fuzzes the realtime socket's frame parser (server/realtime_msg.c). Invariants: never crashes;
 * an accepted auth carries exactly 64 lower-case hex digits; an accepted subscribe has org > 0
 * and only known channel bits; a rejection always names its reason. */
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "server/realtime_msg.h"

#define FZ_ASSERT(x) do { if (!(x)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rt_msg m;
    const char *why = NULL;

    if (rt_msg_parse((const char *)data, size, &m, &why) < 0) {
        FZ_ASSERT(why && why[0]);
        return 0;
    }
    if (m.type == RT_MSG_AUTH) {
        FZ_ASSERT(strlen(m.token) == 64);
        FZ_ASSERT(strspn(m.token, "0123456789abcdef") == 64);
    } else if (m.type == RT_MSG_SUBSCRIBE) {
        FZ_ASSERT(m.org > 0);
        FZ_ASSERT((m.channels >> rt_channels_count) == 0);
    } else {
        FZ_ASSERT(m.type == RT_MSG_PING);
    }
    return 0;
}
