/* DNS over TCP at the stub (agent/daemon/dnstcp.h): raw IPv4/TCP packets from a client
 * 100.64.0.2 into the responder, every packet it emits checked against a naive RFC 1071 checksum
 * written here, its seq/ack/flags/window checked against the client's view, and the DNS answers
 * checked by parsing them. Queries go through the real stub resolver (agent/dns/dns_stub.h) with
 * a small tailnet table; names it forwards become pending queries answered by the test. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agent/daemon/dnsio.h"
#include "agent/daemon/dnstcp.h"
#include "agent/dns/dns_stub.h"
#include "common/dns/dns_build.h"
#include "tests/check.h"

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10
#define MAX_OUT 512

static const uint8_t STUB[4] = {100, 100, 100, 100};
static const uint8_t CLI[4] = {100, 64, 0, 2};

struct out_pkt {
    uint8_t b[2048];
    size_t len;
};

/* What the responder's callbacks saw. */
static struct {
    struct out_pkt out[MAX_OUT];
    size_t n_out;
    struct dns_stub_table *table;
    uint64_t tags[64];
    size_t n_tags;
    size_t n_queries;
} W;

static void on_emit(void *ctx, const uint8_t *pkt, size_t len)
{
    (void)ctx;
    CHECK(len <= sizeof(W.out[0].b));
    if (W.n_out < MAX_OUT && len <= sizeof(W.out[0].b)) {
        memcpy(W.out[W.n_out].b, pkt, len);
        W.out[W.n_out++].len = len;
    }
}

static enum dnstcp_verdict on_query(void *ctx, uint64_t tag, const uint8_t *msg, size_t len,
                                    uint8_t *out, size_t *out_len)
{
    (void)ctx;
    W.n_queries++;
    switch (dns_stub_resolve(W.table, msg, len, out, DNSTCP_ANSWER_MAX, out_len)) {
    case DNS_STUB_ANSWER:
        return DNSTCP_ANSWERED;
    case DNS_STUB_FORWARD:
        if (W.n_tags < 64)
            W.tags[W.n_tags++] = tag;
        return DNSTCP_PENDING;
    default:
        return DNSTCP_DROPPED;
    }
}

static const struct dnstcp_ops OPS = {.emit = on_emit, .query = on_query};

/* --- the client's side: naive checksums and packet builders ----------------------------------- */

static uint32_t sum_words(const uint8_t *p, size_t n, uint32_t s)
{
    for (size_t i = 0; i < n; i++)
        s += i % 2 ? p[i] : (uint32_t)p[i] << 8;
    return s;
}

static uint16_t fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static uint16_t tcp_sum(const uint8_t src[4], const uint8_t dst[4], const uint8_t *seg, size_t n)
{
    uint32_t s = sum_words(src, 4, 0);
    s = sum_words(dst, 4, s);
    s += 6 + (uint32_t)n;
    return fold(sum_words(seg, n, s));
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    wr16(p, v >> 16);
    wr16(p + 2, v);
}

/* Builds and feeds one segment from CLI:port; mss != 0 adds the option. Returns dnstcp_input. */
static int feed(struct dnstcp *t, uint64_t now, uint16_t port, uint32_t seq, uint32_t ack,
                uint8_t flags, uint16_t wnd, uint16_t mss, const uint8_t *data, size_t n)
{
    uint8_t p[2048] = {0};
    size_t th = mss ? 24 : 20, tot = 20 + th + n;
    p[0] = 0x45;
    wr16(p + 2, (uint32_t)tot);
    p[8] = 64;
    p[9] = 6;
    memcpy(p + 12, CLI, 4);
    memcpy(p + 16, STUB, 4);
    wr16(p + 10, fold(sum_words(p, 20, 0)));
    uint8_t *s = p + 20;
    wr16(s, port);
    wr16(s + 2, 53);
    wr32(s + 4, seq);
    wr32(s + 8, ack);
    s[12] = (uint8_t)((th / 4) << 4);
    s[13] = flags;
    wr16(s + 14, wnd);
    if (mss) {
        s[20] = 2;
        s[21] = 4;
        wr16(s + 22, mss);
    }
    if (n)
        memcpy(s + th, data, n);
    wr16(s + 16, tcp_sum(CLI, STUB, s, th + n));
    return dnstcp_input(t, p, tot, now);
}

/* A segment the responder emitted, checked: IPv4 from the stub to the client, both checksums. */
struct tseg {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t wnd, mss;
    const uint8_t *data;
    size_t len;
};

