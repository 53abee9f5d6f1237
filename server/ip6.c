/* Tailnet IPv6 address derivation (see ip6.h). */
#include "server/ip6.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "server/ipalloc.h"

bool ip6_prefix_parse(const char *s, struct ip6_prefix *out, const char **why)
{
    char addr[IP6_TEXT_MAX];
    const char *slash = strchr(s, '/');
    unsigned len = 0;
    size_t n;

    memset(out, 0, sizeof(*out));
    if (strcmp(s, "off") == 0)
        return true;
    *why = "want an IPv6 prefix ADDR/LEN (like " IP6_DEFAULT_PREFIX ") or off";
    n = slash ? (size_t)(slash - s) : 0;
    if (!slash || n == 0 || n >= sizeof(addr) || !slash[1] || strlen(slash + 1) > 3)
        return false;
    for (const char *p = slash + 1; *p; p++) {
        if (*p < '0' || *p > '9' || (p == slash + 1 && *p == '0' && p[1]))
            return false;
        len = len * 10 + (unsigned)(*p - '0');
    }
    memcpy(addr, s, n);
    addr[n] = '\0';
    if (inet_pton(AF_INET6, addr, out->net) != 1)
        return false;
    if (len < IP6_PREFIX_MIN_LEN || len > IP6_PREFIX_MAX_LEN) {
        *why = "prefix length must be 8..96 (the last 32 bits carry the IPv4 tailnet address)";
        return false;
    }
    for (unsigned bit = len; bit < 128; bit++) {
        if (out->net[bit / 8] & (0x80u >> (bit % 8))) {
            *why = "address has bits set past the prefix length";
            return false;
        }
    }
    if (out->net[0] == 0xff || out->net[0] == 0) {
        /* ::/8 holds the IPv4-mapped and -compatible forms, which stacks treat as IPv4 */
        *why = "a multicast (ff00::/8) or reserved (::/8) prefix cannot hold machine addresses";
        return false;
    }
    out->len = (uint8_t)len;
    out->on = true;
    return true;
}

void ip6_prefix_format(const struct ip6_prefix *p, char out[static IP6_PREFIX_TEXT_MAX])
{
    char a[IP6_TEXT_MAX];

    if (!p->on || !inet_ntop(AF_INET6, p->net, a, sizeof(a))) {
        snprintf(out, IP6_PREFIX_TEXT_MAX, "off");
        return;
    }
    snprintf(out, IP6_PREFIX_TEXT_MAX, "%s/%u", a, (unsigned)p->len);
}

void ip6_tailnet_addr(const struct ip6_prefix *p, uint32_t ip4, uint8_t out[static 16])
{
    /* len <= 96 and no host bits (ip6_prefix_parse): bytes 12..15 of net are zero */
    memcpy(out, p->net, 12);
    out[12] = (uint8_t)(ip4 >> 24);
    out[13] = (uint8_t)(ip4 >> 16);
    out[14] = (uint8_t)(ip4 >> 8);
    out[15] = (uint8_t)ip4;
}

bool ip6_tailnet_text(const struct ip6_prefix *p, const char *ip4, char out[static IP6_TEXT_MAX])
{
    uint8_t a[16];
    uint32_t v;

    out[0] = '\0';
    if (!p || !p->on || !ip4 || !ipalloc_parse(ip4, &v))
        return false;
    ip6_tailnet_addr(p, v, a);
    return inet_ntop(AF_INET6, a, out, IP6_TEXT_MAX) != NULL;
}

bool ip6_tailnet_ip4(const struct ip6_prefix *p, const char *text, char out[static 16])
{
    uint8_t a[16];
    if (!p || !p->on || !text || inet_pton(AF_INET6, text, a) != 1 || memcmp(a, p->net, 12))
        return false; /* net's bytes past len are zero (ip6_prefix_parse): one compare */
    snprintf(out, 16, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
    return true;
}
