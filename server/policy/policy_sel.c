/* Selector, port and time syntax of the policy language, and error formatting. */
#include "common/filter/filter.h"
#include "server/policy/policy_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int vperr(struct policy_error *err, int line, int col, const char *fmt, va_list ap)
{
    char m[POLICY_ERR_MAX];
    vsnprintf(m, sizeof(m), fmt, ap);
    err->line = line;
    err->col = col;
    if (line > 0)
        snprintf(err->msg, sizeof(err->msg), "line %d, column %d: %.200s", line, col, m);
    else
        snprintf(err->msg, sizeof(err->msg), "%s", m);
    return -EINVAL;
}

int perr(struct policy_error *err, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vperr(err, line, col, fmt, ap);
    va_end(ap);
    return r;
}

int perr_at(struct policy_error *err, const struct hj_node *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vperr(err, n->line, n->col, fmt, ap);
    va_end(ap);
    return r;
}

int policy_group_find(const struct policy *p, const char *name)
{
    for (size_t i = 0; i < p->ngroups; i++)
        if (!strcmp(p->groups[i].name, name))
            return (int)i;
    return -1;
}

int policy_tag_find(const struct policy *p, const char *name)
{
    for (size_t i = 0; i < p->ntags; i++)
        if (!strcmp(p->tags[i].name, name))
            return (int)i;
    return -1;
}

static int host_find(const struct policy *p, const char *name)
{
    for (size_t i = 0; i < p->nhosts; i++)
        if (!strcmp(p->hosts[i].name, name))
            return (int)i;
    return -1;
}

int sel_parse(const struct policy *p, const char *s, int line, int col, bool dst,
              struct policy_sel *out, struct policy_error *err)
{
    memset(out, 0, sizeof(*out));
    out->line = line;
    out->col = col;
    out->idx = -1;
    if (strlen(s) == 0 || strlen(s) >= POLICY_MAX_NAME)
        return perr(err, line, col, "empty or too long name");
    out->name = strdup(s);
    if (!out->name)
        return -ENOMEM;
    if (!strcmp(s, "*")) {
        out->kind = SEL_ANY;
    } else if (!strcmp(s, "autogroup:member")) {
        out->kind = SEL_MEMBER;
    } else if (!strcmp(s, "autogroup:self")) {
        if (!dst)
            return perr(err, line, col, "autogroup:self is only allowed in dst");
        out->kind = SEL_SELF;
    } else if (!strncmp(s, "autogroup:", 10)) {
        return perr(err, line, col, "unknown autogroup \"%s\"", s);
    } else if (!strncmp(s, "group:", 6)) {
        out->kind = SEL_GROUP;
        out->idx = policy_group_find(p, s);
        if (out->idx < 0 && strncmp(s, "group:oidc:", 11))
            return perr(err, line, col, "unknown group \"%s\"", s);
    } else if (!strncmp(s, "tag:", 4)) {
        out->kind = SEL_TAG;
        out->idx = policy_tag_find(p, s);
        if (out->idx < 0)
            return perr(err, line, col, "unknown tag \"%s\" (not in tagOwners)", s);
    } else if (strchr(s, '@')) {
        out->kind = SEL_USER;
        for (char *c = out->name; *c; c++)
            *c = (char)tolower((unsigned char)*c);
    } else if (filter_prefix_parse(s, &out->family, out->addr, &out->plen) == 0) {
        out->kind = SEL_CIDR;
    } else if ((out->idx = host_find(p, s)) >= 0) {
        out->kind = SEL_HOST;
        out->family = p->hosts[out->idx].family;
        out->plen = p->hosts[out->idx].plen;
        memcpy(out->addr, p->hosts[out->idx].addr, 16);
    } else {
        return perr(err, line, col, "unknown name \"%s\"", s);
    }
    return 0;
}

void sel_clear(struct policy_sel *s)
{
    if (s)
        free(s->name);
}

static int port_one(const char *s, size_t n, uint16_t *v)
{
    unsigned x = 0;
    if (n == 0 || n > 5)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -EINVAL;
        x = x * 10 + (unsigned)(s[i] - '0');
    }
    if (x > 65535)
        return -EINVAL;
    *v = (uint16_t)x;
    return 0;
}

