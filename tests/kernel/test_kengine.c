/* `ztna daemon --backend kernel` without the module: the daemon's kernel engine
 * (agent/daemon/kengine.c) driven through engine.c exactly as the daemon drives it, over the
 * in-memory kernel of fakekernel.h (kernel calls replaced through struct kengine_ops), against a
 * userspace engine peer with its own PQ exchange (agentpq_wgdev) over real UDP in a private
 * network namespace (198.18.0.1; kernel WireGuard port 51941, its exchange 51942; userspace
 * 51943). Checks:
 *   - an interface of that name already there: the start stops with -EEXIST, nothing deleted;
 *   - start: the link is created and up, private key and listen port set, 100.100.100.100/32 on it;
 *   - a netmap (a PQ peer with IPv4 and IPv6, a classical-allowed peer, a filter): each peer with
 *     its allowed IPs (/32, and /128 for the IPv6 one),
 *     keepalive 25 and endpoint; the PQ peer starts with a random PSK and NO allowed IPs and gets
 *     them only once the exchange with the userspace peer installed equal PQ PSKs on both sides
 *     (sampled all along: never routed without); the classical peer is routed at once, no PSK;
 *     the filter goes to nftables table `ztna` on the link with the map's entries; the heartbeat
 *     counters say 2 peers, 1 PQ, 1 classical;
 *   - the MagicDNS stub on its sockets: a UDP and a TCP query to 100.100.100.100:53 get the
 *     tailnet name's A record (dnsio's answer code);
 *   - the next netmap without the PQ peer and with a null filter: the peer is gone from the
 *     kernel, the nftables table deleted (allow all);
 *   - a filter that allows nothing ([]): installed as such;
 *   - teardown: the table and the link are deleted; the netlink messages stayed well-formed.
 * Needs root and /dev/net/tun (exit 77 otherwise). */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "agent/daemon/daemon.h"
#include "agent/daemon/dnsio.h"
#include "agent/daemon/kengine.h"
#include "agent/daemon/rtnl.h"
#include "agent/pq/agentpq_wgdev.h"
#include "agent/pq/agentpq_wgkernel.h"
#include "agent/wg/device.h"
#include "common/dns/dns_build.h"
#include "common/filter/matcher.h"
#include "common/log.h"
#include "tests/check.h"
#include "tests/kernel/fakekernel.h"
#include "tests/netns_util.h"

#define K_IF "zke0"
#define K_PORT 51941
#define U_PORT 51943
#define DEADLINE_MS 20000

/* The fake kernel plus what the link and nftables calls did. */
struct fakelink {
    struct fake wg;
    int created, deleted, up;
    bool exists, is_up, stub_addr;
    bool fail_apply; /* nftables refuses every table */
    int table_applies, table_deletes;
    bool table;
    char table_if[16];
    size_t table_n;
    struct filter_entry table_e[4];
};

static int l_create(void *ctx, const char *ifname)
{
    struct fakelink *l = ctx;
    if (l->exists)
        return -EEXIST;
    l->exists = !strcmp(ifname, K_IF);
    l->created++;
    return 0;
}

static int l_delete(void *ctx, const char *ifname)
{
    struct fakelink *l = ctx;
    if (!l->exists || strcmp(ifname, K_IF))
        return -ENODEV;
    l->exists = false;
    l->deleted++;
    fake_free(&l->wg);
    return 0;
}

static int l_set_up(void *ctx, const char *ifname, bool up)
{
    struct fakelink *l = ctx;
    if (!l->exists || strcmp(ifname, K_IF))
        return -ENODEV;
    l->up += up;
    l->is_up = up;
    return 0;
}

static int l_addr4(void *ctx, const char *ifname, struct in_addr addr, unsigned plen, bool del)
{
    struct fakelink *l = ctx;
    struct in_addr stub;
    inet_pton(AF_INET, AGENT_DNS_IP, &stub);
    if (l->exists && !strcmp(ifname, K_IF) && addr.s_addr == stub.s_addr && plen == 32)
        l->stub_addr = !del;
    return 0;
}

static int l_filter_apply(void *ctx, const char *table, const char *ifname,
                          const struct filter_entry *e, size_t n)
{
    struct fakelink *l = ctx;
    if (strcmp(table, "ztna") || n > 4)
        return -EINVAL;
    if (l->fail_apply)
        return -EPROTONOSUPPORT;
    l->table_applies++;
    l->table = true;
    snprintf(l->table_if, sizeof(l->table_if), "%s", ifname);
    l->table_n = n;
    if (n)
        memcpy(l->table_e, e, n * sizeof(*e));
    return 0;
}

