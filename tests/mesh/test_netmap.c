/* The netmap verifier and applier (agent/daemon/netmap.h): signature checks against the pinned
 * key (wrong key, altered payload, altered signature, unsigned), refusal of older versions and of
 * maps for another machine, keepalives, delta bases, filters; and random delta sequences checked
 * against a naive reference model. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agent/daemon/netmap.h"
#include "tests/check.h"
#include "tests/mesh/netmap_util.h"

static uint8_t pk[32], sk[64], pk2[32], sk2[64];

static char *peer_json(int id, const char *tag, int ip)
{
    char *s = malloc(512), key[64];
    uint8_t k[32];
    memset(k, id, 32);
    sodium_bin2base64(key, sizeof(key), k, 32, sodium_base64_VARIANT_ORIGINAL);
    snprintf(s, 512,
             "{\"id\":%d,\"name\":\"p%d\",\"fqdn\":\"p%d.acme.zt.net\",\"tailnet_ip\":\"100.64.0.%d\","
             "\"wg_public_key\":\"%s\",\"tags\":[\"%s\"],\"online\":true,\"last_seen\":5,"
             "\"endpoints\":[\"198.18.0.%d:41641\"],\"pq\":\"%s\"}",
             id, id, id, ip, key, tag, ip, id == 3 ? "classical-allowed" : "required");
    return s;
}

static enum nm_verdict recv_payload(const struct netmap *cur, const char *payload, struct netmap **next,
                                    char *why)
{
    char *d = nm_sign(sk, payload, strlen(payload));
    enum nm_verdict v = netmap_receive(cur, pk, 7, d, strlen(d), next, why, 256);
    free(d);
    return v;
}

#define SELF "\"self\":{\"id\":7,\"name\":\"me\",\"fqdn\":\"me.acme.zt.net\",\"tailnet_ip\":\"100.64.0.7\",\"tags\":[]}"
#define DNS "\"dns\":{\"suffix\":\"acme.zt.net\",\"resolver\":\"100.100.100.100\",\"search\":[\"acme.zt.net\"]}"

static struct netmap *full_map(void)
{
    char payload[4096], why[256];
    char *p2 = peer_json(2, "tag:web", 2), *p3 = peer_json(3, "tag:db", 3);
    struct netmap *nm = NULL;
    snprintf(payload, sizeof(payload),
             "{\"type\":\"full\",\"machine_id\":7,\"version\":10,\"generated_at\":1," SELF
             ",\"peers\":[%s,%s]," DNS ",\"filter\":null}", p3, p2);
    CHECK(recv_payload(NULL, payload, &nm, why) == NM_APPLIED);
    free(p2);
    free(p3);
    return nm;
}

static void test_full(void)
{
    struct netmap *nm = full_map();
    char ip[16];
    if (!nm)
        return;
    CHECK(nm->version == 10 && nm->machine_id == 7);
    CHECK(nm->n_peers == 2 && nm->peers[0].id == 2 && nm->peers[1].id == 3); /* sorted by id */
    CHECK(!strcmp(nm->peers[0].tags[0], "tag:web") && nm->peers[0].n_tags == 1);
    CHECK(!nm->peers[0].classical && nm->peers[1].classical);
    inet_ntop(AF_INET, &nm->peers[1].ip, ip, sizeof(ip));
    CHECK(!strcmp(ip, "100.64.0.3"));
    CHECK(nm->peers[0].wg_key[0] == 2 && nm->peers[0].wg_key[31] == 2);
    CHECK(nm->peers[0].n_endpoints == 1 && !strcmp(nm->peers[0].endpoints[0], "198.18.0.2:41641"));
    CHECK(!strcmp(nm->dns.suffix, "acme.zt.net") && nm->dns.n_search == 1);
    CHECK(!nm->has_filter);
    CHECK(!strcmp(nm->self.fqdn, "me.acme.zt.net"));
    CHECK(netmap_peer_by_id(nm, 3) == &nm->peers[1] && !netmap_peer_by_id(nm, 4));
    netmap_free(nm);
}

