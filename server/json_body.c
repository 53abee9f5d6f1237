/* Field-table JSON body parsing (see json_body.h). */
#include "server/json_body.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/cursor.h"

#define MAX_SAFE_INT 9007199254740992.0 /* 2^53: beyond it a double is not an exact integer */

bool json_utf8_valid(const char *s, size_t len)
{
    struct cursor c = cursor_init(s, len);

    while (cursor_left(&c)) {
        uint8_t b = cursor_u8(&c);
        uint32_t cp;
        int more;

        if (b < 0x80)
            continue;
        if (b >= 0xc2 && b <= 0xdf) {
            more = 1;
            cp = b & 0x1f;
        } else if (b >= 0xe0 && b <= 0xef) {
            more = 2;
            cp = b & 0x0f;
        } else if (b >= 0xf0 && b <= 0xf4) {
            more = 3;
            cp = b & 0x07;
        } else {
            return false;
        }
        for (int i = 0; i < more; i++) {
            uint8_t k = cursor_u8(&c);

            if (!c.ok || (k & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (k & 0x3f);
        }
        if ((more == 2 && cp < 0x800) || (more == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return false;
        if (cp >= 0xd800 && cp <= 0xdfff)
            return false;
    }
    return c.ok;
}

/* cJSON decodes "\u0000" into a NUL that silently truncates the string: refuse it up front. */
static bool has_escaped_nul(const char *s, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] != '\\')
            continue;
        if (s[i + 1] == 'u' && i + 5 < len && s[i + 2] == '0' && s[i + 3] == '0' &&
            s[i + 4] == '0' && s[i + 5] == '0')
            return true;
        i++; /* skip the escaped character */
    }
    return false;
}

static int json_depth_ok(const char *s, size_t len)
{
    int depth = 0;
    bool in_str = false;

    for (size_t i = 0; i < len; i++) {
        char ch = s[i];

        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = false;
            continue;
        }
        if (ch == '"')
            in_str = true;
        else if (ch == '{' || ch == '[') {
            if (++depth > SRV_MAX_JSON_DEPTH)
                return false;
        } else if (ch == '}' || ch == ']')
            depth--;
    }
    return true;
}

static int fail(struct json_body_error *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct json_body_error *err, const char *code, const char *fmt, ...)
{
    va_list ap;

    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static const struct field_spec *find_field(const struct body_spec *spec, const char *name,
                                           size_t *idx)
{
    for (size_t i = 0; i < spec->nfields; i++) {
        if (strcmp(spec->fields[i].name, name) == 0) {
            *idx = i;
            return &spec->fields[i];
        }
    }
    return NULL;
}

static int set_field(const struct field_spec *f, const cJSON *v, uint8_t *out,
                     struct json_body_error *err)
{
    void *dst = out + f->offset;

    switch (f->type) {
    case FIELD_STRING: {
        size_t n;

        if (!cJSON_IsString(v))
            return fail(err, "INVALID_FIELD", "field '%s' must be a string", f->name);
        n = strlen(v->valuestring);
        if ((int64_t)n < f->min || (int64_t)n > f->max)
            return fail(err, "INVALID_FIELD", "field '%s' must be %lld..%lld bytes long",
                        f->name, (long long)f->min, (long long)f->max);
        *(const char **)dst = v->valuestring;
        return 0;
    }
    case FIELD_INT: {
        double d = v->valuedouble;

        if (!cJSON_IsNumber(v))
            return fail(err, "INVALID_FIELD", "field '%s' must be an integer", f->name);
        if (!isfinite(d) || fabs(d) > MAX_SAFE_INT || d != floor(d))
            return fail(err, "INVALID_FIELD", "field '%s' must be an integer in %lld..%lld",
                        f->name, (long long)f->min, (long long)f->max);
        if (d < (double)f->min || d > (double)f->max)
            return fail(err, "INVALID_FIELD", "field '%s' must be in %lld..%lld", f->name,
                        (long long)f->min, (long long)f->max);
        *(int64_t *)dst = (int64_t)d;
        return 0;
    }
    case FIELD_BOOL:
        if (!cJSON_IsBool(v))
            return fail(err, "INVALID_FIELD", "field '%s' must be true or false", f->name);
        *(bool *)dst = cJSON_IsTrue(v);
        return 0;
    case FIELD_STRV: {
        struct json_strv *sv = dst;
        const cJSON *e;
        int64_t n;

        if (!cJSON_IsArray(v))
            return fail(err, "INVALID_FIELD", "field '%s' must be an array of strings", f->name);
        n = cJSON_GetArraySize(v);
        if (n < f->min || n > f->max || n > SRV_MAX_STRV)
            return fail(err, "INVALID_FIELD", "field '%s' must have %lld..%lld elements",
                        f->name, (long long)f->min,
                        (long long)(f->max < SRV_MAX_STRV ? f->max : SRV_MAX_STRV));
        sv->n = 0;
        cJSON_ArrayForEach(e, v)
        {
            size_t len;

            if (!cJSON_IsString(e))
                return fail(err, "INVALID_FIELD", "field '%s' must contain only strings",
                            f->name);
            len = strlen(e->valuestring);
            if (len == 0 || len > SRV_MAX_NAME_BYTES)
                return fail(err, "INVALID_FIELD", "elements of '%s' must be 1..%d bytes",
                            f->name, SRV_MAX_NAME_BYTES);
            sv->v[sv->n++] = e->valuestring;
        }
        return 0;
    }
    case FIELD_OBJECT:
        if (!cJSON_IsObject(v))
            return fail(err, "INVALID_FIELD", "field '%s' must be an object", f->name);
        *(const cJSON **)dst = v;
        return 0;
    case FIELD_ARRAY:
        if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < f->min || cJSON_GetArraySize(v) > f->max)
            return fail(err, "INVALID_FIELD", "field '%s' must be an array of %lld..%lld elements",
                        f->name, (long long)f->min, (long long)f->max);
        *(const cJSON **)dst = v;
        return 0;
    }
    return fail(err, "INVALID_FIELD", "field '%s' has an unsupported type", f->name);
}

