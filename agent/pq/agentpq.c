/* The agent's set of pqx peers over a backend (see agentpq.h). */
#include "agent/pq/agentpq.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/log.h"

struct agentpq {
    struct agentpq_backend be;
    struct pqx_local local;
    struct pqx_ops ops;
    bool have_key;
    struct ap_peer **peers; /* owned array of owned peers */
    size_t n_peers, cap;
    /* While agentpq_receive() runs: replies that found no endpoint, sent once the message that
     * caused them proved authentic (a pqx peer only answers after a MAC check). */
    struct pqx_peer *rx_peer;
    uint8_t stash[AGENTPQ_STASH][PQX_FRAG_HDR_LEN + PQX_FRAG_PAYLOAD_MAX];
    size_t stash_len[AGENTPQ_STASH], n_stash;
    uint8_t (*classical)[32]; /* owned: keys configured classical-only */
    size_t n_classical, cap_classical;
    /* While agentpq_receive() runs, with a send_to backend: where the message came from, and
     * whether it completed an exchange (a PQ PSK was installed). */
    const struct sockaddr *rx_from;
    socklen_t rx_from_len;
    bool rx_installed;
    struct ap_conf *conf; /* owned: configured PQ exchange endpoints by key */
    size_t n_conf, cap_conf;
};

struct ap_conf {
    uint8_t key[32];
    struct sockaddr_storage addr;
    socklen_t len;
};

struct ap_peer {
    struct pqx_peer p;      /* first: the pqx callbacks get &p */
    bool classical;         /* explicit configuration */
    enum pqx_psk_state logged_psk;
    enum pqx_error logged_err;
    bool want_handshake;    /* a PQ PSK was installed: ask the data plane for a handshake */
    uint64_t initiated, responded; /* completed exchanges by role */
    /* With a send_to backend: the data plane's WireGuard endpoint; the source of the message that
     * completed the last exchange (where the peer's exchange socket is); the source of the INIT
     * being answered (RESP retransmissions go there). Lengths 0 = none. */
    struct sockaddr_storage wg_ep, learned, reply;
    socklen_t wg_ep_len, learned_len, reply_len;
};

uint64_t agentpq_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t agentpq_real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool agentpq_addr_v6(const struct sockaddr *a, socklen_t len, struct sockaddr_in6 *o)
{
    memset(o, 0, sizeof(*o));
    o->sin6_family = AF_INET6;
    if (a && a->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)a;
        o->sin6_addr.s6_addr[10] = o->sin6_addr.s6_addr[11] = 0xff;
        memcpy(&o->sin6_addr.s6_addr[12], &in->sin_addr, 4);
        o->sin6_port = in->sin_port;
        return true;
    }
    if (a && a->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)a;
        memcpy(&o->sin6_addr, &in6->sin6_addr, 16);
        o->sin6_port = in6->sin6_port;
        o->sin6_scope_id = in6->sin6_scope_id;
        return true;
    }
    return false;
}

static const struct ap_conf *conf_find(const struct agentpq *pq, const uint8_t pub[static 32])
{
    for (size_t i = 0; i < pq->n_conf; i++)
        if (memcmp(pq->conf[i].key, pub, 32) == 0)
            return &pq->conf[i];
    return NULL;
}