static bool parse_out(const struct out_pkt *o, struct tseg *s)
{
    const uint8_t *p = o->b;
    bool ok = o->len >= 40 && p[0] == 0x45 && (size_t)(p[2] << 8 | p[3]) == o->len && p[9] == 6 &&
              !memcmp(p + 12, STUB, 4) && !memcmp(p + 16, CLI, 4) &&
              fold(sum_words(p, 20, 0)) == 0;
    CHECK(ok);
    if (!ok)
        return false;
    const uint8_t *h = p + 20;
    size_t tl = o->len - 20, doff = (size_t)(h[12] >> 4) * 4;
    CHECK(doff >= 20 && doff <= tl);
    CHECK(tcp_sum(STUB, CLI, h, tl) == 0);
    s->sport = (uint16_t)(h[0] << 8 | h[1]);
    s->dport = (uint16_t)(h[2] << 8 | h[3]);
    s->seq = rd32(h + 4);
    s->ack = rd32(h + 8);
    s->flags = h[13];
    s->wnd = (uint16_t)(h[14] << 8 | h[15]);
    s->mss = doff >= 24 && h[20] == 2 && h[21] == 4 ? (uint16_t)(h[22] << 8 | h[23]) : 0;
    s->data = h + doff;
    s->len = tl - doff;
    CHECK(s->sport == 53);
    CHECK(o->len <= 20 + 24 + DNSTCP_MSS);
    return true;
}

/* The only segment emitted since the mark; false (and a failed check) if not exactly one. */
static bool one_out(size_t mark, struct tseg *s)
{
    CHECK(W.n_out == mark + 1);
    return W.n_out == mark + 1 && parse_out(&W.out[mark], s);
}

/* A client connection as the client sees it. */
struct cli {
    uint16_t port;
    uint32_t snd; /* our next sequence number */
    uint32_t rcv; /* the server's next one */
    uint64_t now;
};

static bool connect_cli(struct dnstcp *t, struct cli *c, uint16_t port, uint16_t mss)
{
    struct tseg s;
    c->port = port;
    c->snd = 1000u * port;
    size_t mark = W.n_out;
    CHECK(feed(t, c->now, port, c->snd, 0, F_SYN, 65535, mss, NULL, 0) == 0);
    if (!one_out(mark, &s))
        return false;
    CHECK(s.flags == (F_SYN | F_ACK));
    CHECK(s.ack == c->snd + 1);
    CHECK(s.dport == port);
    CHECK(s.mss == DNSTCP_MSS);
    CHECK(s.wnd == DNSTCP_RX_MAX);
    c->snd++;
    c->rcv = s.seq + 1;
    mark = W.n_out;
    CHECK(feed(t, c->now, port, c->snd, c->rcv, F_ACK, 65535, 0, NULL, 0) == 0);
    CHECK(W.n_out == mark); /* a bare ACK is not answered */
    return true;
}

/* A DNS query in TCP framing (2-byte length first); returns its length. */
static size_t framed_query(uint8_t *buf, uint16_t id, const char *name, bool edns)
{
    struct dns_builder b;
    struct dns_name n;
    struct dns_header h = {.id = id, .flags = DNS_FLAG_RD, .qdcount = 1, .arcount = edns};
    CHECK(dns_name_from_text(&n, name) == 0);
    dns_builder_init(&b, buf + 2, 512);
    dns_builder_header(&b, &h);
    dns_builder_question(&b, &n, DNS_TYPE_A, DNS_CLASS_IN);
    if (edns)
        dns_builder_opt(&b, 1232, 0, 0, 0);
    CHECK(dns_builder_ok(&b));
    wr16(buf, (uint32_t)b.len);
    return b.len + 2;
}

/* Checks one framed answer at p (n bytes available): id, rcode, and the single A record when
 * addr is given. Returns the bytes it took. */
