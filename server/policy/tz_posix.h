/* POSIX TZ rule strings, as found in the footer of a TZif v2+ file (RFC 8536 section 3.3), e.g.
 * "EST5EDT,M3.2.0,M11.1.0" or "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0". A "slim" TZif file has no
 * transitions after the zone's last rule change and relies on this string for every later time.
 *
 * Supported: quoted (<+03>) and alphabetic names, offsets [+-]hh[:mm[:ss]], rule dates Jn
 * (1..365, Feb 29 never counted), n (0..365, zero-based, Feb 29 counted) and Mm.w.d, rule times
 * [+-]hh[:mm[:ss]] with the RFC 8536 extension to -167..167 hours. A DST name without a rule is
 * rejected (the footer must be explicit). */
#ifndef ZTNA_POLICY_TZ_POSIX_H
#define ZTNA_POLICY_TZ_POSIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tz_rule_date {
    char kind;      /* 'J', 'n' or 'M' */
    int n;          /* J: 1..365, n: 0..365 */
    int m, w, d;    /* M: month 1..12, week 1..5 (5 = last), weekday 0..6 (0 = Sunday) */
    int32_t time;   /* seconds after local midnight, -167h..167h */
};

struct tz_rule {
    int32_t std_off;  /* UTC offset in seconds, east positive (the POSIX string's sign inverted) */
    bool has_dst;
    int32_t dst_off;
    struct tz_rule_date start, end; /* DST starts (in standard time) and ends (in DST) */
};

/* Parses s[0..len). Returns false on anything malformed (r then undefined). */
bool tz_rule_parse(const char *s, size_t len, struct tz_rule *r);
/* Offset from UTC in seconds at unix time t under the rule. */
int32_t tz_rule_offset(const struct tz_rule *r, int64_t t);

#endif
