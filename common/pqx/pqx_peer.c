/* The per-peer pqx state machine (docs/pq-exchange.md, "State machine").
 *
 * Exchange states:  IDLE -> INIT_SENT -> IDLE   (we initiate; PSK installed on a valid RESP)
 *                   IDLE -> RESP_SENT -> IDLE   (we respond; PSK installed on a valid CONFIRM)
 * PSK states:       NONE (random PSK, blocked), PQ (installed, unblocked), CLASSICAL (explicit).
 * Timers (pure functions of the clock passed in): retransmit (INIT/RESP), retry backoff after a
 * failure, rotate (designated initiator), fallback (the other side), expiry of a PQ PSK. */
#include "common/pqx/pqx_peer.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#define INIT_PREFIX (PQX_INIT_LEN - PQX_MAC_LEN)
#define RESP_PREFIX (PQX_RESP_LEN - PQX_MAC_LEN)

void pqx_config_default(struct pqx_config *cfg)
{
    cfg->rotate_ms = PQX_ROTATE_MS;
    cfg->fallback_ms = PQX_FALLBACK_MS;
    cfg->expire_ms = PQX_EXPIRE_MS;
    cfg->retransmit_ms = PQX_RETRANSMIT_MS;
    cfg->retransmit_max = PQX_RETRANSMIT_MAX;
    cfg->backoff_min_ms = PQX_BACKOFF_MIN_MS;
    cfg->backoff_max_ms = PQX_BACKOFF_MAX_MS;
}

static void rng(struct pqx_peer *p, void *buf, size_t len)
{
    const struct pqx_local *l = p->local;

    if (l->ops->rng)
        l->ops->rng(l->ops_ctx, buf, len);
    else
        randombytes_buf(buf, len);
}

