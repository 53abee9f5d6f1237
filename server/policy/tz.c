/* TZif reader (RFC 8536): the version 2+ 64-bit block's transitions and local time types, and the
 * footer's POSIX TZ rule for times after the last transition (section 3.3). "Slim" files (zic -b
 * slim, what many distributions ship) stop their transitions at the zone's last rule change and
 * leave every later time to the footer. */
#include "common/cursor.h"
#include "server/policy/policy_limits.h"
#include "server/policy/tz.h"
#include "server/policy/tz_posix.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tz_info {
    size_t n;           /* transitions */
    int64_t *at;        /* transition times, ascending */
    int32_t *off;       /* offset in effect from at[i] */
    int32_t off_before; /* before the first transition */
    bool has_rule;      /* footer rule, from the last transition on (all times when n == 0) */
    struct tz_rule rule;
};

static bool name_ok(const char *name)
{
    size_t l = strlen(name);
    if (l == 0 || l > 60 || name[0] == '/' || strstr(name, ".."))
        return false;
    for (size_t i = 0; i < l; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '_' || c == '-' || c == '+'))
            return false;
    }
    return true;
}

/* "\n" TZ-string "\n"; an empty string means no rule (the last type continues). */
static int footer_parse(struct cursor *c, struct tz_info *tz)
{
    const uint8_t *nl = cursor_take(c, 1);
    size_t left = cursor_left(c);
    if (!nl || *nl != '\n')
        return -EINVAL;
    const uint8_t *s = cursor_take(c, 0);
    const uint8_t *end = s ? memchr(s, '\n', left) : NULL;
    if (!end)
        return -EINVAL;
    if (end == s)
        return 0;
    if (!tz_rule_parse((const char *)s, (size_t)(end - s), &tz->rule))
        return -EINVAL;
    tz->has_rule = true;
    return 0;
}

static int tzif_parse(const uint8_t *b, size_t len, struct tz_info *tz)
{
    struct cursor c = cursor_init(b, len);
    uint32_t cnt[6];
    const uint8_t *magic = cursor_take(&c, 4);
    uint8_t ver = cursor_u8(&c);
    if (!magic || memcmp(magic, "TZif", 4) || ver < '2')
        return -EINVAL;
    cursor_take(&c, 15);
    for (int i = 0; i < 6; i++)
        cnt[i] = cursor_be32(&c);
    /* skip the v1 block: isut, isstd, leap*8, time*4, time, type*6, chars */
    size_t v1 = (size_t)cnt[0] + cnt[1] + (size_t)cnt[2] * 8 + (size_t)cnt[3] * 5 +
                (size_t)cnt[4] * 6 + cnt[5];
    if (cnt[3] > 100000 || cnt[4] > 256 || !cursor_take(&c, v1) || !cursor_take(&c, 20))
        return -EINVAL;
    for (int i = 0; i < 6; i++)
        cnt[i] = cursor_be32(&c);
    uint32_t timecnt = cnt[3], typecnt = cnt[4];
    if (!c.ok || timecnt > 100000 || typecnt == 0 || typecnt > 256)
        return -EINVAL;
    int32_t types[256];
    tz->at = malloc((timecnt ? timecnt : 1) * sizeof(*tz->at));
    tz->off = malloc((timecnt ? timecnt : 1) * sizeof(*tz->off));
    if (!tz->at || !tz->off)
        return -ENOMEM;
    for (uint32_t i = 0; i < timecnt; i++) {
        uint64_t hi = cursor_be32(&c); /* two statements: operand order is unspecified */
        tz->at[i] = (int64_t)(hi << 32 | cursor_be32(&c));
    }
    const uint8_t *idx = cursor_take(&c, timecnt);
    for (uint32_t i = 0; i < typecnt; i++) {
        types[i] = (int32_t)cursor_be32(&c);
        cursor_take(&c, 2);
    }
    if (!c.ok)
        return -EINVAL;
    for (uint32_t i = 0; i < timecnt; i++) {
        if (idx[i] >= typecnt || (i && tz->at[i] <= tz->at[i - 1]))
            return -EINVAL;
        tz->off[i] = types[idx[i]];
    }
    tz->n = timecnt;
    tz->off_before = types[0];
    /* designations, leap records (8 + 4 bytes), std/wall and UT/local indicators */
    if (cnt[2] > 100000 || !cursor_take(&c, (size_t)cnt[5] + (size_t)cnt[2] * 12 + cnt[1] + cnt[0]))
        return -EINVAL;
    return footer_parse(&c, tz);
}

int tz_parse(const uint8_t *buf, size_t len, struct tz_info **out)
{
    struct tz_info *tz = calloc(1, sizeof(*tz));
    int ret;
    *out = NULL;
    if (!tz)
        return -ENOMEM;
    ret = tzif_parse(buf, len, tz);
    if (ret) {
        tz_free(tz);
        return ret;
    }
    *out = tz;
    return 0;
}

int tz_load(const char *name, struct tz_info **out)
{
    char path[128];
    uint8_t *buf = NULL;
    int ret;
    *out = NULL;
    if (!name_ok(name))
        return -EINVAL;
    snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return -ENOENT;
    buf = malloc(POLICY_TZ_MAX_BYTES);
    if (!buf) {
        ret = -ENOMEM;
        goto out;
    }
    size_t len = fread(buf, 1, POLICY_TZ_MAX_BYTES, f);
    ret = tz_parse(buf, len, out);
out:
    fclose(f);
    free(buf);
    return ret;
}

void tz_free(struct tz_info *tz)
{
    if (!tz)
        return;
    free(tz->at);
    free(tz->off);
    free(tz);
}

int32_t tz_offset(const struct tz_info *tz, int64_t t)
{
    if (tz->has_rule && (tz->n == 0 || t >= tz->at[tz->n - 1]))
        return tz_rule_offset(&tz->rule, t);
    if (tz->n == 0 || t < tz->at[0])
        return tz->off_before;
    size_t lo = 0, hi = tz->n; /* largest i with at[i] <= t */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->at[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return tz->off[lo];
}

void tz_local(const struct tz_info *tz, int64_t t, int *wday, int *minute)
{
    int64_t l = t + tz_offset(tz, t);
    int64_t days = l >= 0 ? l / 86400 : (l - 86399) / 86400;
    int64_t sec = l - days * 86400;
    *wday = (int)(((days % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
    *minute = (int)(sec / 60);
}