/* The destinations of a message not answering a received one (see agentpq_backend.send_to). */
static size_t destinations(struct agentpq *pq, struct ap_peer *ap, struct sockaddr_storage d[3],
                           socklen_t dl[3])
{
    const struct ap_conf *c;
    size_t n = 0;

    if (ap->p.exch == PQX_EXCH_RESP_SENT && ap->reply_len) {
        memcpy(&d[0], &ap->reply, ap->reply_len);
        dl[0] = ap->reply_len;
        return 1;
    }
    if (ap->learned_len) {
        memcpy(&d[n], &ap->learned, ap->learned_len);
        dl[n++] = ap->learned_len;
        if (ap->p.failures == 0)
            return n;
    }
    if ((c = conf_find(pq, ap->p.peer_pub)) != NULL) {
        memcpy(&d[n], &c->addr, c->len);
        dl[n++] = c->len;
    } else if (ap->wg_ep_len) {
        /* Unknown kind of peer: its WireGuard port (userspace) and that port + offset (kernel). */
        struct sockaddr_in6 *p6 = (struct sockaddr_in6 *)&d[n + 1];
        struct sockaddr_in *p4 = (struct sockaddr_in *)&d[n + 1];
        uint16_t port;

        memcpy(&d[n], &ap->wg_ep, ap->wg_ep_len);
        dl[n++] = ap->wg_ep_len;
        memcpy(&d[n], &ap->wg_ep, ap->wg_ep_len);
        port = ntohs(d[n].ss_family == AF_INET ? p4->sin_port : p6->sin6_port);
        if (port <= 65535 - AGENTPQ_PORT_OFFSET) {
            port = htons((uint16_t)(port + AGENTPQ_PORT_OFFSET));
            if (d[n].ss_family == AF_INET)
                p4->sin_port = port;
            else
                p6->sin6_port = port;
            dl[n] = ap->wg_ep_len;
            n++;
        }
    }
    /* The learned address may be one of the guesses: send once. */
    if (n > 1 && ap->learned_len) {
        struct sockaddr_in6 a, b;
        agentpq_addr_v6((struct sockaddr *)&d[0], dl[0], &a);
        for (size_t i = 1; i < n; i++) {
            agentpq_addr_v6((struct sockaddr *)&d[i], dl[i], &b);
            if (memcmp(&a, &b, sizeof(a)) == 0) {
                for (size_t j = i + 1; j < n; j++) {
                    d[j - 1] = d[j];
                    dl[j - 1] = dl[j];
                }
                n--;
                break;
            }
        }
    }
    return n;
}

static void send_routed(struct agentpq *pq, struct ap_peer *ap, const uint8_t *buf, size_t len)
{
    struct sockaddr_storage d[3];
    socklen_t dl[3];
    size_t n;
    int ret;

    if (&ap->p == pq->rx_peer && pq->rx_from) {
        /* A reply (the state machine answers only authenticated messages): to the source. */
        if (pq->rx_from_len <= sizeof(ap->reply)) {
            memcpy(&ap->reply, pq->rx_from, pq->rx_from_len);
            ap->reply_len = pq->rx_from_len;
        }
        ret = pq->be.send_to(pq->be.ctx, pq->rx_from, pq->rx_from_len, buf, len);
        if (ret)
            log_debug("pq", "reply to peer failed: %s", strerror(-ret));
        return;
    }
    n = destinations(pq, ap, d, dl);
    if (!n)
        log_debug("pq", "no address for the peer's exchange yet");
    for (size_t i = 0; i < n; i++) {
        ret = pq->be.send_to(pq->be.ctx, (struct sockaddr *)&d[i], dl[i], buf, len);
        if (ret)
            log_debug("pq", "send to peer failed: %s", strerror(-ret));
    }
}

static void op_send(void *ctx, struct pqx_peer *p, const uint8_t *buf, size_t len)
{
    struct agentpq *pq = ctx;
    int ret;

    if (pq->be.send_to) {
        send_routed(pq, (struct ap_peer *)p, buf, len);
        return;
    }
    ret = pq->be.send(pq->be.ctx, p->peer_pub, buf, len);

    if (ret == -EDESTADDRREQ && p == pq->rx_peer && pq->n_stash < AGENTPQ_STASH &&
        len <= sizeof(pq->stash[0])) {
        memcpy(pq->stash[pq->n_stash], buf, len);
        pq->stash_len[pq->n_stash++] = len;
    } else if (ret) {
        log_debug("pq", "send to peer failed: %s", strerror(-ret));
    }
}

