/* The local API server: non-blocking accept, one request line per connection, replies written
 * as the socket drains, replies that wait on the server (login, logout, set) sent later by id. */
#include "agent/daemon/api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "agent/daemon/api_proto.h"
#include "agent/daemon/control.h"
#include "agent/daemon/daemon.h"
#include "agent/daemon/dnsio.h"
#include "agent/pq/agentpq_wgdev.h"
#include "agent/wg/device.h"
#include "common/log.h"

struct api_conn {
    struct loop_src src; /* first: freed through loop_release */
    uint64_t id;
    char in[AGENT_API_MAX_REQUEST + 1];
    size_t in_len;
    char *out;
    size_t out_len, out_off;
    bool waiting; /* request dispatched, reply not yet queued */
    struct api_conn *next;
};

struct api {
    struct loop_src listen;
    struct api_conn *conns;
    size_t n_conns;
    uint64_t next_id;
};

static void conn_close(struct agent *a, struct api_conn *c)
{
    struct api *api = a->api;
    for (struct api_conn **pp = &api->conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            api->n_conns--;
            break;
        }
    }
    free(c->out);
    c->out = NULL;
    loop_release(a, &c->src);
}

static void conn_flush(struct agent *a, struct api_conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = send(c->src.fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (w < 0 && errno == EAGAIN) {
            loop_mod(a, &c->src, EPOLLOUT);
            return;
        }
        if (w <= 0)
            break;
        c->out_off += (size_t)w;
    }
    conn_close(a, c);
}

static void queue_reply(struct agent *a, struct api_conn *c, cJSON *data, const char *error)
{
    cJSON *o = cJSON_CreateObject();
    char *txt = NULL;
    if (o) {
        cJSON_AddBoolToObject(o, "ok", error == NULL);
        if (error)
            cJSON_AddStringToObject(o, "error", error);
        else
            cJSON_AddItemToObject(o, "data", data ? data : cJSON_CreateObject());
        data = NULL;
        txt = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
    }
    cJSON_Delete(data);
    c->waiting = false;
    if (!txt || strlen(txt) + 1 > AGENT_API_MAX_REPLY) {
        free(txt);
        conn_close(a, c);
        return;
    }
    size_t l = strlen(txt);
    txt[l] = '\n'; /* replaces the NUL: out is not a C string */
    c->out = txt;
    c->out_len = l + 1;
    c->out_off = 0;
    conn_flush(a, c);
}

void api_reply(struct agent *a, uint64_t conn_id, cJSON *data, const char *error)
{
    for (struct api_conn *c = a->api ? a->api->conns : NULL; c; c = c->next) {
        if (c->id == conn_id && c->waiting) {
            queue_reply(a, c, data, error);
            return;
        }
    }
    cJSON_Delete(data);
}

/* --- status ------------------------------------------------------------------------------- */

static cJSON *tags_json(char tags[][AGENT_NAME_MAX], size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(tags[i]));
    return arr;
}

static void add_ip(cJSON *o, const char *key, struct in_addr ip)
{
    char t[16];
    inet_ntop(AF_INET, &ip, t, sizeof(t));
    cJSON_AddStringToObject(o, key, t);
}

/* "tailnet_ip6" of a node, when the map gives it one. */
static void add_ip6(cJSON *o, const struct nm_node *n)
{
    char t[INET6_ADDRSTRLEN];
    if (!n->has_ip6)
        return;
    inet_ntop(AF_INET6, &n->ip6, t, sizeof(t));
    cJSON_AddStringToObject(o, "tailnet_ip6", t);
}

static const struct wg_peer_config *dev_peer(const struct wg_device_config *cfg, const uint8_t key[32])
{
    for (size_t i = 0; cfg && i < cfg->n_peers; i++)
        if (!memcmp(cfg->peers[i].public_key, key, 32))
            return &cfg->peers[i];
    return NULL;
}

static void endpoint_text(const struct wg_peer_config *pc, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    out[0] = 0;
    if (!pc || !(pc->flags & WG_PEER_HAS_ENDPOINT))
        return;
    if (pc->endpoint.addr.sa_family == AF_INET) {
        inet_ntop(AF_INET, &pc->endpoint.addr4.sin_addr, ip, sizeof(ip));
        snprintf(out, cap, "%s:%u", ip, ntohs(pc->endpoint.addr4.sin_port));
    } else if (pc->endpoint.addr.sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &pc->endpoint.addr6.sin6_addr, ip, sizeof(ip));
        snprintf(out, cap, "[%s]:%u", ip, ntohs(pc->endpoint.addr6.sin6_port));
    }
}