static size_t check_answer(const uint8_t *p, size_t n, uint16_t id, unsigned rcode, const uint8_t *addr)
{
    struct dns_header h;
    struct dns_name qn;
    uint16_t qt, qc;
    CHECK(n >= 2);
    if (n < 2)
        return n;
    size_t len = (size_t)p[0] << 8 | p[1], off = DNS_HDR_LEN;
    CHECK(len + 2 <= n);
    if (len + 2 > n || !dns_header_parse(p + 2, len, &h)) {
        CHECK(0);
        return n;
    }
    CHECK(h.id == id);
    CHECK(h.flags & DNS_FLAG_QR);
    CHECK(!(h.flags & DNS_FLAG_TC));
    CHECK(DNS_RCODE(h.flags) == rcode);
    CHECK(h.qdcount == 1 && dns_question_parse(p + 2, len, &off, &qn, &qt, &qc));
    if (addr) {
        struct dns_rr rr;
        CHECK(h.ancount == 1);
        CHECK(dns_rr_parse(p + 2, len, &off, &rr));
        CHECK(rr.type == DNS_TYPE_A && rr.rdlen == 4 && !memcmp(p + 2 + rr.rdata_off, addr, 4));
    }
    return len + 2;
}

static const uint8_t LAPTOP[4] = {100, 64, 0, 5};
static const uint8_t SERVER[4] = {100, 64, 0, 6};

static struct dnstcp *fresh(void)
{
    W.n_out = W.n_tags = W.n_queries = 0;
    return dnstcp_new(STUB, &OPS, NULL);
}

/* The data segments emitted since mark, appended in order (checking each continues the
 * stream); returns the bytes collected. */
static size_t collect(struct cli *c, size_t mark, uint8_t *buf, size_t cap, size_t max_seg)
{
    size_t got = 0;
    for (size_t i = mark; i < W.n_out; i++) {
        struct tseg s;
        if (!parse_out(&W.out[i], &s))
            continue;
        /* acks what the client had sent by then; the last one all of it */
        CHECK((int32_t)(c->snd - s.ack) >= 0 && (i + 1 < W.n_out || s.ack == c->snd));
        CHECK(s.flags & F_ACK);
        if (!s.len)
            continue;
        CHECK(s.seq == c->rcv + got);
        CHECK(s.len <= max_seg);
        CHECK(got + s.len <= cap);
        if (got + s.len <= cap)
            memcpy(buf + got, s.data, s.len);
        got += s.len;
    }
    return got;
}

static void test_handshake_and_one_query(void)
{
    struct dnstcp *t = fresh();
    struct cli c = {.now = 1000}, c2 = {.now = 1000};
    uint8_t q[600], buf[4096];
    struct tseg s;
    CHECK(connect_cli(t, &c, 40000, 1460));
    CHECK(connect_cli(t, &c2, 40001, 1460));
    CHECK(c.rcv != c2.rcv); /* random ISNs (a 2^-32 chance of a false alarm) */
    CHECK(dnstcp_conns(t) == 2);

    size_t n = framed_query(q, 0x1234, "laptop.acme.ztna.test", false);
    size_t mark = W.n_out;
    CHECK(feed(t, c.now, c.port, c.snd, c.rcv, F_ACK | F_PSH, 65535, 0, q, n) == 0);
    c.snd += (uint32_t)n;
    CHECK(one_out(mark, &s));
    CHECK(s.flags == (F_ACK | F_PSH));
    CHECK(s.seq == c.rcv && s.ack == c.snd);
    CHECK(s.wnd == DNSTCP_RX_MAX); /* the query was consumed */
    check_answer(s.data, s.len, 0x1234, DNS_RCODE_NOERROR, LAPTOP);
    c.rcv += (uint32_t)s.len;
    /* the short name through the search domain, with EDNS */
    n = framed_query(q, 0x99, "server", true);
    mark = W.n_out;
    CHECK(feed(t, c.now, c.port, c.snd, c.rcv, F_ACK | F_PSH, 65535, 0, q, n) == 0);
    c.snd += (uint32_t)n;
    size_t got = collect(&c, mark, buf, sizeof(buf), DNSTCP_MSS);
    CHECK(check_answer(buf, got, 0x99, DNS_RCODE_NOERROR, SERVER) == got);
    /* unknown tailnet name: NXDOMAIN from the stub, never forwarded */
    c.rcv += (uint32_t)got;
    n = framed_query(q, 0x77, "nosuch.acme.ztna.test", false);
    mark = W.n_out;
    CHECK(feed(t, c.now, c.port, c.snd, c.rcv, F_ACK, 65535, 0, q, n) == 0);
    c.snd += (uint32_t)n;
    CHECK(one_out(mark, &s));
    check_answer(s.data, s.len, 0x77, DNS_RCODE_NXDOMAIN, NULL);
    CHECK(W.n_tags == 0);
    /* a duplicate SYN-ACK request after establishment gets a challenge ACK, no new connection */
    mark = W.n_out;
    CHECK(feed(t, c.now, c.port, 5, 0, F_SYN, 65535, 0, NULL, 0) == 0);
    CHECK(one_out(mark, &s) && s.flags == F_ACK && s.ack == c.snd);
    CHECK(dnstcp_conns(t) == 2);
    dnstcp_free(t);
}

