/* Live test of the kernel WireGuard backend against the real kernel module, in a private network
 * namespace (unshare(CLONE_NEWNET): nothing outside this process sees the interface, and it
 * disappears with the process even on failure). Exits 77 with the reason when not root, when
 * namespaces are unavailable, or when the wireguard module is missing (as on our CI machines).
 *   create zkem0 -> set (key, port, fwmark, 3 peers, one with 2,000 allowed IPs: several messages)
 *   -> get and compare -> replace peers with one -> get and compare -> delete -> get fails. */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include <sodium.h>

#include "agent/kernel/wgkernel.h"
#include "tests/check.h"

#define IFNAME "zkem0"

static void fill_peer(struct wg_peer_config *p, uint8_t tag, size_t n_aips)
{
    memset(p, 0, sizeof(*p));
    uint8_t sk[32];
    randombytes_buf(sk, sizeof(sk));
    crypto_scalarmult_base(p->public_key, sk);
    p->flags = WG_PEER_REPLACE_ALLOWEDIPS | WG_PEER_HAS_PRESHARED_KEY | WG_PEER_HAS_ENDPOINT |
               WG_PEER_HAS_KEEPALIVE;
    memset(p->preshared_key, tag, 32);
    p->endpoint.addr4.sin_family = AF_INET;
    p->endpoint.addr4.sin_port = htons((uint16_t)(51000 + tag));
    p->endpoint.addr4.sin_addr.s_addr = htonl(0xc6120100u | tag); /* 198.18.1.tag */
    p->persistent_keepalive = (uint16_t)(10 + tag);
    p->n_allowedips = n_aips;
    p->allowedips = calloc(n_aips, sizeof(*p->allowedips));
    for (size_t j = 0; j < n_aips; j++) {
        p->allowedips[j].family = AF_INET;
        p->allowedips[j].cidr = 32;
        /* 100.64.0.0/10: tag in the third octet group, j below */
        p->allowedips[j].ip4.s_addr = htonl(0x64400000u | (uint32_t)tag << 16 | (uint32_t)j);
    }
}

static int aip_cmp(const void *a, const void *b)
{
    const struct wg_allowedip *x = a, *y = b;
    return memcmp(&x->ip4, &y->ip4, 4);
}

static const struct wg_peer_config *find_peer(const struct wg_device_config *c, const uint8_t *k)
{
    for (size_t i = 0; i < c->n_peers; i++)
        if (memcmp(c->peers[i].public_key, k, 32) == 0)
            return &c->peers[i];
    return NULL;
}

static void compare(const struct wg_device_config *want, const struct wg_device_config *got)
{
    uint8_t pub[32];
    crypto_scalarmult_base(pub, want->private_key);
    CHECK(strcmp(got->ifname, IFNAME) == 0);
    CHECK_MEM(got->public_key, pub, 32);
    CHECK(got->listen_port == want->listen_port);
    CHECK(got->fwmark == want->fwmark);
    CHECK(got->n_peers == want->n_peers);
    for (size_t i = 0; i < want->n_peers; i++) {
        const struct wg_peer_config *w = &want->peers[i], *g = find_peer(got, w->public_key);
        CHECK(g != NULL);
        if (!g)
            continue;
        CHECK_MEM(g->preshared_key, w->preshared_key, 32);
        CHECK(g->persistent_keepalive == w->persistent_keepalive);
        CHECK((g->flags & WG_PEER_HAS_ENDPOINT) &&
              memcmp(&g->endpoint.addr4, &w->endpoint.addr4, sizeof(w->endpoint.addr4)) == 0);
        CHECK(g->n_allowedips == w->n_allowedips);
        if (g->n_allowedips != w->n_allowedips)
            continue;
        /* The kernel returns allowed IPs in trie order: compare as sets. */
        struct wg_allowedip *a = malloc(w->n_allowedips * sizeof(*a));
        struct wg_allowedip *b = malloc(w->n_allowedips * sizeof(*b));
        memcpy(a, w->allowedips, w->n_allowedips * sizeof(*a));
        memcpy(b, g->allowedips, w->n_allowedips * sizeof(*b));
        qsort(a, w->n_allowedips, sizeof(*a), aip_cmp);
        qsort(b, w->n_allowedips, sizeof(*b), aip_cmp);
        for (size_t j = 0; j < w->n_allowedips; j++)
            CHECK(a[j].family == b[j].family && a[j].cidr == b[j].cidr &&
                  a[j].ip4.s_addr == b[j].ip4.s_addr);
        free(a);
        free(b);
    }
}

int main(void)
{
    char why[256];
    if (geteuid() != 0) {
        printf("SKIP: needs root (CAP_NET_ADMIN) to create a kernel interface\n");
        return 77;
    }
    if (unshare(CLONE_NEWNET) != 0) {
        printf("SKIP: cannot create a network namespace: %s\n", strerror(errno));
        return 77;
    }
    if (!wg_kernel_probe(why, sizeof(why))) {
        /* Still check that rtnetlink parses our RTM_NEWLINK up to the link kind lookup. */
        int c = wg_kernel_link_create(IFNAME), d = wg_kernel_link_delete(IFNAME);
        if (c != -EOPNOTSUPP || d != -ENODEV) {
            fprintf(stderr, "without the module: create %d (want -EOPNOTSUPP), delete %d "
                            "(want -ENODEV)\n", c, d);
            return 1;
        }
        printf("SKIP: %s (rtnetlink without the module answered as expected)\n", why);
        return 77;
    }
    if (sodium_init() < 0)
        return 1;
    int rc = wg_kernel_link_create(IFNAME);
    if (rc == -EOPNOTSUPP) {
        printf("SKIP: the kernel refuses link kind wireguard\n");
        return 77;
    }
    CHECK(rc == 0);
    CHECK(wg_kernel_link_create(IFNAME) == -EEXIST);

    struct wg_device_config *cfg = calloc(1, sizeof(*cfg));
    snprintf(cfg->ifname, sizeof(cfg->ifname), IFNAME);
    cfg->flags = WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT | WG_DEVICE_HAS_FWMARK |
                 WG_DEVICE_REPLACE_PEERS;
    crypto_box_keypair(cfg->public_key, cfg->private_key);
    cfg->listen_port = 51899;
    cfg->fwmark = 0x77;
    cfg->n_peers = 3;
    cfg->peers = calloc(3, sizeof(*cfg->peers));
    fill_peer(&cfg->peers[0], 1, 3);
    fill_peer(&cfg->peers[1], 2, 2000);
    fill_peer(&cfg->peers[2], 3, 1);
    CHECK(wg_kernel_device_set(cfg) == 0);

    struct wg_device_config *got = NULL;
    CHECK(wg_kernel_device_get(IFNAME, &got) == 0);
    if (got)
        compare(cfg, got);
    wg_device_config_free(got);

    /* Replace all peers with peer 2 only. */
    struct wg_peer_config keep = cfg->peers[2];
    free(cfg->peers[0].allowedips);
    free(cfg->peers[1].allowedips);
    cfg->peers[0] = keep;
    cfg->n_peers = 1;
    CHECK(wg_kernel_device_set(cfg) == 0);
    got = NULL;
    CHECK(wg_kernel_device_get(IFNAME, &got) == 0);
    if (got)
        compare(cfg, got);
    wg_device_config_free(got);

    CHECK(wg_kernel_link_delete(IFNAME) == 0);
    got = NULL;
    CHECK(wg_kernel_device_get(IFNAME, &got) == -ENODEV);
    CHECK(got == NULL);
    wg_device_config_free(cfg);
    return check_finish("test_wgkernel_live");
}
