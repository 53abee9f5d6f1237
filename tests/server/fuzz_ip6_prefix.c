/* Fuzzes ip6_prefix_parse() (the --ipv6-prefix value) and the derivation. Invariants: never
 * crashes; an accepted prefix is "off", or on with 8 <= len <= 96, no bit set past len and not
 * in ::/8 or ff00::/8; its canonical text parses back to the same prefix; a derived address
 * keeps the prefix's bits, zeros up to bit 96, the IPv4 address after, and round-trips through
 * its text. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Not assert(): release builds define NDEBUG and the invariants must still hold. */
#define FZ_ASSERT(x) do { if (!(x)) abort(); } while (0)

#include "server/ip6.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[128], text[IP6_PREFIX_TEXT_MAX], a[IP6_TEXT_MAX], ip4[16];
    struct ip6_prefix p, q;
    const char *why = NULL;
    uint8_t out[16], back[16];
    uint32_t v = 0;

    if (size >= sizeof(s))
        size = sizeof(s) - 1;
    memcpy(s, data, size);
    s[size] = '\0';
    for (size_t i = 0; i < 4 && i < size; i++)
        v = v << 8 | data[size - 1 - i];
    if (!ip6_prefix_parse(s, &p, &why)) {
        FZ_ASSERT(why && !p.on);
        return 0;
    }
    if (!p.on) {
        FZ_ASSERT(strcmp(s, "off") == 0);
        return 0;
    }
    FZ_ASSERT(p.len >= IP6_PREFIX_MIN_LEN && p.len <= IP6_PREFIX_MAX_LEN);
    FZ_ASSERT(p.net[0] != 0 && p.net[0] != 0xff);
    for (unsigned i = p.len; i < 128; i++)
        FZ_ASSERT(!(p.net[i / 8] & (0x80u >> (i % 8))));
    ip6_prefix_format(&p, text);
    FZ_ASSERT(ip6_prefix_parse(text, &q, &why) && q.on && q.len == p.len &&
              !memcmp(q.net, p.net, 16));
    ip6_tailnet_addr(&p, v, out);
    FZ_ASSERT(!memcmp(out, p.net, 12));
    FZ_ASSERT((uint32_t)out[12] << 24 == (v & 0xff000000u) && out[13] == (uint8_t)(v >> 16) &&
              out[14] == (uint8_t)(v >> 8) && out[15] == (uint8_t)v);
    snprintf(ip4, sizeof(ip4), "%u.%u.%u.%u", v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
    FZ_ASSERT(ip6_tailnet_text(&p, ip4, a));
    FZ_ASSERT(inet_pton(AF_INET6, a, back) == 1 && !memcmp(back, out, 16));
    char v4[16];
    FZ_ASSERT(ip6_tailnet_ip4(&p, a, v4) && !strcmp(v4, ip4));
    return 0;
}