static cJSON *peer_json(struct agent *a, const struct nm_node *p, const struct wg_device_config *cfg)
{
    cJSON *o = cJSON_CreateObject(), *pq;
    const struct wg_peer_config *pc = dev_peer(cfg, p->wg_key);
    struct pqx_status st;
    char key[64], ep[80];
    if (!o)
        return NULL;
    sodium_bin2base64(key, sizeof(key), p->wg_key, 32, sodium_base64_VARIANT_ORIGINAL);
    cJSON_AddNumberToObject(o, "id", (double)p->id);
    cJSON_AddStringToObject(o, "name", p->name);
    cJSON_AddStringToObject(o, "fqdn", p->fqdn);
    add_ip(o, "tailnet_ip", p->ip);
    add_ip6(o, p);
    cJSON_AddItemToObject(o, "tags", tags_json((char(*)[AGENT_NAME_MAX])p->tags, p->n_tags));
    cJSON_AddBoolToObject(o, "online", p->online);
    cJSON_AddNumberToObject(o, "last_seen", (double)p->last_seen);
    cJSON_AddStringToObject(o, "public_key", key);
    endpoint_text(pc, ep, sizeof(ep));
    cJSON_AddStringToObject(o, "endpoint", ep);
    /* no relay yet: a peer is reached directly at its endpoint, or not at all */
    char path[96];
    snprintf(path, sizeof(path), ep[0] ? "direct %s" : "none", ep);
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddNumberToObject(o, "last_handshake", pc ? (double)pc->last_handshake.tv_sec : 0);
    cJSON_AddNumberToObject(o, "rx_bytes", pc ? (double)pc->rx_bytes : 0);
    cJSON_AddNumberToObject(o, "tx_bytes", pc ? (double)pc->tx_bytes : 0);
    pq = cJSON_AddObjectToObject(o, "pq");
    if (pq && agentpq_peer_status(engine_pq(a), p->wg_key, &st) == 0) {
        cJSON_AddStringToObject(pq, "psk", pqx_psk_state_name(st.psk));
        cJSON_AddStringToObject(pq, "exchange", pqx_exch_state_name(st.exch));
        cJSON_AddStringToObject(pq, "last_error", pqx_error_name(st.last_error));
        cJSON_AddBoolToObject(pq, "blocked", st.blocked);
        cJSON_AddNumberToObject(pq, "epoch", (double)st.epoch);
        cJSON_AddNumberToObject(pq, "exchanges", (double)st.exchanges);
        cJSON_AddNumberToObject(pq, "age_s",
                                st.installed_ms ? (double)((agentpq_now_ms() - st.installed_ms) / 1000) : -1);
    }
    return o;
}

cJSON *api_status(struct agent *a)
{
    cJSON *o = cJSON_CreateObject(), *self, *peers, *den, *dns;
    struct wg_device_config *cfg = NULL;
    char key[64];
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "version", ZTNA_VERSION);
    cJSON_AddStringToObject(o, "backend", engine_backend_name(a));
    cJSON_AddStringToObject(o, "interface", a->tun);
    cJSON_AddNumberToObject(o, "listen_port", a->listen_port);
    cJSON_AddItemToObject(o, "control", ctl_status(a));
    self = cJSON_AddObjectToObject(o, "self");
    if (self) {
        sodium_bin2base64(key, sizeof(key), a->keys.wg_pub, 32, sodium_base64_VARIANT_ORIGINAL);
        cJSON_AddNumberToObject(self, "id", (double)a->st.machine_id);
        cJSON_AddStringToObject(self, "public_key", key);
        if (a->nm) {
            cJSON_AddStringToObject(self, "name", a->nm->self.name);
            cJSON_AddStringToObject(self, "fqdn", a->nm->self.fqdn);
            add_ip(self, "tailnet_ip", a->nm->self.ip);
            add_ip6(self, &a->nm->self);
            cJSON_AddItemToObject(self, "tags", tags_json(a->nm->self.tags, a->nm->self.n_tags));
            cJSON_AddBoolToObject(self, "expired", a->nm->self.expired);
            cJSON_AddItemToObject(self, "quarantine", netmap_quarantine_json(&a->nm->self));
        } else {
            cJSON_AddStringToObject(self, "name", a->st.hostname);
            cJSON_AddStringToObject(self, "fqdn", a->st.fqdn);
            cJSON_AddStringToObject(self, "tailnet_ip", a->st.tailnet_ip);
            cJSON_AddItemToObject(self, "tags", tags_json(a->st.tags, a->st.n_tags));
        }
    }
    dns = cJSON_AddObjectToObject(o, "dns");
    if (dns) {
        cJSON_AddStringToObject(dns, "resolver", AGENT_DNS_IP);
        cJSON_AddStringToObject(dns, "suffix", a->nm ? a->nm->dns.suffix : "");
        cJSON_AddStringToObject(dns, "upstream", dnsio_upstream(a));
    }
    cJSON_AddNumberToObject(o, "ip6_link_dropped", (double)a->ip6_chatter_dropped);
    cJSON_AddStringToObject(o, "filter", !a->filter_on ? "allow-all"
                                         : a->filter     ? "policy"
                                                         : "deny-all");
    peers = cJSON_AddArrayToObject(o, "peers");
    engine_device_get(a, &cfg);
    for (size_t i = 0; peers && a->nm && i < a->nm->n_peers; i++)
        cJSON_AddItemToArray(peers, peer_json(a, &a->nm->peers[i], cfg));
    wg_device_config_free(cfg);
    pktpath_collect_denials(a);
    den = cJSON_AddArrayToObject(o, "denials");
    for (size_t i = 0; den && i < a->n_denials; i++)
        cJSON_AddItemToArray(den, pktpath_denial_json(&a->denials[i], false));
    return o;
}

