/* server/ip6.c: the --ipv6-prefix parser and the tailnet IPv6 derivation (prefix, zeros, the
 * IPv4 tailnet address in the last 32 bits), against fixed cases including the contract's
 * example and edge values, and against a bit-by-bit reference for random prefixes. */
#include <arpa/inet.h>
#include <stdlib.h>

#include "server/ip6.h"
#include "tests/check.h"

static void derive(const char *prefix, const char *ip4, const char *want)
{
    struct ip6_prefix p;
    const char *why = NULL;
    char got[IP6_TEXT_MAX];

    CHECK(ip6_prefix_parse(prefix, &p, &why) && p.on);
    CHECK(ip6_tailnet_text(&p, ip4, got));
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "%s + %s: got %s, want %s\n", prefix, ip4, got, want);
        check_failures++;
    }
    /* and back: the IPv6 address names the IPv4 one it was derived from */
    char back[16];
    CHECK(ip6_tailnet_ip4(&p, want, back) && !strcmp(back, ip4));
}

static void rejects(const char *prefix, const char *why_has)
{
    struct ip6_prefix p = {.on = true};
    const char *why = NULL;

    CHECK(!ip6_prefix_parse(prefix, &p, &why));
    CHECK(why && strstr(why, why_has));
    if (!why || !strstr(why, why_has))
        fprintf(stderr, "%s: why %s\n", prefix, why ? why : "(null)");
}

static int bit(const uint8_t *a, int i)
{
    return a[i / 8] >> (7 - i % 8) & 1;
}

/* Reference: bit i of the address is the prefix's below len, the IPv4 address's from 96 on,
 * zero between. */
