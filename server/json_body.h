/* JSON request bodies parsed ONCE, at the edge, by a table of fields into a typed struct.
 * No civetweb here, so the fuzzer drives it directly (tests/server/fuzz_json_body.c).
 *
 * Rules: the body must be valid UTF-8 and a JSON object; no "\u0000" in strings; no duplicate
 * keys; unknown fields -> UNKNOWN_FIELD; wrong type -> INVALID_FIELD; INT must be an integer
 * within [min, max] (and |v| <= 2^53); STRING length in bytes within [min, max]; STRV is an
 * array of [min, max] strings, each 1..SRV_MAX_NAME_BYTES bytes; OBJECT is any JSON object,
 * borrowed as a cJSON pointer; ARRAY is any JSON array of [min, max] elements, borrowed likewise.
 * Absent INT/BOOL fields take .def, absent STRING is NULL. */
#ifndef ZTNA_SERVER_JSON_BODY_H
#define ZTNA_SERVER_JSON_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "server/limits.h"

enum field_type { FIELD_STRING, FIELD_INT, FIELD_BOOL, FIELD_STRV, FIELD_OBJECT, FIELD_ARRAY };

struct field_spec {
    const char *name;
    enum field_type type;
    bool required;
    size_t offset;    /* offsetof(the typed struct, member) */
    int64_t min, max; /* INT: value; STRING: byte length; STRV: element count */
    int64_t def;      /* INT / BOOL: value when absent */
};

/* Member types for each field_type: STRING const char * (borrowed from the tree), INT int64_t,
 * BOOL bool, STRV struct json_strv, OBJECT and ARRAY const cJSON *. */
struct json_strv {
    const char *v[SRV_MAX_STRV];
    size_t n;
};

struct body_spec {
    const struct field_spec *fields;
    size_t nfields;   /* <= SRV_MAX_BODY_FIELDS */
    size_t size;      /* sizeof(the typed struct) */
};
#define BODY_SPEC(type, fields_array) \
    {(fields_array), sizeof(fields_array) / sizeof((fields_array)[0]), sizeof(type)}

struct json_body_error {
    const char *code; /* "INVALID_JSON", "UNKNOWN_FIELD", "INVALID_FIELD", "MISSING_FIELD" */
    char message[SRV_MAX_ERRMSG_BYTES];
};

/* Parses len bytes of body into out (spec->size bytes, zeroed first). On success returns 0, sets
 * *root to the new tree the borrowed strings point into (free with cJSON_Delete after use) and
 * *present to the bitmask of fields present (bit i = spec->fields[i]). On bad input returns
 * -EINVAL with err filled and *root NULL; -ENOMEM on allocation failure. */
int json_body_parse(const struct body_spec *spec, const char *body, size_t len, void *out,
                    cJSON **root, uint32_t *present, struct json_body_error *err);

/* True if s[0..len) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool json_utf8_valid(const char *s, size_t len);

#endif
