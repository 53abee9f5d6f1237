/* The agent's set of pqx peers over a backend (see agentpq.h). */
#include "agent/pq/agentpq.h"

#include <errno.h>
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
};

struct ap_peer {
    struct pqx_peer p;      /* first: the pqx callbacks get &p */
    bool classical;         /* explicit configuration */
    enum pqx_psk_state logged_psk;
    enum pqx_error logged_err;
    bool want_handshake;    /* a PQ PSK was installed: ask the data plane for a handshake */
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

static void op_send(void *ctx, struct pqx_peer *p, const uint8_t *buf, size_t len)
{
    struct agentpq *pq = ctx;
    int ret = pq->be.send(pq->be.ctx, p->peer_pub, buf, len);

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
    ap->want_handshake = false;
    pq->n_stash = 0;
    pqx_peer_receive(&ap->p, buf, len, now_ms, real_ms);
    pq->rx_peer = NULL;
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

        pqx_peer_status(&pq->peers[i]->p, &st);
        sodium_bin2base64(b64, sizeof(b64), pq->peers[i]->p.peer_pub, 32,
                          sodium_base64_VARIANT_ORIGINAL);
        n = snprintf(off < size ? buf + off : NULL, off < size ? size - off : 0,
                     "%s psk=%s exch=%s error=%s rx_error=%s epoch=%llu age_ms=%llu failures=%u "
                     "exchanges=%llu blocked=%d classical_only=%d next_in_ms=%lld\n",
                     b64, pqx_psk_state_name(st.psk), pqx_exch_state_name(st.exch),
                     pqx_error_name(st.last_error), pqx_error_name(st.rx_error),
                     (unsigned long long)st.epoch,
                     (unsigned long long)(st.psk == PQX_PSK_PQ ? now_ms - st.installed_ms : 0),
                     st.failures, (unsigned long long)st.exchanges, st.blocked, st.classical_only,
                     st.next_exchange_ms == 0 ? -1LL
                     : st.next_exchange_ms > now_ms ? (long long)(st.next_exchange_ms - now_ms) : 0LL);
        if (n > 0)
            off += (size_t)n;
    }
    return off;
}