static void random_cases(void)
{
    srand(6);
    for (int n = 0; n < 2000; n++) {
        uint8_t net[16], out[16];
        char text[IP6_PREFIX_TEXT_MAX + IP6_TEXT_MAX], a[IP6_PREFIX_TEXT_MAX];
        unsigned len = IP6_PREFIX_MIN_LEN + (unsigned)rand() % (IP6_PREFIX_MAX_LEN - 7);
        uint32_t ip4 = (uint32_t)rand() << 16 ^ (uint32_t)rand();
        struct ip6_prefix p;
        const char *why;

        for (int i = 0; i < 16; i++)
            net[i] = (uint8_t)rand();
        net[0] = (uint8_t)(0x20 + net[0] % 0xd0); /* neither ::/8 nor ff00::/8 */
        for (unsigned i = len; i < 128; i++)
            net[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
        inet_ntop(AF_INET6, net, a, sizeof(a));
        snprintf(text, sizeof(text), "%s/%u", a, len);
        CHECK(ip6_prefix_parse(text, &p, &why) && p.on && p.len == len);
        ip6_tailnet_addr(&p, ip4, out);
        for (int i = 0; i < 128; i++) {
            int want = i < (int)len ? bit(net, i) : i < 96 ? 0 : (int)(ip4 >> (127 - i) & 1);
            if (bit(out, i) != want) {
                fprintf(stderr, "%s + %08x: bit %d\n", text, ip4, i);
                check_failures++;
                break;
            }
        }
        ip6_prefix_format(&p, a);
        CHECK(strcmp(a, text) == 0);
        if (len < 128 && len % 4 == 0) { /* a host bit just past the prefix is refused */
            net[len / 8] |= (uint8_t)(0x80u >> (len % 8));
            inet_ntop(AF_INET6, net, a, sizeof(a));
            snprintf(text, sizeof(text), "%s/%u", a, len);
            rejects(text, "past the prefix length");
        }
    }
}

int main(void)
{
    struct ip6_prefix p;
    const char *why = NULL;
    char out[IP6_TEXT_MAX], pt[IP6_PREFIX_TEXT_MAX];

    /* the contract's example, and the ends of 100.64.0.0/10 and of the 32 bits */
    derive(IP6_DEFAULT_PREFIX, "100.64.0.5", "fd7a:115c:a1e0::6440:5");
    derive(IP6_DEFAULT_PREFIX, "100.64.0.1", "fd7a:115c:a1e0::6440:1");
    derive(IP6_DEFAULT_PREFIX, "100.127.255.254", "fd7a:115c:a1e0::647f:fffe");
    derive(IP6_DEFAULT_PREFIX, "0.0.0.0", "fd7a:115c:a1e0::");
    derive(IP6_DEFAULT_PREFIX, "255.255.255.255", "fd7a:115c:a1e0::ffff:ffff");
    derive(IP6_DEFAULT_PREFIX, "100.64.1.0", "fd7a:115c:a1e0::6440:100");
    /* other lengths: /8 (shortest), /40, /49 (not a nibble), /64, /96 (longest) */
    derive("fd00::/8", "100.64.0.5", "fd00::6440:5");
    derive("2001:db8:ab00::/40", "100.64.0.5", "2001:db8:ab00::6440:5");
    derive("fd7a:115c:a1e0:8000::/49", "100.64.0.5", "fd7a:115c:a1e0:8000::6440:5");
    derive("2001:db8:1:2::/64", "100.100.0.9", "2001:db8:1:2::6464:9");
    derive("fd00:1:2:3:4:5::/96", "100.64.0.5", "fd00:1:2:3:4:5:6440:5");
    derive("fd00:1:2:3:4:5:0:0/96", "100.64.0.5", "fd00:1:2:3:4:5:6440:5");
    derive("FD7A:115C:A1E0::/48", "100.64.0.5", "fd7a:115c:a1e0::6440:5"); /* RFC 5952: lower */

    CHECK(ip6_prefix_parse(IP6_DEFAULT_PREFIX, &p, &why) && p.on && p.len == 48);
    ip6_prefix_format(&p, pt);
    CHECK(strcmp(pt, IP6_DEFAULT_PREFIX) == 0);
    CHECK(ip6_prefix_parse("FD7A:115c:a1e0:0::/48", &p, &why));
    ip6_prefix_format(&p, pt);
    CHECK(strcmp(pt, IP6_DEFAULT_PREFIX) == 0); /* printed canonically */

    /* off: parses, derives nothing */
    CHECK(ip6_prefix_parse("off", &p, &why) && !p.on);
    CHECK(!ip6_tailnet_text(&p, "100.64.0.5", out) && out[0] == '\0');
    ip6_prefix_format(&p, pt);
    CHECK(strcmp(pt, "off") == 0);
    CHECK(!ip6_tailnet_text(NULL, "100.64.0.5", out) && out[0] == '\0');
    /* a stored address that is not a dotted quad derives nothing */
    CHECK(ip6_prefix_parse(IP6_DEFAULT_PREFIX, &p, &why));
    CHECK(!ip6_tailnet_text(&p, "100.64.0", out) && out[0] == '\0');
    CHECK(!ip6_tailnet_text(&p, NULL, out));
    CHECK(!ip6_tailnet_text(&p, "100.64.0.5 ", out));
    /* the inverse refuses what is not a tailnet address under p */
    char v4[16];
    CHECK(!ip6_tailnet_ip4(&p, "fd7a:115c:a1e1::6440:5", v4)); /* another /48 */
    CHECK(!ip6_tailnet_ip4(&p, "fd7a:115c:a1e0:1::6440:5", v4)); /* bits in the gap */
    CHECK(!ip6_tailnet_ip4(&p, "100.64.0.5", v4) && !ip6_tailnet_ip4(&p, "db-1", v4));
    CHECK(!ip6_tailnet_ip4(&p, NULL, v4) && !ip6_tailnet_ip4(NULL, "fd7a:115c:a1e0::6440:5", v4));
    CHECK(ip6_tailnet_ip4(&p, "FD7A:115C:A1E0:0:0:0:6440:5", v4) && !strcmp(v4, "100.64.0.5"));

    rejects("fd7a::/97", "8..96");
    rejects("fd7a::/128", "8..96");
    rejects("fd00::/7", "8..96");
    rejects("fd7a::/0", "8..96");
    rejects("fd7a::/129", "8..96");
    rejects("fd7a:115c:a1e0::1/48", "past the prefix length");
    rejects("fd7a:115c:a1e1::/47", "past the prefix length");
    rejects("fd00:1:2:3:4:5:0:1/96", "past the prefix length");
    rejects("ff02::/16", "multicast");
    rejects("::/96", "reserved");
    rejects("::ffff:0:0/96", "reserved");
    rejects("fd7a::", "ADDR/LEN");
    rejects("fd7a::/", "ADDR/LEN");
    rejects("/48", "ADDR/LEN");
    rejects("fd7a::/048", "ADDR/LEN");
    rejects("fd7a::/4x", "ADDR/LEN");
    rejects("fd7a::/+48", "ADDR/LEN");
    rejects("fd7a::/1000", "ADDR/LEN");
    rejects("10.0.0.0/8", "ADDR/LEN");
    rejects("fd7a:115c:a1e0::/48 ", "ADDR/LEN");
    rejects("", "ADDR/LEN");
    rejects("OFF", "ADDR/LEN");
    rejects("fd7a:115c:a1e0:0000:0000:0000:0000:0000:0000/48", "ADDR/LEN"); /* over-long */

    random_cases();
    return check_finish("test_ip6");
}
