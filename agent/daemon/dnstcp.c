/* DNS over TCP at the stub (see dnstcp.h). The states of one connection (RFC 793 names):
 *   SYN_RCVD  a SYN came in, our SYN-ACK (random ISN) is out and retransmitted on the timer
 *   ESTAB     data both ways; queries are cut out of the byte stream by their 2-byte length
 *             prefix (RFC 7766 section 8) and answered in the order the answers arrive
 *   then      the peer's FIN is ACKed at once; ours follows when every query it sent is answered
 *             and all our data was sent (CLOSE_WAIT -> LAST_ACK); when idle for DNSTCP_IDLE_MS we
 *             send FIN first (FIN_WAIT). The slot is freed once both FINs are acknowledged, on a
 *             RST, after DNSTCP_MAX_RETRIES retransmissions (we send RST), or DNSTCP_CLOSE_MS
 *             after our FIN (RST). No TIME_WAIT: a late retransmitted FIN meets a RST.
 * Timers: one retransmission timer per connection (go-back-N from the oldest unacked byte, RTO
 * doubling from DNSTCP_RTO_MS; with a zero peer window it sends a 1-byte probe), the idle timer
 * and the close timer, all driven by dnstcp_tick(). */
#include "agent/daemon/dnstcp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agent/daemon/ipcsum.h"

#define IP4_HDR 20
#define TCP_HDR 20
#define DNS_PORT 53
#define DEFAULT_MSS 536 /* RFC 9293 3.7.1, when the SYN carries no MSS option */

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

#define SEQ_LT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_GT(a, b) SEQ_LT(b, a)

enum state { SYN_RCVD, ESTAB };

struct conn {
    uint8_t peer[4];
    uint16_t port;
    uint32_t gen;    /* tells answers for an earlier connection in this slot apart */
    enum state st;
    uint32_t iss, rcv_nxt, snd_una, snd_nxt, peer_wnd;
    uint16_t mss;
    bool peer_fin;   /* the peer's FIN is in rcv_nxt */
    bool fin_queued; /* we close our side once all data is out */
    bool fin_sent;   /* our FIN is in snd_nxt */
    unsigned inflight, retries, rto_ms;
    uint64_t rto_at; /* 0: timer off */
    uint64_t last_active, close_at;
    size_t rx_len, tx_len; /* tx[0] is the byte at snd_una */
    uint8_t rx[DNSTCP_RX_MAX];
    uint8_t tx[DNSTCP_TX_MAX];
};

struct dnstcp {
    uint8_t stub[4];
    const struct dnstcp_ops *ops;
    void *ctx;
    uint32_t next_gen;
    struct conn *c[DNSTCP_MAX_CONNS];
};

/* A parsed segment: the fields we use, lengths checked. */
struct seg {
    uint8_t src[4];
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t wnd, mss; /* mss: 0 if no option */
    const uint8_t *data;
    size_t len;
};

struct dnstcp *dnstcp_new(const uint8_t stub[4], const struct dnstcp_ops *ops, void *ctx)
{
    struct dnstcp *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    memcpy(t->stub, stub, 4);
    t->ops = ops;
    t->ctx = ctx;
    return t;
}

void dnstcp_free(struct dnstcp *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < DNSTCP_MAX_CONNS; i++)
        free(t->c[i]);
    free(t);
}

size_t dnstcp_conns(const struct dnstcp *t)
{
    size_t n = 0;
    for (size_t i = 0; i < DNSTCP_MAX_CONNS; i++)
        n += t->c[i] != NULL;
    return n;
}