static void test_pipelined_split(void)
{
    struct dnstcp *t = fresh();
    struct cli c = {.now = 5000};
    uint8_t q[1200], buf[4096];
    CHECK(connect_cli(t, &c, 40010, 1460));
    size_t n1 = framed_query(q, 1, "laptop.acme.ztna.test", false);
    size_t n2 = framed_query(q + n1, 2, "server.acme.ztna.test", true);
    size_t cuts[] = {0, 1, n1 + 1, n1 + n2}; /* 1 byte, then the rest of #1 and #2's length's first byte */
    size_t mark = W.n_out;
    for (size_t k = 0; k + 1 < 4; k++) {
        size_t before = W.n_out;
        CHECK(feed(t, c.now, c.port, c.snd, c.rcv, F_ACK, 65535, 0, q + cuts[k],
                   cuts[k + 1] - cuts[k]) == 0);
        c.snd += (uint32_t)(cuts[k + 1] - cuts[k]);
        struct tseg s;
        CHECK(W.n_out == before + 1); /* an ACK, or the answer carrying it */
        if (parse_out(&W.out[before], &s))
            CHECK(s.ack == c.snd);
        if (k == 0)
            CHECK(s.len == 0 && s.wnd == DNSTCP_RX_MAX - 1); /* buffered, window shrunk */
    }
    CHECK(W.n_queries == 2);
    size_t got = collect(&c, mark, buf, sizeof(buf), DNSTCP_MSS);
    size_t a1 = check_answer(buf, got, 1, DNS_RCODE_NOERROR, LAPTOP);
    size_t a2 = check_answer(buf + a1, got - a1, 2, DNS_RCODE_NOERROR, SERVER);
    CHECK(a1 + a2 == got);
    dnstcp_free(t);
}

static void test_out_of_order_and_duplicates(void)
{
    struct dnstcp *t = fresh();
    struct cli c = {.now = 7000};
    uint8_t q[1200];
    struct tseg s;
    CHECK(connect_cli(t, &c, 40020, 1460));
    size_t n = framed_query(q, 0x42, "laptop.acme.ztna.test", false);
    size_t half = n / 2;
    /* the second half first: dropped, a duplicate ACK still asks for the first byte */
    size_t mark = W.n_out;
    CHECK(feed(t, c.now, c.port, c.snd + (uint32_t)half, c.rcv, F_ACK, 65535, 0, q + half, n - half) == 0);
    CHECK(one_out(mark, &s) && s.ack == c.snd && s.len == 0);
    CHECK(W.n_queries == 0);
    /* the first half */
    mark = W.n_out;
    CHECK(feed(t, c.now, c.port, c.snd, c.rcv, F_ACK, 65535, 0, q, half) == 0);
    CHECK(one_out(mark, &s) && s.ack == c.snd + half);
    /* the first half again (a retransmission): a duplicate ACK, nothing taken twice */
    mark = W.n_out;
    CHECK(feed(t, c.now, c.port, c.snd, c.rcv, F_ACK, 65535, 0, q, half) == 0);
    CHECK(one_out(mark, &s) && s.ack == c.snd + half && s.wnd == DNSTCP_RX_MAX - half);
    /* everything from the start (overlapping what we have): only the new bytes are taken */
    mark = W.n_out;
    CHECK(feed(t, c.now, c.port, c.snd, c.rcv, F_ACK, 65535, 0, q, n) == 0);
    c.snd += (uint32_t)n;
    CHECK(one_out(mark, &s) && s.ack == c.snd && s.seq == c.rcv);
    check_answer(s.data, s.len, 0x42, DNS_RCODE_NOERROR, LAPTOP);
    CHECK(W.n_queries == 1);
    dnstcp_free(t);
}