int json_body_parse(const struct body_spec *spec, const char *body, size_t len, void *out,
                    cJSON **root, uint32_t *present, struct json_body_error *err)
{
    cJSON *tree = NULL;
    const char *end = NULL;
    const cJSON *item;
    uint32_t seen = 0;
    int ret = 0;

    *root = NULL;
    *present = 0;
    memset(out, 0, spec->size);
    if (spec->nfields > SRV_MAX_BODY_FIELDS)
        return fail(err, "INTERNAL", "body spec too large");
    if (!json_utf8_valid(body, len)) {
        ret = fail(err, "INVALID_JSON", "request body is not valid UTF-8");
        goto out;
    }
    if (memchr(body, '\0', len) || has_escaped_nul(body, len)) {
        ret = fail(err, "INVALID_JSON", "NUL characters are not allowed");
        goto out;
    }
    if (!json_depth_ok(body, len)) {
        ret = fail(err, "INVALID_JSON", "JSON nested deeper than %d", SRV_MAX_JSON_DEPTH);
        goto out;
    }
    tree = cJSON_ParseWithLengthOpts(body, len, &end, false);
    while (tree && end < body + len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
        end++;
    if (!tree || end != body + len) {
        ret = fail(err, "INVALID_JSON", "request body is not valid JSON");
        goto out;
    }
    if (!cJSON_IsObject(tree)) {
        ret = fail(err, "INVALID_JSON", "request body must be a JSON object");
        goto out;
    }
    cJSON_ArrayForEach(item, tree)
    {
        size_t idx;
        const struct field_spec *f = find_field(spec, item->string ? item->string : "", &idx);

        if (!f) {
            ret = fail(err, "UNKNOWN_FIELD", "unknown field '%.64s'",
                       item->string ? item->string : "");
            goto out;
        }
        if (seen & (1u << idx)) {
            ret = fail(err, "INVALID_FIELD", "field '%s' appears twice", f->name);
            goto out;
        }
        seen |= 1u << idx;
        if (cJSON_IsNull(item) && !f->required)
            continue; /* explicit null = absent */
        ret = set_field(f, item, out, err);
        if (ret < 0)
            goto out;
    }
    for (size_t i = 0; i < spec->nfields; i++) {
        const struct field_spec *f = &spec->fields[i];
        bool have = (seen & (1u << i)) && !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(tree, f->name));

        if (have)
            continue;
        seen &= ~(1u << i);
        if (f->required) {
            ret = fail(err, "MISSING_FIELD", "field '%s' is required", f->name);
            goto out;
        }
        if (f->type == FIELD_INT)
            *(int64_t *)((uint8_t *)out + f->offset) = f->def;
        else if (f->type == FIELD_BOOL)
            *(bool *)((uint8_t *)out + f->offset) = f->def != 0;
    }
    *present = seen;
    *root = tree;
    tree = NULL;
out:
    cJSON_Delete(tree);
    if (ret < 0)
        memset(out, 0, spec->size);
    return ret;
}
