/* The agent's side of IPv6 tailnet addresses, below the end-to-end test (test_ip6_e2e.py): the
 * DNS stub table answers AAAA for a node with tailnet_ip6 and NODATA for one without, and PTR for
 * reverse names in the tailnet's IPv6 prefix (NXDOMAIN for unknown ones, never forwarded); policy
 * denials keep the address family (an IPv6 source whose first 4 bytes spell an IPv4 source is
 * counted apart from it) and print IPv6 sources; `ztna status` shows both addresses. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "agent/daemon/daemon.h"
#include "agent/daemon/dnsio.h"
#include "agent/dns/dns_stub.h"
#include "common/filter/filter.h"
#include "common/filter/gate.h"
#include "tests/check.h"
#include "tests/filter/pkt_build.h"
#include "tests/mesh/status_text.h"

/* A query for name (dotted, no trailing dot) of type qtype; returns its length. */
static size_t query(uint8_t *b, const char *name, uint16_t qtype)
{
    size_t n = 12;
    memset(b, 0, 12);
    b[0] = 0x12, b[1] = 0x34, b[2] = 0x01, b[5] = 1; /* id, RD, one question */
    for (const char *p = name; *p;) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        b[n++] = (uint8_t)l;
        memcpy(b + n, p, l);
        n += l;
        p += l + (dot ? 1 : 0);
    }
    b[n++] = 0;
    b[n++] = 0, b[n++] = (uint8_t)qtype, b[n++] = 0, b[n++] = 1;
    return n;
}

static struct nm_node node(const char *fqdn, const char *ip, const char *ip6)
{
    struct nm_node n;
    memset(&n, 0, sizeof(n));
    snprintf(n.fqdn, sizeof(n.fqdn), "%s", fqdn);
    inet_pton(AF_INET, ip, &n.ip);
    if (ip6) {
        n.has_ip6 = true;
        inet_pton(AF_INET6, ip6, &n.ip6);
    }
    return n;
}

static void test_dns_aaaa(void)
{
    struct dns_stub_table *t = dns_stub_table_new("acme.zt.net");
    struct nm_node beta = node("beta.acme.zt.net", "100.64.0.2", "fd7a:115c:a1e0::6440:2");
    struct nm_node old = node("old.acme.zt.net", "100.64.0.3", NULL);
    uint8_t q[300], out[1500], want6[16], want4[4];
    size_t ql, len = 0;
    CHECK(t != NULL);
    if (!t)
        return;
    CHECK(dnsio_table_add_node(t, &beta) == 0);
    CHECK(dnsio_table_add_node(t, &old) == 0);
    dns_stub_table_seal(t);
    inet_pton(AF_INET6, "fd7a:115c:a1e0::6440:2", want6);
    inet_pton(AF_INET, "100.64.0.2", want4);
    /* AAAA: one answer, the node's tailnet_ip6 as the record's data (the last 16 bytes) */
    ql = query(q, "beta.acme.zt.net", 28);
    CHECK(dns_stub_resolve(t, q, ql, out, sizeof(out), &len) == DNS_STUB_ANSWER);
    CHECK(len > ql && (out[3] & 0x0f) == 0 && out[6] == 0 && out[7] == 1);
    CHECK(len >= 16 && !memcmp(out + len - 16, want6, 16));
    CHECK(len >= 18 && out[len - 18] == 0 && out[len - 17] == 16); /* RDLENGTH */
    /* single-label name, any case */
    ql = query(q, "BETA", 28);
    CHECK(dns_stub_resolve(t, q, ql, out, sizeof(out), &len) == DNS_STUB_ANSWER);
    CHECK(out[7] == 1 && len >= 16 && !memcmp(out + len - 16, want6, 16));
    /* A still answers the IPv4 address */
    ql = query(q, "beta.acme.zt.net", 1);
    CHECK(dns_stub_resolve(t, q, ql, out, sizeof(out), &len) == DNS_STUB_ANSWER);
    CHECK(out[7] == 1 && len >= 4 && !memcmp(out + len - 4, want4, 4));
    /* a node without tailnet_ip6 (IPv6 off): AAAA is NODATA (NOERROR, no answer), not NXDOMAIN */
    ql = query(q, "old.acme.zt.net", 28);
    CHECK(dns_stub_resolve(t, q, ql, out, sizeof(out), &len) == DNS_STUB_ANSWER);
    CHECK((out[3] & 0x0f) == 0 && out[6] == 0 && out[7] == 0);
    dns_stub_table_free(t);
}

