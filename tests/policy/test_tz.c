/* Time zones: the TZif footer's POSIX TZ rule (RFC 8536 section 3.3).
 *
 * Regression "slim TZif, New York at 08:59:30": on a system whose tzdata is built with -b slim the
 * files have no transitions after 2007, and the reader used the last transition's offset for ever,
 * so a schedule in America/New_York was an hour off for half the year. The test writes slim TZif
 * files itself (a few transitions + the system file's footer) and compares offsets over 2025-2040
 * with the system file read by us and with glibc's localtime_r (an independent reader of the same
 * file and of the POSIX TZ strings). */
#include "server/policy/tz.h"
#include "server/policy/tz_posix.h"
#include "tests/check.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define T2020 ((int64_t)1577836800)
#define T2025 ((int64_t)1735689600)
#define T2041 ((int64_t)2240611200)
#define STEP 1800
/* Monday 2026-11-23 08:59:30 in New York (EST, UTC-5) = 13:59:30Z; see test_policy_scenarios.h */
#define MON_0859 ((int64_t)1795442370)

/* glibc as the reference: TZ set to a zone (":America/New_York") or a POSIX string. */
static void ref_set(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

static int32_t ref_off(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    return (int32_t)tm.tm_gmtoff;
}

struct wbuf {
    uint8_t b[4096];
    size_t n;
};

static void put(struct wbuf *w, const void *p, size_t n)
{
    if (w->n + n <= sizeof(w->b)) {
        memcpy(w->b + w->n, p, n);
    }
    w->n += n;
}
static void put32(struct wbuf *w, uint32_t v)
{
    uint8_t b[4] = {v >> 24, v >> 16, v >> 8, v};
    put(w, b, 4);
}
static void put64(struct wbuf *w, int64_t v)
{
    put32(w, (uint32_t)((uint64_t)v >> 32));
    put32(w, (uint32_t)v);
}

/* A TZif v2 file as zic -b slim writes it: a minimal v1 block, then the 64-bit block with the given
 * transitions (offsets per transition; type 0 = off0, the offset before the first), one
 * designation, no leap seconds, and the footer. */
static size_t tzif_write_slim(struct wbuf *w, const int64_t *at, const int32_t *off, size_t n,
                              int32_t off0, const char *footer)
{
    int32_t types[16];
    uint8_t idx[64];
    size_t ntypes = 0;
    types[ntypes++] = off0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < ntypes && types[k] != off[i])
            k++;
        if (k == ntypes)
            types[ntypes++] = off[i];
        idx[i] = (uint8_t)k;
    }
    w->n = 0;
    uint8_t zero[15] = {0};
    /* v1 header + block: one type, one designation byte */
    put(w, "TZif2", 5);
    put(w, zero, 15);
    put32(w, 0), put32(w, 0), put32(w, 0), put32(w, 0), put32(w, 1), put32(w, 1);
    put32(w, (uint32_t)off0), put(w, "\0\0", 2), put(w, "\0", 1);
    /* v2 header + block */
    put(w, "TZif2", 5);
    put(w, zero, 15);
    put32(w, 0), put32(w, 0), put32(w, 0), put32(w, (uint32_t)n), put32(w, (uint32_t)ntypes);
    put32(w, 4);
    for (size_t i = 0; i < n; i++)
        put64(w, at[i]);
    put(w, idx, n);
    for (size_t k = 0; k < ntypes; k++) {
        uint8_t isdst = 0, ab = 0;
        put32(w, (uint32_t)types[k]);
        put(w, &isdst, 1);
        put(w, &ab, 1);
    }
    put(w, "ZZZ\0", 4);
    put(w, "\n", 1);
    put(w, footer, strlen(footer));
    put(w, "\n", 1);
    return w->n;
}

/* The footer of the system's file for the zone ("" when it has none). */
static bool system_footer(const char *zone, char *out, size_t cap)
{
    char path[256];
    uint8_t buf[1 << 16];
    snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", zone);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (n < 2 || buf[n - 1] != '\n')
        return false;
    size_t i = n - 1;
    while (i > 0 && buf[i - 1] != '\n')
        i--;
    if (n - 1 - i >= cap)
        return false;
    memcpy(out, buf + i, n - 1 - i);
    out[n - 1 - i] = 0;
    return true;
}

/* The exact second in (lo, hi] where off(t) differs from off(lo), for reference and ours. */
static int64_t ref_edge(int64_t lo, int64_t hi)
{
    int32_t o = ref_off(lo);
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (ref_off(mid) == o)
            lo = mid;
        else
            hi = mid;
    }
    return hi;
}

/* Compares tz against glibc's current TZ over [from, to) every STEP seconds and at every change of
 * offset to the second. Returns the number of offset changes seen. */