static int l_filter_delete(void *ctx, const char *table)
{
    struct fakelink *l = ctx;
    if (strcmp(table, "ztna") || !l->table)
        return -ENOENT;
    l->table = false;
    l->table_deletes++;
    return 0;
}

/* The userspace peer: its device loop thread publishes a snapshot. */
struct uside {
    struct wg_device *dev;
    struct agentpq_wgdev *pq;
    uint8_t priv[32], pub[32], kpub[32];
    pthread_mutex_t mu;
    bool pq_in;
    uint8_t psk[32];
    pthread_t thread;
};

static void u_observe(void *ctx, struct wg_device *dev)
{
    struct uside *u = ctx;
    struct wg_device_config *cfg = NULL;
    struct pqx_status st;
    pthread_mutex_lock(&u->mu);
    if (agentpq_peer_status(agentpq_wgdev_pq(u->pq), u->kpub, &st) == 0 &&
        wg_device_get(dev, &cfg) == 0 && cfg && cfg->n_peers == 1) {
        u->pq_in = st.psk == PQX_PSK_PQ && wg_device_peer_blocked(dev, u->kpub) == 0;
        memcpy(u->psk, cfg->peers[0].preshared_key, 32);
    }
    wg_device_config_free(cfg);
    pthread_mutex_unlock(&u->mu);
}

static void *u_run(void *arg)
{
    wg_device_run(((struct uside *)arg)->dev);
    return NULL;
}

static int u_start(struct uside *u)
{
    struct wg_device_config cfg = {0};
    struct wg_peer_config pc = {0};
    struct wg_allowedip aip = {.family = AF_INET, .cidr = 32};
    struct pqx_config pqc;
    int ret;
    pqx_config_default(&pqc);
    if ((ret = wg_device_create("zkeu", &u->dev)) ||
        (ret = agentpq_wgdev_attach(u->dev, &pqc, &u->pq)))
        return ret;
    memcpy(cfg.private_key, u->priv, 32);
    cfg.listen_port = U_PORT;
    cfg.flags = WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT;
    memcpy(pc.public_key, u->kpub, 32);
    pc.endpoint.addr4.sin_family = AF_INET;
    pc.endpoint.addr4.sin_port = htons(K_PORT);
    inet_pton(AF_INET, "198.18.0.1", &pc.endpoint.addr4.sin_addr);
    inet_pton(AF_INET, "100.64.9.1", &aip.ip4);
    pc.allowedips = &aip;
    pc.n_allowedips = 1;
    pc.flags = WG_PEER_HAS_ENDPOINT;
    cfg.peers = &pc;
    cfg.n_peers = 1;
    if ((ret = wg_device_apply(u->dev, &cfg)) ||
        (ret = wg_device_add_timer(u->dev, 10, u_observe, u)))
        return ret;
    return pthread_create(&u->thread, NULL, u_run, u) ? -EAGAIN : 0;
}

static void node(struct nm_node *n, int64_t id, const char *name, const char *ip,
                 const uint8_t key[32], const char *endpoint, bool classical)
{
    memset(n, 0, sizeof(*n));
    n->id = id;
    snprintf(n->name, sizeof(n->name), "%s", name);
    snprintf(n->fqdn, sizeof(n->fqdn), "%s.t.ztna.test", name);
    inet_pton(AF_INET, ip, &n->ip);
    memcpy(n->wg_key, key, 32);
    if (endpoint) {
        snprintf(n->endpoints[0], sizeof(n->endpoints[0]), "%s", endpoint);
        n->n_endpoints = 1;
    }
    n->classical = classical;
}

static bool aip_is(const struct wg_peer_config *p, const char *ip)
{
    struct in_addr want;
    inet_pton(AF_INET, ip, &want);
    return p->n_allowedips == 1 && p->allowedips[0].family == AF_INET &&
           p->allowedips[0].cidr == 32 && p->allowedips[0].ip4.s_addr == want.s_addr;
}

