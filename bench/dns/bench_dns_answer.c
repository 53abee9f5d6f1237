/* Micro-benchmark of the answer path alone (parse, lookup, template copy/patch), no sockets:
 * ns per query over a 1,000-name zone, for a hit, a miss (NXDOMAIN) and an EDNS query. */
#include "server/dns/dns_server.h"
#include "server/dns/dns_limits.h"
#include "common/dns/dns_build.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t query(uint8_t *buf, const char *name, bool edns)
{
    struct dns_builder b;
    struct dns_name n;
    struct dns_header h = {.id = 1, .qdcount = 1, .arcount = edns};
    dns_name_from_text(&n, name);
    dns_builder_init(&b, buf, 512);
    dns_builder_header(&b, &h);
    dns_builder_question(&b, &n, DNS_TYPE_A, DNS_CLASS_IN);
    if (edns)
        dns_builder_opt(&b, 1232, 0, 0, 0);
    return b.len;
}

int main(void)
{
    struct dns_snapshot_builder *b = dns_snapshot_builder_new();
    dns_snapshot_builder_add_zone(b, "bench.ztna.test", 1, NULL, 0);
    for (int i = 0; i < 1000; i++) {
        char name[64];
        struct in_addr a = {htonl(0x64400000u + (uint32_t)i)};
        snprintf(name, sizeof(name), "host%d.bench.ztna.test", i);
        dns_snapshot_builder_add_a(b, name, a);
    }
    struct dns_snapshot *s;
    double t0 = now();
    if (dns_snapshot_builder_finish(b, &s) < 0)
        return 1;
    printf("answer path: snapshot of 1,000 names built in %.2f ms\n", (now() - t0) * 1e3);
    static uint8_t q[1000][64], out[DNS_UDP_ANSWER_MAX];
    size_t ql[1000];
    const char *kinds[3] = {"hit", "NXDOMAIN", "hit+EDNS"};
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 1000; i++) {
            char name[64];
            snprintf(name, sizeof(name), k == 1 ? "nope%d.bench.ztna.test" : "HoSt%d.bench.ztna.test", i);
            ql[i] = query(q[i], name, k == 2);
        }
        const int iters = 2000000;
        size_t sum = 0;
        t0 = now();
        for (int i = 0; i < iters; i++)
            sum += dns_answer(s, q[i % 1000], ql[i % 1000], out, sizeof(out), false);
        double el = now() - t0;
        printf("answer path: %-8s %6.0f ns/query (%zu bytes out per query)\n", kinds[k],
               el * 1e9 / iters, sum / iters);
    }
    dns_snapshot_free(s);
    return 0;
}