static void test_retransmit_and_give_up(void)
{
    struct dnstcp *t = fresh();
    struct cli c = {.now = 10000};
    uint8_t q[600];
    struct tseg s, r;
    CHECK(connect_cli(t, &c, 40030, 1460));
    size_t n = framed_query(q, 7, "laptop.acme.ztna.test", false);
    size_t mark = W.n_out;
    CHECK(feed(t, c.now, c.port, c.snd, c.rcv, F_ACK, 65535, 0, q, n) == 0);
    c.snd += (uint32_t)n;
    CHECK(one_out(mark, &s));
    /* the client's ACK is lost: nothing before the RTO, the same segment after it */
    mark = W.n_out;
    dnstcp_tick(t, c.now + DNSTCP_RTO_MS - 1);
    CHECK(W.n_out == mark);
    dnstcp_tick(t, c.now + DNSTCP_RTO_MS);
    CHECK(one_out(mark, &r));
    CHECK(r.seq == s.seq && r.len == s.len && !memcmp(r.data, s.data, s.len) && r.ack == c.snd);
    /* backoff: the next one comes 2*RTO later */
    mark = W.n_out;
    dnstcp_tick(t, c.now + 2 * DNSTCP_RTO_MS);
    CHECK(W.n_out == mark);
    dnstcp_tick(t, c.now + 3 * DNSTCP_RTO_MS);
    CHECK(one_out(mark, &r) && r.seq == s.seq);
    /* the ACK arrives: no more retransmissions */
    CHECK(feed(t, c.now, c.port, c.snd, c.rcv + (uint32_t)s.len, F_ACK, 65535, 0, NULL, 0) == 0);
    c.rcv += (uint32_t)s.len;
    mark = W.n_out;
    for (uint64_t ms = 0; ms < 5000; ms += 50)
        dnstcp_tick(t, c.now + 3 * DNSTCP_RTO_MS + ms);
    CHECK(W.n_out == mark);

    /* a second answer whose ACKs never come: bounded retries, then RST and the slot freed */
    mark = W.n_out;
    uint64_t now = c.now + 6000;
    CHECK(feed(t, now, c.port, c.snd, c.rcv, F_ACK, 65535, 0, q, n) == 0);
    c.snd += (uint32_t)n;
    for (uint64_t ms = 0; ms < 60000 && dnstcp_conns(t); ms += 50)
        dnstcp_tick(t, now + ms);
    CHECK(dnstcp_conns(t) == 0);
    CHECK(W.n_out == mark + 1 + DNSTCP_MAX_RETRIES + 1);
    CHECK(parse_out(&W.out[W.n_out - 1], &r));
    CHECK((r.flags & F_RST) && r.seq == c.rcv + s.len);
    dnstcp_free(t);
}

/* The SYN-ACK is lost: retransmitted on the timer and on a repeated SYN, same ISN; the client
 * never completing the handshake costs the slot only for the bounded retries. */
static void test_synack_retransmit(void)
{
    struct dnstcp *t = fresh();
    struct tseg s, r;
    CHECK(feed(t, 100, 40070, 5000, 0, F_SYN, 65535, 1460, NULL, 0) == 0);
    CHECK(one_out(0, &s) && s.flags == (F_SYN | F_ACK) && s.ack == 5001);
    dnstcp_tick(t, 100 + DNSTCP_RTO_MS);
    CHECK(one_out(1, &r) && r.flags == (F_SYN | F_ACK) && r.seq == s.seq && r.ack == 5001);
    CHECK(feed(t, 400, 40070, 5000, 0, F_SYN, 65535, 1460, NULL, 0) == 0);
    CHECK(one_out(2, &r) && r.flags == (F_SYN | F_ACK) && r.seq == s.seq);
    /* a wrong ACK for it: RST, slot freed */
    CHECK(feed(t, 400, 40070, 5001, s.seq + 7, F_ACK, 65535, 0, NULL, 0) == 0);
    CHECK(one_out(3, &r) && r.flags == F_RST && r.seq == s.seq + 7 && dnstcp_conns(t) == 0);
    /* nobody answers at all: DNSTCP_MAX_RETRIES SYN-ACKs, then RST */
    W.n_out = 0;
    CHECK(feed(t, 1000, 40071, 9000, 0, F_SYN, 65535, 1460, NULL, 0) == 0);
    for (uint64_t ms = 1000; ms < 60000 && dnstcp_conns(t); ms += 50)
        dnstcp_tick(t, ms);
    CHECK(dnstcp_conns(t) == 0 && W.n_out == 1 + DNSTCP_MAX_RETRIES + 1);
    CHECK(parse_out(&W.out[W.n_out - 1], &r) && (r.flags & F_RST));
    dnstcp_free(t);
}