/* x.x...x.ip6.arpa for addr (nibbles reversed), as dotted text. */
static void rev6(const char *addr, char *out)
{
    uint8_t a[16];
    inet_pton(AF_INET6, addr, a);
    for (int k = 31; k >= 0; k--)
        out += sprintf(out, "%x.", (a[k / 2] >> (k % 2 ? 0 : 4)) & 15);
    strcpy(out, "ip6.arpa");
}

/* PTR for the tailnet's IPv6 prefix is answered from the table, never forwarded upstream. */
static void test_dns_ptr6(void)
{
    struct dns_stub_table *t = dns_stub_table_new("acme.zt.net"), *off = dns_stub_table_new("acme.zt.net");
    struct nm_node beta = node("beta.acme.zt.net", "100.64.0.2", "fd7a:115c:a1e0::6440:2");
    struct nm_node gamma = node("gamma.acme.zt.net", "100.64.0.3", "fd7a:115c:a1e0::6440:3");
    struct in6_addr prefix;
    uint8_t q[300], out[1500];
    char name[128];
    size_t ql, len = 0;
    CHECK(t && off);
    if (!t || !off)
        goto out;
    inet_pton(AF_INET6, "fd7a:115c:a1e0::", &prefix);
    CHECK(dns_stub_table_set_prefix6(t, &prefix, 0) == -EINVAL);
    CHECK(dns_stub_table_set_prefix6(t, &prefix, 129) == -EINVAL);
    CHECK(dns_stub_table_set_prefix6(t, &prefix, 48) == 0);
    CHECK(dnsio_table_add_node(t, &gamma) == 0 && dnsio_table_add_node(t, &beta) == 0);
    CHECK(dnsio_table_add_node(off, &beta) == 0);
    dns_stub_table_seal(t);
    dns_stub_table_seal(off);
    CHECK(dns_stub_table_set_prefix6(t, &prefix, 48) == -EINVAL); /* sealed */
    rev6("fd7a:115c:a1e0::6440:2", name);
    ql = query(q, name, 12);
    CHECK(dns_stub_resolve(t, q, ql, out, sizeof(out), &len) == DNS_STUB_ANSWER);
    /* one answer whose data is beta's name: ...\4beta\4acme\2zt\3net\0 at the end */
    CHECK((out[3] & 0x0f) == 0 && out[7] == 1 && len > 18 &&
          !memcmp(out + len - 18, "\4beta\4acme\2zt\3net", 18));
    /* upper-case nibbles are the same name */
    for (char *c = name; *c; c++)
        *c = (char)(*c >= 'a' && *c <= 'f' ? *c - 32 : *c);
    ql = query(q, name, 12);
    CHECK(dns_stub_resolve(t, q, ql, out, sizeof(out), &len) == DNS_STUB_ANSWER && out[7] == 1);
    /* in the prefix but nobody's: NXDOMAIN here */
    rev6("fd7a:115c:a1e0::6440:9", name);
    ql = query(q, name, 12);
    CHECK(dns_stub_resolve(t, q, ql, out, sizeof(out), &len) == DNS_STUB_ANSWER);
    CHECK((out[3] & 0x0f) == 3 && out[7] == 0);
    /* outside the prefix, a partial name, or IPv6 off (no prefix): the upstream's business */
    rev6("2001:db8::6440:2", name);
    ql = query(q, name, 12);
    CHECK(dns_stub_resolve(t, q, ql, out, sizeof(out), &len) == DNS_STUB_FORWARD);
    ql = query(q, "0.e.1.a.c.5.1.1.a.7.d.f.ip6.arpa", 12);
    CHECK(dns_stub_resolve(t, q, ql, out, sizeof(out), &len) == DNS_STUB_FORWARD);
    rev6("fd7a:115c:a1e0::6440:2", name);
    ql = query(q, name, 12);
    CHECK(dns_stub_resolve(off, q, ql, out, sizeof(out), &len) == DNS_STUB_FORWARD);
out:
    dns_stub_table_free(t);
    dns_stub_table_free(off);
}

