/* Tailnet address arithmetic (server/ipalloc.c) against a naive reference over the whole /10. */
#include "server/ipalloc.h"
#include "tests/check.h"

static bool naive_usable(uint32_t ip)
{
    unsigned a = ip >> 24, b = (ip >> 16) & 0xff, c = (ip >> 8) & 0xff, d = ip & 0xff;
    if (a != 100 || b < 64 || b > 127 || d == 0 || d == 255)
        return false;
    return !(b == 100 && c == 100 && d == 100);
}

int main(void)
{
    /* Walk the whole range with ipalloc_next and compare with the reference. */
    uint32_t ip = 0, prev = 0;
    size_t count = 0, bad = 0;
    while ((ip = ipalloc_next(ip)) != 0) {
        if (!naive_usable(ip) || ip <= prev)
            bad++;
        for (uint32_t k = prev + 1; prev && k < ip; k++)
            bad += naive_usable(k); /* nothing usable was skipped */
        prev = ip;
        count++;
    }
    CHECK(bad == 0);
    CHECK(count == 64u * 256u * 254u - 1u); /* 64 /16s x 256 /24s x 254 hosts, minus the stub */
    CHECK(ipalloc_next(0) == 0x64400001u);
    CHECK(ipalloc_next(0x644000feu) == 0x64400101u);
    CHECK(ipalloc_next(0x64646463u) == 0x64646465u);
    CHECK(ipalloc_next(0x647ffffeu) == 0);
    CHECK(ipalloc_next(0xffffffffu) == 0);
    CHECK(!ipalloc_usable(0x64646464u) && !ipalloc_usable(0x0a000001u));
    char t[IPALLOC_TEXT_MAX];
    ipalloc_format(0x647ffffeu, t);
    CHECK(strcmp(t, "100.127.255.254") == 0);
    uint32_t v;
    CHECK(ipalloc_parse("100.64.0.1", &v) && v == 0x64400001u);
    CHECK(ipalloc_parse("255.255.255.255", &v) && v == 0xffffffffu);
    const char *badv[] = {"", "1.2.3", "1.2.3.4.", "1.2.3.256", "01.2.3.4", "1.2.3.4 ", "a.b.c.d",
                          "1..2.3", "1.2.3.1234"};
    for (size_t i = 0; i < sizeof(badv) / sizeof(badv[0]); i++)
        CHECK(!ipalloc_parse(badv[i], &v));
    return check_finish("test_ipalloc");
}