static void test_rst(void)
{
    struct dnstcp *t = fresh();
    struct cli c = {.now = 20000};
    struct tseg s;
    CHECK(connect_cli(t, &c, 40040, 0));
    /* out of window: ignored; in window but not exact: challenge ACK (RFC 5961) */
    size_t mark = W.n_out;
    CHECK(feed(t, c.now, c.port, c.snd + 100000, 0, F_RST, 0, 0, NULL, 0) == 0);
    CHECK(W.n_out == mark && dnstcp_conns(t) == 1);
    CHECK(feed(t, c.now, c.port, c.snd + 10, 0, F_RST, 0, 0, NULL, 0) == 0);
    CHECK(one_out(mark, &s) && s.flags == F_ACK && s.ack == c.snd && dnstcp_conns(t) == 1);
    /* exact: closed, silently */
    mark = W.n_out;
    CHECK(feed(t, c.now, c.port, c.snd, 0, F_RST, 0, 0, NULL, 0) == 0);
    CHECK(W.n_out == mark && dnstcp_conns(t) == 0);
    /* a segment for the closed connection now gets a RST from the ACK it carries */
    CHECK(feed(t, c.now, c.port, c.snd, c.rcv, F_ACK, 65535, 0, NULL, 0) == 0);
    CHECK(one_out(mark, &s) && s.flags == F_RST && s.seq == c.rcv);
    dnstcp_free(t);
}

static void test_conn_cap_and_bad_packets(void)
{
    struct dnstcp *t = fresh();
    struct cli c[DNSTCP_MAX_CONNS + 1];
    struct tseg s;
    for (int i = 0; i < DNSTCP_MAX_CONNS; i++) {
        c[i].now = 30000;
        CHECK(connect_cli(t, &c[i], (uint16_t)(41000 + i), 1460));
    }
    CHECK(dnstcp_conns(t) == DNSTCP_MAX_CONNS);
    size_t mark = W.n_out;
    CHECK(feed(t, 30000, 42000, 777, 0, F_SYN, 65535, 1460, NULL, 0) == 0);
    CHECK(one_out(mark, &s) && s.flags == (F_RST | F_ACK) && s.ack == 778 && s.dport == 42000);
    CHECK(dnstcp_conns(t) == DNSTCP_MAX_CONNS);
    /* one closes (RST): the next SYN is taken */
    CHECK(feed(t, 30000, c[3].port, c[3].snd, 0, F_RST, 0, 0, NULL, 0) == 0);
    mark = W.n_out;
    CHECK(feed(t, 30000, 42000, 777, 0, F_SYN, 65535, 1460, NULL, 0) == 0);
    CHECK(one_out(mark, &s) && s.flags == (F_SYN | F_ACK));
    CHECK(dnstcp_conns(t) == DNSTCP_MAX_CONNS);

    /* a bad TCP checksum: dropped, nothing sent */
    uint8_t p[64] = {0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6};
    memcpy(p + 12, CLI, 4);
    memcpy(p + 16, STUB, 4);
    wr16(p + 10, fold(sum_words(p, 20, 0)));
    wr16(p + 20, 40100);
    wr16(p + 22, 53);
    p[32] = 0x50;
    p[33] = F_SYN;
    wr16(p + 36, 0xbeef); /* not the checksum */
    mark = W.n_out;
    CHECK(dnstcp_input(t, p, 40, 30000) == -EINVAL && W.n_out == mark);
    /* fixed, but to port 80 of the stub: RST */
    wr16(p + 22, 80);
    wr16(p + 36, 0);
    wr16(p + 36, tcp_sum(CLI, STUB, p + 20, 20));
    CHECK(dnstcp_input(t, p, 40, 30000) == 0);
    CHECK(one_out(mark, &s) && (s.flags & F_RST) && s.dport == 40100);
    /* UDP, another address: not ours */
    p[9] = 17;
    CHECK(dnstcp_input(t, p, 40, 30000) == -ENOENT);
    p[9] = 6;
    p[19] = 99;
    CHECK(dnstcp_input(t, p, 40, 30000) == -ENOENT);
    dnstcp_free(t);
}