/* --- commands ----------------------------------------------------------------------------- */

static bool name_matches(const struct nm_node *n, const char *q)
{
    size_t l = strlen(q);
    char ip[16];
    struct in6_addr q6;
    if (l && q[l - 1] == '.')
        l--;
    inet_ntop(AF_INET, &n->ip, ip, sizeof(ip));
    return (strlen(n->fqdn) == l && !strncasecmp(n->fqdn, q, l)) ||
           (strlen(n->name) == l && !strncasecmp(n->name, q, l)) || !strcmp(ip, q) ||
           (n->has_ip6 && inet_pton(AF_INET6, q, &q6) == 1 && !memcmp(&q6, &n->ip6, 16));
}

static void cmd_resolve(struct agent *a, struct api_conn *c, const char *q)
{
    const struct nm_node *n = NULL;
    bool self = false;
    char err[AGENT_FQDN_MAX + 64];
    if (!a->nm) {
        queue_reply(a, c, NULL, "no netmap yet (not logged in, down, or still connecting)");
        return;
    }
    if (name_matches(&a->nm->self, q)) {
        n = &a->nm->self;
        self = true;
    }
    for (size_t i = 0; !n && i < a->nm->n_peers; i++)
        if (name_matches(&a->nm->peers[i], q))
            n = &a->nm->peers[i];
    if (!n) {
        snprintf(err, sizeof(err), "no peer named \"%s\" in the tailnet", q);
        queue_reply(a, c, NULL, err);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        queue_reply(a, c, NULL, "out of memory");
        return;
    }
    cJSON_AddStringToObject(o, "name", n->name);
    cJSON_AddStringToObject(o, "fqdn", n->fqdn);
    add_ip(o, "tailnet_ip", n->ip);
    add_ip6(o, n);
    cJSON_AddBoolToObject(o, "self", self);
    if (!self) {
        struct wg_device_config *cfg = NULL;
        char ep[80];
        engine_device_get(a, &cfg);
        endpoint_text(dev_peer(cfg, n->wg_key), ep, sizeof(ep));
        wg_device_config_free(cfg);
        cJSON_AddStringToObject(o, "endpoint", ep);
    }
    queue_reply(a, c, o, NULL);
}

