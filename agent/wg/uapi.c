/* UAPI text protocol: "set" parsing into a wg_device_config and "get" formatting from one.
 * Lines are key=value; device keys come first, then "public_key=" opens a peer whose keys follow.
 * Every value is checked here, at the boundary; the device only sees a typed config. */
#include "agent/wg/uapi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/wg/wgdev_limits.h"
#include "common/hex.h"
#include "common/strbuf.h"

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s || strlen(s) > 20)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

bool wg_uapi_parse_endpoint(const char *s, struct sockaddr_storage *ss, socklen_t *sl)
{
    char host[64];
    const char *port;
    uint64_t p;
    memset(ss, 0, sizeof(*ss));
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof(host))
            return false;
        memcpy(host, s + 1, (size_t)(end - s - 1));
        host[end - s - 1] = '\0';
        port = end + 2;
        char *pct = strchr(host, '%');
        uint32_t scope = 0;
        if (pct) {
            uint64_t sc;
            *pct = '\0';
            if (!parse_u64(pct + 1, UINT32_MAX, &sc))
                return false;
            scope = (uint32_t)sc;
        }
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1 || !parse_u64(port, 65535, &p))
            return false;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)p);
        a6->sin6_scope_id = scope;
        *sl = sizeof(*a6);
        return true;
    }
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof(host))
        return false;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) != 1 || !parse_u64(colon + 1, 65535, &p))
        return false;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)p);
    *sl = sizeof(*a4);
    return true;
}

static bool parse_allowedip(const char *s, struct wg_allowedip *out)
{
    char host[64];
    const char *slash = strchr(s, '/');
    uint64_t cidr;
    if (!slash || (size_t)(slash - s) >= sizeof(host))
        return false;
    memcpy(host, s, (size_t)(slash - s));
    host[slash - s] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, host, &out->ip4) == 1) {
        out->family = AF_INET;
        if (!parse_u64(slash + 1, 32, &cidr))
            return false;
    } else if (inet_pton(AF_INET6, host, &out->ip6) == 1) {
        out->family = AF_INET6;
        if (!parse_u64(slash + 1, 128, &cidr))
            return false;
    } else {
        return false;
    }
    out->cidr = (uint8_t)cidr;
    return true;
}

static bool parse_key(const char *s, uint8_t key[static WG_KEY_LEN])
{
    return hex_decode(key, WG_KEY_LEN, s);
}

static int peer_add(struct wg_device_config *cfg, size_t *cap)
{
    if (cfg->n_peers >= WGDEV_MAX_PEERS)
        return -E2BIG;
    if (cfg->n_peers == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        struct wg_peer_config *np = realloc(cfg->peers, ncap * sizeof(*np));
        if (!np)
            return -ENOMEM;
        cfg->peers = np;
        *cap = ncap;
    }
    memset(&cfg->peers[cfg->n_peers++], 0, sizeof(cfg->peers[0]));
    return 0;
}

static int allowedip_add(struct wg_peer_config *p, size_t *cap, const struct wg_allowedip *a)
{
    if (p->n_allowedips >= WGDEV_MAX_ALLOWEDIPS)
        return -E2BIG;
    if (p->n_allowedips == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        struct wg_allowedip *na = realloc(p->allowedips, ncap * sizeof(*na));
        if (!na)
            return -ENOMEM;
        p->allowedips = na;
        *cap = ncap;
    }
    p->allowedips[p->n_allowedips++] = *a;
    return 0;
}

static int device_key(struct wg_device_config *cfg, const char *k, const char *v)
{
    uint64_t n;
    if (!strcmp(k, "private_key")) {
        if (!parse_key(v, cfg->private_key))
            return -EINVAL;
        cfg->flags |= WG_DEVICE_HAS_PRIVATE_KEY;
    } else if (!strcmp(k, "listen_port")) {
        if (!parse_u64(v, 65535, &n))
            return -EINVAL;
        cfg->listen_port = (uint16_t)n;
        cfg->flags |= WG_DEVICE_HAS_LISTEN_PORT;
    } else if (!strcmp(k, "fwmark")) {
        if (!parse_u64(v, UINT32_MAX, &n))
            return -EINVAL;
        cfg->fwmark = (uint32_t)n;
        cfg->flags |= WG_DEVICE_HAS_FWMARK;
    } else if (!strcmp(k, "replace_peers")) {
        if (strcmp(v, "true"))
            return -EINVAL;
        cfg->flags |= WG_DEVICE_REPLACE_PEERS;
    } else {
        return -EINVAL;
    }
    return 0;
}