static void test_idle_and_fin(void)
{
    struct dnstcp *t = fresh();
    struct cli c = {.now = 50000};
    uint8_t q[600], buf[4096];
    struct tseg s;
    CHECK(connect_cli(t, &c, 40050, 1460));
    /* idle: FIN from us after DNSTCP_IDLE_MS, not before */
    size_t mark = W.n_out;
    dnstcp_tick(t, c.now + DNSTCP_IDLE_MS - 1);
    CHECK(W.n_out == mark);
    dnstcp_tick(t, c.now + DNSTCP_IDLE_MS);
    CHECK(one_out(mark, &s) && s.flags == (F_FIN | F_ACK) && s.seq == c.rcv && s.ack == c.snd);
    c.now += DNSTCP_IDLE_MS;
    /* the client acks it and closes its side: we ack that and forget the connection */
    mark = W.n_out;
    CHECK(feed(t, c.now, c.port, c.snd, c.rcv + 1, F_ACK | F_FIN, 65535, 0, NULL, 0) == 0);
    CHECK(one_out(mark, &s) && s.flags == F_ACK && s.ack == c.snd + 1);
    CHECK(dnstcp_conns(t) == 0);

    /* idle FIN acked but the client never closes: RST after DNSTCP_CLOSE_MS */
    CHECK(connect_cli(t, &c, 40051, 1460));
    dnstcp_tick(t, c.now + DNSTCP_IDLE_MS);
    CHECK(feed(t, c.now, c.port, c.snd, c.rcv + 1, F_ACK, 65535, 0, NULL, 0) == 0);
    mark = W.n_out;
    dnstcp_tick(t, c.now + DNSTCP_IDLE_MS + DNSTCP_CLOSE_MS);
    CHECK(one_out(mark, &s) && (s.flags & F_RST) && dnstcp_conns(t) == 0);

    /* query and FIN in one segment: the answer, then our FIN, then gone on the last ACK */
    c.now += 20000;
    CHECK(connect_cli(t, &c, 40052, 1460));
    size_t n = framed_query(q, 0x55, "laptop.acme.ztna.test", false);
    mark = W.n_out;
    CHECK(feed(t, c.now, c.port, c.snd, c.rcv, F_ACK | F_FIN, 65535, 0, q, n) == 0);
    c.snd += (uint32_t)n + 1;
    size_t got = collect(&c, mark, buf, sizeof(buf), DNSTCP_MSS);
    CHECK(check_answer(buf, got, 0x55, DNS_RCODE_NOERROR, LAPTOP) == got);
    CHECK(parse_out(&W.out[W.n_out - 1], &s) && (s.flags & F_FIN));
    CHECK(dnstcp_conns(t) == 1);
    CHECK(feed(t, c.now, c.port, c.snd, c.rcv + (uint32_t)got + 1, F_ACK, 65535, 0, NULL, 0) == 0);
    CHECK(dnstcp_conns(t) == 0);
    dnstcp_free(t);
}

/* Forwarded names: answered later, in segments of the peer's MSS, within its window; an answer
 * for a closed connection is dropped; more queries than DNSTCP_MAX_INFLIGHT wait their turn. */
static void test_pending_segmentation_backpressure(void)
{
    struct dnstcp *t = fresh();
    struct cli c = {.now = 90000};
    uint8_t q[4096], big[3000], buf[8192];
    struct tseg s;
    CHECK(connect_cli(t, &c, 40060, 536));
    size_t n = 0;
    for (int i = 0; i < DNSTCP_MAX_INFLIGHT + 1; i++)
        n += framed_query(q + n, (uint16_t)(100 + i), "www.example.test", false);
    size_t mark = W.n_out;
    CHECK(feed(t, c.now, c.port, c.snd, c.rcv, F_ACK, 1000, 0, q, n) == 0);
    c.snd += (uint32_t)n;
    CHECK(one_out(mark, &s) && s.len == 0 && s.ack == c.snd);
    CHECK(W.n_tags == DNSTCP_MAX_INFLIGHT); /* the fifth waits in the receive buffer */
    /* a 3000-byte answer to the first: 536-byte segments, no more than the 1000-byte window */
    memset(big, 0, sizeof(big));
    big[0] = 0;
    big[1] = 100;
    big[2] = 0x80;
    mark = W.n_out;
    dnstcp_answer(t, W.tags[0], big, sizeof(big), c.now);
    size_t got = collect(&c, mark, buf, sizeof(buf), 536);
    CHECK(got == 1000);
    CHECK(W.n_tags == DNSTCP_MAX_INFLIGHT); /* the answer still holds the room the fifth needs */
    /* the client acks and opens its window: the rest follows */
    c.rcv += (uint32_t)got;
    mark = W.n_out;
    CHECK(feed(t, c.now, c.port, c.snd, c.rcv, F_ACK, 65535, 0, NULL, 0) == 0);
    got = collect(&c, mark, buf + 1000, sizeof(buf) - 1000, 536);
    CHECK(got == 2 + sizeof(big) - 1000);
    CHECK(buf[0] == sizeof(big) >> 8 && buf[1] == (sizeof(big) & 0xff) && !memcmp(buf + 2, big, sizeof(big)));
    CHECK(W.n_tags == DNSTCP_MAX_INFLIGHT);
    /* all of it acked: room again, the fifth query goes out */
    c.rcv += (uint32_t)got;
    CHECK(feed(t, c.now, c.port, c.snd, c.rcv, F_ACK, 65535, 0, NULL, 0) == 0);
    CHECK(W.n_tags == DNSTCP_MAX_INFLIGHT + 1);
    /* an answer under a stale tag (a connection that is gone) is ignored */
    uint64_t stale = W.tags[1];
    CHECK(feed(t, c.now, c.port, c.snd, 0, F_RST, 0, 0, NULL, 0) == 0);
    CHECK(dnstcp_conns(t) == 0);
    CHECK(connect_cli(t, &c, 40060, 536)); /* same slot, new generation */
    mark = W.n_out;
    dnstcp_answer(t, stale, big, 100, c.now);
    CHECK(W.n_out == mark);
    /* a zero-length or oversized query length prefix: RST */
    uint8_t bad[2] = {0, 0};
    CHECK(feed(t, c.now, c.port, c.snd, c.rcv, F_ACK, 65535, 0, bad, 2) == 0);
    CHECK(one_out(mark, &s) && (s.flags & F_RST) && dnstcp_conns(t) == 0);
    dnstcp_free(t);
}

