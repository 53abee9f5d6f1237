/* The netmap applied to the userspace WireGuard engine: one peer per netmap peer (allowed IP =
 * its tailnet address /32 and /128, endpoint from the map when it changes, persistent keepalive), the PQ
 * exchange for each (blocked until its PSK is in, unless the map says classical-allowed), the
 * DNS table, the filter and the TUN address. Runs with the device lock held. With
 * `--backend kernel` the same peers go to a kernel WireGuard interface instead (kengine.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/daemon/daemon.h"
#include "agent/daemon/dnsio.h"
#include "agent/daemon/kengine.h"
#include "agent/daemon/rtnl.h"
#include "agent/pq/agentpq_wgdev.h"
#include "agent/wg/device.h"
#include "common/log.h"
#include <cjson/cJSON.h>

void engine_device_base(const struct agent *a, struct wg_device_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    memcpy(cfg->private_key, a->keys.wg_priv, 32);
    cfg->listen_port = a->listen_port;
    cfg->flags = WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT | WG_DEVICE_REPLACE_PEERS;
}

int engine_init(struct agent *a)
{
    struct wg_device_config cfg;
    struct pqx_config pqcfg;
    int ret;
    if (a->kernel)
        return kengine_init(a, NULL);
    engine_device_base(a, &cfg);
    ret = wg_device_apply(a->dev, &cfg);
    sodium_memzero(cfg.private_key, 32);
    if (ret) {
        log_error("daemon", "WireGuard listen port %u: %s", a->listen_port, strerror(-ret));
        return ret;
    }
    agentpq_config_from_env(&pqcfg);
    ret = agentpq_wgdev_attach(a->dev, &pqcfg, &a->pq);
    if (ret)
        return ret;
    agentpq_set_private_key(agentpq_wgdev_pq(a->pq), a->keys.wg_priv, agentpq_now_ms());
    ret = rtnl_link_set_up(a->tun, true);
    if (ret)
        log_warn("daemon", "cannot set %s up: %s", a->tun, strerror(-ret));
    return 0;
}

/* "198.18.0.2:41641" -> sockaddr_in; false for anything else (IPv6 endpoints are skipped). */
static bool endpoint_parse(const char *s, struct sockaddr_in *out)
{
    char ip[AGENT_ENDPOINT_MAX];
    const char *colon = strrchr(s, ':');
    char *end;
    if (!colon || (size_t)(colon - s) >= sizeof(ip))
        return false;
    memcpy(ip, s, (size_t)(colon - s));
    ip[colon - s] = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end || !port || port > 65535)
        return false;
    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, ip, &out->sin_addr) == 1;
}

static bool endpoints_equal(const struct nm_node *x, const struct nm_node *y)
{
    if (x->n_endpoints != y->n_endpoints)
        return false;
    for (size_t i = 0; i < x->n_endpoints; i++)
        if (strcmp(x->endpoints[i], y->endpoints[i]))
            return false;
    return true;
}

static void set_tun_address(struct agent *a, struct in_addr ip)
{
    int ret;
    if (a->tun_addr_set && a->tun_addr.s_addr == ip.s_addr)
        return;
    if (a->tun_addr_set)
        rtnl_addr4(a->tun, a->tun_addr, 10, true);
    ret = rtnl_addr4(a->tun, ip, 10, false);
    if (ret) {
        char t[16];
        inet_ntop(AF_INET, &ip, t, sizeof(t));
        log_error("daemon", "cannot add %s/10 to %s: %s", t, a->tun, strerror(-ret));
        a->tun_addr_set = false;
        return;
    }
    a->tun_addr = ip;
    a->tun_addr_set = true;
}

