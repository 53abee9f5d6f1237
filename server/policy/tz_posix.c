/* POSIX TZ rule strings (POSIX.1-2017 section 8.3, TZ; RFC 8536 section 3.3 for the extensions
 * TZif footers use). See tz_posix.h. */
#include "server/policy/tz_posix.h"

#define HOUR 3600
#define DAY 86400
/* Keeps the calendar arithmetic far from int64 overflow: about 35,000 years either side. */
#define T_LIMIT ((int64_t)1 << 40)

struct sp {
    const char *s;
    size_t len, i;
};

static int peek(const struct sp *p) { return p->i < p->len ? (unsigned char)p->s[p->i] : -1; }
static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* std / dst designation: 3+ letters, or <...> of letters, digits, '+' and '-'. */
static bool parse_name(struct sp *p)
{
    size_t n = 0;
    if (peek(p) == '<') {
        p->i++;
        while (is_alpha(peek(p)) || is_digit(peek(p)) || peek(p) == '+' || peek(p) == '-') {
            p->i++;
            n++;
        }
        if (peek(p) != '>')
            return false;
        p->i++;
        return n >= 3;
    }
    while (is_alpha(peek(p))) {
        p->i++;
        n++;
    }
    return n >= 3;
}

static bool parse_uint(struct sp *p, int maxdigits, int max, int *v)
{
    int n = 0, x = 0;
    while (is_digit(peek(p)) && n < maxdigits) {
        x = x * 10 + (peek(p) - '0');
        p->i++;
        n++;
    }
    if (n == 0 || is_digit(peek(p)) || x > max)
        return false;
    *v = x;
    return true;
}

/* [+-]hh[:mm[:ss]] in seconds; hh at most maxh. */
static bool parse_hms(struct sp *p, int maxh, int32_t *out)
{
    int sign = 1, h, m = 0, s = 0;
    if (peek(p) == '+' || peek(p) == '-') {
        sign = peek(p) == '-' ? -1 : 1;
        p->i++;
    }
    if (!parse_uint(p, 3, maxh, &h))
        return false;
    if (peek(p) == ':') {
        p->i++;
        if (!parse_uint(p, 2, 59, &m))
            return false;
        if (peek(p) == ':') {
            p->i++;
            if (!parse_uint(p, 2, 59, &s))
                return false;
        }
    }
    *out = sign * (h * HOUR + m * 60 + s);
    return true;
}

static bool parse_date(struct sp *p, struct tz_rule_date *d)
{
    *d = (struct tz_rule_date){.time = 2 * HOUR};
    if (peek(p) == 'J') {
        p->i++;
        d->kind = 'J';
        if (!parse_uint(p, 3, 365, &d->n) || d->n < 1)
            return false;
    } else if (peek(p) == 'M') {
        p->i++;
        d->kind = 'M';
        if (!parse_uint(p, 2, 12, &d->m) || d->m < 1 || peek(p) != '.')
            return false;
        p->i++;
        if (!parse_uint(p, 1, 5, &d->w) || d->w < 1 || peek(p) != '.')
            return false;
        p->i++;
        if (!parse_uint(p, 1, 6, &d->d))
            return false;
    } else {
        d->kind = 'n';
        if (!parse_uint(p, 3, 365, &d->n))
            return false;
    }
    if (peek(p) == '/') {
        p->i++;
        if (!parse_hms(p, 167, &d->time))
            return false;
    }
    return true;
}

bool tz_rule_parse(const char *s, size_t len, struct tz_rule *r)
{
    struct sp p = {.s = s, .len = len};
    int32_t off;
    *r = (struct tz_rule){0};
    if (!parse_name(&p) || !parse_hms(&p, 24, &off))
        return false;
    r->std_off = -off;
    if (p.i == len)
        return true;
    if (!parse_name(&p))
        return false;
    r->has_dst = true;
    r->dst_off = r->std_off + HOUR;
    if (peek(&p) == '+' || peek(&p) == '-' || is_digit(peek(&p))) {
        if (!parse_hms(&p, 24, &off))
            return false;
        r->dst_off = -off;
    }
    if (peek(&p) != ',')
        return false;
    p.i++;
    if (!parse_date(&p, &r->start) || peek(&p) != ',')
        return false;
    p.i++;
    if (!parse_date(&p, &r->end))
        return false;
    return p.i == len;
}

static bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t year_of_days(int64_t z)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    return yoe + era * 400 + (mp >= 10);
}

static int days_in_month(int64_t y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return dim[m - 1] + (m == 2 && is_leap(y));
}

/* The day (days since the epoch) a rule date falls on in year y. */
static int64_t rule_day(const struct tz_rule_date *d, int64_t y)
{
    int64_t jan1 = days_from_civil(y, 1, 1);
    if (d->kind == 'J')
        return jan1 + d->n - 1 + (is_leap(y) && d->n >= 60);
    if (d->kind == 'n')
        return jan1 + d->n;
    int64_t first = days_from_civil(y, d->m, 1);
    int wd_first = (int)(((first % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
    int64_t day = first + (d->d - wd_first + 7) % 7 + (int64_t)(d->w - 1) * 7;
    while (day >= first + days_in_month(y, d->m)) /* week 5 means the last one */
        day -= 7;
    return day;
}

static int64_t transition(const struct tz_rule_date *d, int64_t y, int32_t off_before)
{
    return rule_day(d, y) * DAY + d->time - off_before;
}

int32_t tz_rule_offset(const struct tz_rule *r, int64_t t)
{
    if (!r->has_dst)
        return r->std_off;
    if (t > T_LIMIT)
        t = T_LIMIT;
    if (t < -T_LIMIT)
        t = -T_LIMIT;
    int64_t l = t + r->std_off;
    int64_t y = year_of_days(l >= 0 ? l / DAY : (l - DAY + 1) / DAY);
    /* DST runs from each year's start to its end, or, when the end comes first in the year
     * (southern hemisphere), to the next year's end. Rule times of up to 167 hours can push a
     * transition into a neighbouring year, so the years around t are all asked. */
    bool dst = false;
    for (int64_t k = y - 1; k <= y + 1 && !dst; k++) {
        int64_t s = transition(&r->start, k, r->std_off); /* written in standard time */
        int64_t e = transition(&r->end, k, r->dst_off);   /* written in daylight time */
        if (e < s)
            e = transition(&r->end, k + 1, r->dst_off);
        dst = t >= s && t < e;
    }
    return dst ? r->dst_off : r->std_off;
}