static uint32_t rng32(struct pqx_peer *p)
{
    uint8_t b[4];

    rng(p, b, sizeof(b));
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void set_blocked(struct pqx_peer *p, bool blocked)
{
    if (p->blocked == blocked)
        return;
    p->blocked = blocked;
    p->local->ops->set_blocked(p->local->ops_ctx, p, blocked);
}

/* A fresh random PSK, never zero or fixed: no WireGuard session can come up with it. */
static void install_random(struct pqx_peer *p)
{
    uint8_t psk[32];

    rng(p, psk, sizeof(psk));
    psk[0] |= 1; /* an all-zero PSK would mean "no PSK" */
    set_blocked(p, true);
    p->psk = PQX_PSK_NONE;
    p->local->ops->install_psk(p->local->ops_ctx, p, psk, PQX_PSK_NONE);
    sodium_memzero(psk, sizeof(psk));
}

static void exch_wipe(struct pqx_peer *p)
{
    p->exch = PQX_EXCH_IDLE;
    sodium_memzero(p->eph_priv, sizeof(p->eph_priv));
    sodium_memzero(p->dk, sizeof(p->dk));
    sodium_memzero(p->ikm, sizeof(p->ikm));
    sodium_memzero(p->th1, sizeof(p->th1));
    sodium_memzero(p->th, sizeof(p->th));
}

static void send_msg(struct pqx_peer *p, uint8_t kind, uint32_t msg_id, const uint8_t *body,
                     size_t len)
{
    uint8_t dgram[PQX_FRAG_HDR_LEN + PQX_FRAG_PAYLOAD_MAX];
    uint8_t n = pqx_frag_count(len);

    for (uint8_t i = 0; i < n; i++) {
        size_t dlen = pqx_frag_build(dgram, kind, msg_id, p->hint_out, body, len, i);
        if (dlen)
            p->local->ops->send(p->local->ops_ctx, p, dgram, dlen);
    }
}

/* Keeps a copy of an INIT/RESP for retransmission and sends it. */
static void send_cached(struct pqx_peer *p, uint8_t kind, const uint8_t *body, size_t len,
                        uint64_t now_ms)
{
    memcpy(p->out, body, len);
    p->out_len = len;
    p->out_kind = kind;
    p->out_msg_id = rng32(p);
    p->retransmits = 0;
    p->next_retransmit_ms = now_ms + p->local->cfg.retransmit_ms;
    send_msg(p, kind, p->out_msg_id, p->out, p->out_len);
}

static void fail(struct pqx_peer *p, enum pqx_error err, uint64_t now_ms)
{
    const struct pqx_config *cfg = &p->local->cfg;
    uint64_t backoff = cfg->backoff_min_ms;
    uint32_t jitter;

    exch_wipe(p);
    p->last_error = err;
    if (p->failures < 32)
        p->failures++;
    for (unsigned i = 1; i < p->failures && backoff < cfg->backoff_max_ms; i++)
        backoff *= 2;
    if (backoff > cfg->backoff_max_ms)
        backoff = cfg->backoff_max_ms;
    /* +-25 % jitter so that many peers failing together do not retry in lockstep. */
    jitter = rng32(p) % 1001;
    backoff = backoff * 3 / 4 + backoff * jitter / 2000;
    p->next_attempt_ms = now_ms + backoff;
}

static void complete(struct pqx_peer *p, uint64_t epoch, uint64_t now_ms)
{
    uint8_t psk[32];

    pqx_keys_psk(psk, p->ikm, p->th);
    p->psk = PQX_PSK_PQ;
    p->psk_epoch = epoch;
    p->local->ops->install_psk(p->local->ops_ctx, p, psk, PQX_PSK_PQ);
    sodium_memzero(psk, sizeof(psk));
    set_blocked(p, false);
    p->last_epoch = epoch > p->last_epoch ? epoch : p->last_epoch;
    p->psk_epoch = epoch;
    p->installed_ms = now_ms;
    p->exchanges++;
    p->failures = 0;
    p->last_error = PQX_ERR_NONE;
    p->rx_error = PQX_ERR_NONE;
    p->next_attempt_ms = 0;
    exch_wipe(p);
}

int pqx_peer_init(struct pqx_peer *p, const struct pqx_local *l, const uint8_t peer_pub[static 32],
                  uint64_t now_ms)
{
    memset(p, 0, sizeof(*p));
    p->local = l;
    if (sodium_memcmp(peer_pub, l->static_pub, 32) == 0)
        return -EINVAL;
    memcpy(p->peer_pub, peer_pub, 32);
    if (!pqx_keys_dh(p->ss, l->static_priv, peer_pub))
        return -EINVAL;
    pqx_keys_hint(p->hint_out, l->static_pub, peer_pub);
    pqx_keys_hint(p->hint_in, peer_pub, l->static_pub);
    p->designated = memcmp(l->static_pub, peer_pub, 32) < 0;
    pqx_reasm_init(&p->reasm);
    p->blocked = false;
    install_random(p);
    p->next_attempt_ms = now_ms;
    return 0;
}

void pqx_peer_fini(struct pqx_peer *p)
{
    if (!p)
        return;
    sodium_memzero(p, sizeof(*p));
}

void pqx_peer_set_classical(struct pqx_peer *p, bool classical, uint64_t now_ms)
{
    static const uint8_t zero[32];

    if (classical == (p->psk == PQX_PSK_CLASSICAL))
        return;
    exch_wipe(p);
    if (classical) {
        p->psk = PQX_PSK_CLASSICAL;
        p->local->ops->install_psk(p->local->ops_ctx, p, zero, PQX_PSK_CLASSICAL);
        set_blocked(p, false);
    } else {
        install_random(p);
        p->next_attempt_ms = now_ms;
    }
}

bool pqx_peer_matches(const struct pqx_peer *p, const uint8_t *buf, size_t len)
{
    return len >= PQX_FRAG_HDR_LEN && buf[0] == PQX_MSG_TYPE &&
           memcmp(buf + 12, p->hint_in, PQX_HINT_LEN) == 0;
}

static void start(struct pqx_peer *p, uint64_t now_ms, uint64_t real_ms)
{
    const struct pqx_local *l = p->local;
    uint8_t body[PQX_INIT_LEN], seed[MLKEM768_SEED_BYTES], es[32];
    uint64_t epoch = p->last_epoch > p->sent_epoch ? p->last_epoch : p->sent_epoch;

    exch_wipe(p);
    p->rekey_requested = false;
    epoch = epoch + 1 > real_ms ? epoch + 1 : real_ms;
    p->sent_epoch = epoch;
    p->pend_epoch = epoch;
    p->local_index = rng32(p);
    rng(p, p->eph_priv, 32);
    rng(p, seed, sizeof(seed));
    pqx_put_be32(body, p->local_index);
    pqx_put_be64(body + 4, epoch);
    crypto_scalarmult_base(body + 12, p->eph_priv);
    if (mlkem768_keygen_derand(body + 44, p->dk, seed) != 0 ||
        !pqx_keys_dh(es, p->eph_priv, p->peer_pub)) {
        fail(p, PQX_ERR_KEM_FAILURE, now_ms);
        goto out;
    }
    pqx_keys_th1(p->th1, l->static_pub, p->peer_pub, body, INIT_PREFIX);
    pqx_keys_mac1(body + INIT_PREFIX, p->ss, es, p->th1);
    p->exch = PQX_EXCH_INIT_SENT;
    send_cached(p, PQX_KIND_INIT, body, sizeof(body), now_ms);
out:
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(es, sizeof(es));
}

static void on_init(struct pqx_peer *p, const uint8_t *buf, size_t len, uint64_t now_ms)
{
    const struct pqx_local *l = p->local;
    struct pqx_init m;
    uint8_t th1[32], es[32], mac[32], hash[32], m_rand[32], kem[32], ee[32], se[32];
    uint8_t body[PQX_RESP_LEN];

    if (!pqx_init_parse(&m, buf, len)) {
        p->last_error = p->rx_error = PQX_ERR_BAD_MESSAGE;
        return;
    }
    if (!pqx_keys_dh(es, l->static_priv, m.eph)) {
        p->last_error = p->rx_error = PQX_ERR_WEAK_KEY;
        goto out;
    }
    pqx_keys_th1(th1, p->peer_pub, l->static_pub, buf, INIT_PREFIX);
    pqx_keys_mac1(mac, p->ss, es, th1);
    if (sodium_memcmp(mac, m.mac, PQX_MAC_LEN) != 0) {
        p->last_error = p->rx_error = PQX_ERR_BAD_MAC;
        goto out;
    }
    crypto_hash_sha256(hash, buf, len);
    if (p->exch == PQX_EXCH_RESP_SENT && m.epoch == p->pend_epoch &&
        sodium_memcmp(hash, p->in_hash, 32) == 0) {
        send_msg(p, p->out_kind, p->out_msg_id, p->out, p->out_len); /* our RESP was lost */
        goto out;
    }
    if (m.epoch <= p->last_epoch) {
        /* A replay, or a restarted peer whose epoch floor is behind ours: drop it, and start an
         * exchange of our own (bounded by the backoff) so that a restarted peer recovers. */
        p->last_error = p->rx_error = PQX_ERR_STALE_EPOCH;
        if (p->psk == PQX_PSK_NONE ||
            (p->psk == PQX_PSK_PQ && now_ms - p->installed_ms >= l->cfg.rotate_ms / 4)) {
            p->rekey_requested = true;
            if (p->next_attempt_ms < now_ms + l->cfg.backoff_min_ms)
                p->next_attempt_ms = now_ms + l->cfg.backoff_min_ms;
        }
        goto out;
    }
    if (p->psk == PQX_PSK_CLASSICAL)
        goto out;
    if (p->exch == PQX_EXCH_INIT_SENT && p->designated)
        goto out; /* collision: ours wins, the peer will answer it */
    if (p->last_init_ms && now_ms - p->last_init_ms < PQX_INIT_MIN_INTERVAL_MS) {
        p->last_error = p->rx_error = PQX_ERR_RATE_LIMITED;
        goto out;
    }
    exch_wipe(p); /* collision as the non-designated side: abandon ours */
    p->last_init_ms = now_ms;
    rng(p, p->eph_priv, 32);
    rng(p, m_rand, sizeof(m_rand));
    p->local_index = rng32(p);
    pqx_put_be32(body, p->local_index);
    pqx_put_be32(body + 4, m.sender_index);
    pqx_put_be64(body + 8, m.epoch);
    crypto_scalarmult_base(body + 16, p->eph_priv);
    if (mlkem768_encaps_derand(body + 48, kem, m.ek, m_rand) != 0) {
        p->last_error = p->rx_error = PQX_ERR_KEM_FAILURE;
        goto out;
    }
    if (!pqx_keys_dh(ee, p->eph_priv, m.eph) || !pqx_keys_dh(se, p->eph_priv, p->peer_pub)) {
        p->last_error = p->rx_error = PQX_ERR_WEAK_KEY;
        goto out;
    }
    memcpy(p->ikm, ee, 32);
    memcpy(p->ikm + 32, es, 32);
    memcpy(p->ikm + 64, se, 32);
    memcpy(p->ikm + 96, p->ss, 32);
    memcpy(p->ikm + 128, kem, 32);
    memcpy(p->th1, th1, 32);
    pqx_keys_th(p->th, th1, body, RESP_PREFIX);
    pqx_keys_mac2(body + RESP_PREFIX, p->ikm, p->th);
    p->remote_index = m.sender_index;
    p->pend_epoch = m.epoch;
    p->last_epoch = m.epoch; /* accepted: older INITs are replays from now on */
    memcpy(p->in_hash, hash, 32);
    p->exch = PQX_EXCH_RESP_SENT;
    send_cached(p, PQX_KIND_RESP, body, sizeof(body), now_ms);
out:
    sodium_memzero(es, sizeof(es));
    sodium_memzero(ee, sizeof(ee));
    sodium_memzero(se, sizeof(se));
    sodium_memzero(kem, sizeof(kem));
    sodium_memzero(m_rand, sizeof(m_rand));
}

static void on_resp(struct pqx_peer *p, const uint8_t *buf, size_t len, uint64_t now_ms)
{
    const struct pqx_local *l = p->local;
    struct pqx_resp m;
    uint8_t ee[32], es[32], se[32], kem[32], th[32], ikm[PQX_IKM_LEN], mac[32], hash[32];

    if (!pqx_resp_parse(&m, buf, len)) {
        p->last_error = p->rx_error = PQX_ERR_BAD_MESSAGE;
        return;
    }
    crypto_hash_sha256(hash, buf, len);
    if (p->have_confirm && m.epoch == p->confirm_epoch && sodium_memcmp(hash, p->resp_hash, 32) == 0) {
        /* The responder did not get our CONFIRM and re-sent its RESP. */
        send_msg(p, PQX_KIND_CONFIRM, p->confirm_msg_id, p->confirm, sizeof(p->confirm));
        return;
    }
    if (p->exch != PQX_EXCH_INIT_SENT || m.receiver_index != p->local_index ||
        m.epoch != p->pend_epoch) {
        p->last_error = p->rx_error =
            m.epoch < p->pend_epoch || m.epoch <= p->last_epoch ? PQX_ERR_STALE_EPOCH
                                                                : PQX_ERR_UNEXPECTED;
        return;
    }
    if (!pqx_keys_dh(ee, p->eph_priv, m.eph) || !pqx_keys_dh(es, p->eph_priv, p->peer_pub) ||
        !pqx_keys_dh(se, l->static_priv, m.eph)) {
        p->last_error = p->rx_error = PQX_ERR_WEAK_KEY;
        goto out;
    }
    /* Implicit rejection: a modified ct gives a pseudo-random kem, caught by mac2 below. */
    if (mlkem768_decaps(kem, m.ct, p->dk) != 0) {
        p->last_error = p->rx_error = PQX_ERR_KEM_FAILURE;
        goto out;
    }
    memcpy(ikm, ee, 32);
    memcpy(ikm + 32, es, 32);
    memcpy(ikm + 64, se, 32);
    memcpy(ikm + 96, p->ss, 32);
    memcpy(ikm + 128, kem, 32);
    pqx_keys_th(th, p->th1, buf, RESP_PREFIX);
    pqx_keys_mac2(mac, ikm, th);
    if (sodium_memcmp(mac, m.mac, PQX_MAC_LEN) != 0) {
        /* A forgery must not kill the exchange: keep waiting for the genuine RESP. */
        p->last_error = p->rx_error = PQX_ERR_BAD_MAC;
        goto out;
    }
    memcpy(p->ikm, ikm, sizeof(ikm));
    memcpy(p->th, th, sizeof(th));
    pqx_put_be32(p->confirm, m.sender_index);
    pqx_put_be32(p->confirm + 4, p->local_index);
    pqx_put_be64(p->confirm + 8, m.epoch);
    pqx_keys_mac3(p->confirm + 16, p->ikm, p->th, p->confirm);
    memcpy(p->resp_hash, hash, 32);
    p->confirm_epoch = m.epoch;
    p->confirm_msg_id = rng32(p);
    p->have_confirm = true;
    complete(p, m.epoch, now_ms);
    send_msg(p, PQX_KIND_CONFIRM, p->confirm_msg_id, p->confirm, sizeof(p->confirm));
out:
    sodium_memzero(ee, sizeof(ee));
    sodium_memzero(es, sizeof(es));
    sodium_memzero(se, sizeof(se));
    sodium_memzero(kem, sizeof(kem));
    sodium_memzero(ikm, sizeof(ikm));
}

static void on_confirm(struct pqx_peer *p, const uint8_t *buf, size_t len, uint64_t now_ms)
{
    struct pqx_confirm m;
    uint8_t mac[32];

    if (!pqx_confirm_parse(&m, buf, len)) {
        p->last_error = p->rx_error = PQX_ERR_BAD_MESSAGE;
        return;
    }
    if (p->exch != PQX_EXCH_RESP_SENT || m.receiver_index != p->local_index ||
        m.sender_index != p->remote_index || m.epoch != p->pend_epoch) {
        if (m.epoch <= p->psk_epoch)
            return; /* a duplicate CONFIRM of an exchange we completed */
        p->last_error = p->rx_error = PQX_ERR_UNEXPECTED;
        return;
    }
    pqx_keys_mac3(mac, p->ikm, p->th, buf);
    if (sodium_memcmp(mac, m.mac, PQX_MAC_LEN) != 0) {
        p->last_error = p->rx_error = PQX_ERR_BAD_MAC;
        return;
    }
    complete(p, m.epoch, now_ms);
}

int pqx_peer_receive(struct pqx_peer *p, const uint8_t *buf, size_t len, uint64_t now_ms,
                     uint64_t real_ms)
{
    struct pqx_frag f;
    uint8_t body[PQX_MSG_MAX], kind = 0;
    size_t body_len = 0;
    int ret;

    (void)real_ms;
    if (!pqx_frag_parse(&f, buf, len)) {
        p->last_error = p->rx_error = PQX_ERR_BAD_MESSAGE;
        return -EBADMSG;
    }
    if (memcmp(f.hint, p->hint_in, PQX_HINT_LEN) != 0) {
        p->last_error = p->rx_error = PQX_ERR_WRONG_PAIR;
        return -EBADMSG;
    }
    ret = pqx_reasm_add(&p->reasm, &f, now_ms, body, &body_len, &kind);
    if (ret < 0) {
        p->last_error = p->rx_error = PQX_ERR_BAD_MESSAGE;
        return ret;
    }
    if (ret == 0)
        return 0;
    if (kind == PQX_KIND_INIT)
        on_init(p, body, body_len, now_ms);
    else if (kind == PQX_KIND_RESP)
        on_resp(p, body, body_len, now_ms);
    else
        on_confirm(p, body, body_len, now_ms);
    return 0;
}

/* Whether we should be initiating now that no exchange is in progress. */
static bool want_exchange(const struct pqx_peer *p, uint64_t now_ms)
{
    const struct pqx_config *cfg = &p->local->cfg;

    if (p->psk == PQX_PSK_CLASSICAL)
        return false;
    if (p->psk == PQX_PSK_NONE || p->rekey_requested)
        return true;
    return now_ms - p->installed_ms >= (p->designated ? cfg->rotate_ms : cfg->fallback_ms);
}

void pqx_peer_tick(struct pqx_peer *p, uint64_t now_ms, uint64_t real_ms)
{
    const struct pqx_config *cfg = &p->local->cfg;

    pqx_reasm_expire(&p->reasm, now_ms);
    if (p->psk == PQX_PSK_CLASSICAL)
        return;
    if (p->psk == PQX_PSK_PQ && now_ms - p->installed_ms >= cfg->expire_ms) {
        install_random(p); /* no silent downgrade: blocked until the next exchange */
        p->last_error = PQX_ERR_EXPIRED;
        p->have_confirm = false;
    }
    if (p->exch != PQX_EXCH_IDLE && now_ms >= p->next_retransmit_ms) {
        if (p->retransmits < cfg->retransmit_max) {
            p->retransmits++;
            p->next_retransmit_ms = now_ms + cfg->retransmit_ms;
            send_msg(p, p->out_kind, p->out_msg_id, p->out, p->out_len);
        } else {
            fail(p, PQX_ERR_TIMEOUT, now_ms);
        }
    }
    if (p->exch == PQX_EXCH_IDLE && want_exchange(p, now_ms) && now_ms >= p->next_attempt_ms)
        start(p, now_ms, real_ms);
}

/* When an idle peer starts its next exchange: the retry/backoff time, and for a PQ PSK not before
 * its rotation (designated initiator) or fallback time. */
static uint64_t next_exchange(const struct pqx_peer *p)
{
    const struct pqx_config *cfg = &p->local->cfg;
    uint64_t when = p->next_attempt_ms;

    if (p->psk == PQX_PSK_PQ && !p->rekey_requested) {
        uint64_t due = p->installed_ms + (p->designated ? cfg->rotate_ms : cfg->fallback_ms);
        when = due > when ? due : when;
    }
    return when;
}

uint64_t pqx_peer_next_deadline(const struct pqx_peer *p)
{
    const struct pqx_config *cfg = &p->local->cfg;
    uint64_t t = UINT64_MAX;

    for (size_t i = 0; i < PQX_REASM_SLOTS; i++) {
        if (p->reasm.slot[i].used && p->reasm.slot[i].started_ms + PQX_REASM_TIMEOUT_MS < t)
            t = p->reasm.slot[i].started_ms + PQX_REASM_TIMEOUT_MS;
    }
    if (p->psk == PQX_PSK_CLASSICAL)
        return t;
    if (p->exch != PQX_EXCH_IDLE) {
        if (p->next_retransmit_ms < t)
            t = p->next_retransmit_ms;
    } else if (next_exchange(p) < t) {
        t = next_exchange(p);
    }
    if (p->psk == PQX_PSK_PQ && p->installed_ms + cfg->expire_ms < t)
        t = p->installed_ms + cfg->expire_ms;
    return t;
}

void pqx_peer_status(const struct pqx_peer *p, struct pqx_status *st)
{
    st->exch = p->exch;
    st->psk = p->psk;
    st->last_error = p->last_error;
    st->rx_error = p->rx_error;
    st->blocked = p->blocked;
    st->classical_only = p->psk == PQX_PSK_CLASSICAL;
    st->designated = p->designated;
    st->epoch = p->psk == PQX_PSK_PQ ? p->psk_epoch : 0;
    st->installed_ms = p->installed_ms;
    st->failures = p->failures;
    st->exchanges = p->exchanges;
    st->next_exchange_ms =
        p->exch == PQX_EXCH_IDLE && p->psk != PQX_PSK_CLASSICAL ? next_exchange(p) : 0;
}

const char *pqx_error_name(enum pqx_error e)
{
    static const char *const names[] = {
        "none",        "timeout",  "bad-mac",      "stale-epoch", "bad-message", "wrong-pair",
        "kem-failure", "weak-key", "unexpected",   "rate-limited", "expired",
    };
    return (unsigned)e < sizeof(names) / sizeof(names[0]) ? names[e] : "unknown";
}

const char *pqx_exch_state_name(enum pqx_exch_state s)
{
    static const char *const names[] = {"idle", "init-sent", "resp-sent"};
    return (unsigned)s < 3 ? names[s] : "unknown";
}

const char *pqx_psk_state_name(enum pqx_psk_state s)
{
    static const char *const names[] = {"none", "pq", "classical-only"};
    return (unsigned)s < 3 ? names[s] : "unknown";
}