static size_t entries(const char *json, struct filter_entry **e)
{
    size_t n = 0;
    CHECK(filter_json_parse(json, e, &n) == 0);
    return n;
}

static const struct agent_denial *find(const struct agent *a, int family, const char *src,
                                       uint8_t proto)
{
    uint8_t b[16] = {0};
    inet_pton(family == 6 ? AF_INET6 : AF_INET, src, b);
    for (size_t i = 0; i < a->n_denials; i++)
        if (a->denials[i].family == family && a->denials[i].proto == proto &&
            !memcmp(a->denials[i].src, b, family == 6 ? 16 : 4))
            return &a->denials[i];
    return NULL;
}

static void test_denials(void)
{
    struct agent *a = calloc(1, sizeof(*a));
    struct filter_entry *e = NULL;
    uint8_t p[80];
    size_t n, l;
    CHECK(a && filter_matcher_new(&a->fm, 0) == 0);
    if (!a || !a->fm)
        goto out;
    n = entries("{\"entries\":[\"tcp fd7a:115c:a1e0::6440:2/128 22-22\",\"tcp 100.64.0.2/32 22-22\"]}", &e);
    CHECK(filter_gate_install(a->fm, &a->filter, true, e, n) == 0);
    a->filter_on = true;
    /* allowed over IPv6; another port denied */
    l = pkt6(p, "fd7a:115c:a1e0::6440:2", "fd7a:115c:a1e0::6440:1", 6, 40000, 22);
    CHECK(filter_gate_inbound(a->fm, true, p, l));
    l = pkt6(p, "fd7a:115c:a1e0::6440:2", "fd7a:115c:a1e0::6440:1", 6, 40000, 23);
    CHECK(!filter_gate_inbound(a->fm, true, p, l));
    CHECK(!filter_gate_inbound(a->fm, true, p, l));
    /* an IPv4 source with the same first 4 bytes (fd.7a.11.5c), same port: counted apart */
    l = pkt4(p, "253.122.17.92", "100.64.0.1", 6, 40000, 23);
    CHECK(!filter_gate_inbound(a->fm, true, p, l));
    /* a reply to our own IPv6 flow passes though nothing allows its source */
    l = pkt6(p, "fd7a:115c:a1e0::6440:1", "fd7a:115c:a1e0::6440:9", 6, 41000, 8080);
    filter_gate_outbound(a->fm, p, l);
    l = pkt6(p, "fd7a:115c:a1e0::6440:9", "fd7a:115c:a1e0::6440:1", 6, 8080, 41000);
    CHECK(filter_gate_inbound(a->fm, true, p, l));
    /* ICMPv6 echo: denied without an icmp entry */
    l = pkt6(p, "fd7a:115c:a1e0::6440:2", "fd7a:115c:a1e0::6440:1", 58, 128, 7);
    CHECK(!filter_gate_inbound(a->fm, true, p, l));
    pktpath_collect_denials(a);
    CHECK(a->n_denials == 3);
    const struct agent_denial *d6 = find(a, 6, "fd7a:115c:a1e0::6440:2", 6);
    const struct agent_denial *d4 = find(a, 4, "253.122.17.92", 6);
    CHECK(d6 && d6->proto == 6 && d6->dport == 23 && d6->packets == 2 && d6->unreported == 2);
    CHECK(d4 && d4->proto == 6 && d4->dport == 23 && d4->packets == 1);
    CHECK(find(a, 6, "fd7a:115c:a1e0::6440:2", 58) != NULL);
    if (d6) {
        cJSON *j = pktpath_denial_json(d6, true);
        const cJSON *src = cJSON_GetObjectItemCaseSensitive(j, "src");
        CHECK(cJSON_IsString(src) && !strcmp(src->valuestring, "fd7a:115c:a1e0::6440:2"));
        CHECK(!strcmp(cJSON_GetObjectItemCaseSensitive(j, "proto")->valuestring, "tcp"));
        CHECK(cJSON_GetObjectItemCaseSensitive(j, "count")->valuedouble == 2);
        cJSON_Delete(j);
    }
    /* the heartbeat takes each unreported denial once, the IPv6 one with its IPv6 source */
    cJSON *hb = pktpath_take_denials(a);
    char *txt = hb ? cJSON_PrintUnformatted(hb) : NULL;
    CHECK(cJSON_GetArraySize(hb) == 3 && txt && strstr(txt, "\"src\":\"fd7a:115c:a1e0::6440:2\""));
    CHECK(txt && strstr(txt, "\"src\":\"253.122.17.92\"") && strstr(txt, "\"proto\":\"icmp\""));
    free(txt);
    cJSON_Delete(hb);
    CHECK(pktpath_take_denials(a) == NULL);
    /* the same source again adds to its counter, it does not take a new slot */
    l = pkt6(p, "fd7a:115c:a1e0::6440:2", "fd7a:115c:a1e0::6440:1", 6, 40001, 23);
    CHECK(!filter_gate_inbound(a->fm, true, p, l));
    pktpath_collect_denials(a);
    d6 = find(a, 6, "fd7a:115c:a1e0::6440:2", 6);
    CHECK(a->n_denials == 3 && d6 && d6->packets == 3 && d6->unreported == 1);
out:
    free(e);
    if (a) {
        filter_matcher_free(a->fm);
        filter_free(a->filter);
    }
    free(a);
}

