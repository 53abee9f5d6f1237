/* Fuzz target: the PQ endpoint parsers (`ztna wireguard --pq-endpoint KEY=host:port`). The input
 * as a string: whatever parses must be a well-formed IPv4/IPv6 address with a non-zero port that
 * formats back and parses again to the same address. */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/pq/agentpq.h"

static void check(const struct sockaddr_storage *ss, socklen_t len)
{
    struct sockaddr_storage again;
    socklen_t len2 = 0;
    char text[80];

    if (ss->ss_family == AF_INET ? len != sizeof(struct sockaddr_in)
        : ss->ss_family == AF_INET6 ? len != sizeof(struct sockaddr_in6) : 1)
        abort();
    if ((ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port
                                  : ((const struct sockaddr_in6 *)ss)->sin6_port) == 0)
        abort();
    agentpq_addr_format((const struct sockaddr *)ss, len, text, sizeof(text));
    /* A v4-mapped IPv6 address is shown as IPv4: compare in the IPv6 form. */
    if (agentpq_endpoint_parse(text, &again, &len2) != 0) {
        abort();
    } else {
        struct sockaddr_in6 a, b;
        if (!agentpq_addr_v6((const struct sockaddr *)ss, len, &a) ||
            !agentpq_addr_v6((const struct sockaddr *)&again, len2, &b) ||
            memcmp(&a.sin6_addr, &b.sin6_addr, 16) != 0 || a.sin6_port != b.sin6_port)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    struct sockaddr_storage ss;
    socklen_t len = 0;
    uint8_t key[32];

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (agentpq_endpoint_parse(s, &ss, &len) == 0)
        check(&ss, len);
    if (agentpq_pq_endpoint_option(s, key, &ss, &len) == 0)
        check(&ss, len);
    free(s);
    return 0;
}
