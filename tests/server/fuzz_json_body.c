/* Fuzzes json_body_parse() with a field table that has every field type. Invariants: never
 * crashes; on success every string is valid UTF-8 within bounds and ints are within bounds. */
#include <stdlib.h>

/* Not FZ_ASSERT(): release builds define NDEBUG and the invariants must still hold. */
#define FZ_ASSERT(x) do { if (!(x)) abort(); } while (0)
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "server/json_body.h"

struct fz_body {
    const char *s;
    int64_t i;
    bool b;
    struct json_strv v;
    const cJSON *o;
};

static const struct field_spec fields[] = {
    {"s", FIELD_STRING, true, offsetof(struct fz_body, s), 1, 64, 0},
    {"i", FIELD_INT, false, offsetof(struct fz_body, i), -1000, 1000, 7},
    {"b", FIELD_BOOL, false, offsetof(struct fz_body, b), 0, 1, 0},
    {"v", FIELD_STRV, false, offsetof(struct fz_body, v), 0, 8, 0},
    {"o", FIELD_OBJECT, false, offsetof(struct fz_body, o), 0, 0, 0},
};
static const struct body_spec spec = BODY_SPEC(struct fz_body, fields);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_body b;
    struct json_body_error err;
    cJSON *root = NULL;
    uint32_t present = 0;
    int ret = json_body_parse(&spec, (const char *)data, size, &b, &root, &present, &err);

    if (ret == 0) {
        size_t n = strlen(b.s);

        FZ_ASSERT(n >= 1 && n <= 64 && json_utf8_valid(b.s, n));
        FZ_ASSERT(b.i >= -1000 && b.i <= 1000);
        FZ_ASSERT(b.v.n <= 8);
        for (size_t k = 0; k < b.v.n; k++)
            FZ_ASSERT(json_utf8_valid(b.v.v[k], strlen(b.v.v[k])));
        FZ_ASSERT(present & 1u);
        cJSON_Delete(root);
    } else {
        FZ_ASSERT(root == NULL && err.code != NULL);
    }
    return 0;
}
