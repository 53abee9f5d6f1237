/* Test helper: load a JSON vector file and decode hex fields. */
#ifndef ZTNA_TESTS_CRYPTO_JSON_FILE_H
#define ZTNA_TESTS_CRYPTO_JSON_FILE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/hex.h"

/* Parses the file at path; NULL (with a message) on failure. Free with cJSON_Delete(). */
static inline cJSON *json_file_load(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n > 0 ? malloc((size_t)n + 1) : NULL;
    size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    if (!buf || got != (size_t)n) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    if (!j)
        fprintf(stderr, "cannot parse %s\n", path);
    return j;
}

/* Hex string field name of obj decoded into a new buffer (free()); empty string gives a
 * non-NULL 1-byte buffer and *len 0. NULL if absent or not hex. */
static inline uint8_t *json_hex(const cJSON *obj, const char *name, size_t *len)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(obj, name);
    *len = 0;
    if (!cJSON_IsString(s))
        return NULL;
    if (s->valuestring[0] == 0)
        return calloc(1, 1);
    return hex_decode_alloc(s->valuestring, len);
}

static inline const char *json_str(const cJSON *obj, const char *name)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(s) ? s->valuestring : "";
}

#endif