/* The answer-size helpers of dnsio: TC stand-ins, the OPT added for TCP and stripped after. */
static void test_size_helpers(void)
{
    uint8_t q[600], out[600], back[700];
    size_t n = framed_query(q, 0xabcd, "www.example.test", false) - 2, out_len = 0;
    bool added = false;
    CHECK(dnsio_edns_for_tcp(q + 2, n, out, sizeof(out), &out_len, &added) == 0);
    CHECK(added && out_len == n + 11 && out[11] == 1);
    struct dns_query pq;
    CHECK(dns_query_parse(out, out_len, &pq) == 0 && pq.edns.present && pq.edns.udp_size == 4096);
    /* an answer to it carrying the OPT loses it again */
    memcpy(back, out, out_len);
    back[2] |= 0x80;
    CHECK(dnsio_strip_opt(back, out_len) == n && back[11] == 0 && !memcmp(back + 3, q + 5, n - 3));
    /* a query with a small OPT gets 4096, nothing added */
    n = framed_query(q, 1, "www.example.test", true) - 2;
    CHECK(dnsio_edns_for_tcp(q + 2, n, out, sizeof(out), &out_len, &added) == 0);
    CHECK(!added && out_len == n && dns_query_parse(out, out_len, &pq) == 0 && pq.edns.udp_size == 4096);
    /* TC: header with TC, the question, the OPT if the client had one */
    size_t tl = dnsio_truncate(q + 2, n, true, back, sizeof(back));
    CHECK(tl == n && dns_query_parse(back, tl, &pq) == 0 && (pq.hdr.flags & DNS_FLAG_TC) &&
          (pq.hdr.flags & DNS_FLAG_QR) && pq.edns.present && pq.hdr.id == 1);
    CHECK(dnsio_truncate(q + 2, 5, false, back, sizeof(back)) == 0);
    CHECK(dnsio_edns_for_tcp(q + 2, 5, out, sizeof(out), &out_len, &added) == -EBADMSG);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    W.table = dns_stub_table_new("acme.ztna.test");
    struct in_addr a, b;
    memcpy(&a, LAPTOP, 4);
    memcpy(&b, SERVER, 4);
    CHECK(W.table && dns_stub_table_add_a(W.table, "laptop.acme.ztna.test", a) == 0 &&
          dns_stub_table_add_a(W.table, "server.acme.ztna.test", b) == 0);
    dns_stub_table_seal(W.table);
    test_handshake_and_one_query();
    test_pipelined_split();
    test_out_of_order_and_duplicates();
    test_retransmit_and_give_up();
    test_synack_retransmit();
    test_rst();
    test_conn_cap_and_bad_packets();
    test_idle_and_fin();
    test_pending_segmentation_backpressure();
    test_size_helpers();
    dns_stub_table_free(W.table);
    return check_finish("test_dnstcp");
}