static int compare_range(const struct tz_info *tz, const char *what, int64_t from, int64_t to)
{
    int changes = 0, bad = 0;
    int32_t prev = ref_off(from);
    for (int64_t t = from; t < to && bad < 5; t += STEP) {
        int32_t r = ref_off(t), o = tz_offset(tz, t);
        if (r != prev) {
            int64_t e = ref_edge(t - STEP, t);
            changes++;
            if (tz_offset(tz, e - 1) != prev || tz_offset(tz, e) != r) {
                fprintf(stderr, "%s: change at %lld: ours %d -> %d, want %d -> %d\n", what,
                        (long long)e, tz_offset(tz, e - 1), tz_offset(tz, e), prev, r);
                bad++;
            }
            prev = r;
        }
        if (o != r) {
            fprintf(stderr, "%s: at %lld offset %d, want %d\n", what, (long long)t, o, r);
            bad++;
        }
        int wday, minute;
        time_t tt = (time_t)t;
        struct tm tm;
        localtime_r(&tt, &tm);
        tz_local(tz, t, &wday, &minute);
        if (wday != tm.tm_wday || minute != tm.tm_hour * 60 + tm.tm_min) {
            fprintf(stderr, "%s: at %lld local day %d minute %d, want %d %d\n", what, (long long)t,
                    wday, minute, tm.tm_wday, tm.tm_hour * 60 + tm.tm_min);
            bad++;
        }
    }
    CHECK(bad == 0);
    return changes;
}

/* A slim file for `zone`: the transitions glibc sees in 2005-2007 (so the last one is long before
 * 2025) and the system file's footer; then 2025-2040 against glibc and the system file. */
static void test_zone_slim(const char *zone, int want_changes)
{
    char footer[128], tzname[160];
    if (!system_footer(zone, footer, sizeof(footer))) {
        fprintf(stderr, "%s: no system TZif file with a footer\n", zone);
        CHECK(!"system zone file");
        return;
    }
    snprintf(tzname, sizeof(tzname), ":%s", zone);
    ref_set(tzname);
    int64_t at[64];
    int32_t off[64];
    size_t n = 0;
    int64_t t0 = 1104537600; /* 2005-01-01 */
    int32_t off0 = ref_off(t0), cur = off0;
    for (int64_t t = t0; t < 1199145600 && n < 64; t += STEP) { /* to 2008-01-01 */
        if (ref_off(t) != cur) {
            at[n] = ref_edge(t - STEP, t);
            off[n] = cur = ref_off(t);
            n++;
        }
    }
    struct wbuf w;
    size_t len = tzif_write_slim(&w, at, off, n, off0, footer);
    CHECK(len <= sizeof(w.b));
    struct tz_info *slim = NULL, *sys = NULL;
    CHECK(tz_parse(w.b, len, &slim) == 0);
    CHECK(tz_load(zone, &sys) == 0);
    if (!slim || !sys) {
        tz_free(slim);
        tz_free(sys);
        return;
    }
    char what[200];
    snprintf(what, sizeof(what), "%s slim (%s)", zone, footer);
    int changes = compare_range(slim, what, T2025, T2041);
    CHECK(changes == want_changes);
    snprintf(what, sizeof(what), "%s system file", zone);
    compare_range(sys, what, T2025, T2041);
    /* and the slim file's own transitions, before the footer takes over */
    for (size_t i = 0; i < n; i++) {
        CHECK(tz_offset(slim, at[i]) == off[i]);
        CHECK(tz_offset(slim, at[i] - 1) == (i ? off[i - 1] : off0));
    }
    tz_free(slim);
    tz_free(sys);
}

/* The bug as CI saw it: New York, Monday 2026-11-23 08:59:30 EST, from a slim file whose last
 * transition is in 2007 (EDT then would give 09:59). */
static void test_regression_slim_new_york_0859(void)
{
    int64_t at[] = {1173596400, 1194156000}; /* 2007-03-11 07:00Z EDT, 2007-11-04 06:00Z EST */
    int32_t off[] = {-14400, -18000};
    struct wbuf w;
    size_t len = tzif_write_slim(&w, at, off, 2, -18000, "EST5EDT,M3.2.0,M11.1.0");
    struct tz_info *tz = NULL;
    CHECK(tz_parse(w.b, len, &tz) == 0);
    if (!tz)
        return;
    int wday, minute;
    tz_local(tz, MON_0859, &wday, &minute);
    CHECK(wday == 1 && minute == 8 * 60 + 59);
    CHECK(tz_offset(tz, MON_0859) == -18000);
    /* and in summer: Monday 2026-07-06 09:00 EDT = 13:00Z */
    tz_local(tz, 1783342800, &wday, &minute);
    CHECK(wday == 1 && minute == 9 * 60);
    tz_free(tz);
}

