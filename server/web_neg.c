/* Content negotiation for the dashboard: Accept-Encoding (RFC 9110 12.5.3) and If-None-Match
 * (RFC 9110 13.1.2). Both read untrusted header values through a bounded cursor and never
 * allocate. */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "server/web.h"

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* The weight of a ";q=..." parameter list: false when q is zero (0, 0., 0.0, 0.00, 0.000). */
static bool qvalue_nonzero(const char *p, const char *end)
{
    while (p < end) {
        while (p < end && (is_ows(*p) || *p == ';'))
            p++;
        if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            p += 2;
            if (p < end && *p == '1')
                return true;
            if (p >= end || *p != '0')
                return true; /* malformed weight: treat as the default (1) */
            p++;
            if (p < end && *p == '.') {
                p++;
                while (p < end && *p == '0')
                    p++;
            }
            return p < end && *p >= '1' && *p <= '9';
        }
        while (p < end && *p != ';')
            p++;
    }
    return true;
}

bool web_accepts_gzip(const char *ae)
{
    int gzip = -1, star = -1; /* -1 not listed, 0 refused, 1 accepted */

    if (!ae)
        return false;
    while (*ae) {
        const char *tok, *tend, *item_end;

        while (is_ows(*ae) || *ae == ',')
            ae++;
        if (!*ae)
            break;
        item_end = ae + strcspn(ae, ",");
        tok = ae;
        tend = tok;
        while (tend < item_end && *tend != ';' && !is_ows(*tend))
            tend++;
        bool ok = qvalue_nonzero(tend, item_end);
        size_t n = (size_t)(tend - tok);
        if ((n == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
            (n == 6 && strncasecmp(tok, "x-gzip", 6) == 0))
            gzip = gzip == 1 ? 1 : ok;
        else if (n == 1 && *tok == '*')
            star = ok;
        ae = item_end;
    }
    return gzip == 1 || (gzip == -1 && star == 1);
}

bool web_etag_match(const char *inm, const char *etag)
{
    size_t elen = strlen(etag);

    if (!inm)
        return false;
    while (*inm) {
        while (is_ows(*inm) || *inm == ',')
            inm++;
        if (!*inm)
            break;
        if (*inm == '*')
            return true;
        if (inm[0] == 'W' && inm[1] == '/')
            inm += 2;
        if (*inm != '"') {
            inm += strcspn(inm, ",");
            continue;
        }
        const char *close = strchr(inm + 1, '"');
        if (!close)
            return false;
        if ((size_t)(close + 1 - inm) == elen && memcmp(inm, etag, elen) == 0)
            return true;
        inm = close + 1;
    }
    return false;
}
