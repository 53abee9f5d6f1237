/* Fuzzes router_path_split() and router_match(). Invariants: never crashes; an accepted path has
 * no "."/".." segment and no '/', NUL or control byte inside a segment; a match of a pattern
 * with captures returns exactly the segments at the capture positions. */
#include <stdlib.h>

/* Not FZ_ASSERT(): release builds define NDEBUG and the invariants must still hold. */
#define FZ_ASSERT(x) do { if (!(x)) abort(); } while (0)
#include <stdint.h>
#include <string.h>

#include "server/router.h"

static const char *const patterns[] = {
    "/api/orgs", "/api/orgs/{org}", "/api/orgs/{org}/users/{user}", "/api/me",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[SRV_MAX_PATH_BYTES + 8];
    struct path_segs segs;
    struct route_params params;

    if (size >= sizeof(path))
        size = sizeof(path) - 1;
    memcpy(path, data, size);
    path[size] = '\0';
    if (router_path_split(path, &segs) < 0)
        return 0;
    FZ_ASSERT(segs.n <= SRV_MAX_PATH_SEGMENTS);
    for (size_t i = 0; i < segs.n; i++) {
        const char *s = segs.seg[i];

        FZ_ASSERT(strcmp(s, ".") != 0 && strcmp(s, "..") != 0 && s[0] != '\0');
        for (const char *p = s; *p; p++)
            FZ_ASSERT((unsigned char)*p >= 0x20 && *p != '/' && *p != '\\' && *p != 0x7f);
    }
    for (size_t k = 0; k < sizeof(patterns) / sizeof(patterns[0]); k++) {
        if (!router_match(patterns[k], &segs, &params))
            continue;
        if (k == 2) {
            FZ_ASSERT(params.n == 2 && strcmp(params.p[0].value, segs.seg[2]) == 0 &&
                   strcmp(params.p[1].value, segs.seg[4]) == 0);
            FZ_ASSERT(strcmp(router_param(&params, "user"), segs.seg[4]) == 0);
        }
    }
    return 0;
}
