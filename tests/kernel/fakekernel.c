/* The in-memory kernel of fakekernel.h. */
#include "tests/kernel/fakekernel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/kernel/wgnl.h"

#define FAMILY 0x1d

struct wg_peer_config *fake_peer(struct fake *f, const uint8_t *key)
{
    for (size_t i = 0; i < f->cfg.n_peers; i++)
        if (!memcmp(f->cfg.peers[i].public_key, key, 32))
            return &f->cfg.peers[i];
    return NULL;
}

static int emit(void *ctx, const void *msg, size_t len)
{
    struct fake *f = ctx;
    nlcheck_set_message(&f->last, msg, len, WGNL_MSG_MAX, FAMILY);
    return 0;
}

static void set_aips(struct wg_peer_config *p, const struct wg_allowedip *a, size_t n, bool replace)
{
    if (replace) {
        free(p->allowedips);
        p->allowedips = NULL;
        p->n_allowedips = 0;
    }
    if (!n)
        return;
    p->allowedips = realloc(p->allowedips, (p->n_allowedips + n) * sizeof(*a));
    memcpy(p->allowedips + p->n_allowedips, a, n * sizeof(*a));
    p->n_allowedips += n;
}

int fake_set(void *ctx, const struct wg_device_config *cfg)
{
    struct fake *f = ctx;

    if (wgnl_set_build(cfg, FAMILY, 1, WGNL_MSG_MAX, emit, f) != 0 || f->last.n_errors)
        f->nl_errors++;
    f->sets++;
    /* device attributes and the peer replacement, as the kernel applies them */
    if (cfg->flags & WG_DEVICE_HAS_PRIVATE_KEY) {
        memcpy(f->cfg.private_key, cfg->private_key, 32);
        f->cfg.flags |= WG_DEVICE_HAS_PRIVATE_KEY;
    }
    if (cfg->flags & WG_DEVICE_HAS_LISTEN_PORT) {
        f->cfg.listen_port = cfg->listen_port;
        f->cfg.flags |= WG_DEVICE_HAS_LISTEN_PORT;
    }
    if (cfg->flags & WG_DEVICE_REPLACE_PEERS) {
        for (size_t i = 0; i < f->cfg.n_peers; i++)
            free(f->cfg.peers[i].allowedips);
        f->cfg.n_peers = 0;
    }
    for (size_t i = 0; i < cfg->n_peers; i++) {
        const struct wg_peer_config *pc = &cfg->peers[i];
        struct wg_peer_config *p = fake_peer(f, pc->public_key);
        if (!p) {
            if (pc->flags & (WG_PEER_UPDATE_ONLY | WG_PEER_REMOVE))
                continue;
            f->cfg.peers = realloc(f->cfg.peers, (f->cfg.n_peers + 1) * sizeof(*p));
            p = &f->cfg.peers[f->cfg.n_peers++];
            memset(p, 0, sizeof(*p));
            memcpy(p->public_key, pc->public_key, 32);
            p->flags = WG_PEER_HAS_PRESHARED_KEY;
        }
        if (pc->flags & WG_PEER_REMOVE) {
            free(p->allowedips);
            *p = f->cfg.peers[--f->cfg.n_peers];
            continue;
        }
        if (pc->flags & WG_PEER_HAS_PRESHARED_KEY)
            memcpy(p->preshared_key, pc->preshared_key, 32);
        if (pc->flags & WG_PEER_HAS_ENDPOINT) {
            p->endpoint = pc->endpoint;
            p->flags |= WG_PEER_HAS_ENDPOINT;
        }
        if (pc->flags & WG_PEER_HAS_KEEPALIVE) {
            p->persistent_keepalive = pc->persistent_keepalive;
            p->flags |= WG_PEER_HAS_KEEPALIVE;
        }
        set_aips(p, pc->allowedips, pc->n_allowedips, pc->flags & WG_PEER_REPLACE_ALLOWEDIPS);
    }
    return 0;
}

int fake_get(void *ctx, const char *ifname, struct wg_device_config **out)
{
    struct fake *f = ctx;
    struct wg_device_config *c = calloc(1, sizeof(*c));

    if (!c)
        return -ENOMEM;
    *c = f->cfg;
    strcpy(c->ifname, ifname);
    c->peers = calloc(f->cfg.n_peers + 1, sizeof(*c->peers));
    for (size_t i = 0; i < f->cfg.n_peers; i++) {
        c->peers[i] = f->cfg.peers[i];
        c->peers[i].allowedips = NULL;
        c->peers[i].n_allowedips = 0;
        set_aips(&c->peers[i], f->cfg.peers[i].allowedips, f->cfg.peers[i].n_allowedips, false);
    }
    *out = c;
    return 0;
}

void fake_wg_set(struct fake *f, const uint8_t *key, uint16_t port, const char *ip)
{
    struct wg_device_config cfg = {.n_peers = 1};
    struct wg_peer_config pc = {0};
    struct wg_allowedip aip = {.family = AF_INET, .cidr = 32};

    memcpy(pc.public_key, key, 32);
    pc.endpoint.addr4.sin_family = AF_INET;
    pc.endpoint.addr4.sin_port = htons(port);
    inet_pton(AF_INET, "198.18.0.1", &pc.endpoint.addr4.sin_addr);
    inet_pton(AF_INET, ip, &aip.ip4);
    pc.flags = WG_PEER_HAS_ENDPOINT;
    pc.allowedips = &aip;
    pc.n_allowedips = 1;
    strcpy(cfg.ifname, "zkpq");
    cfg.peers = &pc;
    fake_set(f, &cfg);
}

void fake_free(struct fake *f)
{
    for (size_t i = 0; i < f->cfg.n_peers; i++)
        free(f->cfg.peers[i].allowedips);
    free(f->cfg.peers);
    f->cfg.peers = NULL;
    f->cfg.n_peers = 0;
    nlcheck_free(&f->last);
}
