#include "server/ipalloc.h"

#include <stdio.h>

bool ipalloc_usable(uint32_t ip)
{
    uint8_t last = (uint8_t)(ip & 0xff);
    return (ip & IPALLOC_MASK) == IPALLOC_NET && last != 0 && last != 255 && ip != IPALLOC_DNS_STUB;
}

uint32_t ipalloc_next(uint32_t ip)
{
    uint32_t end = IPALLOC_NET | ~IPALLOC_MASK;
    uint32_t c = ip < IPALLOC_NET ? IPALLOC_NET : ip + 1;
    if (ip >= end)
        return 0;
    /* At most a few steps: .255 -> .0 -> .1, or across 100.100.100.100. */
    for (; c <= end && c != 0; c++)
        if (ipalloc_usable(c))
            return c;
    return 0;
}

void ipalloc_format(uint32_t ip, char out[static IPALLOC_TEXT_MAX])
{
    snprintf(out, IPALLOC_TEXT_MAX, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff,
             ip & 0xff);
}

bool ipalloc_parse(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int part = 0; part < 4; part++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned n = 0;
        int digits = 0;
        for (; *s >= '0' && *s <= '9'; s++) {
            if (++digits > 3 || (digits == 2 && n == 0))
                return false;
            n = n * 10 + (unsigned)(*s - '0');
        }
        if (n > 255 || (part < 3 && *s++ != '.'))
            return false;
        v = v << 8 | n;
    }
    if (*s)
        return false;
    *out = v;
    return true;
}
