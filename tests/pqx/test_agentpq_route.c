/* Where the agent glue sends exchange messages with a send_to backend (docs/pq-exchange.md,
 * "Ports"), over a simulated network (a queue of datagrams between bound addresses, simulated
 * clock). U is a userspace-style peer (exchange on its WireGuard port 198.18.0.1:51933), K a
 * kernel-style one (WireGuard port 51931, nothing answers there; exchange on 51932):
 *   - with nothing learned, an INIT goes to the WireGuard endpoint and to its port + 1 (both
 *     directions);
 *   - a reply goes to the source of the message it answers (the responder needs no address), and
 *     a data plane without an endpoint gets the source of the message that completed the exchange;
 *   - after an exchange each side knows the other's exchange address, and a rotation sends
 *     nothing to the guesses;
 *   - the peer moves (new port): the attempt to the old address times out, the next one also
 *     tries the guesses again and completes;
 *   - a configured PQ endpoint replaces the guesses;
 *   - the endpoint parsers accept IPv4:port, [IPv6]:port and KEY=host:port, and reject the rest. */
#include "agent/pq/agentpq.h"
#include "tests/check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define QMAX 256

struct dgram {
    struct sockaddr_in to, from;
    uint8_t buf[PQX_FRAG_HDR_LEN + PQX_FRAG_PAYLOAD_MAX];
    size_t len;
};

struct node {
    struct agentpq *pq;
    uint16_t port; /* the port its exchange socket is bound to */
    uint8_t psk[32];
    bool blocked;
};

static struct dgram q[QMAX];
static size_t qn;
static struct node nu, nk;
static unsigned sent_to[65536]; /* datagrams per destination port */
static bool u_no_init; /* U's INITs are lost: only K's initiations can succeed */

static struct sockaddr_in addr(uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "198.18.0.1", &a.sin_addr);
    return a;
}

static int be_install(void *ctx, const uint8_t peer[static 32], const uint8_t psk[static 32])
{
    (void)peer;
    memcpy(((struct node *)ctx)->psk, psk, 32);
    return 0;
}

static int be_block(void *ctx, const uint8_t peer[static 32], bool blocked)
{
    (void)peer;
    ((struct node *)ctx)->blocked = blocked;
    return 0;
}

static int be_send(void *ctx, const uint8_t peer[static 32], const uint8_t *buf, size_t len)
{
    (void)ctx;
    (void)peer;
    (void)buf;
    (void)len;
    CHECK(!"send() is not used with send_to");
    return -EIO;
}

static unsigned endpoint_sets;
static uint16_t endpoint_port;

/* The data plane had no endpoint: it gets the source of the message that completed an exchange. */
static int be_endpoint(void *ctx, const uint8_t peer[static 32], const struct sockaddr *a,
                       socklen_t len)
{
    (void)ctx;
    (void)peer;
    CHECK(a->sa_family == AF_INET && len == sizeof(struct sockaddr_in));
    endpoint_sets++;
    endpoint_port = ntohs(((const struct sockaddr_in *)a)->sin_port);
    return 0;
}

static int be_send_to(void *ctx, const struct sockaddr *to, socklen_t to_len, const uint8_t *buf,
                      size_t len)
{
    struct node *n = ctx;

    CHECK(to->sa_family == AF_INET && to_len == sizeof(struct sockaddr_in));
    if (n == &nu && u_no_init && len > 2 && buf[2] == PQX_KIND_INIT)
        return 0; /* lost */
    if (qn == QMAX || len > sizeof(q[0].buf) || to->sa_family != AF_INET)
        return -ENOBUFS;
    memcpy(&q[qn].to, to, sizeof(q[qn].to));
    q[qn].from = addr(n->port);
    memcpy(q[qn].buf, buf, len);
    q[qn].len = len;
    qn++;
    sent_to[ntohs(((const struct sockaddr_in *)to)->sin_port)]++;
    return 0;
}

/* Delivers the queue (and what the deliveries queue) to whoever is bound at each address. */
static void deliver(uint64_t t)
{
    for (size_t i = 0; i < qn; i++) {
        struct dgram d = q[i];
        struct node *n = ntohs(d.to.sin_port) == nu.port ? &nu
                       : ntohs(d.to.sin_port) == nk.port ? &nk : NULL;
        if (n)
            agentpq_receive(n->pq, (struct sockaddr *)&d.from, sizeof(d.from), d.buf, d.len, t,
                            t + 1700000000000ULL);
    }
    qn = 0;
}

static void run(uint64_t from, uint64_t to)
{
    for (uint64_t t = from; t <= to; t += AGENTPQ_TICK_MS) {
        agentpq_tick(nu.pq, t, t + 1700000000000ULL);
        agentpq_tick(nk.pq, t, t + 1700000000000ULL);
        for (int i = 0; i < 8 && qn; i++)
            deliver(t);
    }
}