/* Every way a message can be forged is refused, and the map held is untouched. */
static void test_forgeries(void)
{
    struct netmap *cur = full_map(), *next = NULL;
    char why[256], payload[1024];
    if (!cur)
        return;
    snprintf(payload, sizeof(payload), "{\"type\":\"full\",\"machine_id\":7,\"version\":11," SELF
             ",\"peers\":[]," DNS "}");
    /* the genuine message applies */
    CHECK(recv_payload(cur, payload, &next, why) == NM_APPLIED);
    netmap_free(next);
    /* signed with another key */
    char *d = nm_sign(sk2, payload, strlen(payload));
    CHECK(netmap_receive(cur, pk, 7, d, strlen(d), &next, why, sizeof(why)) == NM_REFUSED && !next);
    CHECK(strstr(why, "bad signature") != NULL);
    free(d);
    /* altered payload: sign, then change one byte of the payload and re-encode */
    d = nm_sign(sk, payload, strlen(payload));
    char *alt = strdup(payload);
    alt[strlen("{\"type\":\"full\",\"machine_id\":7,\"version\":1")] = '9'; /* version 19 */
    char *d2 = nm_sign(sk, alt, strlen(alt));
    /* graft the old signature onto the new payload */
    char *sig_old = strstr(d, "\"sig\":"), *sig_new = strstr(d2, "\"sig\":");
    memcpy(sig_new, sig_old, strlen(sig_old) + 1);
    CHECK(netmap_receive(cur, pk, 7, d2, strlen(d2), &next, why, sizeof(why)) == NM_REFUSED);
    /* altered signature */
    char *h = strstr(d, "\"sig\":\"") + 7;
    h[10] = h[10] == 'a' ? 'b' : 'a';
    CHECK(netmap_receive(cur, pk, 7, d, strlen(d), &next, why, sizeof(why)) == NM_REFUSED);
    free(d);
    free(d2);
    free(alt);
    /* unsigned */
    const char *uns = "{\"payload\":\"e30=\"}";
    CHECK(netmap_receive(cur, pk, 7, uns, strlen(uns), &next, why, sizeof(why)) == NM_REFUSED);
    CHECK(strstr(why, "unsigned") != NULL);
    /* sig of the wrong length, not JSON, not an object */
    const char *bad[] = {"{\"payload\":\"e30=\",\"sig\":\"00\"}", "not json", "[]", "{\"sig\":\"00\"}"};
    for (size_t i = 0; i < 4; i++)
        CHECK(netmap_receive(cur, pk, 7, bad[i], strlen(bad[i]), &next, why, sizeof(why)) == NM_REFUSED);
    /* older version */
    snprintf(payload, sizeof(payload), "{\"type\":\"full\",\"machine_id\":7,\"version\":9," SELF
             ",\"peers\":[]," DNS "}");
    CHECK(recv_payload(cur, payload, &next, why) == NM_REFUSED && strstr(why, "older"));
    /* another machine */
    snprintf(payload, sizeof(payload), "{\"type\":\"full\",\"machine_id\":8,\"version\":12," SELF
             ",\"peers\":[]," DNS "}");
    CHECK(recv_payload(cur, payload, &next, why) == NM_REFUSED && strstr(why, "machine 8"));
    /* a keepalive: at our version nothing changes; newer means we missed something */
    CHECK(recv_payload(cur, "{\"type\":\"keepalive\",\"machine_id\":7,\"version\":10}", &next, why) ==
          NM_UNCHANGED);
    CHECK(recv_payload(cur, "{\"type\":\"keepalive\",\"machine_id\":7,\"version\":12}", &next, why) ==
          NM_RESYNC);
    CHECK(recv_payload(cur, "{\"type\":\"keepalive\",\"machine_id\":7,\"version\":3}", &next, why) ==
          NM_REFUSED);
    /* a delta that does not start from our version */
    CHECK(recv_payload(cur, "{\"type\":\"delta\",\"machine_id\":7,\"version\":12,\"prev_version\":11}",
                       &next, why) == NM_RESYNC);
    CHECK(recv_payload(NULL, "{\"type\":\"delta\",\"machine_id\":7,\"version\":12,\"prev_version\":11}",
                       &next, why) == NM_RESYNC);
    /* malformed contents */
    const char *mal[] = {
        "{\"type\":\"full\",\"machine_id\":7,\"version\":12," DNS "}",                   /* no self */
        "{\"type\":\"bogus\",\"machine_id\":7,\"version\":12}",                          /* type */
        "{\"type\":\"delta\",\"machine_id\":7,\"version\":12}",                          /* no prev */
        "{\"type\":\"full\",\"machine_id\":7,\"version\":12," SELF ",\"peers\":[{\"id\":2,\"name\":\"x\","
        "\"fqdn\":\"x.acme.zt.net\",\"tailnet_ip\":\"100.64.0.2\"}]," DNS "}",            /* no key */
        "{\"type\":\"full\",\"machine_id\":7,\"version\":12," SELF ",\"peers\":[]," DNS
        ",\"filter\":{\"entries\":[\"tcp nonsense\"]}}",                                   /* filter */
        "{\"type\":\"full\",\"machine_id\":7,\"version\":-1," SELF ",\"peers\":[]," DNS "}", /* version */
    };
    for (size_t i = 0; i < sizeof(mal) / sizeof(mal[0]); i++) {
        enum nm_verdict v = recv_payload(cur, mal[i], &next, why);
        CHECK(v == NM_REFUSED);
        if (v != NM_REFUSED)
            fprintf(stderr, "malformed %zu accepted\n", i);
    }
    /* duplicate peer ids, and ourselves as a peer */
    char *p2 = peer_json(2, "tag:a", 2), *p7 = peer_json(7, "tag:a", 7);
    snprintf(payload, sizeof(payload), "{\"type\":\"full\",\"machine_id\":7,\"version\":12," SELF
             ",\"peers\":[%s,%s]," DNS "}", p2, p2);
    CHECK(recv_payload(cur, payload, &next, why) == NM_REFUSED);
    snprintf(payload, sizeof(payload), "{\"type\":\"full\",\"machine_id\":7,\"version\":12," SELF
             ",\"peers\":[%s]," DNS "}", p7);
    CHECK(recv_payload(cur, payload, &next, why) == NM_REFUSED);
    free(p2);
    free(p7);
    netmap_free(cur);
}