/* `ztna jit`: the machine-signed JIT routes, for the machine's owner. */
static int jit_call(struct agent *a, const struct api_request *r, uint64_t conn_id)
{
    char path[96];
    if (r->cmd == API_JIT_LIST) {
        int n = snprintf(path, sizeof(path), "/api/machine/jit-requests");
        if (r->limit)
            n += snprintf(path + n, sizeof(path) - (size_t)n, "?limit=%lld", (long long)r->limit);
        if (r->cursor)
            snprintf(path + n, sizeof(path) - (size_t)n, "%ccursor=%lld", r->limit ? '&' : '?',
                     (long long)r->cursor);
        return ctl_machine_call(a, "GET", path, NULL, conn_id);
    }
    if (r->cmd == API_JIT_REVOKE) {
        snprintf(path, sizeof(path), "/api/machine/jit-requests/%lld/revoke", (long long)r->id);
        return ctl_machine_call(a, "POST", path, "{}", conn_id);
    }
    cJSON *b = cJSON_CreateObject();
    if (!b)
        return -ENOMEM;
    cJSON_AddStringToObject(b, "dst", r->name);
    cJSON_AddNumberToObject(b, "port", (double)r->port);
    cJSON_AddStringToObject(b, "proto", r->proto[0] ? r->proto : "tcp");
    cJSON_AddNumberToObject(b, "duration", (double)r->duration);
    cJSON_AddStringToObject(b, "reason", r->reason);
    char *txt = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    int ret = txt ? ctl_machine_call(a, "POST", "/api/machine/jit-requests", txt, conn_id) : -ENOMEM;
    free(txt);
    return ret;
}

static void dispatch(struct agent *a, struct api_conn *c)
{
    struct api_request r;
    char why[AGENT_FQDN_MAX + 128];
    int ret = 0;
    size_t len = c->in_len;
    while (len && (c->in[len - 1] == '\n' || c->in[len - 1] == '\r'))
        len--;
    if (api_request_parse(c->in, len, &r, why, sizeof(why))) {
        queue_reply(a, c, NULL, why);
        return;
    }
    sodium_memzero(c->in, sizeof(c->in)); /* may hold an auth key */
    c->waiting = true;
    switch (r.cmd) {
    case API_STATUS:
        queue_reply(a, c, api_status(a), NULL);
        return;
    case API_IP: {
        if (!state_registered(&a->st)) {
            queue_reply(a, c, NULL, "not logged in (run 'ztna login')");
            return;
        }
        cJSON *o = cJSON_CreateObject();
        if (o) {
            char t[INET6_ADDRSTRLEN];
            cJSON_AddStringToObject(o, "ipv4", a->nm ? inet_ntoa(a->nm->self.ip) : a->st.tailnet_ip);
            if (a->nm && a->nm->self.has_ip6)
                cJSON_AddStringToObject(o, "ipv6", inet_ntop(AF_INET6, &a->nm->self.ip6, t, sizeof(t)));
        }
        queue_reply(a, c, o, NULL);
        return;
    }
    case API_UP:
    case API_DOWN:
        if (!state_registered(&a->st)) {
            queue_reply(a, c, NULL, "not logged in (run 'ztna login')");
            return;
        }
        if (r.cmd == API_UP && a->st.accept_dns != r.accept_dns) {
            a->st.accept_dns = r.accept_dns;
            state_save(a->state_dir, &a->st);
            if (a->nm && dnsio_system_sync(a, a->nm, why, sizeof(why))) {
                queue_reply(a, c, NULL, why);
                return;
            }
        }
        ctl_set_up(a, r.cmd == API_UP);
        queue_reply(a, c, cJSON_CreateObject(), NULL);
        return;
    case API_LOGIN:
    case API_LOGIN_CODE: {
        struct ctl_login l;
        memset(&l, 0, sizeof(l));
        snprintf(l.server, sizeof(l.server), "%s", r.server);
        snprintf(l.auth_key, sizeof(l.auth_key), "%s", r.auth_key);
        snprintf(l.request_id, sizeof(l.request_id), "%s", r.request_id);
        snprintf(l.code, sizeof(l.code), "%s", r.code);
        snprintf(l.code_verifier, sizeof(l.code_verifier), "%s", r.code_verifier);
        if (r.hostname[0])
            snprintf(l.hostname, sizeof(l.hostname), "%s", r.hostname);
        else if (gethostname(l.hostname, sizeof(l.hostname) - 1) < 0)
            snprintf(l.hostname, sizeof(l.hostname), "linux");
        memcpy(l.tags, r.tags, sizeof(l.tags));
        l.n_tags = r.n_tags;
        ret = ctl_login(a, &l, c->id);
        sodium_memzero(&l, sizeof(l));
        sodium_memzero(&r, sizeof(r));
        break;
    }
    case API_LOGOUT:
        ret = ctl_logout(a, c->id);
        break;
    case API_SET:
        ret = ctl_set_tags(a, r.tags, r.n_tags, c->id);
        break;
    case API_JIT_REQUEST:
    case API_JIT_LIST:
    case API_JIT_REVOKE:
        ret = jit_call(a, &r, c->id);
        break;
    case API_RESOLVE:
        cmd_resolve(a, c, r.name);
        return;
    case API_DNS_QUERY:
        ret = dnsio_query(a, r.name, c->id);
        if (ret == -EINVAL)
            snprintf(why, sizeof(why), "\"%s\" is not a DNS name", r.name);
        else if (ret == -ENOENT)
            snprintf(why, sizeof(why), "%s is not a tailnet name and there is no upstream resolver "
                     "in /etc/resolv.conf", r.name);
        if (ret == -EINVAL || ret == -ENOENT) {
            queue_reply(a, c, NULL, why);
            return;
        }
        break;
    }
    if (ret) {
        snprintf(why, sizeof(why), "%s",
                 ret == -EBUSY      ? "another login, logout, set or jit call is in progress"
                 : ret == -ENOTCONN ? "not logged in (run 'ztna login')"
                                    : strerror(-ret));
        queue_reply(a, c, NULL, why);
    }
}