static void op_install(void *ctx, struct pqx_peer *p, const uint8_t psk[static 32],
                       enum pqx_psk_state kind)
{
    struct agentpq *pq = ctx;
    int ret = pq->be.install_psk(pq->be.ctx, p->peer_pub, psk);
    if (ret) {
        log_warn("pq", "installing PSK failed: %s", strerror(-ret));
    } else if (kind == PQX_PSK_PQ) {
        log_info("pq", "post-quantum PSK installed (epoch %llu)",
                 (unsigned long long)p->psk_epoch);
        /* Only the exchange's initiator (installing on the RESP, p->exch still INIT_SENT) asks
         * for a handshake: two crossing WireGuard initiations would cancel each other. And not
         * here but in after_event(), once the CONFIRM went out on the same socket ahead of it, so
         * that the responder holds the new PSK when our initiation arrives. */
        ((struct ap_peer *)p)->want_handshake = p->exch == PQX_EXCH_INIT_SENT;
        if (p->exch == PQX_EXCH_INIT_SENT)
            ((struct ap_peer *)p)->initiated++;
        else
            ((struct ap_peer *)p)->responded++;
        if (p == pq->rx_peer)
            pq->rx_installed = true;
    }
}

static void op_block(void *ctx, struct pqx_peer *p, bool blocked)
{
    struct agentpq *pq = ctx;
    int ret = pq->be.set_blocked(pq->be.ctx, p->peer_pub, blocked);
    if (ret)
        log_warn("pq", "%s peer failed: %s", blocked ? "blocking" : "unblocking", strerror(-ret));
}

struct agentpq *agentpq_new(const struct agentpq_backend *be, const struct pqx_config *cfg)
{
    struct agentpq *pq = calloc(1, sizeof(*pq));

    if (!pq)
        return NULL;
    pq->be = *be;
    pq->ops = (struct pqx_ops){.send = op_send, .install_psk = op_install, .set_blocked = op_block};
    pq->local.ops = &pq->ops;
    pq->local.ops_ctx = pq;
    if (cfg)
        pq->local.cfg = *cfg;
    else
        pqx_config_default(&pq->local.cfg);
    return pq;
}

void agentpq_free(struct agentpq *pq)
{
    if (!pq)
        return;
    for (size_t i = 0; i < pq->n_peers; i++) {
        pqx_peer_fini(&pq->peers[i]->p);
        free(pq->peers[i]);
    }
    free(pq->peers);
    free(pq->classical);
    free(pq->conf);
    sodium_memzero(&pq->local, sizeof(pq->local));
    free(pq);
}

static ssize_t find(const struct agentpq *pq, const uint8_t pub[static 32])
{
    for (size_t i = 0; i < pq->n_peers; i++)
        if (memcmp(pq->peers[i]->p.peer_pub, pub, 32) == 0)
            return (ssize_t)i;
    return -1;
}

size_t agentpq_peer_count(const struct agentpq *pq)
{
    return pq->n_peers;
}

const uint8_t *agentpq_peer_key(const struct agentpq *pq, size_t i)
{
    return pq->peers[i]->p.peer_pub;
}

bool agentpq_peer_known(const struct agentpq *pq, const uint8_t pub[static 32])
{
    return find(pq, pub) >= 0;
}

int agentpq_set_private_key(struct agentpq *pq, const uint8_t priv[static 32], uint64_t now_ms)
{
    if (pq->have_key && sodium_memcmp(priv, pq->local.static_priv, 32) == 0)
        return 0;
    memcpy(pq->local.static_priv, priv, 32);
    crypto_scalarmult_base(pq->local.static_pub, priv);
    pq->have_key = true;
    /* Every pairwise secret changed: restart each peer from a random PSK, blocked. */
    for (size_t i = 0; i < pq->n_peers; i++) {
        struct pqx_peer *p = &pq->peers[i]->p;
        uint8_t pub[32];

        memcpy(pub, p->peer_pub, 32);
        pqx_peer_fini(p);
        if (pqx_peer_init(p, &pq->local, pub, now_ms) == 0 && pq->peers[i]->classical)
            pqx_peer_set_classical(p, true, now_ms);
    }
    return 0;
}