/* The TCP checksum over the pseudo-header (RFC 9293 3.1): 0 when seg carries a valid one. */
static uint16_t tcp_csum(const uint8_t src[4], const uint8_t dst[4], const uint8_t *seg, size_t n)
{
    uint8_t ph[12] = {0};
    memcpy(ph, src, 4);
    memcpy(ph + 4, dst, 4);
    ph[9] = 6;
    ph[10] = (uint8_t)(n >> 8);
    ph[11] = (uint8_t)n;
    uint32_t s = (uint32_t)(uint16_t)~ipcsum(ph, sizeof(ph)) + (uint16_t)~ipcsum(seg, n);
    s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Writes one segment from stub:53 to peer:port; with_mss adds the MSS option (SYN-ACK). */
static void emit(struct dnstcp *t, const uint8_t peer[4], uint16_t port, uint32_t seq, uint32_t ack,
                 uint8_t flags, uint16_t wnd, bool with_mss, const uint8_t *data, size_t n)
{
    uint8_t pkt[IP4_HDR + TCP_HDR + 4 + DNSTCP_MSS];
    size_t th = TCP_HDR + (with_mss ? 4 : 0), tot = IP4_HDR + th + n;
    if (n > DNSTCP_MSS)
        return;
    memset(pkt, 0, IP4_HDR + th);
    pkt[0] = 0x45;
    put16(pkt + 2, (uint32_t)tot);
    pkt[6] = 0x40; /* DF */
    pkt[8] = 64;
    pkt[9] = 6;
    memcpy(pkt + 12, t->stub, 4);
    memcpy(pkt + 16, peer, 4);
    put16(pkt + 10, ipcsum(pkt, IP4_HDR));
    uint8_t *s = pkt + IP4_HDR;
    put16(s, DNS_PORT);
    put16(s + 2, port);
    put32(s + 4, seq);
    put32(s + 8, ack);
    s[12] = (uint8_t)((th / 4) << 4);
    s[13] = flags;
    put16(s + 14, wnd);
    if (with_mss) {
        s[20] = 2;
        s[21] = 4;
        put16(s + 22, DNSTCP_MSS);
    }
    if (n)
        memcpy(s + th, data, n);
    put16(s + 16, tcp_csum(t->stub, peer, s, th + n));
    t->ops->emit(t->ctx, pkt, tot);
}

static uint16_t rcv_wnd(const struct conn *c)
{
    return (uint16_t)(DNSTCP_RX_MAX - c->rx_len);
}

static void send_ack(struct dnstcp *t, struct conn *c)
{
    emit(t, c->peer, c->port, c->snd_nxt, c->rcv_nxt, F_ACK, rcv_wnd(c), false, NULL, 0);
}

static void send_synack(struct dnstcp *t, struct conn *c)
{
    emit(t, c->peer, c->port, c->iss, c->rcv_nxt, F_SYN | F_ACK, rcv_wnd(c), true, NULL, 0);
}

static void conn_free(struct dnstcp *t, size_t i)
{
    free(t->c[i]);
    t->c[i] = NULL;
}

/* Aborts: RST to the peer, slot freed. */
static void conn_reset(struct dnstcp *t, size_t i)
{
    struct conn *c = t->c[i];
    emit(t, c->peer, c->port, c->snd_nxt, c->rcv_nxt, F_RST | F_ACK, 0, false, NULL, 0);
    conn_free(t, i);
}

/* Sends what the peer's window allows of the unsent data, then our FIN if it is due. probe: send
 * at least one byte into a zero window. true if anything was sent. */
static bool flush(struct dnstcp *t, struct conn *c, uint64_t now, bool probe)
{
    bool any = false;
    while (c->st == ESTAB && !c->fin_sent) {
        size_t sent = c->snd_nxt - c->snd_una, unsent = c->tx_len - sent;
        uint32_t wnd_end = c->snd_una + c->peer_wnd;
        size_t room = SEQ_GT(wnd_end, c->snd_nxt) ? (size_t)(wnd_end - c->snd_nxt) : 0;
        if (probe && !room && unsent)
            room = 1;
        probe = false;
        size_t n = unsent < room ? unsent : room;
        if (n > c->mss)
            n = c->mss;
        bool fin = c->fin_queued && n == unsent;
        if (!n && !fin)
            break;
        uint8_t fl = (uint8_t)(F_ACK | (n ? F_PSH : 0) | (fin ? F_FIN : 0));
        emit(t, c->peer, c->port, c->snd_nxt, c->rcv_nxt, fl, rcv_wnd(c), false, c->tx + sent, n);
        c->snd_nxt += (uint32_t)n + fin;
        c->fin_sent = fin;
        if (fin)
            c->close_at = now + DNSTCP_CLOSE_MS;
        if (!c->rto_at)
            c->rto_at = now + c->rto_ms;
        any = true;
    }
    /* data waits on a zero window: the timer probes it */
    if (c->st == ESTAB && !c->rto_at && c->tx_len > (size_t)(c->snd_nxt - c->snd_una))
        c->rto_at = now + c->rto_ms;
    return any;
}

static void append_answer(struct conn *c, const uint8_t *msg, size_t len)
{
    if (!len || len > DNSTCP_ANSWER_MAX || c->fin_queued || c->tx_len + 2 + len > DNSTCP_TX_MAX)
        return;
    put16(c->tx + c->tx_len, (uint32_t)len);
    memcpy(c->tx + c->tx_len + 2, msg, len);
    c->tx_len += 2 + len;
}

/* Cuts complete queries out of rx while there is room to answer them (each pending query keeps
 * DNSTCP_ANSWER_MAX + 2 bytes of tx reserved). false if the connection was reset. */
static bool consume(struct dnstcp *t, size_t i)
{
    struct conn *c = t->c[i];
    uint8_t out[DNSTCP_ANSWER_MAX];
    while (c->rx_len >= 2) {
        size_t mlen = (size_t)c->rx[0] << 8 | c->rx[1];
        if (!mlen || mlen + 2 > DNSTCP_RX_MAX) { /* can never be buffered whole */
            conn_reset(t, i);
            return false;
        }
        if (c->rx_len < mlen + 2 || c->inflight >= DNSTCP_MAX_INFLIGHT ||
            c->tx_len + (c->inflight + 1) * (DNSTCP_ANSWER_MAX + 2) > DNSTCP_TX_MAX)
            break;
        if (c->fin_queued) { /* we are closing: nothing more will be answered */
            c->rx_len = 0;
            break;
        }
        size_t out_len = 0;
        uint64_t tag = (uint64_t)c->gen << 8 | i;
        enum dnstcp_verdict v = t->ops->query(t->ctx, tag, c->rx + 2, mlen, out, &out_len);
        /* the callback may not touch this responder, so c is still ours */
        memmove(c->rx, c->rx + 2 + mlen, c->rx_len - 2 - mlen);
        c->rx_len -= 2 + mlen;
        if (v == DNSTCP_ANSWERED)
            append_answer(c, out, out_len);
        else if (v == DNSTCP_PENDING)
            c->inflight++;
    }
    /* the peer closed and every query it sent is answered: close our side too */
    if (c->peer_fin && !c->inflight && (c->rx_len < 2 || c->rx_len < 2u + (c->rx[0] << 8 | c->rx[1])))
        c->fin_queued = true;
    return true;
}

/* Parses an IPv4/TCP packet to the stub. -ENOENT not ours, -EINVAL malformed. */
static int seg_parse(const struct dnstcp *t, const uint8_t *pkt, size_t len, struct seg *s)
{
    if (len < IP4_HDR || pkt[0] >> 4 != 4 || pkt[9] != 6 || memcmp(pkt + 16, t->stub, 4))
        return -ENOENT;
    size_t ihl = (size_t)(pkt[0] & 0xf) * 4, tot = (size_t)pkt[2] << 8 | pkt[3];
    if (ihl < IP4_HDR || tot > len || tot < ihl + TCP_HDR || (pkt[6] & 0x3f) || pkt[7] ||
        ipcsum(pkt, ihl))
        return -EINVAL;
    const uint8_t *h = pkt + ihl;
    size_t tl = tot - ihl, doff = (size_t)(h[12] >> 4) * 4;
    if (doff < TCP_HDR || doff > tl || tcp_csum(pkt + 12, pkt + 16, h, tl))
        return -EINVAL;
    memcpy(s->src, pkt + 12, 4);
    s->sport = (uint16_t)(h[0] << 8 | h[1]);
    s->dport = (uint16_t)(h[2] << 8 | h[3]);
    s->seq = get32(h + 4);
    s->ack = get32(h + 8);
    s->flags = h[13];
    s->wnd = (uint16_t)(h[14] << 8 | h[15]);
    s->mss = 0;
    for (size_t o = TCP_HDR; o < doff;) { /* options: only MSS matters to us */
        if (h[o] == 0)
            break;
        if (h[o] == 1) {
            o++;
            continue;
        }
        if (o + 1 >= doff || h[o + 1] < 2 || o + h[o + 1] > doff)
            return -EINVAL;
        if (h[o] == 2 && h[o + 1] == 4)
            s->mss = (uint16_t)(h[o + 2] << 8 | h[o + 3]);
        o += h[o + 1];
    }
    s->data = h + doff;
    s->len = tl - doff;
    return 0;
}

/* RFC 9293 3.10.7.1: a segment for no connection gets a RST (unless it is one). */
static void reset_stray(struct dnstcp *t, const struct seg *s)
{
    if (s->flags & F_RST)
        return;
    if (s->flags & F_ACK)
        emit(t, s->src, s->sport, s->ack, 0, F_RST, 0, false, NULL, 0);
    else
        emit(t, s->src, s->sport, 0,
             s->seq + (uint32_t)s->len + !!(s->flags & F_SYN) + !!(s->flags & F_FIN),
             F_RST | F_ACK, 0, false, NULL, 0);
}

static void accept_syn(struct dnstcp *t, const struct seg *s, uint64_t now)
{
    size_t i;
    for (i = 0; i < DNSTCP_MAX_CONNS && t->c[i]; i++)
        ;
    struct conn *c = i < DNSTCP_MAX_CONNS ? malloc(sizeof(*c)) : NULL;
    if (!c) { /* over the cap (or out of memory): refuse */
        reset_stray(t, s);
        return;
    }
    memset(c, 0, offsetof(struct conn, rx));
    memcpy(c->peer, s->src, 4);
    c->port = s->sport;
    c->gen = ++t->next_gen & 0xffffffu;
    c->st = SYN_RCVD;
    c->rcv_nxt = s->seq + 1;
    randombytes_buf(&c->iss, sizeof(c->iss));
    c->snd_una = c->iss;
    c->snd_nxt = c->iss + 1;
    c->peer_wnd = s->wnd;
    c->mss = s->mss ? s->mss : DEFAULT_MSS;
    if (c->mss > DNSTCP_MSS)
        c->mss = DNSTCP_MSS;
    if (c->mss < 64)
        c->mss = 64;
    c->rto_ms = DNSTCP_RTO_MS;
    c->rto_at = now + c->rto_ms;
    c->last_active = now;
    t->c[i] = c;
    send_synack(t, c);
}

/* The ACK field of a segment on connection i. false if the connection is gone. */
static bool take_ack(struct dnstcp *t, size_t i, const struct seg *s, uint64_t now)
{
    struct conn *c = t->c[i];
    if (c->st == SYN_RCVD) {
        if (s->ack != c->iss + 1) {
            emit(t, s->src, s->sport, s->ack, 0, F_RST, 0, false, NULL, 0);
            conn_free(t, i);
            return false;
        }
        c->st = ESTAB;
        c->snd_una = c->snd_nxt;
        c->rto_at = 0;
        c->retries = 0;
    }
    if (SEQ_GT(s->ack, c->snd_nxt)) { /* acks what we never sent */
        send_ack(t, c);
        return true;
    }
    if (SEQ_LT(s->ack, c->snd_una))
        return true; /* old */
    c->peer_wnd = s->wnd;
    if (s->ack == c->snd_una)
        return true;
    size_t n = s->ack - c->snd_una, data = n < c->tx_len ? n : c->tx_len;
    memmove(c->tx, c->tx + data, c->tx_len - data);
    c->tx_len -= data;
    c->snd_una = s->ack;
    c->retries = 0;
    c->rto_ms = DNSTCP_RTO_MS;
    c->rto_at = c->snd_una != c->snd_nxt ? now + c->rto_ms : 0;
    return true;
}

/* Text and FIN of a segment. true if the peer should get an ACK for it. */
static bool take_data(struct conn *c, const struct seg *s)
{
    bool fin = s->flags & F_FIN;
    if (!s->len && !fin)
        return false;
    if (c->peer_fin || SEQ_GT(s->seq, c->rcv_nxt))
        return true; /* after their FIN, or out of order: a duplicate ACK says where we are */
    size_t off = c->rcv_nxt - s->seq;
    if (off > s->len)
        return true; /* entirely old, FIN included */
    size_t take = s->len - off, room = DNSTCP_RX_MAX - c->rx_len;
    if (take > room)
        take = room;
    memcpy(c->rx + c->rx_len, s->data + off, take);
    c->rx_len += take;
    c->rcv_nxt += (uint32_t)take;
    if (fin && off + take == s->len) {
        c->peer_fin = true;
        c->rcv_nxt++;
    }
    return true;
}

static void conn_input(struct dnstcp *t, size_t i, const struct seg *s, uint64_t now)
{
    struct conn *c = t->c[i];
    if (s->flags & F_RST) { /* RFC 5961 3.2: exact match closes, in window gets a challenge */
        uint32_t d = s->seq - c->rcv_nxt;
        if (s->seq == c->rcv_nxt)
            conn_free(t, i);
        else if (d < rcv_wnd(c))
            send_ack(t, c);
        return;
    }
    if (s->flags & F_SYN) {
        if (c->st == SYN_RCVD && s->seq + 1 == c->rcv_nxt)
            send_synack(t, c); /* our SYN-ACK was lost */
        else
            send_ack(t, c); /* RFC 5961 4.2: challenge ACK */
        return;
    }
    if (!(s->flags & F_ACK))
        return;
    c->last_active = now;
    if (!take_ack(t, i, s, now))
        return;
    bool ack_due = take_data(c, s);
    if (!consume(t, i))
        return;
    if (!flush(t, c, now, false) && ack_due)
        send_ack(t, c);
    if (c->peer_fin && c->fin_sent && c->snd_una == c->snd_nxt)
        conn_free(t, i);
}

int dnstcp_input(struct dnstcp *t, const uint8_t *pkt, size_t len, uint64_t now_ms)
{
    struct seg s;
    int ret = seg_parse(t, pkt, len, &s);
    if (ret)
        return ret;
    if (s.dport != DNS_PORT) {
        reset_stray(t, &s);
        return 0;
    }
    for (size_t i = 0; i < DNSTCP_MAX_CONNS; i++) {
        struct conn *c = t->c[i];
        if (c && c->port == s.sport && !memcmp(c->peer, s.src, 4)) {
            conn_input(t, i, &s, now_ms);
            return 0;
        }
    }
    if ((s.flags & (F_SYN | F_ACK | F_RST | F_FIN)) == F_SYN)
        accept_syn(t, &s, now_ms);
    else
        reset_stray(t, &s);
    return 0;
}

void dnstcp_answer(struct dnstcp *t, uint64_t tag, const uint8_t *msg, size_t len, uint64_t now_ms)
{
    size_t i = tag & 0xff;
    struct conn *c = i < DNSTCP_MAX_CONNS ? t->c[i] : NULL;
    if (!c || c->gen != tag >> 8 || !c->inflight)
        return;
    c->inflight--;
    append_answer(c, msg, len);
    if (consume(t, i))
        flush(t, c, now_ms, false);
}

void dnstcp_tick(struct dnstcp *t, uint64_t now)
{
    for (size_t i = 0; i < DNSTCP_MAX_CONNS; i++) {
        struct conn *c = t->c[i];
        if (!c)
            continue;
        if (c->fin_sent && now >= c->close_at) {
            conn_reset(t, i);
            continue;
        }
        if (c->st == ESTAB && !c->fin_queued && !c->tx_len && now - c->last_active >= DNSTCP_IDLE_MS) {
            c->fin_queued = true; /* idle: we close first */
            flush(t, c, now, false);
            continue;
        }
        if (!c->rto_at || now < c->rto_at)
            continue;
        if (++c->retries > DNSTCP_MAX_RETRIES) {
            conn_reset(t, i);
            continue;
        }
        c->rto_ms *= 2;
        c->rto_at = now + c->rto_ms;
        if (c->st == SYN_RCVD) {
            send_synack(t, c);
            continue;
        }
        c->snd_nxt = c->snd_una; /* go back to the oldest unacked byte */
        c->fin_sent = false;
        if (!flush(t, c, now, true))
            c->rto_at = 0;
    }
}