static void conn_ready(struct agent *a, struct loop_src *src, uint32_t events)
{
    struct api_conn *c = (struct api_conn *)src;
    if (c->out) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            conn_flush(a, c);
        return;
    }
    if (c->waiting) {
        if (events & (EPOLLERR | EPOLLHUP)) /* the client went away: its reply is dropped */
            conn_close(a, c);
        else if (events & EPOLLRDHUP) /* half-closed: level-triggered, stop listening for it */
            loop_mod(a, &c->src, 0);
        return;
    }
    ssize_t r = recv(src->fd, c->in + c->in_len, AGENT_API_MAX_REQUEST - c->in_len, 0);
    if (r < 0 && errno == EAGAIN)
        return;
    if (r <= 0 && !c->in_len) {
        conn_close(a, c);
        return;
    }
    if (r > 0)
        c->in_len += (size_t)r;
    c->in[c->in_len] = 0;
    if (memchr(c->in, '\n', c->in_len) || r == 0) {
        /* keep EPOLLIN off while the request is being handled; EPOLLHUP still reports */
        loop_mod(a, &c->src, EPOLLRDHUP);
        dispatch(a, c);
    } else if (c->in_len == AGENT_API_MAX_REQUEST) {
        c->waiting = true;
        queue_reply(a, c, NULL, "request too long");
    }
}

static void listen_ready(struct agent *a, struct loop_src *src, uint32_t events)
{
    struct api *api = a->api;
    (void)events;
    for (int i = 0; i < 16; i++) {
        int fd = accept4(src->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        struct api_conn *c = api->n_conns < AGENT_API_MAX_CLIENTS ? calloc(1, sizeof(*c)) : NULL;
        if (!c) {
            close(fd);
            continue;
        }
        c->src.fd = fd;
        c->src.fn = conn_ready;
        c->id = ++api->next_id;
        if (loop_add(a, &c->src, EPOLLIN | EPOLLRDHUP) < 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = api->conns;
        api->conns = c;
        api->n_conns++;
    }
}

static int make_parent(const char *path)
{
    char dir[108];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = 0;
    return mkdir(dir, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

int api_init(struct agent *a)
{
    struct api *api = calloc(1, sizeof(*api));
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int ret;
    if (!api)
        return -ENOMEM;
    a->api = api;
    api->listen.fn = listen_ready;
    api->listen.fd = -1;
    if (strlen(a->socket_path) >= sizeof(sun.sun_path))
        return -ENAMETOOLONG;
    if ((ret = make_parent(a->socket_path)))
        return ret;
    memcpy(sun.sun_path, a->socket_path, strlen(a->socket_path) + 1);
    api->listen.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (api->listen.fd < 0)
        return -errno;
    /* a socket left by a previous run is replaced; one a live daemon answers on is not */
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe >= 0 && connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
        close(probe);
        log_error("daemon", "another ztna daemon is running on %s", a->socket_path);
        return -EADDRINUSE;
    }
    if (probe >= 0)
        close(probe);
    unlink(a->socket_path);
    mode_t old = umask(077);
    ret = bind(api->listen.fd, (struct sockaddr *)&sun, sizeof(sun));
    umask(old);
    if (ret < 0 || listen(api->listen.fd, 16) < 0)
        return -errno;
    return loop_add(a, &api->listen, EPOLLIN);
}

void api_fini(struct agent *a)
{
    struct api *api = a->api;
    if (!api)
        return;
    while (api->conns)
        conn_close(a, api->conns);
    if (api->listen.fd >= 0) {
        close(api->listen.fd);
        unlink(a->socket_path);
    }
    free(api);
    a->api = NULL;
}