static void test_status(void)
{
    char *out = status_text(
        "{\"control\":{\"state\":\"connected\",\"server\":\"http://s\",\"map_version\":3},"
        "\"filter\":\"policy\",\"self\":{\"name\":\"alpha\",\"fqdn\":\"alpha.acme.zt.net\","
        "\"tailnet_ip\":\"100.64.0.1\",\"tailnet_ip6\":\"fd7a:115c:a1e0::6440:1\",\"tags\":[]},"
        "\"peers\":[{\"name\":\"beta\",\"fqdn\":\"beta.acme.zt.net\",\"tailnet_ip\":\"100.64.0.2\","
        "\"tailnet_ip6\":\"fd7a:115c:a1e0::6440:2\",\"tags\":[],\"online\":true,\"pq\":{}},"
        "{\"name\":\"old\",\"fqdn\":\"old.acme.zt.net\",\"tailnet_ip\":\"100.64.0.3\",\"tags\":[],"
        "\"pq\":{}}],"
        "\"denials\":[{\"src\":\"fd7a:115c:a1e0::6440:2\",\"proto\":\"tcp\",\"dport\":23,\"count\":2,"
        "\"last\":1}]}");
    CHECK(out && strstr(out, "100.64.0.1 fd7a:115c:a1e0::6440:1 ") && strstr(out, "(this machine)"));
    CHECK(out && strstr(out, "100.64.0.2 fd7a:115c:a1e0::6440:2 "));
    CHECK(out && strstr(out, "\n100.64.0.3 ") && !strstr(out, "100.64.0.3 fd7a"));
    CHECK(out && strstr(out, "denied by policy: from fd7a:115c:a1e0::6440:2 to tcp port 23: 2 packets"));
    /* the columns line up: every peer's name starts where self's does */
    const char *self = out ? strstr(out, "alpha") : NULL, *line = self;
    while (line && line > out && line[-1] != '\n')
        line--;
    const char *b = out ? strstr(out, " beta ") : NULL, *bl = b;
    while (bl && bl > out && bl[-1] != '\n')
        bl--;
    CHECK(self && b && self - line == b + 1 - bl);
    free(out);
}

int main(void)
{
    test_dns_aaaa();
    test_dns_ptr6();
    test_denials();
    test_status();
    return check_finish("test_ip6_agent");
}