int agentpq_peer_add(struct agentpq *pq, const uint8_t pub[static 32], bool classical, uint64_t now_ms)
{
    struct ap_peer *ap;
    int ret;

    ssize_t known;

    if (!pq->have_key)
        return -EINVAL;
    known = find(pq, pub);
    if (known >= 0) {
        if (classical && !pq->peers[known]->classical) {
            pq->peers[known]->classical = true;
            pqx_peer_set_classical(&pq->peers[known]->p, true, now_ms);
            log_warn("pq", "peer configured classical-only: no post-quantum PSK");
        }
        return 0;
    }
    if (pq->n_peers >= AGENTPQ_MAX_PEERS)
        return -ENOSPC;
    if (pq->n_peers == pq->cap) {
        size_t cap = pq->cap ? pq->cap * 2 : 8;
        struct ap_peer **np = realloc(pq->peers, cap * sizeof(*np));
        if (!np)
            return -ENOMEM;
        pq->peers = np;
        pq->cap = cap;
    }
    ap = calloc(1, sizeof(*ap));
    if (!ap)
        return -ENOMEM;
    ret = pqx_peer_init(&ap->p, &pq->local, pub, now_ms);
    if (ret) {
        free(ap);
        return ret;
    }
    ap->classical = classical || agentpq_classical_get(pq, pub);
    if (ap->classical) {
        pqx_peer_set_classical(&ap->p, true, now_ms);
        log_warn("pq", "peer configured classical-only: no post-quantum PSK");
    }
    ap->logged_psk = ap->p.psk;
    pq->peers[pq->n_peers++] = ap;
    return 0;
}

void agentpq_peer_remove(struct agentpq *pq, const uint8_t pub[static 32])
{
    ssize_t i = find(pq, pub);

    if (i < 0)
        return;
    pqx_peer_fini(&pq->peers[i]->p);
    free(pq->peers[i]);
    pq->peers[i] = pq->peers[pq->n_peers - 1];
    pq->n_peers--;
}

int agentpq_peer_restart(struct agentpq *pq, const uint8_t pub[static 32], uint64_t now_ms)
{
    ssize_t i = find(pq, pub);
    bool classical = i >= 0 && pq->peers[i]->classical;

    agentpq_peer_remove(pq, pub);
    return agentpq_peer_add(pq, pub, classical, now_ms);
}

static ssize_t classical_find(const struct agentpq *pq, const uint8_t pub[static 32])
{
    for (size_t i = 0; i < pq->n_classical; i++)
        if (memcmp(pq->classical[i], pub, 32) == 0)
            return (ssize_t)i;
    return -1;
}

bool agentpq_classical_get(const struct agentpq *pq, const uint8_t pub[static 32])
{
    return classical_find(pq, pub) >= 0;
}

int agentpq_classical_set(struct agentpq *pq, const uint8_t pub[static 32], bool on, uint64_t now_ms)
{
    ssize_t c = classical_find(pq, pub), i = find(pq, pub);

    if (on && c < 0) {
        if (pq->n_classical >= AGENTPQ_MAX_PEERS)
            return -ENOSPC;
        if (pq->n_classical == pq->cap_classical) {
            size_t cap = pq->cap_classical ? pq->cap_classical * 2 : 8;
            uint8_t(*nc)[32] = realloc(pq->classical, cap * sizeof(*nc));
            if (!nc)
                return -ENOMEM;
            pq->classical = nc;
            pq->cap_classical = cap;
        }
        memcpy(pq->classical[pq->n_classical++], pub, 32);
    } else if (!on && c >= 0) {
        memcpy(pq->classical[c], pq->classical[--pq->n_classical], 32);
    }
    if (i >= 0 && pq->peers[i]->classical != on) {
        pq->peers[i]->classical = on;
        pqx_peer_set_classical(&pq->peers[i]->p, on, now_ms);
        if (on)
            log_warn("pq", "peer configured classical-only: no post-quantum PSK");
    }
    return 0;
}