static void test_delta_and_filter(void)
{
    struct netmap *cur = full_map(), *next = NULL, *n3 = NULL, *n4 = NULL;
    char why[256], payload[4096];
    if (!cur)
        return;
    char *p2 = peer_json(2, "tag:db", 2), *p5 = peer_json(5, "tag:x", 5);
    snprintf(payload, sizeof(payload),
             "{\"type\":\"delta\",\"machine_id\":7,\"version\":11,\"prev_version\":10,"
             "\"upsert\":[%s,%s],\"remove\":[3],\"filter\":{\"entries\":[\"tcp 100.64.0.2/32 22\"]}}", p5, p2);
    CHECK(recv_payload(cur, payload, &next, why) == NM_APPLIED);
    if (next) {
        CHECK(next->version == 11 && next->n_peers == 2);
        CHECK(next->peers[0].id == 2 && !strcmp(next->peers[0].tags[0], "tag:db"));
        CHECK(next->peers[1].id == 5 && !netmap_peer_by_id(next, 3));
        CHECK(!strcmp(next->self.fqdn, "me.acme.zt.net") && !strcmp(next->dns.suffix, "acme.zt.net"));
        CHECK(next->has_filter && next->n_filter == 1 && next->filter[0].port_lo == 22);
        /* a delta without "filter" keeps it; "filter": null removes it */
        CHECK(recv_payload(next, "{\"type\":\"delta\",\"machine_id\":7,\"version\":12,\"prev_version\":11}",
                           &n3, why) == NM_APPLIED);
        if (n3) {
            CHECK(n3->has_filter && n3->n_filter == 1 && n3->n_peers == 2);
            CHECK(recv_payload(n3, "{\"type\":\"delta\",\"machine_id\":7,\"version\":13,"
                                   "\"prev_version\":12,\"filter\":null}", &n4, why) == NM_APPLIED);
            CHECK(n4 && !n4->has_filter);
        }
    }
    free(p2);
    free(p5);
    netmap_free(n4);
    netmap_free(n3);
    netmap_free(next);
    netmap_free(cur);
}

/* IPv6 tailnet addresses: self's tailnet_ip6 + tailnet_prefix6 and the peers' tailnet_ip6 are
 * read strictly; absent means IPv6 off; anything malformed is refused with the field named. */