static bool info_port(struct agentpq *pq, const uint8_t key[32], uint16_t port)
{
    struct agentpq_peer_info in;
    return agentpq_peer_info(pq, key, &in) == 0 && in.pq_addr_len == sizeof(struct sockaddr_in) &&
           ntohs(((struct sockaddr_in *)&in.pq_addr)->sin_port) == port;
}

static bool both_pq(const uint8_t ku[32], const uint8_t kk[32])
{
    struct pqx_status a, b;
    return agentpq_peer_status(nu.pq, kk, &a) == 0 && a.psk == PQX_PSK_PQ &&
           agentpq_peer_status(nk.pq, ku, &b) == 0 && b.psk == PQX_PSK_PQ &&
           memcmp(nu.psk, nk.psk, 32) == 0 && !nu.blocked && !nk.blocked;
}

static void parsers(void)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    uint8_t key[32], want[32];
    char opt[128], b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    static const char *bad[] = {"198.18.0.1", "198.18.0.1:", "198.18.0.1:0", "198.18.0.1:65536",
                                ":51820", "198.18.0.1:5x", "2001:db8::1:51820", "[2001:db8::1]51820",
                                "[2001:db8::1]:", "[198.18.0.1]:1", "host.example:51820",
                                "198.18.0.1:+1", "198.18.0.1:123456", "[]:1", ""};

    CHECK(agentpq_endpoint_parse("198.18.0.1:51820", &ss, &len) == 0 && ss.ss_family == AF_INET &&
          len == sizeof(struct sockaddr_in) && ntohs(((struct sockaddr_in *)&ss)->sin_port) == 51820);
    CHECK(agentpq_endpoint_parse("[2001:db8::1]:1", &ss, &len) == 0 && ss.ss_family == AF_INET6 &&
          len == sizeof(struct sockaddr_in6) && ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) == 1);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(agentpq_endpoint_parse(bad[i], &ss, &len) == -EINVAL);
    CHECK(agentpq_endpoint_parse(NULL, &ss, &len) == -EINVAL);
    randombytes_buf(want, 32);
    sodium_bin2base64(b64, sizeof(b64), want, 32, sodium_base64_VARIANT_ORIGINAL);
    snprintf(opt, sizeof(opt), "%s=198.18.0.2:51822", b64);
    CHECK(agentpq_pq_endpoint_option(opt, key, &ss, &len) == 0 && memcmp(key, want, 32) == 0 &&
          ntohs(((struct sockaddr_in *)&ss)->sin_port) == 51822);
    CHECK(agentpq_pq_endpoint_option(b64, key, &ss, &len) == -EINVAL);              /* no '=' */
    CHECK(agentpq_pq_endpoint_option("AAAA=198.18.0.2:1", key, &ss, &len) == -EINVAL); /* short key */
    snprintf(opt, sizeof(opt), "%s=198.18.0.2", b64);
    CHECK(agentpq_pq_endpoint_option(opt, key, &ss, &len) == -EINVAL); /* no port */
}

