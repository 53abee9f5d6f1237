/* Fuzzes the dashboard's header negotiation (server/web_neg.c): input = Accept-Encoding NUL
 * If-None-Match. Invariants: never crashes or reads past the strings; an If-None-Match equal to
 * the entity tag, or listing it, or "*" matches; gzip;q=0 alone never accepts. */
#include <stdio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/web.h"

#define FZ_ASSERT(x) do { if (!(x)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), *inm;
    char list[600];

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    inm = buf + strlen(buf);
    inm = inm < buf + size ? inm + 1 : inm;
    (void)web_accepts_gzip(buf);
    (void)web_etag_match(inm, "\"0123456789abcdef\"");
    FZ_ASSERT(web_etag_match("\"0123456789abcdef\"", "\"0123456789abcdef\""));
    if (strlen(inm) < 400 && !strchr(inm, '"')) {
        snprintf(list, sizeof(list), "%s, \"0123456789abcdef\"", inm);
        FZ_ASSERT(web_etag_match(list, "\"0123456789abcdef\""));
    }
    FZ_ASSERT(!web_accepts_gzip("gzip;q=0"));
    free(buf);
    return 0;
}
