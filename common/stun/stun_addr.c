/* Address helpers shared by the STUN responder and `ztna netcheck`. */
#include "common/stun/stun.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#define seterr(err, errlen, ...)                       \
    do {                                               \
        if ((err) && (errlen))                         \
            snprintf((err), (errlen), __VA_ARGS__);    \
    } while (0)

int stun_hostport_resolve(const char *hostport, uint16_t default_port, struct sockaddr_storage *ss,
                          socklen_t *sslen, char *err, size_t errlen)
{
    char host[256], port[8];
    const char *colon, *h = hostport;
    size_t hlen;
    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV}, *res = NULL;
    int r;

    snprintf(port, sizeof(port), "%u", default_port);
    if (hostport[0] == '[') {
        const char *close = strchr(hostport, ']');

        if (!close || (close[1] && close[1] != ':')) {
            seterr(err, errlen, "bad address '%s' (want [IPv6]:PORT)", hostport);
            return -EINVAL;
        }
        h = hostport + 1;
        hlen = (size_t)(close - h);
        colon = close[1] ? close + 1 : NULL;
    } else {
        colon = strrchr(hostport, ':');
        if (colon && strchr(hostport, ':') != colon)
            colon = NULL; /* a bare IPv6 address without brackets: no port */
        hlen = colon ? (size_t)(colon - hostport) : strlen(hostport);
    }
    if (colon) {
        char *end;
        long p;

        errno = 0;
        p = strtol(colon + 1, &end, 10);
        if (!colon[1] || *end || errno || p < 1 || p > 65535) {
            seterr(err, errlen, "bad port in '%s' (want 1..65535)", hostport);
            return -EINVAL;
        }
        snprintf(port, sizeof(port), "%ld", p);
    }
    if (hlen == 0 || hlen >= sizeof(host)) {
        seterr(err, errlen, "bad address '%s' (want HOST:PORT)", hostport);
        return -EINVAL;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    r = getaddrinfo(host, port, &hints, &res);
    if (r != 0 || !res) {
        seterr(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(r));
        if (res)
            freeaddrinfo(res);
        return -ENOENT;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sslen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

const char *stun_addr_format(const struct sockaddr *sa, char *out, size_t size)
{
    char ip[INET6_ADDRSTRLEN] = "?";

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

        inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
        snprintf(out, size, "%s:%u", ip, ntohs(sin->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

        inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
        snprintf(out, size, "[%s]:%u", ip, ntohs(sin6->sin6_port));
    } else {
        snprintf(out, size, "?");
    }
    return out;
}