/* The PQ peer's two allowed IPs: its tailnet /32 and /128. */
static bool aips_are(const struct wg_peer_config *p, const char *ip, const char *ip6)
{
    struct in_addr want;
    struct in6_addr want6;
    inet_pton(AF_INET, ip, &want);
    inet_pton(AF_INET6, ip6, &want6);
    return p->n_allowedips == 2 && p->allowedips[0].family == AF_INET &&
           p->allowedips[0].cidr == 32 && p->allowedips[0].ip4.s_addr == want.s_addr &&
           p->allowedips[1].family == AF_INET6 && p->allowedips[1].cidr == 128 &&
           !memcmp(&p->allowedips[1].ip6, &want6, 16);
}

static bool ep_is(const struct wg_peer_config *p, uint16_t port)
{
    return (p->flags & WG_PEER_HAS_ENDPOINT) && p->endpoint.addr4.sin_family == AF_INET &&
           ntohs(p->endpoint.addr4.sin_port) == port;
}

/* Runs the daemon's loop pieces (as kengine_run does) for up to ms, or until done(ctx). */
static void spin(struct agent *a, uint64_t ms, bool (*done)(void *), void *ctx)
{
    uint64_t end = agent_now_ms() + ms;
    while (agent_now_ms() < end && !(done && done(ctx))) {
        struct pollfd p = {.fd = a->epfd, .events = POLLIN};
        if (poll(&p, 1, 10) > 0)
            loop_dispatch(a);
        kengine_tick(a);
    }
}

/* A query for name (A), over UDP or TCP to the stub; true if the answer has the A record ip. */
static bool stub_ask(struct agent *a, const char *name, const char *ip, bool tcp)
{
    uint8_t q[512], r[2 + 1500];
    struct dns_builder b;
    struct dns_name n;
    struct dns_header h = {.id = 0x4242, .flags = DNS_FLAG_RD, .qdcount = 1};
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(53)};
    struct in_addr want;
    size_t off = tcp ? 2 : 0;
    ssize_t got = -1;
    inet_pton(AF_INET, AGENT_DNS_IP, &to.sin_addr);
    inet_pton(AF_INET, ip, &want);
    if (dns_name_from_text(&n, name) < 0)
        return false;
    dns_builder_init(&b, q + off, sizeof(q) - off);
    dns_builder_header(&b, &h);
    dns_builder_question(&b, &n, DNS_TYPE_A, DNS_CLASS_IN);
    if (tcp) {
        q[0] = (uint8_t)(b.len >> 8);
        q[1] = (uint8_t)b.len;
    }
    int fd = socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return false;
    if (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0 && errno != EINPROGRESS) {
        close(fd);
        return false;
    }
    spin(a, 100, NULL, NULL); /* the stub accepts */
    if (send(fd, q, b.len + off, MSG_NOSIGNAL) != (ssize_t)(b.len + off)) {
        close(fd);
        return false;
    }
    for (int i = 0; i < 100 && got <= 0; i++) {
        spin(a, 20, NULL, NULL);
        got = recv(fd, r, sizeof(r), MSG_DONTWAIT);
    }
    close(fd);
    if (got < (ssize_t)off + DNS_HDR_LEN || (tcp && (size_t)(r[0] << 8 | r[1]) != (size_t)got - 2))
        return false;
    const uint8_t *m = r + off;
    size_t len = (size_t)got - off, p = DNS_HDR_LEN;
    struct dns_header rh;
    struct dns_rr rr;
    uint16_t t, c;
    if (!dns_header_parse(m, len, &rh) || rh.id != 0x4242 || rh.ancount < 1 ||
        !dns_question_parse(m, len, &p, &n, &t, &c) || !dns_rr_parse(m, len, &p, &rr))
        return false;
    return rr.type == DNS_TYPE_A && rr.rdlen == 4 && !memcmp(m + rr.rdata_off, &want, 4);
}

struct pqwait {
    struct agent *a;
    struct fakelink *l;
    struct uside *u;
    int violations;
};

/* Done when both sides hold the same PQ PSK and the kernel routes the peer again; counts any
 * moment where the kernel peer has allowed IPs while its exchange has no PQ PSK in. */