#define SELF6(ip6, prefix6)                                                                        \
    "\"self\":{\"id\":7,\"name\":\"me\",\"fqdn\":\"me.acme.zt.net\",\"tailnet_ip\":\"100.64.0.7\","    \
    "\"tags\":[],\"tailnet_ip6\":" ip6 ",\"tailnet_prefix6\":" prefix6 "}"
#define PEER6(ip6)                                                                                 \
    "{\"id\":2,\"name\":\"p2\",\"fqdn\":\"p2.acme.zt.net\",\"tailnet_ip\":\"100.64.0.2\","             \
    "\"wg_public_key\":\"AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\",\"tailnet_ip6\":" ip6 "}"
#define FULL6(self, peer)                                                                          \
    "{\"type\":\"full\",\"machine_id\":7,\"version\":12," self ",\"peers\":[" peer "]," DNS "}"
#define OK_SELF6 SELF6("\"fd7a:115c:a1e0::6440:7\"", "\"fd7a:115c:a1e0::/48\"")

static void test_ip6(void)
{
    struct netmap *nm = NULL, *next = NULL;
    char why[256], txt[INET6_ADDRSTRLEN];
    CHECK(recv_payload(NULL, FULL6(OK_SELF6, PEER6("\"FD7A:115C:A1E0:0:0:0:6440:2\"")), &nm, why) ==
          NM_APPLIED);
    if (!nm)
        return;
    CHECK(nm->self.has_ip6 && nm->self.prefix6_len == 48);
    inet_ntop(AF_INET6, &nm->self.ip6, txt, sizeof(txt));
    CHECK(!strcmp(txt, "fd7a:115c:a1e0::6440:7"));
    inet_ntop(AF_INET6, &nm->self.prefix6, txt, sizeof(txt));
    CHECK(!strcmp(txt, "fd7a:115c:a1e0::"));
    CHECK(nm->n_peers == 1 && nm->peers[0].has_ip6);
    inet_ntop(AF_INET6, &nm->peers[0].ip6, txt, sizeof(txt));
    CHECK(!strcmp(txt, "fd7a:115c:a1e0::6440:2"));
    /* a delta upserting the peer without tailnet_ip6 takes its IPv6 address away */
    CHECK(recv_payload(nm, "{\"type\":\"delta\",\"machine_id\":7,\"version\":13,\"prev_version\":12,"
                           "\"upsert\":[{\"id\":2,\"name\":\"p2\",\"fqdn\":\"p2.acme.zt.net\","
                           "\"tailnet_ip\":\"100.64.0.2\",\"wg_public_key\":"
                           "\"AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\"}]}", &next, why) == NM_APPLIED);
    CHECK(next && next->self.has_ip6 && next->n_peers == 1 && !next->peers[0].has_ip6);
    netmap_free(next);
    next = NULL;
    /* IPv6 off on the server: no member, no address */
    netmap_free(nm);
    nm = full_map();
    CHECK(nm && !nm->self.has_ip6 && !nm->peers[0].has_ip6 && !nm->peers[1].has_ip6);
    netmap_free(nm);
    nm = NULL;

    static const struct {
        const char *payload, *why;
    } bad[] = {
        {FULL6(SELF6("\"fd7a:115c:a1e0::zz\"", "\"fd7a:115c:a1e0::/48\""), PEER6("\"fd7a:115c:a1e0::2\"")),
         "self: tailnet_ip6"},
        {FULL6(SELF6("\"100.64.0.7\"", "\"fd7a:115c:a1e0::/48\""), PEER6("\"fd7a:115c:a1e0::2\"")),
         "self: tailnet_ip6"},
        {FULL6(SELF6("7", "\"fd7a:115c:a1e0::/48\""), PEER6("\"fd7a:115c:a1e0::2\"")), "tailnet_ip6"},
        {FULL6(SELF6("null", "\"fd7a:115c:a1e0::/48\""), PEER6("\"fd7a:115c:a1e0::2\"")), "tailnet_ip6"},
        {FULL6(SELF6("\"ff02::1\"", "\"ff02::/16\""), PEER6("\"fd7a:115c:a1e0::2\"")), "self: tailnet_ip6"},
        {FULL6(SELF6("\"fe80::7\"", "\"fe80::/64\""), PEER6("\"fd7a:115c:a1e0::2\"")), "self: tailnet_ip6"},
        {FULL6(SELF6("\"::ffff:100.64.0.7\"", "\"::ffff:0:0/96\""), PEER6("\"fd7a:115c:a1e0::2\"")),
         "self: tailnet_ip6"},
        {FULL6(SELF6("\"::\"", "\"fd7a:115c:a1e0::/48\""), PEER6("\"fd7a:115c:a1e0::2\"")), "self: tailnet_ip6"},
        {FULL6(SELF6("\"fd7a:115c:a1e0::6440:7%eth0\"", "\"fd7a:115c:a1e0::/48\""),
               PEER6("\"fd7a:115c:a1e0::2\"")), "self: tailnet_ip6"},
        {FULL6(OK_SELF6, PEER6("\"fd7a:115c:a1e0::6440:2/128\"")), "peer 2: tailnet_ip6"},
        {FULL6(OK_SELF6, PEER6("\"1.2.3.4\"")), "peer 2: tailnet_ip6"},
        {FULL6(OK_SELF6, PEER6("\"\"")), "tailnet_ip6"},
        /* the prefix: present with the address, well formed, no host bits, holding the address */
        {FULL6("\"self\":{\"id\":7,\"name\":\"me\",\"fqdn\":\"me.acme.zt.net\",\"tailnet_ip\":\"100.64.0.7\","
               "\"tailnet_ip6\":\"fd7a:115c:a1e0::6440:7\"}", PEER6("\"fd7a:115c:a1e0::2\"")),
         "come together"},
        {FULL6("\"self\":{\"id\":7,\"name\":\"me\",\"fqdn\":\"me.acme.zt.net\",\"tailnet_ip\":\"100.64.0.7\","
               "\"tailnet_prefix6\":\"fd7a:115c:a1e0::/48\"}", PEER6("\"fd7a:115c:a1e0::2\"")),
         "come together"},
        {FULL6(SELF6("\"fd7a:115c:a1e0::6440:7\"", "\"fd7a:115c:a1e0::\""), PEER6("\"fd7a:115c:a1e0::2\"")),
         "self: tailnet_prefix6"},
        {FULL6(SELF6("\"fd7a:115c:a1e0::6440:7\"", "\"fd7a:115c:a1e0::/0\""), PEER6("\"fd7a:115c:a1e0::2\"")),
         "self: tailnet_prefix6"},
        {FULL6(SELF6("\"fd7a:115c:a1e0::6440:7\"", "\"fd7a:115c:a1e0::/129\""), PEER6("\"fd7a:115c:a1e0::2\"")),
         "self: tailnet_prefix6"},
        {FULL6(SELF6("\"fd7a:115c:a1e0::6440:7\"", "\"fd7a:115c:a1e0::/048\""), PEER6("\"fd7a:115c:a1e0::2\"")),
         "self: tailnet_prefix6"},
        {FULL6(SELF6("\"fd7a:115c:a1e0::6440:7\"", "\"fd7a:115c:a1e0::/4x\""), PEER6("\"fd7a:115c:a1e0::2\"")),
         "self: tailnet_prefix6"},
        {FULL6(SELF6("\"fd7a:115c:a1e0::6440:7\"", "\"fd7a:115c:a1e0::1/48\""), PEER6("\"fd7a:115c:a1e0::2\"")),
         "self: tailnet_prefix6"},
        {FULL6(SELF6("\"fd7a:115c:a1e0::6440:7\"", "\"fd7a:115c:a1e1::/48\""), PEER6("\"fd7a:115c:a1e0::2\"")),
         "outside tailnet_prefix6"},
        {FULL6(SELF6("\"fd7a:115c:a1e0::6440:7\"", "\"100.64.0.0/10\""), PEER6("\"fd7a:115c:a1e0::2\"")),
         "self: tailnet_prefix6"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = 0;
        enum nm_verdict v = recv_payload(NULL, bad[i].payload, &nm, why);
        CHECK(v == NM_REFUSED && !nm);
        CHECK(strstr(why, bad[i].why) != NULL);
        if (v != NM_REFUSED || !strstr(why, bad[i].why))
            fprintf(stderr, "ip6 case %zu: verdict %d, why \"%s\"\n", i, (int)v, why);
        netmap_free(nm);
        nm = NULL;
    }
    /* a /128 prefix holding exactly the address, and a /1, are fine */
    CHECK(recv_payload(NULL, FULL6(SELF6("\"fd7a:115c:a1e0::6440:7\"", "\"fd7a:115c:a1e0::6440:7/128\""),
                                   PEER6("\"fd7a:115c:a1e0::2\"")), &nm, why) == NM_APPLIED);
    CHECK(nm && nm->self.prefix6_len == 128);
    netmap_free(nm);
    nm = NULL;
    CHECK(recv_payload(NULL, FULL6(SELF6("\"fd7a:115c:a1e0::6440:7\"", "\"8000::/1\""),
                                   PEER6("\"fd7a:115c:a1e0::2\"")), &nm, why) == NM_APPLIED);
    CHECK(nm && nm->self.prefix6_len == 1);
    netmap_free(nm);
}

/* Random deltas against a naive model: a presence flag and a tag number per id. */
static void test_random_deltas(void)
{
    enum { IDS = 40, ROUNDS = 300 };
    int model[IDS + 1];
    struct netmap *cur = NULL;
    char *payload = malloc(1 << 16), why[256];
    uint64_t seed = 0x1234567;
    memset(model, 0, sizeof(model));
    snprintf(payload, 1 << 16, "{\"type\":\"full\",\"machine_id\":7,\"version\":1," SELF
             ",\"peers\":[]," DNS "}");
    CHECK(recv_payload(NULL, payload, &cur, why) == NM_APPLIED);
    for (int r = 0; r < ROUNDS && cur; r++) {
        size_t off = (size_t)snprintf(payload, 1 << 16,
                                      "{\"type\":\"delta\",\"machine_id\":7,\"version\":%d,"
                                      "\"prev_version\":%d,\"upsert\":[", r + 2, r + 1);
        int n_up = 0, rem[8], n_rem = 0, used[4];
        for (int k = 0; k < 4; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            int id = 8 + (int)((seed >> 33) % (IDS - 8));
            int op = (int)((seed >> 20) % 3);
            bool dup = false; /* one operation per id per delta */
            for (int j = 0; j < k; j++)
                dup |= used[j] == id;
            used[k] = id;
            if (dup)
                continue;
            if (op < 2) {
                char tag[32], *p;
                snprintf(tag, sizeof(tag), "tag:t%d", r);
                p = peer_json(id, tag, id);
                off += (size_t)snprintf(payload + off, (1 << 16) - off, "%s%s", n_up ? "," : "", p);
                free(p);
                n_up++;
                model[id] = r + 1;
            } else {
                rem[n_rem++] = id;
            }
        }
        off += (size_t)snprintf(payload + off, (1 << 16) - off, "],\"remove\":[");
        int first = 1;
        for (int j = 0; j < n_rem; j++) {
            off += (size_t)snprintf(payload + off, (1 << 16) - off, "%s%d", first ? "" : ",", rem[j]);
            first = 0;
            model[rem[j]] = 0;
        }
        snprintf(payload + off, (1 << 16) - off, "]}");
        struct netmap *next = NULL;
        CHECK(recv_payload(cur, payload, &next, why) == NM_APPLIED);
        if (!next)
            break;
        netmap_free(cur);
        cur = next;
        size_t want = 0;
        for (int id = 1; id <= IDS; id++) {
            const struct nm_node *p = netmap_peer_by_id(cur, id);
            if (model[id]) {
                char tag[32];
                snprintf(tag, sizeof(tag), "tag:t%d", model[id] - 1);
                want++;
                CHECK(p && !strcmp(p->tags[0], tag));
            } else {
                CHECK(!p);
            }
        }
        CHECK(cur->n_peers == want);
    }
    free(payload);
    netmap_free(cur);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    crypto_sign_keypair(pk, sk);
    crypto_sign_keypair(pk2, sk2);
    test_full();
    test_forgeries();
    test_delta_and_filter();
    test_ip6();
    test_random_deltas();
    return check_finish("test_netmap");
}