static int peer_key(struct wg_peer_config *p, size_t *aip_cap, const char *k, const char *v)
{
    uint64_t n;
    if (!strcmp(k, "preshared_key")) {
        if (!parse_key(v, p->preshared_key))
            return -EINVAL;
        p->flags |= WG_PEER_HAS_PRESHARED_KEY;
    } else if (!strcmp(k, "endpoint")) {
        struct sockaddr_storage ss;
        socklen_t sl;
        if (!wg_uapi_parse_endpoint(v, &ss, &sl))
            return -EINVAL;
        memcpy(&p->endpoint, &ss, sl);
        p->flags |= WG_PEER_HAS_ENDPOINT;
    } else if (!strcmp(k, "persistent_keepalive_interval")) {
        if (!parse_u64(v, 65535, &n))
            return -EINVAL;
        p->persistent_keepalive = (uint16_t)n;
        p->flags |= WG_PEER_HAS_KEEPALIVE;
    } else if (!strcmp(k, "replace_allowed_ips")) {
        if (strcmp(v, "true"))
            return -EINVAL;
        p->flags |= WG_PEER_REPLACE_ALLOWEDIPS;
    } else if (!strcmp(k, "allowed_ip")) {
        struct wg_allowedip a;
        if (!parse_allowedip(v, &a))
            return -EINVAL;
        return allowedip_add(p, aip_cap, &a);
    } else if (!strcmp(k, "remove")) {
        if (strcmp(v, "true"))
            return -EINVAL;
        p->flags |= WG_PEER_REMOVE;
    } else if (!strcmp(k, "update_only")) {
        if (strcmp(v, "true"))
            return -EINVAL;
        p->flags |= WG_PEER_UPDATE_ONLY;
    } else if (!strcmp(k, "protocol_version")) {
        if (strcmp(v, "1"))
            return -EINVAL;
    } else {
        return -EINVAL;
    }
    return 0;
}

int wg_uapi_parse_set(const char *body, size_t len, struct wg_device_config **out)
{
    int ret = 0;
    size_t peer_cap = 0, aip_cap = 0;
    char line[WGDEV_UAPI_MAX_LINE];
    struct wg_device_config *cfg = NULL;

    *out = NULL;
    if (len > WGDEV_UAPI_MAX_REQUEST)
        return -E2BIG;
    cfg = calloc(1, sizeof(*cfg));
    if (!cfg)
        return -ENOMEM;
    for (size_t off = 0; off < len;) {
        const char *nl = memchr(body + off, '\n', len - off);
        size_t ll = nl ? (size_t)(nl - (body + off)) : len - off;
        if (ll == 0) {
            /* the blank line ends the request; nothing may follow it */
            ret = off + 1 == len ? 0 : -EPROTO;
            if (ret)
                goto out;
            break;
        }
        if (ll >= sizeof(line) || memchr(body + off, '\0', ll)) {
            ret = -EPROTO;
            goto out;
        }
        memcpy(line, body + off, ll);
        line[ll] = '\0';
        off += ll + (nl ? 1 : 0);
        char *eq = strchr(line, '=');
        if (!eq) {
            ret = -EPROTO;
            goto out;
        }
        *eq = '\0';
        const char *k = line, *v = eq + 1;
        if (!strcmp(k, "public_key")) {
            ret = peer_add(cfg, &peer_cap);
            if (ret)
                goto out;
            aip_cap = 0;
            if (!parse_key(v, cfg->peers[cfg->n_peers - 1].public_key)) {
                ret = -EINVAL;
                goto out;
            }
        } else if (cfg->n_peers == 0) {
            ret = device_key(cfg, k, v);
        } else {
            ret = peer_key(&cfg->peers[cfg->n_peers - 1], &aip_cap, k, v);
        }
        if (ret)
            goto out;
    }
    *out = cfg;
    cfg = NULL;
out:
    sodium_memzero(line, sizeof(line));
    wg_device_config_free(cfg);
    return ret;
}