static bool pq_done(void *ctx)
{
    struct pqwait *w = ctx;
    struct wg_peer_config *kp = fake_peer(&w->l->wg, w->u->pub);
    struct pqx_status ks;
    bool in, same;
    if (!kp || agentpq_peer_status(engine_pq(w->a), w->u->pub, &ks))
        return false;
    pthread_mutex_lock(&w->u->mu);
    in = w->u->pq_in;
    same = !memcmp(w->u->psk, kp->preshared_key, 32);
    pthread_mutex_unlock(&w->u->mu);
    if (kp->n_allowedips && ks.psk != PQX_PSK_PQ)
        w->violations++;
    return in && same && kp->n_allowedips == 2;
}

int main(void)
{
    static struct fakelink l;
    static struct uside u;
    static struct agent ag;
    struct agent *a = &ag;
    struct kengine_ops ops = {l_create, l_delete, l_set_up, l_addr4, fake_get, fake_set,
                              l_filter_apply, l_filter_delete, &l};
    struct netmap nm1 = {0}, nm2 = {0}, nm3 = {0};
    struct nm_node peers[2];
    struct filter_entry ssh = {.family = 4, .plen = 10, .proto = FILTER_PROTO_TCP, .port_lo = 22,
                               .port_hi = 22};
    uint8_t ckey[32], zero[32] = {0};
    int skip = netns_enter_private(true);

    if (skip)
        return skip;
    if (sodium_init() < 0)
        return 1;
    if (getenv("ZTNA_TEST_DEBUG"))
        log_set_level(LOG_LVL_DEBUG);
    /* the stub's address exists in this namespace (the fake link holds none) */
    struct in_addr stub;
    inet_pton(AF_INET, AGENT_DNS_IP, &stub);
    CHECK(rtnl_addr4("lo", stub, 32, false) == 0);

    randombytes_buf(a->keys.wg_priv, 32);
    crypto_scalarmult_base(a->keys.wg_pub, a->keys.wg_priv);
    randombytes_buf(u.priv, 32);
    crypto_scalarmult_base(u.pub, u.priv);
    memcpy(u.kpub, a->keys.wg_pub, 32);
    randombytes_buf(ckey, 32);
    pthread_mutex_init(&u.mu, NULL);
    snprintf(a->tun, sizeof(a->tun), K_IF);
    a->listen_port = K_PORT;
    a->kernel = true;
    CHECK(loop_init(a) == 0);
    CHECK(filter_matcher_new(&a->fm, 0) == 0);
    CHECK(dnsio_init(a, NULL) == 0);

    /* another interface has the name: the start stops, nothing of it is deleted */
    l.exists = true;
    CHECK(kengine_init(a, &ops) == -EEXIST);
    kengine_fini(a);
    CHECK(l.exists && l.deleted == 0 && a->kern == NULL);
    l.exists = false;

    /* start */
    CHECK(kengine_init(a, &ops) == 0);
    CHECK(l.created == 1 && l.exists && l.up == 1 && l.is_up && l.stub_addr);
    CHECK(l.wg.cfg.listen_port == K_PORT && !memcmp(l.wg.cfg.private_key, a->keys.wg_priv, 32));
    CHECK(l.wg.cfg.n_peers == 0);
    CHECK(!strcmp(engine_backend_name(a), "kernel"));
    CHECK(u_start(&u) == 0);

    /* the first netmap */
    node(&nm1.self, 1, "self", "100.64.9.1", a->keys.wg_pub, NULL, false);
    node(&peers[0], 2, "upeer", "100.64.9.2", u.pub, "198.18.0.1:51943", false);
    peers[0].has_ip6 = true; /* IPv6 on: its /128 goes with the /32 */
    inet_pton(AF_INET6, "fd7a:115c:a1e0::6440:902", &peers[0].ip6);
    node(&peers[1], 3, "cpeer", "100.64.9.3", ckey, "198.18.0.1:51999", true);
    nm1.version = 1;
    nm1.peers = peers;
    nm1.n_peers = 2;
    snprintf(nm1.dns.suffix, sizeof(nm1.dns.suffix), "t.ztna.test");
    inet_pton(AF_INET, "100.64.0.0", ssh.addr);
    nm1.has_filter = true;
    nm1.filter = &ssh;
    nm1.n_filter = 1;
    engine_apply(a, NULL, &nm1);
    struct wg_peer_config *kp = fake_peer(&l.wg, u.pub), *cp = fake_peer(&l.wg, ckey);
    CHECK(l.wg.cfg.n_peers == 2 && kp && cp);
    if (!kp || !cp)
        return check_finish("test_kengine");
    CHECK(kp->n_allowedips == 0 && memcmp(kp->preshared_key, zero, 32) != 0);
    CHECK((kp->flags & WG_PEER_HAS_KEEPALIVE) && kp->persistent_keepalive == AGENT_WG_KEEPALIVE_S);
    CHECK(ep_is(kp, U_PORT));
    CHECK(aip_is(cp, "100.64.9.3") && !memcmp(cp->preshared_key, zero, 32) && ep_is(cp, 51999));
    CHECK((cp->flags & WG_PEER_HAS_KEEPALIVE) && cp->persistent_keepalive == AGENT_WG_KEEPALIVE_S);
    CHECK(l.table && !strcmp(l.table_if, K_IF) && l.table_n == 1 &&
          !memcmp(&l.table_e[0], &ssh, sizeof(ssh)));

    /* the PQ exchange with the userspace peer, then the route */
    struct pqwait w = {a, &l, &u, 0};
    uint64_t t0 = agent_now_ms();
    spin(a, DEADLINE_MS, pq_done, &w);
    printf("PQ PSK in on both sides after %llu ms\n", (unsigned long long)(agent_now_ms() - t0));
    kp = fake_peer(&l.wg, u.pub);
    CHECK(pq_done(&w));
    CHECK(kp && aips_are(kp, "100.64.9.2", "fd7a:115c:a1e0::6440:902"));
    CHECK(w.violations == 0);
    cJSON *st = engine_stats(a);
    CHECK(st && cJSON_GetObjectItem(st, "peers")->valuedouble == 2 &&
          cJSON_GetObjectItem(st, "peers_pq")->valuedouble == 1 &&
          cJSON_GetObjectItem(st, "peers_classical")->valuedouble == 1);
    cJSON_Delete(st);
    /* the same map again: no new nftables transaction */
    int applies = l.table_applies;
    engine_apply(a, &nm1, &nm1);
    CHECK(l.table_applies == applies);

    /* MagicDNS on the stub's sockets */
    CHECK(stub_ask(a, "upeer.t.ztna.test", "100.64.9.2", false));
    CHECK(stub_ask(a, "cpeer.t.ztna.test", "100.64.9.3", true));

    /* the peer removed, filter null */
    nm2 = nm1;
    nm2.version = 2;
    nm2.peers = &peers[1];
    nm2.n_peers = 1;
    nm2.has_filter = false;
    nm2.filter = NULL;
    nm2.n_filter = 0;
    engine_apply(a, &nm1, &nm2);
    CHECK(l.wg.cfg.n_peers == 1 && !fake_peer(&l.wg, u.pub) && fake_peer(&l.wg, ckey));
    CHECK(!l.table && l.table_deletes == 1);
    st = engine_stats(a);
    CHECK(st && cJSON_GetObjectItem(st, "peers")->valuedouble == 1 &&
          cJSON_GetObjectItem(st, "peers_pq")->valuedouble == 0);
    cJSON_Delete(st);

    /* a filter that allows nothing */
    nm3 = nm2;
    nm3.version = 3;
    nm3.has_filter = true;
    engine_apply(a, &nm2, &nm3);
    CHECK(l.table && l.table_n == 0);

    /* nftables refuses the next filter, and the deny-all one: the link goes down (fail closed)
     * and comes back up with the next filter that is installed */
    struct netmap nm4 = nm1, nm5 = nm1;
    nm4.version = 4;
    nm4.peers = nm5.peers = &peers[1];
    nm4.n_peers = nm5.n_peers = 1;
    nm5.version = 5;
    l.fail_apply = true;
    engine_apply(a, &nm3, &nm4);
    CHECK(l.exists && !l.is_up);
    l.fail_apply = false;
    engine_apply(a, &nm4, &nm5);
    CHECK(l.is_up && l.table && l.table_n == 1);

    /* teardown */
    dnsio_fini(a);
    kengine_fini(a);
    CHECK(!l.table && l.deleted == 1 && !l.exists && a->kern == NULL);
    CHECK(l.wg.nl_errors == 0);
    wg_device_stop(u.dev);
    pthread_join(u.thread, NULL);
    wg_device_destroy(u.dev);
    agentpq_wgdev_free(u.pq);
    pthread_mutex_destroy(&u.mu);
    filter_matcher_free(a->fm);
    filter_free(a->filter);
    loop_fini(a);
    return check_finish("test_kengine");
}
