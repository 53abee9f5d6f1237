/* Fuzz target for the map stream's WebSocket parser (common/ctl/wsproto.h). The first byte
 * picks how the rest is cut into pieces (1..32 bytes, or all at once) and whether a server's
 * parser (masked frames) or a client's reads it; the same bytes also go through the upgrade
 * reply's check. The parser must never take more than it was given, never hand out a message
 * over its limit or a control frame over 125 bytes, and stay failed once it failed. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/ctl/wsproto.h"

#define FUZZ_MAX_MSG 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ws_parser p;
    char why[200];
    long status;
    bool failed = false;
    if (size < 1)
        return 0;
    size_t piece = data[0] & 0x1f ? data[0] & 0x1f : size;
    wsproto_parser_init(&p, FUZZ_MAX_MSG, data[0] & 0x80);
    data++;
    size--;
    (void)wsproto_reply_check((const char *)data, size, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", &status,
                              why, sizeof(why));
    (void)wsproto_head_end((const char *)data, size);
    for (size_t at = 0; at < size;) {
        size_t n = size - at < piece ? size - at : piece;
        const uint8_t *q = data + at;
        at += n;
        while (n) {
            struct ws_msg m;
            size_t used = 0;
            int ret = wsproto_parser_feed(&p, q, n, &used, &m, why, sizeof(why));
            if (used > n || (failed && ret >= 0))
                abort();
            if (ret < 0) {
                failed = true;
                n = 0;
                break;
            }
            if (ret == 1) {
                bool control = m.opcode & 0x08;
                if ((control && m.len > WS_CONTROL_MAX) || (!control && m.len > FUZZ_MAX_MSG) ||
                    (m.len && !m.data))
                    abort();
                volatile uint8_t sink = 0;
                for (size_t i = 0; i < m.len; i++)
                    sink ^= m.data[i]; /* every byte handed out is readable */
                (void)sink;
            } else if (used != n) {
                abort();
            }
            q += used;
            n -= used;
        }
    }
    wsproto_parser_fini(&p);
    return 0;
}
