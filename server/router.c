/* Path splitting and pattern matching for /api routes (see router.h). */
#include "server/router.h"

#include <errno.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes raw[0..len) into out; rejects bad escapes and bytes that must not be in a segment. */
static int segment_decode(const char *raw, size_t len, char out[static SRV_MAX_PARAM_BYTES])
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)raw[i];

        if (ch == '%') {
            int hi, lo;

            if (i + 2 >= len)
                return -EINVAL;
            hi = hexval(raw[i + 1]);
            lo = hexval(raw[i + 2]);
            if (hi < 0 || lo < 0)
                return -EINVAL;
            ch = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        if (ch < 0x20 || ch == 0x7f || ch == '/' || ch == '\\')
            return -EINVAL;
        if (o + 1 >= SRV_MAX_PARAM_BYTES)
            return -EINVAL;
        out[o++] = (char)ch;
    }
    out[o] = '\0';
    if (strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
        return -EINVAL;
    return 0;
}

int router_path_split(const char *raw, struct path_segs *out)
{
    size_t len = strnlen(raw, SRV_MAX_PATH_BYTES + 1);
    size_t i = 1;

    out->n = 0;
    if (len == 0 || len > SRV_MAX_PATH_BYTES || raw[0] != '/')
        return -EINVAL;
    while (i < len) {
        const char *slash = memchr(raw + i, '/', len - i);
        size_t seglen = slash ? (size_t)(slash - (raw + i)) : len - i;

        /* "//" is refused; one trailing '/' ("/api/orgs/") simply ends the loop */
        if (seglen == 0)
            return -EINVAL;
        if (out->n == SRV_MAX_PATH_SEGMENTS)
            return -EINVAL;
        if (segment_decode(raw + i, seglen, out->seg[out->n]) < 0)
            return -EINVAL;
        out->n++;
        i += seglen + 1;
    }
    return 0;
}

bool router_match(const char *pattern, const struct path_segs *segs, struct route_params *params)
{
    struct path_segs pat;
    struct route_params tmp = {0};
    size_t plen = strlen(pattern);
    size_t i = 1, k = 0;

    if (plen == 0 || pattern[0] != '/')
        return false;
    /* Patterns are trusted literals: split without decoding. */
    while (i <= plen && k < SRV_MAX_PATH_SEGMENTS) {
        const char *slash = memchr(pattern + i, '/', plen - i);
        size_t seglen = slash ? (size_t)(slash - (pattern + i)) : plen - i;

        if (seglen == 0 || seglen >= SRV_MAX_PARAM_BYTES)
            break;
        memcpy(pat.seg[k], pattern + i, seglen);
        pat.seg[k][seglen] = '\0';
        k++;
        i += seglen + 1;
    }
    pat.n = k;
    if (pat.n != segs->n)
        return false;
    for (size_t s = 0; s < pat.n; s++) {
        const char *p = pat.seg[s];
        size_t n = strlen(p);

        if (n >= 2 && p[0] == '{' && p[n - 1] == '}') {
            if (tmp.n == SRV_MAX_ROUTE_PARAMS || n - 2 >= sizeof(tmp.p[0].name))
                return false;
            memcpy(tmp.p[tmp.n].name, p + 1, n - 2);
            tmp.p[tmp.n].name[n - 2] = '\0';
            memcpy(tmp.p[tmp.n].value, segs->seg[s], sizeof(tmp.p[0].value));
            tmp.n++;
        } else if (strcmp(p, segs->seg[s]) != 0) {
            return false;
        }
    }
    if (params)
        *params = tmp;
    return true;
}

const char *router_param(const struct route_params *params, const char *name)
{
    for (size_t i = 0; i < params->n; i++) {
        if (strcmp(params->p[i].name, name) == 0)
            return params->p[i].value;
    }
    return NULL;
}
