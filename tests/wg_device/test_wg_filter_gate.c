/* The policy gate shared by `ztna daemon` and `ztna wireguard --filter` (common/filter/gate.c):
 * off allows everything, on enforces the filter plus replies to recorded flows, a filter that
 * cannot be built denies everything but keeps recorded flows; and filter_json_parse_why names the
 * problem of a bad filter file. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/filter/gate.h"
#include "tests/check.h"
#include "tests/filter/pkt_build.h"

static void test_gate(void)
{
    const char *me = "100.64.0.2", *peer = "100.64.0.1";
    struct filter_entry e[2];
    struct filter_matcher *fm;
    struct filter *f = NULL;
    uint8_t b[64];
    size_t n;

    CHECK(filter_matcher_new(&fm, 0) == 0);
    CHECK(filter_entry_parse("tcp 100.64.0.1/32 5201", &e[0]) == 0);
    CHECK(filter_entry_parse("udp 100.64.0.9/32 5301", &e[1]) == 0);

    /* off (the netmap's filter is null): everything is delivered */
    CHECK(filter_gate_install(fm, &f, false, NULL, 0) == 0 && f == NULL);
    n = pkt4(b, peer, me, 6, 40000, 22);
    CHECK(filter_gate_inbound(fm, false, b, n));

    /* on: the entry's port passes, another port, protocol or source does not */
    CHECK(filter_gate_install(fm, &f, true, e, 2) == 0 && f != NULL);
    n = pkt4(b, peer, me, 6, 40000, 5201);
    CHECK(filter_gate_inbound(fm, true, b, n));
    n = pkt4(b, peer, me, 6, 40000, 5202);
    CHECK(!filter_gate_inbound(fm, true, b, n));
    n = pkt4(b, peer, me, 17, 40000, 5201);
    CHECK(!filter_gate_inbound(fm, true, b, n));
    n = pkt4(b, peer, me, 17, 40000, 5301);
    CHECK(!filter_gate_inbound(fm, true, b, n)); /* 5301 is for 100.64.0.9 only */
    n = pkt4(b, "100.64.0.9", me, 17, 40000, 5301);
    CHECK(filter_gate_inbound(fm, true, b, n));

    /* stateful: a flow this end opens gets its replies, and only those */
    n = pkt4(b, me, peer, 6, 50000, 8080);
    filter_gate_outbound(fm, b, n);
    n = pkt4(b, peer, me, 6, 8080, 50000);
    CHECK(filter_gate_inbound(fm, true, b, n));
    n = pkt4(b, peer, me, 6, 8081, 50000);
    CHECK(!filter_gate_inbound(fm, true, b, n));

    /* the denials were counted per (source, proto, port) */
    struct filter_deny_count got[8];
    uint64_t other = 0;
    size_t nd = filter_matcher_denied(fm, got, 8, &other, true);
    CHECK(nd == 4 && other == 0);

    /* a filter that cannot be built: fail closed, the previous one is gone, flows survive */
    struct filter_entry bad = e[0];
    bad.family = 5;
    CHECK(filter_gate_install(fm, &f, true, &bad, 1) == -EINVAL && f == NULL);
    n = pkt4(b, peer, me, 6, 40000, 5201);
    CHECK(!filter_gate_inbound(fm, true, b, n));
    n = pkt4(b, peer, me, 6, 8080, 50000);
    CHECK(filter_gate_inbound(fm, true, b, n));

    CHECK(filter_gate_install(fm, &f, false, NULL, 0) == 0 && f == NULL);
    filter_matcher_free(fm);
}

static void why_is(const char *json, int want_ret, const char *want)
{
    struct filter_entry *e = NULL;
    size_t n = 99;
    char why[256];
    int ret = filter_json_parse_why(json, &e, &n, why, sizeof(why));
    CHECK(ret == want_ret);
    if (!strstr(why, want))
        fprintf(stderr, "for %s: want '%s', got '%s'\n", json, want, why);
    CHECK(strstr(why, want) != NULL);
    CHECK(ret != 0 ? e == NULL && n == 0 : e != NULL);
    free(e);
}

static void test_parse_why(void)
{
    why_is("{\"entries\":[\"tcp 100.64.0.1/32 22\",\"udp 100.64.0.1/33 53\"]}", -EINVAL,
           "entry 2 'udp 100.64.0.1/33 53' is not 'PROTO PREFIX PORT[-PORT]'");
    why_is("{\"entries\":[\"sctp 100.64.0.1/32 22\"]}", -EINVAL, "entry 1 'sctp");
    why_is("{\"entries\":[\"tcp 100.64.0.1/32 90-80\"]}", -EINVAL, "entry 1 ");
    why_is("{\"entries\":[null]}", -EINVAL, "entry 1 is not a string");
    why_is("{\"entries\":{}}", -EINVAL, "no \"entries\" array");
    why_is("{\"entries\":[\"tcp", -EINVAL, "not JSON");
    why_is("", -EINVAL, "not JSON");
    why_is("{\"entries\":[\"tcp 100.64.0.1/32 22\"]}", 0, "");
    /* why NULL is accepted (filter_json_parse) */
    struct filter_entry *e;
    size_t n;
    CHECK(filter_json_parse_why("[", &e, &n, NULL, 0) == -EINVAL);
}

int main(void)
{
    test_gate();
    test_parse_why();
    return check_finish("test_wg_filter_gate");
}