static void sb_key(struct strbuf *b, const char *name, const uint8_t key[static WG_KEY_LEN])
{
    char hex[2 * WG_KEY_LEN + 1];
    hex_encode(hex, key, WG_KEY_LEN);
    strbuf_printf(b, "%s=%s\n", name, hex);
    sodium_memzero(hex, sizeof(hex));
}

static void sb_endpoint(struct strbuf *b, const struct wg_peer_config *p)
{
    char host[INET6_ADDRSTRLEN];
    if (p->endpoint.addr.sa_family == AF_INET) {
        inet_ntop(AF_INET, &p->endpoint.addr4.sin_addr, host, sizeof(host));
        strbuf_printf(b, "endpoint=%s:%u\n", host, ntohs(p->endpoint.addr4.sin_port));
    } else if (p->endpoint.addr.sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &p->endpoint.addr6.sin6_addr, host, sizeof(host));
        if (p->endpoint.addr6.sin6_scope_id)
            strbuf_printf(b, "endpoint=[%s%%%u]:%u\n", host, p->endpoint.addr6.sin6_scope_id,
                      ntohs(p->endpoint.addr6.sin6_port));
        else
            strbuf_printf(b, "endpoint=[%s]:%u\n", host, ntohs(p->endpoint.addr6.sin6_port));
    }
}

int wg_uapi_format_get(const struct wg_device_config *cfg, char **out, size_t *out_len)
{
    struct strbuf b = {0};
    char host[INET6_ADDRSTRLEN];
    static const uint8_t zero[WG_KEY_LEN];

    if (!strbuf_reserve(&b, 1024))
        return -ENOMEM;
    if ((cfg->flags & WG_DEVICE_HAS_PRIVATE_KEY) && sodium_memcmp(cfg->private_key, zero, WG_KEY_LEN))
        sb_key(&b, "private_key", cfg->private_key);
    strbuf_printf(&b, "listen_port=%u\n", cfg->listen_port);
    if (cfg->fwmark)
        strbuf_printf(&b, "fwmark=%" PRIu32 "\n", cfg->fwmark);
    for (size_t i = 0; i < cfg->n_peers; i++) {
        const struct wg_peer_config *p = &cfg->peers[i];
        sb_key(&b, "public_key", p->public_key);
        sb_key(&b, "preshared_key", p->preshared_key);
        strbuf_printf(&b, "protocol_version=1\n");
        if (p->flags & WG_PEER_HAS_ENDPOINT)
            sb_endpoint(&b, p);
        strbuf_printf(&b, "last_handshake_time_sec=%lld\nlast_handshake_time_nsec=%ld\n",
                  (long long)p->last_handshake.tv_sec, (long)p->last_handshake.tv_nsec);
        strbuf_printf(&b, "tx_bytes=%" PRIu64 "\nrx_bytes=%" PRIu64 "\n", p->tx_bytes, p->rx_bytes);
        strbuf_printf(&b, "persistent_keepalive_interval=%u\n", p->persistent_keepalive);
        for (size_t j = 0; j < p->n_allowedips; j++) {
            const struct wg_allowedip *a = &p->allowedips[j];
            inet_ntop(a->family, a->family == AF_INET ? (const void *)&a->ip4 : (const void *)&a->ip6,
                      host, sizeof(host));
            strbuf_printf(&b, "allowed_ip=%s/%u\n", host, a->cidr);
        }
    }
    if (b.failed) {
        sodium_memzero(b.p, b.cap);
        free(b.p);
        return -ENOMEM;
    }
    *out = b.p;
    *out_len = b.len;
    return 0;
}