int ports_parse(const char *s, uint16_t (*ranges)[2], size_t max, size_t *n)
{
    *n = 0;
    if (!strcmp(s, "*")) {
        ranges[0][0] = 0;
        ranges[0][1] = 65535;
        *n = 1;
        return 0;
    }
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        const char *dash = memchr(s, '-', len);
        uint16_t lo, hi;
        if (*n >= max)
            return -E2BIG;
        if (dash) {
            if (port_one(s, (size_t)(dash - s), &lo) ||
                port_one(dash + 1, len - (size_t)(dash - s) - 1, &hi) || lo > hi)
                return -EINVAL;
        } else {
            if (port_one(s, len, &lo))
                return -EINVAL;
            hi = lo;
        }
        ranges[*n][0] = lo;
        ranges[*n][1] = hi;
        (*n)++;
        if (!comma)
            break;
        s = comma + 1;
        if (!*s)
            return -EINVAL;
    }
    return *n ? 0 : -EINVAL;
}

int dst_parse(const struct policy *p, const char *s, int line, int col, struct policy_dst **out,
              size_t *n, struct policy_error *err)
{
    uint16_t r[64][2];
    size_t nr;
    char sel[POLICY_MAX_NAME];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof(sel) || colon == s)
        return perr(err, line, col, "destination \"%s\" needs a port: name:port", s);
    memcpy(sel, s, (size_t)(colon - s));
    sel[colon - s] = '\0';
    /* "[v6addr]:port" form */
    if (sel[0] == '[' && sel[strlen(sel) - 1] == ']') {
        memmove(sel, sel + 1, strlen(sel));
        sel[strlen(sel) - 1] = '\0';
    }
    int ret = ports_parse(colon + 1, r, 64, &nr);
    if (ret)
        return perr(err, line, col + (int)(colon - s) + 2, "bad port \"%s\" in \"%s\"", colon + 1, s);
    struct policy_dst *d = realloc(*out, (*n + nr) * sizeof(*d));
    if (!d)
        return -ENOMEM;
    *out = d;
    for (size_t i = 0; i < nr; i++) {
        ret = sel_parse(p, sel, line, col, true, &d[*n].sel, err);
        d[*n].port_lo = r[i][0];
        d[*n].port_hi = r[i][1];
        (*n)++;
        if (ret)
            return ret;
    }
    return 0;
}

uint64_t hj_hash(const struct hj_node *n, uint64_t h)
{
#define MIX(v) (h = (h ^ (uint64_t)(v)) * 0x100000001b3ULL)
    MIX(n->type + 1);
    if (n->key)
        for (const char *c = n->key; *c; c++)
            MIX((unsigned char)*c);
    MIX(0xff);
    switch (n->type) {
    case HJ_BOOL: MIX(n->b); break;
    case HJ_NUMBER: {
        uint64_t v;
        memcpy(&v, &n->num, 8);
        MIX(v);
        break;
    }
    case HJ_STRING:
        for (const char *c = n->str; *c; c++)
            MIX((unsigned char)*c);
        break;
    default:
        break;
    }
    for (size_t i = 0; i < n->n; i++)
        h = hj_hash(&n->kids[i], h);
    MIX(n->n);
#undef MIX
    return h;
}

/* "2026-11-23T09:30:00Z" or with "+01:00"; also plain unix seconds. */
int time_parse(const char *s, int64_t *out)
{
    struct tm tm = {0};
    int oh = 0, om = 0, used = 0;
    char sign = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s && !*end) {
        *out = v;
        return 0;
    }
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &used) != 6)
        return -EINVAL;
    const char *z = s + used;
    if (!strcmp(z, "Z")) {
        /* UTC */
    } else if (sscanf(z, "%c%2d:%2d", &sign, &oh, &om) == 3 && (sign == '+' || sign == '-') &&
               strlen(z) == 6) {
    } else {
        return -EINVAL;
    }
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60 || oh > 23 || om > 59)
        return -EINVAL;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int64_t t = (int64_t)timegm(&tm);
    int64_t off = (int64_t)(oh * 3600 + om * 60);
    *out = sign == '-' ? t + off : t - off;
    return 0;
}

int policy_time_parse(const char *s, int64_t *out) { return time_parse(s, out); }