/* Every form of the POSIX string against glibc's own parser of it, 2020-2030. */
static void test_footer_forms(void)
{
    static const char *forms[] = {
        "EST5EDT,M3.2.0,M11.1.0",
        "CET-1CEST,M3.5.0,M10.5.0/3",
        "AEST-10AEDT,M10.1.0,M4.1.0/3",      /* southern hemisphere: DST spans the new year */
        "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", /* 30-minute DST, quoted names, explicit offset */
        "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1",  /* negative rule times (America/Nuuk) */
        "IST-2IDT,M3.4.4/26,M10.5.0",        /* rule time past 24h (Asia/Jerusalem) */
        "<-01>1<+00>,M3.5.0/0,M10.5.0/1",
        "EST5EDT,J60/2,J300/2",              /* Jn: Feb 29 never counted */
        "XXX3YYY,59/1:30:15,300/-1",         /* zero-based n: Feb 29 counted; h:m:s times */
        "NZST-12NZDT,M9.5.0,M4.1.0/3",
        "<+0330>-3:30",
        "<+0545>-5:45",
        "HST10",
        "UTC0",
        "ABC+4:30:15DEF+3,M4.5.6/23:59:59,M9.1.0/0",
        "<+13>-13<+14>,M9.5.0/3,M4.1.0/4",
        "AAA-14BBB-12:45,M3.1.0/-167,M10.5.6/167", /* the -167..167 extension */
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        struct tz_rule r;
        CHECK(tz_rule_parse(forms[i], strlen(forms[i]), &r));
        struct wbuf w;
        size_t len = tzif_write_slim(&w, NULL, NULL, 0, r.std_off, forms[i]);
        struct tz_info *tz = NULL;
        CHECK(tz_parse(w.b, len, &tz) == 0);
        if (!tz)
            continue;
        ref_set(forms[i]);
        compare_range(tz, forms[i], T2020, T2020 + 11 * 31557600LL);
        tz_free(tz);
    }
}

/* DST all year (RFC 8536 section 3.3.1's example, and overlapping +-167 h rules). glibc picks the
 * rule's year by UTC and so leaves DST for a few hours around each new year; the RFC means DST. */
static void test_footer_all_year_dst(void)
{
    static const char *forms[] = {"EST5EDT,0/0,J365/25", "AAA-14BBB-12:45,M1.1.0/-167,M12.5.6/167"};
    for (size_t i = 0; i < 2; i++) {
        struct tz_rule r;
        CHECK(tz_rule_parse(forms[i], strlen(forms[i]), &r));
        int bad = 0;
        for (int64_t t = T2020; t < T2041; t += STEP / 2)
            bad += tz_rule_offset(&r, t) != r.dst_off;
        CHECK(bad == 0);
    }
}

static void test_footer_rejects(void)
{
    static const char *bad[] = {
        "",            "EST",           "ES5",          "EST5EDT",        "EST5EDT,M3.2.0",
        "<AB>5",       "<A B>5",        "EST25",        "EST5EDT,J0,J100", "EST5EDT,J366,J100",
        "EST5EDT,366,J1", "EST5EDT,M13.1.0,M11.1.0", "EST5EDT,M3.6.0,M11.1.0",
        "EST5EDT,M3.2.7,M11.1.0", "EST5EDT,M3.2.0/168,M11.1.0", "EST5EDT,M3.2.0,M11.1.0x",
        "EST5:60",     "EST5:30:60",    "EST5EDT,M3.2.0,M11.1.0,",        "EST+",
        "EST5EDT4:",   "EST5EDT,M3..0,M11.1.0", "EST5EDT,M3.2.0/,M11.1.0", "EST 5",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct tz_rule r;
        if (tz_rule_parse(bad[i], strlen(bad[i]), &r)) {
            fprintf(stderr, "accepted bad TZ string \"%s\"\n", bad[i]);
            CHECK(!"bad TZ string accepted");
        }
    }
    /* a malformed footer, a missing final newline, a truncated file: the file is refused */
    struct wbuf w;
    struct tz_info *tz = NULL;
    size_t len = tzif_write_slim(&w, NULL, NULL, 0, 0, "EST5EDT");
    CHECK(tz_parse(w.b, len, &tz) == -EINVAL && !tz);
    len = tzif_write_slim(&w, NULL, NULL, 0, 0, "UTC0");
    CHECK(tz_parse(w.b, len - 1, &tz) == -EINVAL && !tz);
    for (size_t cut = 0; cut < len - 1; cut++) {
        CHECK(tz_parse(w.b, cut, &tz) == -EINVAL);
        tz_free(tz);
        tz = NULL;
    }
    /* an empty footer: the last transition's offset continues */
    int64_t at[] = {T2020};
    int32_t off[] = {7200};
    len = tzif_write_slim(&w, at, off, 1, 3600, "");
    CHECK(tz_parse(w.b, len, &tz) == 0);
    if (tz) {
        CHECK(tz_offset(tz, T2020 - 1) == 3600 && tz_offset(tz, T2041) == 7200);
        tz_free(tz);
    }
}

int main(void)
{
    test_regression_slim_new_york_0859();
    test_footer_forms();
    test_footer_all_year_dst();
    test_footer_rejects();
    /* offset changes in 2025-2040: two a year with DST, none without */
    test_zone_slim("America/New_York", 32);
    test_zone_slim("Europe/Berlin", 32);
    test_zone_slim("Australia/Sydney", 32);
    test_zone_slim("Asia/Kolkata", 0);
    test_zone_slim("UTC", 0);
    return check_finish("test_tz");
}