/* Status changes go to the log, so a failing exchange is visible without polling. */
static void log_change(struct ap_peer *ap)
{
    char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];

    if (ap->p.psk == ap->logged_psk && ap->p.last_error == ap->logged_err)
        return;
    ap->logged_psk = ap->p.psk;
    ap->logged_err = ap->p.last_error;
    sodium_bin2base64(b64, sizeof(b64), ap->p.peer_pub, 32, sodium_base64_VARIANT_ORIGINAL);
    log_msg(ap->p.last_error == PQX_ERR_NONE ? LOG_LVL_INFO : LOG_LVL_WARN, "pq",
            "peer %s: psk=%s error=%s failures=%u", b64, pqx_psk_state_name(ap->p.psk),
            pqx_error_name(ap->p.last_error), ap->p.failures);
}

/* After the state machine ran for a peer (every message it sends has been sent): a handshake with
 * a new PQ PSK, and the log line of a status change. */
static void after_event(struct agentpq *pq, struct ap_peer *ap)
{
    if (ap->want_handshake && pq->be.handshake_now) {
        int ret = pq->be.handshake_now(pq->be.ctx, ap->p.peer_pub);
        if (ret && ret != -EDESTADDRREQ)
            log_debug("pq", "handshake request failed: %s", strerror(-ret));
    }
    ap->want_handshake = false;
    log_change(ap);
}

void agentpq_receive(struct agentpq *pq, const struct sockaddr *from, socklen_t from_len,
                     const uint8_t *buf, size_t len, uint64_t now_ms, uint64_t real_ms)
{
    struct ap_peer *ap = NULL;

    if (len < 1 || buf[0] != PQX_MSG_TYPE)
        return;
    for (size_t i = 0; i < pq->n_peers && !ap; i++)
        if (pqx_peer_matches(&pq->peers[i]->p, buf, len))
            ap = pq->peers[i];
    if (!ap)
        return;
    pq->rx_peer = &ap->p;
    pq->rx_from = from;
    pq->rx_from_len = from ? from_len : 0;
    pq->rx_installed = false;
    ap->want_handshake = false;
    pq->n_stash = 0;
    pqx_peer_receive(&ap->p, buf, len, now_ms, real_ms);
    pq->rx_peer = NULL;
    pq->rx_from = NULL;
    if (pq->be.send_to && pq->rx_installed && from && from_len <= sizeof(ap->learned)) {
        /* This message completed an exchange (fresh epoch, every MAC checked): the peer's
         * exchange socket is where it came from. Also the data plane's endpoint if it has none. */
        memcpy(&ap->learned, from, from_len);
        ap->learned_len = from_len;
        if (!ap->wg_ep_len && pq->be.set_endpoint &&
            pq->be.set_endpoint(pq->be.ctx, ap->p.peer_pub, from, from_len) == 0) {
            memcpy(&ap->wg_ep, from, from_len);
            ap->wg_ep_len = from_len;
        }
    }
    if (pq->n_stash && from && pq->be.set_endpoint &&
        pq->be.set_endpoint(pq->be.ctx, ap->p.peer_pub, from, from_len) == 0) {
        for (size_t i = 0; i < pq->n_stash; i++)
            pq->be.send(pq->be.ctx, ap->p.peer_pub, pq->stash[i], pq->stash_len[i]);
    }
    pq->n_stash = 0;
    after_event(pq, ap);
}

