/* Text validation helpers (see validate.h). */
#include "server/validate.h"

#include <stdio.h>
#include <string.h>

bool validate_text(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

bool validate_email(const char *s)
{
    const char *at = strchr(s, '@');

    if (!at || at == s || strchr(at + 1, '@') || !strchr(at + 1, '.') || at[1] == '.' ||
        s[strlen(s) - 1] == '.')
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c <= 0x20 || c == 0x7f || strchr("<>()[]\\,;:\"", c))
            return false;
    }
    return true;
}

bool validate_slug(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > SRV_MAX_SLUG_BYTES || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
            return false;
    }
    return true;
}

bool validate_slug_or_derive(const char *slug, const char *name, char out[static SRV_MAX_SLUG_BYTES + 1])
{
    size_t o = 0;

    if (slug) {
        if (!validate_slug(slug))
            return false;
        snprintf(out, SRV_MAX_SLUG_BYTES + 1, "%s", slug);
        return true;
    }
    for (const char *p = name; *p && o < SRV_MAX_SLUG_BYTES; p++) {
        char c = *p;

        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            out[o++] = c;
        else if (o > 0 && out[o - 1] != '-')
            out[o++] = '-';
    }
    while (o > 0 && out[o - 1] == '-')
        o--;
    out[o] = '\0';
    if (o == 0)
        snprintf(out, SRV_MAX_SLUG_BYTES + 1, "org");
    return true;
}
