/* Control-protocol text parsers (see netmap_parse.h). */
#include "server/netmap_parse.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

bool nm_parse_decimal(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t v = 0;
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > 16 || (n > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0'); /* <= 16 digits: no overflow */
    }
    if (v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool port_parse(const char *s, int *port)
{
    int64_t v;

    if (!nm_parse_decimal(s, 1, 65535, &v))
        return false;
    *port = (int)v;
    return true;
}

bool nm_endpoint_format(const char *addr, int port, char out[static NM_ENDPOINT_MAX])
{
    unsigned char bin[16];
    char text[INET6_ADDRSTRLEN];

    if (port < 1 || port > 65535 || !addr)
        return false;
    if (inet_pton(AF_INET, addr, bin) == 1) {
        inet_ntop(AF_INET, bin, text, sizeof(text));
        snprintf(out, NM_ENDPOINT_MAX, "%s:%d", text, port);
        return true;
    }
    if (inet_pton(AF_INET6, addr, bin) == 1) {
        inet_ntop(AF_INET6, bin, text, sizeof(text));
        snprintf(out, NM_ENDPOINT_MAX, "[%s]:%d", text, port);
        return true;
    }
    return false;
}

bool nm_endpoint_parse(const char *s, char out[static NM_ENDPOINT_MAX])
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *colon, *host = s;
    size_t hlen;
    int port;

    if (!s || strlen(s) >= NM_ENDPOINT_MAX)
        return false;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');

        if (!close || close[1] != ':')
            return false;
        host = s + 1;
        hlen = (size_t)(close - host);
        colon = close + 1;
        if (!memchr(host, ':', hlen))
            return false; /* brackets are for IPv6 only */
    } else {
        colon = strchr(s, ':');
        if (!colon || strchr(colon + 1, ':'))
            return false;
        hlen = (size_t)(colon - s);
        if (memchr(s, ']', hlen))
            return false;
    }
    if (hlen == 0 || hlen >= sizeof(addr) || !port_parse(colon + 1, &port))
        return false;
    memcpy(addr, host, hlen);
    addr[hlen] = '\0';
    if (s[0] != '[') {
        unsigned char bin[4];

        if (inet_pton(AF_INET, addr, bin) != 1)
            return false;
    }
    return nm_endpoint_format(addr, port, out);
}