void agentpq_tick(struct agentpq *pq, uint64_t now_ms, uint64_t real_ms)
{
    for (size_t i = 0; i < pq->n_peers; i++) {
        if (pqx_peer_next_deadline(&pq->peers[i]->p) <= now_ms) {
            pq->peers[i]->want_handshake = false;
            pqx_peer_tick(&pq->peers[i]->p, now_ms, real_ms);
            after_event(pq, pq->peers[i]);
        }
    }
}

int agentpq_peer_status(const struct agentpq *pq, const uint8_t pub[static 32], struct pqx_status *st)
{
    ssize_t i = find(pq, pub);

    if (i < 0)
        return -ENOENT;
    pqx_peer_status(&pq->peers[i]->p, st);
    return 0;
}

size_t agentpq_status_format(const struct agentpq *pq, char *buf, size_t size, uint64_t now_ms)
{
    size_t off = 0;

    for (size_t i = 0; i < pq->n_peers; i++) {
        struct pqx_status st;
        char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
        int n;

        char addr[INET6_ADDRSTRLEN + 8], conf[INET6_ADDRSTRLEN + 8];
        const struct ap_conf *c = conf_find(pq, pq->peers[i]->p.peer_pub);

        pqx_peer_status(&pq->peers[i]->p, &st);
        agentpq_addr_format(c ? (const struct sockaddr *)&c->addr : NULL, c ? c->len : 0, conf,
                            sizeof(conf));
        agentpq_addr_format((const struct sockaddr *)&pq->peers[i]->learned,
                            pq->peers[i]->learned_len, addr, sizeof(addr));
        sodium_bin2base64(b64, sizeof(b64), pq->peers[i]->p.peer_pub, 32,
                          sodium_base64_VARIANT_ORIGINAL);
        n = snprintf(off < size ? buf + off : NULL, off < size ? size - off : 0,
                     "%s psk=%s exch=%s error=%s rx_error=%s epoch=%llu age_ms=%llu failures=%u "
                     "exchanges=%llu blocked=%d classical_only=%d next_in_ms=%lld pq_addr=%s "
                     "pq_endpoint=%s\n",
                     b64, pqx_psk_state_name(st.psk), pqx_exch_state_name(st.exch),
                     pqx_error_name(st.last_error), pqx_error_name(st.rx_error),
                     (unsigned long long)st.epoch,
                     (unsigned long long)(st.psk == PQX_PSK_PQ ? now_ms - st.installed_ms : 0),
                     st.failures, (unsigned long long)st.exchanges, st.blocked, st.classical_only,
                     st.next_exchange_ms == 0 ? -1LL
                     : st.next_exchange_ms > now_ms ? (long long)(st.next_exchange_ms - now_ms) : 0LL,
                     addr, conf);
        if (n > 0)
            off += (size_t)n;
    }
    return off;
}