int main(void)
{
    uint8_t su[32], sk[32], ku[32], kk[32];
    struct pqx_config cfg;
    struct agentpq_backend bu = {be_install, be_block, be_send, be_endpoint, &nu, NULL, be_send_to};
    struct agentpq_backend bk = {be_install, be_block, be_send, NULL, &nk, NULL, be_send_to};
    struct sockaddr_in ep;
    uint8_t psk1[32];
    unsigned at_wg;

    if (sodium_init() < 0)
        return 1;
    parsers();
    /* K's key is the smaller one: it drives the rotations. */
    do {
        randombytes_buf(su, 32);
        randombytes_buf(sk, 32);
        crypto_scalarmult_base(ku, su);
        crypto_scalarmult_base(kk, sk);
    } while (memcmp(kk, ku, 32) >= 0);
    pqx_config_default(&cfg);
    cfg.rotate_ms = 2000;
    cfg.fallback_ms = 2500;
    cfg.expire_ms = 3000;
    cfg.retransmit_ms = 200;
    cfg.backoff_min_ms = 200;
    cfg.backoff_max_ms = 400;
    nu.pq = agentpq_new(&bu, &cfg);
    nk.pq = agentpq_new(&bk, &cfg);
    nu.port = 51933;
    nk.port = 51932;
    CHECK(nu.pq && nk.pq);
    CHECK(agentpq_set_private_key(nu.pq, su, 0) == 0 && agentpq_set_private_key(nk.pq, sk, 0) == 0);

    /* 1. Only K has an address for U (its WireGuard endpoint): K's INIT goes to that port and
     * port + 1; U, with no address for K at all, answers the source. */
    CHECK(agentpq_peer_add(nu.pq, kk, false, 0) == 0 && agentpq_peer_add(nk.pq, ku, false, 0) == 0);
    ep = addr(51933);
    CHECK(agentpq_peer_set_wg_endpoint(nk.pq, ku, (struct sockaddr *)&ep, sizeof(ep)) == 0);
    CHECK(agentpq_peer_set_wg_endpoint(nk.pq, kk, (struct sockaddr *)&ep, sizeof(ep)) == -ENOENT);
    agentpq_tick(nu.pq, 0, 1700000000000ULL);
    agentpq_tick(nk.pq, 0, 1700000000000ULL);
    CHECK(sent_to[51933] == 2 && sent_to[51934] == 2); /* INIT (2 fragments) to both guesses */
    CHECK(qn == 4);                                     /* U sent nothing: no address */
    run(0, 1000);
    CHECK(both_pq(ku, kk));
    CHECK(info_port(nu.pq, kk, 51932) && info_port(nk.pq, ku, 51933));
    CHECK(endpoint_sets == 1 && endpoint_port == 51932); /* U's data plane had no endpoint */

    /* 2. U re-creates the peer (address forgotten) and knows K's WireGuard endpoint 51931: its
     * INIT goes to 51931 and 51932, K answers the source, U learns 51932 again. */
    CHECK(agentpq_peer_restart(nu.pq, kk, 1000) == 0);
    CHECK(info_port(nu.pq, kk, 0) == false);
    ep = addr(51931);
    CHECK(agentpq_peer_set_wg_endpoint(nu.pq, kk, (struct sockaddr *)&ep, sizeof(ep)) == 0);
    at_wg = sent_to[51931];
    run(1000, 1500);
    CHECK(both_pq(ku, kk) && sent_to[51931] == at_wg + 2);
    CHECK(info_port(nu.pq, kk, 51932));
    {
        struct agentpq_peer_info iu, ik;
        CHECK(agentpq_peer_info(nu.pq, kk, &iu) == 0 && agentpq_peer_info(nk.pq, ku, &ik) == 0);
        CHECK(iu.initiated == 1 && ik.responded >= 1);
    }
    CHECK(endpoint_sets == 1); /* U's data plane has its endpoint now: left alone */

    /* 3. K's rotation goes to the learned address only. */
    memcpy(psk1, nu.psk, 32);
    at_wg = sent_to[51934];
    run(1500, 3700);
    CHECK(both_pq(ku, kk) && memcmp(nu.psk, psk1, 32) != 0);
    CHECK(sent_to[51934] == at_wg);

    /* 4. U moves to port 51943 (K's WireGuard endpoint for it follows) and its own INITs get
     * lost: K's next rotation to the old address times out; with a failure counted it tries the
     * guesses again and completes. */
    nu.port = 51943;
    u_no_init = true;
    ep = addr(51943);
    CHECK(agentpq_peer_set_wg_endpoint(nk.pq, ku, (struct sockaddr *)&ep, sizeof(ep)) == 0);
    memcpy(psk1, nu.psk, 32);
    run(3700, 7000);
    CHECK(both_pq(ku, kk) && memcmp(nu.psk, psk1, 32) != 0);
    printf("after the move: %u datagrams to 51943, %u to 51944\n", sent_to[51943], sent_to[51944]);
    CHECK(sent_to[51943] >= 2 && sent_to[51944] >= 2 && info_port(nk.pq, ku, 51943));
    u_no_init = false;

    /* 5. A configured PQ endpoint replaces the guesses. */
    agentpq_peer_remove(nu.pq, kk);
    CHECK(agentpq_pq_endpoint_set(nu.pq, kk, (struct sockaddr *)&ep, 3) == -EINVAL);
    ep = addr(51932);
    CHECK(agentpq_pq_endpoint_set(nu.pq, kk, (struct sockaddr *)&ep, sizeof(ep)) == 0);
    CHECK(agentpq_peer_add(nu.pq, kk, false, 7000) == 0);
    ep = addr(51950); /* a WireGuard endpoint whose guesses would both be wrong */
    CHECK(agentpq_peer_set_wg_endpoint(nu.pq, kk, (struct sockaddr *)&ep, sizeof(ep)) == 0);
    run(7000, 8000);
    CHECK(sent_to[51950] == 0 && sent_to[51951] == 0);
    CHECK(both_pq(ku, kk) && info_port(nu.pq, kk, 51932));
    {
        char st[1024];
        size_t n = agentpq_status_format(nu.pq, st, sizeof(st), 8000);
        CHECK(n < sizeof(st) && strstr(st, " pq_addr=198.18.0.1:51932 pq_endpoint=198.18.0.1:51932\n"));
    }
    CHECK(agentpq_pq_endpoint_set(nu.pq, kk, NULL, 0) == 0);

    agentpq_free(nu.pq);
    agentpq_free(nk.pq);
    return check_finish("test_agentpq_route");
}