/* The IPv6 address with the tailnet prefix's length; removed when the map has none. */
static void set_tun_address6(struct agent *a, const struct nm_node *self)
{
    char t[INET6_ADDRSTRLEN];
    int ret;
    if (a->tun_addr6_set && self->has_ip6 && a->tun_addr6_len == self->prefix6_len &&
        !memcmp(&a->tun_addr6, &self->ip6, 16))
        return;
    if (a->tun_addr6_set)
        rtnl_addr6(a->tun, &a->tun_addr6, a->tun_addr6_len, true);
    a->tun_addr6_set = false;
    if (!self->has_ip6)
        return;
    ret = rtnl_addr6(a->tun, &self->ip6, self->prefix6_len, false);
    if (ret) {
        inet_ntop(AF_INET6, &self->ip6, t, sizeof(t));
        log_error("daemon", "cannot add %s/%u to %s: %s", t, self->prefix6_len, a->tun, strerror(-ret));
        return;
    }
    a->tun_addr6 = self->ip6;
    a->tun_addr6_len = self->prefix6_len;
    a->tun_addr6_set = true;
}

void engine_apply(struct agent *a, const struct netmap *prev, const struct netmap *next)
{
    size_t cap = next->n_peers + (prev ? prev->n_peers : 0), n = 0;
    struct wg_device_config cfg;
    struct wg_peer_config *pcs = calloc(cap ? cap : 1, sizeof(*pcs));
    struct wg_allowedip *aips = calloc(cap ? 2 * cap : 1, sizeof(*aips)); /* a /32 and a /128 */
    struct agentpq *pq = engine_pq(a);
    uint64_t now = agentpq_now_ms();
    int ret;

    if (!pcs || !aips) {
        log_error("daemon", "out of memory applying map version %lld", (long long)next->version);
        goto out;
    }
    /* Peers gone, or whose key or PQ mode changed: removed first. */
    for (size_t i = 0; prev && i < prev->n_peers; i++) {
        const struct nm_node *o = &prev->peers[i], *p = netmap_peer_by_id(next, o->id);
        if (p && !memcmp(p->wg_key, o->wg_key, 32) && p->classical == o->classical)
            continue;
        memcpy(pcs[n].public_key, o->wg_key, 32);
        pcs[n++].flags = WG_PEER_REMOVE;
        agentpq_peer_remove(pq, o->wg_key);
    }
    for (size_t i = 0; i < next->n_peers; i++) {
        const struct nm_node *p = &next->peers[i];
        const struct nm_node *o = prev ? netmap_peer_by_id(prev, p->id) : NULL;
        bool fresh = !o || memcmp(o->wg_key, p->wg_key, 32) || o->classical != p->classical;
        struct wg_peer_config *pc = &pcs[n++];
        memcpy(pc->public_key, p->wg_key, 32);
        aips[2 * i].family = AF_INET;
        aips[2 * i].cidr = 32;
        aips[2 * i].ip4 = p->ip;
        aips[2 * i + 1].family = AF_INET6;
        aips[2 * i + 1].cidr = 128;
        aips[2 * i + 1].ip6 = p->ip6;
        pc->allowedips = &aips[2 * i];
        pc->n_allowedips = p->has_ip6 ? 2 : 1;
        pc->flags = WG_PEER_REPLACE_ALLOWEDIPS | WG_PEER_HAS_KEEPALIVE;
        pc->persistent_keepalive = AGENT_WG_KEEPALIVE_S;
        /* a roamed endpoint is kept until the map says something new about this peer */
        if ((fresh || !endpoints_equal(o, p)) && p->n_endpoints) {
            for (size_t e = 0; e < p->n_endpoints; e++) {
                if (endpoint_parse(p->endpoints[e], &pc->endpoint.addr4)) {
                    pc->flags |= WG_PEER_HAS_ENDPOINT;
                    break;
                }
            }
        }
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.peers = pcs;
    cfg.n_peers = n;
    if (a->kernel) { /* the same peers, PQ-guarded by the kernel binding */
        kengine_apply(a, &cfg, next);
        goto addresses;
    }
    ret = wg_device_apply(a->dev, &cfg);
    if (ret)
        log_error("daemon", "applying map version %lld to the engine: %s", (long long)next->version,
                  strerror(-ret));
    /* New peers: random PSK and blocked right now, in the same locked section (no window). */
    for (size_t i = 0; i < next->n_peers; i++) {
        const struct nm_node *p = &next->peers[i];
        const struct nm_node *o = prev ? netmap_peer_by_id(prev, p->id) : NULL;
        if (o && !memcmp(o->wg_key, p->wg_key, 32) && o->classical == p->classical)
            continue;
        ret = agentpq_peer_add(pq, p->wg_key, p->classical, now);
        if (ret)
            log_warn("pq", "peer %s: %s", p->name, strerror(-ret));
    }
addresses:
    set_tun_address(a, next->self.ip);
    set_tun_address6(a, &next->self);
    dnsio_set_table(a, next);
    char err[256];
    dnsio_system_sync(a, next, err, sizeof(err));
    pktpath_set_filter(a, next);
    if (a->kernel)
        kengine_set_filter(a, next);
out:
    /* the allowed IPs array is borrowed by pcs: free both without wg_device_config_free */
    free(aips);
    free(pcs);
}

void engine_clear(struct agent *a)
{
    struct wg_device_config cfg;
    struct agentpq *pq = engine_pq(a);
    memset(&cfg, 0, sizeof(cfg));
    cfg.flags = WG_DEVICE_REPLACE_PEERS;
    if (a->kernel)
        kengine_clear(a);
    else
        wg_device_apply(a->dev, &cfg);
    while (agentpq_peer_count(pq)) {
        uint8_t key[32];
        memcpy(key, agentpq_peer_key(pq, agentpq_peer_count(pq) - 1), 32);
        agentpq_peer_remove(pq, key);
    }
    dnsio_set_table(a, NULL);
    char err[256];
    dnsio_system_sync(a, NULL, err, sizeof(err));
    pktpath_set_filter(a, NULL);
    if (a->kernel)
        kengine_set_filter(a, NULL);
}

cJSON *engine_stats(struct agent *a)
{
    struct wg_device_config *cfg = NULL;
    struct agentpq *pq = engine_pq(a);
    uint64_t rx = 0, tx = 0, denied = 0;
    size_t with_pq = 0, classical = 0, failing = 0;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    if (engine_device_get(a, &cfg) == 0 && cfg) {
        for (size_t i = 0; i < cfg->n_peers; i++) {
            struct pqx_status st;
            rx += cfg->peers[i].rx_bytes;
            tx += cfg->peers[i].tx_bytes;
            if (agentpq_peer_status(pq, cfg->peers[i].public_key, &st) != 0)
                continue;
            if (st.psk == PQX_PSK_PQ)
                with_pq++;
            else if (st.psk == PQX_PSK_CLASSICAL)
                classical++;
            else if (st.failures > 0)
                failing++; /* blocked: its exchange has failed at least once in a row */
        }
    }
    for (size_t i = 0; i < a->n_denials; i++)
        denied += a->denials[i].packets;
    cJSON_AddNumberToObject(o, "peers", cfg ? (double)cfg->n_peers : 0);
    cJSON_AddNumberToObject(o, "peers_pq", (double)with_pq);
    cJSON_AddNumberToObject(o, "peers_classical", (double)classical);
    cJSON_AddNumberToObject(o, "peers_failing", (double)failing);
    cJSON_AddNumberToObject(o, "rx_bytes", (double)rx);
    cJSON_AddNumberToObject(o, "tx_bytes", (double)tx);
    cJSON_AddNumberToObject(o, "map_version", a->nm ? (double)a->nm->version : 0);
    cJSON_AddNumberToObject(o, "maps_refused", (double)a->maps_refused);
    cJSON_AddNumberToObject(o, "denied_packets", (double)denied);
    wg_device_config_free(cfg);
    return o;
}

const char *engine_backend_name(const struct agent *a)
{
    return a->kernel ? "kernel" : "userspace";
}

struct agentpq *engine_pq(struct agent *a)
{
    return a->kernel ? kengine_pq(a) : agentpq_wgdev_pq(a->pq);
}

int engine_device_get(struct agent *a, struct wg_device_config **out)
{
    if (a->kernel)
        return kengine_device_get(a, out);
    return wg_device_get(a->dev, out);
}

int engine_tun_write(struct agent *a, const uint8_t *pkt, size_t len)
{
    return a->kernel ? kengine_stub_send(a, pkt, len) : wg_device_tun_write(a->dev, pkt, len);
}