int agentpq_peer_set_wg_endpoint(struct agentpq *pq, const uint8_t pub[static 32],
                                 const struct sockaddr *addr, socklen_t addr_len)
{
    ssize_t i = find(pq, pub);
    struct sockaddr_in6 n;

    if (i < 0)
        return -ENOENT;
    if (!addr || !addr_len || addr->sa_family == AF_UNSPEC) {
        pq->peers[i]->wg_ep_len = 0;
        return 0;
    }
    if (!agentpq_addr_v6(addr, addr_len, &n) || addr_len > sizeof(pq->peers[i]->wg_ep))
        return -EINVAL;
    memcpy(&pq->peers[i]->wg_ep, addr,
           addr->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
    pq->peers[i]->wg_ep_len =
        addr->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    return 0;
}

int agentpq_pq_endpoint_set(struct agentpq *pq, const uint8_t pub[static 32],
                            const struct sockaddr *addr, socklen_t addr_len)
{
    struct ap_conf *c = (struct ap_conf *)conf_find(pq, pub);
    struct sockaddr_in6 n;

    if (!addr) {
        if (c)
            *c = pq->conf[--pq->n_conf];
        return 0;
    }
    if (!agentpq_addr_v6(addr, addr_len, &n) || addr_len > sizeof(c->addr))
        return -EINVAL;
    if (!c) {
        if (pq->n_conf >= AGENTPQ_MAX_PEERS)
            return -ENOSPC;
        if (pq->n_conf == pq->cap_conf) {
            size_t cap = pq->cap_conf ? pq->cap_conf * 2 : 8;
            struct ap_conf *nc = realloc(pq->conf, cap * sizeof(*nc));
            if (!nc)
                return -ENOMEM;
            pq->conf = nc;
            pq->cap_conf = cap;
        }
        c = &pq->conf[pq->n_conf++];
        memcpy(c->key, pub, 32);
    }
    memset(&c->addr, 0, sizeof(c->addr));
    c->len = addr->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    memcpy(&c->addr, addr, c->len);
    return 0;
}

int agentpq_endpoint_parse(const char *s, struct sockaddr_storage *out, socklen_t *out_len)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *colon, *h = s, *he;
    unsigned long port = 0;

    memset(out, 0, sizeof(*out));
    if (!s)
        return -EINVAL;
    if (*s == '[') {
        h = s + 1;
        he = strchr(h, ']');
        if (!he || he[1] != ':')
            return -EINVAL;
        colon = he + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || memchr(s, ':', (size_t)(colon - s)))
            return -EINVAL; /* an IPv6 address needs brackets */
        he = colon;
    }
    if (he == h || (size_t)(he - h) >= sizeof(host) || !colon[1] || strlen(colon + 1) > 5)
        return -EINVAL;
    for (const char *p = colon + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        port = port * 10 + (unsigned long)(*p - '0');
    }
    if (port == 0 || port > 65535)
        return -EINVAL;
    memcpy(host, h, (size_t)(he - h));
    host[he - h] = '\0';
    if (*s == '[') {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
            return -EINVAL;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        *out_len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)out;
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
            return -EINVAL;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        *out_len = sizeof(*a);
    }
    return 0;
}

int agentpq_pq_endpoint_option(const char *s, uint8_t key[static 32], struct sockaddr_storage *out,
                               socklen_t *out_len)
{
    const char *eq = s ? strrchr(s, '=') : NULL; /* the key's base64 padding has '=' too */
    size_t klen = 0;

    if (!eq || sodium_base642bin(key, 32, s, (size_t)(eq - s), NULL, &klen, NULL,
                                 sodium_base64_VARIANT_ORIGINAL) != 0 || klen != 32)
        return -EINVAL;
    return agentpq_endpoint_parse(eq + 1, out, out_len);
}

int agentpq_peer_info(const struct agentpq *pq, const uint8_t pub[static 32],
                      struct agentpq_peer_info *info)
{
    ssize_t i = find(pq, pub);

    if (i < 0)
        return -ENOENT;
    memset(info, 0, sizeof(*info));
    info->initiated = pq->peers[i]->initiated;
    info->responded = pq->peers[i]->responded;
    memcpy(&info->pq_addr, &pq->peers[i]->learned, pq->peers[i]->learned_len);
    info->pq_addr_len = pq->peers[i]->learned_len;
    return 0;
}

void agentpq_addr_format(const struct sockaddr *addr, socklen_t len, char *buf, size_t size)
{
    struct sockaddr_in6 n;
    char ip[INET6_ADDRSTRLEN];
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (!len || !agentpq_addr_v6(addr, len, &n)) {
        snprintf(buf, size, "-");
    } else if (memcmp(n.sin6_addr.s6_addr, mapped, 12) == 0) {
        inet_ntop(AF_INET, &n.sin6_addr.s6_addr[12], ip, sizeof(ip));
        snprintf(buf, size, "%s:%u", ip, ntohs(n.sin6_port));
    } else {
        inet_ntop(AF_INET6, &n.sin6_addr, ip, sizeof(ip));
        snprintf(buf, size, "[%s]:%u", ip, ntohs(n.sin6_port));
    }
}
