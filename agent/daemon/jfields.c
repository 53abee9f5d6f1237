/* Table-driven extraction of cJSON objects into typed structs (see jfields.h). */
#include "agent/daemon/jfields.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "common/hex.h"

bool jfields_key32_decode(const char *s, uint8_t out[static 32])
{
    size_t n = strlen(s), got = 0;
    if (n == 64)
        return hex_decode(out, 32, s);
    return n == 44 &&
           sodium_base642bin(out, 32, s, n, NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
           got == 32;
}

static bool plain_text(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

static int str_field(const struct jfield *f, const cJSON *v, char *dst, char *why, size_t why_len)
{
    size_t l;
    if (!cJSON_IsString(v) || !v->valuestring) {
        snprintf(why, why_len, "%s: expected a string", f->name);
        return -EINVAL;
    }
    l = strlen(v->valuestring);
    if (l >= f->cap || (l == 0 && f->lo != 0) || !plain_text(v->valuestring)) {
        snprintf(why, why_len, "%s: empty, too long (max %zu) or not plain text", f->name,
                 f->cap - 1);
        return -EINVAL;
    }
    memcpy(dst, v->valuestring, l + 1);
    return 0;
}

static int one_field(const struct jfield *f, const cJSON *v, char *base, char *why, size_t why_len)
{
    char *dst = base + f->off;
    switch (f->type) {
    case JF_I64: {
        double d = v->valuedouble;
        if (!cJSON_IsNumber(v) || d != (double)(int64_t)d || (int64_t)d < f->lo || (int64_t)d > f->hi) {
            snprintf(why, why_len, "%s: expected an integer in [%lld, %lld]", f->name,
                     (long long)f->lo, (long long)f->hi);
            return -EINVAL;
        }
        int64_t i = (int64_t)d;
        memcpy(dst, &i, sizeof(i));
        return 0;
    }
    case JF_BOOL:
        if (!cJSON_IsBool(v)) {
            snprintf(why, why_len, "%s: expected true or false", f->name);
            return -EINVAL;
        }
        *(bool *)(void *)dst = cJSON_IsTrue(v);
        return 0;
    case JF_STR:
        return str_field(f, v, dst, why, why_len);
    case JF_STRARR: {
        size_t n = 0;
        const cJSON *it;
        if (!cJSON_IsArray(v) || (size_t)cJSON_GetArraySize(v) > f->max_n) {
            snprintf(why, why_len, "%s: expected an array of at most %zu strings", f->name, f->max_n);
            return -EINVAL;
        }
        cJSON_ArrayForEach(it, v)
        {
            int ret = str_field(f, it, dst + n * f->cap, why, why_len);
            if (ret)
                return ret;
            n++;
        }
        memcpy(base + f->count_off, &n, sizeof(n));
        return 0;
    }
    case JF_IPV4:
        if (!cJSON_IsString(v) || !v->valuestring || inet_pton(AF_INET, v->valuestring, dst) != 1) {
            snprintf(why, why_len, "%s: expected an IPv4 address", f->name);
            return -EINVAL;
        }
        return 0;
    case JF_KEY32:
        if (!cJSON_IsString(v) || !v->valuestring ||
            !jfields_key32_decode(v->valuestring, (uint8_t *)dst)) {
            snprintf(why, why_len, "%s: expected a 32-byte key (base64 or hex)", f->name);
            return -EINVAL;
        }
        return 0;
    case JF_OBJECT:
        if (cJSON_IsNull(v)) {
            *(const cJSON **)(void *)dst = NULL;
            return 0;
        }
        if (!cJSON_IsObject(v)) {
            snprintf(why, why_len, "%s: expected an object or null", f->name);
            return -EINVAL;
        }
        *(const cJSON **)(void *)dst = v;
        return 0;
    case JF_ARRAY:
        if (!cJSON_IsArray(v) || (size_t)cJSON_GetArraySize(v) > f->max_n) {
            snprintf(why, why_len, "%s: expected an array of at most %zu items", f->name, f->max_n);
            return -EINVAL;
        }
        *(const cJSON **)(void *)dst = v;
        return 0;
    }
    return -EINVAL;
}

int jfields_parse(const cJSON *obj, const struct jfield *f, size_t n, void *out, uint64_t *seen,
                  char *why, size_t why_len)
{
    uint64_t mask = 0;
    if (!cJSON_IsObject(obj)) {
        snprintf(why, why_len, "expected a JSON object");
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, f[i].name);
        if (!v) {
            if (f[i].required) {
                snprintf(why, why_len, "%s: missing", f[i].name);
                return -EINVAL;
            }
            continue;
        }
        int ret = one_field(&f[i], v, out, why, why_len);
        if (ret)
            return ret;
        if (i < 64)
            mask |= 1ull << i;
    }
    if (seen)
        *seen = mask;
    return 0;
}
