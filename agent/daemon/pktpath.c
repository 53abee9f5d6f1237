/* The packet hooks of the engine: what the host sends into the TUN goes to the DNS stub when it
 * is addressed to 100.100.100.100, and is recorded as an outbound flow; what arrives from the
 * tunnel passes the netmap's compiled filter (stateful: replies to our flows pass), IPv4 and IPv6
 * alike; the kernel's IPv6 link chatter (solicitations, MLD) is dropped. A null filter
 * in the netmap allows everything. Denials are counted per (source, protocol, destination port),
 * reported in the next heartbeat and kept for `ztna status`. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "agent/daemon/daemon.h"
#include "agent/daemon/dnsio.h"
#include "agent/wg/device.h"
#include "common/filter/filter_limits.h"
#include "common/filter/gate.h"
#include "common/log.h"

/* The kernel's own IPv6 traffic on the TUN once it has an IPv6 address: router and neighbour
 * solicitations, MLD reports (to multicast, or from the link-local or unspecified address). No
 * peer owns those addresses; they are dropped here, quietly, before routing and conntrack. */
static bool ip6_link_chatter(const uint8_t *pkt, size_t len)
{
    struct in6_addr src, dst;
    if (len < 40 || pkt[0] >> 4 != 6)
        return false;
    memcpy(&src, pkt + 8, 16);
    memcpy(&dst, pkt + 24, 16);
    return IN6_IS_ADDR_MULTICAST(&dst) || IN6_IS_ADDR_LINKLOCAL(&dst) ||
           IN6_IS_ADDR_LINKLOCAL(&src) || IN6_IS_ADDR_UNSPECIFIED(&src);
}

static bool on_tun_read(void *ctx, const uint8_t *pkt, size_t len)
{
    struct agent *a = ctx;
    if (dnsio_tun_packet(a, pkt, len))
        return true;
    if (ip6_link_chatter(pkt, len)) {
        a->ip6_chatter_dropped++;
        return true;
    }
    /* always tracked, so that a policy arriving later does not cut flows already open */
    filter_gate_outbound(a->fm, pkt, len);
    return false;
}

static bool on_tun_write(void *ctx, const uint8_t *peer, const uint8_t *pkt, size_t len)
{
    struct agent *a = ctx;
    (void)peer;
    return filter_gate_inbound(a->fm, a->filter_on, pkt, len);
}

int pktpath_init(struct agent *a)
{
    int ret = filter_matcher_new(&a->fm, 0);
    if (ret)
        return ret;
    if (a->dev) /* the kernel backend filters in nftables (kengine.c) */
        wg_device_set_packet_hooks(a->dev, on_tun_read, on_tun_write, a);
    return 0;
}

void pktpath_fini(struct agent *a)
{
    if (a->dev)
        wg_device_set_packet_hooks(a->dev, NULL, NULL, NULL);
    filter_matcher_free(a->fm);
    filter_free(a->filter);
    a->fm = NULL;
    a->filter = NULL;
}

int pktpath_set_filter(struct agent *a, const struct netmap *nm)
{
    bool on = nm && nm->has_filter;
    int ret = filter_gate_install(a->fm, &a->filter, on, on ? nm->filter : NULL,
                                  on ? nm->n_filter : 0);
    if (ret) /* fail closed: a filter we cannot build allows nothing */
        log_error("policy", "cannot build the filter of map %lld: %s; denying all inbound",
                  (long long)nm->version, strerror(-ret));
    a->filter_on = on;
    return ret;
}

static const char *proto_name(uint8_t p)
{
    return p == 6 ? "tcp" : p == 17 ? "udp" : p == 1 || p == 58 ? "icmp" : "ip";
}

void pktpath_collect_denials(struct agent *a)
{
    struct filter_deny_count got[FILTER_DENY_SLOTS];
    uint64_t other = 0;
    size_t n = filter_matcher_denied(a->fm, got, FILTER_DENY_SLOTS, &other, true);
    if (n > FILTER_DENY_SLOTS)
        n = FILTER_DENY_SLOTS;
    pktpath_merge_denials(a, got, n, other);
}

void pktpath_merge_denials(struct agent *a, const struct filter_deny_count *got, size_t n,
                           uint64_t other)
{
    int64_t now = time(NULL);
    for (size_t i = 0; i < n; i++) {
        const struct filter_deny_count *g = &got[i];
        size_t j, alen = g->family == 4 ? 4 : 16;
        if (!g->packets || (g->family != 4 && g->family != 6))
            continue;
        for (j = 0; j < a->n_denials; j++)
            if (a->denials[j].family == g->family && !memcmp(a->denials[j].src, g->src, alen) &&
                a->denials[j].proto == g->proto && a->denials[j].dport == g->dport)
                break;
        if (j == a->n_denials) {
            if (a->n_denials == AGENT_DENIAL_SLOTS) {
                other += g->packets;
                continue;
            }
            a->n_denials++;
            memset(&a->denials[j], 0, sizeof(a->denials[j]));
            a->denials[j].family = g->family;
            memcpy(a->denials[j].src, g->src, alen);
            a->denials[j].proto = g->proto;
            a->denials[j].dport = g->dport;
        }
        a->denials[j].packets += g->packets;
        a->denials[j].unreported += g->packets;
        a->denials[j].last = now;
    }
    if (other)
        log_info("policy", "%llu denied packets found no counter", (unsigned long long)other);
}

cJSON *pktpath_denial_json(const struct agent_denial *d, bool unreported)
{
    char src[INET6_ADDRSTRLEN];
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    inet_ntop(d->family == 6 ? AF_INET6 : AF_INET, d->src, src, sizeof(src));
    cJSON_AddStringToObject(o, "src", src);
    cJSON_AddStringToObject(o, "proto", proto_name(d->proto));
    cJSON_AddNumberToObject(o, "dport", d->dport);
    cJSON_AddNumberToObject(o, "count", (double)(unreported ? d->unreported : d->packets));
    if (!unreported)
        cJSON_AddNumberToObject(o, "last", (double)d->last);
    return o;
}

cJSON *pktpath_take_denials(struct agent *a)
{
    cJSON *arr = NULL;
    pktpath_collect_denials(a);
    size_t sent = 0;
    for (size_t j = 0; j < a->n_denials && sent < AGENT_DENIALS_PER_HEARTBEAT; j++) {
        if (!a->denials[j].unreported)
            continue;
        sent++;
        if (!arr && !(arr = cJSON_CreateArray()))
            return NULL;
        cJSON *o = pktpath_denial_json(&a->denials[j], true);
        if (!o)
            break;
        cJSON_AddItemToArray(arr, o);
        a->denials[j].unreported = 0;
    }
    return arr;
}
