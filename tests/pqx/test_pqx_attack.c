/* An on-path attacker against the pqx exchange: rewrites every field of every message, splices
 * messages from another pair, replays an old epoch and reflects messages back. No forged or
 * replayed message gets a PSK installed, and the victim's status says why. */
#include "tests/check.h"
#include "tests/pqx/pqx_harness.h"

#include <sodium.h>

static struct sim s;

struct field {
    const char *name;
    uint8_t kind;
    int offset; /* in the body; negative: in the fragment header (-offset) */
    int len;
    enum pqx_error want, alt; /* acceptable statuses of the victim */
};

static const struct field fields[] = {
    {"init.sender_index", PQX_KIND_INIT, 0, 4, PQX_ERR_BAD_MAC, PQX_ERR_BAD_MAC},
    {"init.epoch", PQX_KIND_INIT, 4, 8, PQX_ERR_BAD_MAC, PQX_ERR_BAD_MAC},
    {"init.eph", PQX_KIND_INIT, 12, 32, PQX_ERR_BAD_MAC, PQX_ERR_WEAK_KEY},
    {"init.ek", PQX_KIND_INIT, 44, 1184, PQX_ERR_BAD_MAC, PQX_ERR_BAD_MAC},
    {"init.ek.second_fragment", PQX_KIND_INIT, 1210, 10, PQX_ERR_BAD_MAC, PQX_ERR_BAD_MAC},
    {"init.mac", PQX_KIND_INIT, 1228, 32, PQX_ERR_BAD_MAC, PQX_ERR_BAD_MAC},
    {"resp.sender_index", PQX_KIND_RESP, 0, 4, PQX_ERR_BAD_MAC, PQX_ERR_BAD_MAC},
    {"resp.receiver_index", PQX_KIND_RESP, 4, 4, PQX_ERR_UNEXPECTED, PQX_ERR_UNEXPECTED},
    {"resp.epoch", PQX_KIND_RESP, 8, 8, PQX_ERR_UNEXPECTED, PQX_ERR_STALE_EPOCH},
    {"resp.eph", PQX_KIND_RESP, 16, 32, PQX_ERR_BAD_MAC, PQX_ERR_WEAK_KEY},
    {"resp.ct", PQX_KIND_RESP, 48, 1088, PQX_ERR_BAD_MAC, PQX_ERR_BAD_MAC},
    {"resp.mac", PQX_KIND_RESP, 1136, 32, PQX_ERR_BAD_MAC, PQX_ERR_BAD_MAC},
    {"confirm.receiver_index", PQX_KIND_CONFIRM, 0, 4, PQX_ERR_UNEXPECTED, PQX_ERR_UNEXPECTED},
    {"confirm.sender_index", PQX_KIND_CONFIRM, 4, 4, PQX_ERR_UNEXPECTED, PQX_ERR_UNEXPECTED},
    {"confirm.epoch", PQX_KIND_CONFIRM, 8, 8, PQX_ERR_UNEXPECTED, PQX_ERR_UNEXPECTED},
    {"confirm.mac", PQX_KIND_CONFIRM, 16, 32, PQX_ERR_BAD_MAC, PQX_ERR_BAD_MAC},
    {"hdr.version.init", PQX_KIND_INIT, -1, 1, PQX_ERR_BAD_MESSAGE, PQX_ERR_BAD_MESSAGE},
    {"hdr.kind.init", PQX_KIND_INIT, -2, 1, PQX_ERR_BAD_MESSAGE, PQX_ERR_BAD_MESSAGE},
    {"hdr.reserved.resp", PQX_KIND_RESP, -5, 1, PQX_ERR_BAD_MESSAGE, PQX_ERR_BAD_MESSAGE},
    {"hdr.total_len.resp", PQX_KIND_RESP, -7, 1, PQX_ERR_BAD_MESSAGE, PQX_ERR_BAD_MESSAGE},
    {"hdr.hint.confirm", PQX_KIND_CONFIRM, -12, 8, PQX_ERR_WRONG_PAIR, PQX_ERR_WRONG_PAIR},
};

struct tamper {
    const struct field *f;
    int designated, other;
    unsigned hits;
};

/* Only the designated peer initiates (the other's INITs are dropped), and every datagram of the
 * chosen kind has one byte in the middle of the chosen field flipped, retransmissions included. */
static bool tamper_hook(struct sim *sm, struct sim_dgram *d, void *ctx)
{
    struct tamper *t = ctx;
    const struct field *f = t->f;
    int at;

    (void)sm;
    if (d->from == t->other && d->buf[2] == PQX_KIND_INIT)
        return false;
    if (d->buf[2] != f->kind)
        return true;
    if (f->offset < 0) {
        at = -f->offset + f->len / 2;
    } else {
        int off = f->offset + f->len / 2;
        if (d->buf[3] != off / PQX_FRAG_PAYLOAD_MAX)
            return true;
        at = PQX_FRAG_HDR_LEN + off % PQX_FRAG_PAYLOAD_MAX;
    }
    if ((size_t)at >= d->len)
        return true;
    d->buf[at] ^= 0x01;
    t->hits++;
    return true;
}

static int designated_index(void)
{
    return s.node[0].peer[1].designated ? 0 : 1;
}

static void test_tamper_each_field(void)
{
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const struct field *f = &fields[i];
        struct tamper t = {.f = f};
        struct pqx_status st;
        int victim, ok;

        sim_init(&s, 2, (uint8_t)(0x90 + i), 0x33, NULL);
        t.designated = designated_index();
        t.other = 1 - t.designated;
        s.hook = tamper_hook;
        s.hook_ctx = &t;
        /* The receiver of the tampered message is the victim. */
        victim = f->kind == PQX_KIND_RESP ? t.designated : t.other;
        sim_run(&s, 2500); /* before the retransmissions run out */
        pqx_peer_status(&s.node[victim].peer[1 - victim], &st);
        ok = st.last_error == f->want || st.last_error == f->alt;
        if (!ok || !t.hits)
            fprintf(stderr, "%s: victim status %s, hits %u\n", f->name,
                    pqx_error_name(st.last_error), t.hits);
        CHECK(ok && t.hits > 0);
        CHECK(s.node[victim].pq_installs[1 - victim] == 0 && s.node[victim].blocked[1 - victim]);
        if (f->kind != PQX_KIND_CONFIRM)
            CHECK(s.node[1 - victim].pq_installs[victim] == 0);
        /* Still nothing after many retries. */
        sim_run(&s, 60000);
        CHECK(s.node[victim].pq_installs[1 - victim] == 0 && s.node[victim].blocked[1 - victim]);
        CHECK(s.node[victim].psk_kind[1 - victim] != PQX_PSK_PQ);
        /* The reason stays visible after the victim's own attempts time out, and the next retry
         * is scheduled within the backoff cap. */
        pqx_peer_status(&s.node[victim].peer[1 - victim], &st);
        CHECK(st.rx_error == f->want || st.rx_error == f->alt);
        if (st.exch == PQX_EXCH_IDLE)
            CHECK(st.next_exchange_ms >= s.now_ms &&
                  st.next_exchange_ms <= s.now_ms + PQX_BACKOFF_MAX_MS * 5 / 4);
        sim_fini(&s);
    }
}

/* Records every datagram (bounded), to be replayed or spliced later. */
struct recorder {
    struct sim_dgram d[96];
    size_t n;
    int drop_node; /* drop everything to/from this node (-1: none) */
};

static bool record_hook(struct sim *sm, struct sim_dgram *d, void *ctx)
{
    struct recorder *r = ctx;

    (void)sm;
    if (r->n < sizeof(r->d) / sizeof(r->d[0]))
        r->d[r->n++] = *d;
    return d->from != r->drop_node && d->to != r->drop_node;
}

static void test_splice_from_other_pair(void)
{
    static struct recorder r;
    struct pqx_status st;
    size_t spliced = 0;

    /* A=0, B=1, C=2. B is cut off; A and C complete their exchange. */
    r.n = 0;
    r.drop_node = 1;
    sim_init(&s, 3, 0x40, 0x44, NULL);
    s.hook = record_hook;
    s.hook_ctx = &r;
    sim_run(&s, 500);
    CHECK(s.node[0].psk_kind[2] == PQX_PSK_PQ && s.node[2].psk_kind[0] == PQX_PSK_PQ);
    s.hook = NULL;
    /* Forward A<->C messages to B as if from A: the pair hint does not match. */
    for (size_t i = 0; i < r.n; i++) {
        if (!((r.d[i].from == 0 && r.d[i].to == 2) || (r.d[i].from == 2 && r.d[i].to == 0)))
            continue;
        sim_inject(&s, 0, 1, r.d[i].buf, r.d[i].len);
        spliced++;
    }
    CHECK(spliced >= 3);
    sim_run(&s, 20);
    pqx_peer_status(&s.node[1].peer[0], &st);
    CHECK(st.last_error == PQX_ERR_WRONG_PAIR);
    /* Same, with the hint rewritten to what B expects from A: the MACs do not verify. */
    for (size_t i = 0; i < r.n; i++) {
        if (r.d[i].from != 2 || r.d[i].to != 0 || r.d[i].buf[2] == PQX_KIND_CONFIRM)
            continue;
        memcpy(r.d[i].buf + 12, s.node[1].peer[0].hint_in, PQX_HINT_LEN);
        sim_inject(&s, 0, 1, r.d[i].buf, r.d[i].len);
    }
    sim_run(&s, 20);
    pqx_peer_status(&s.node[1].peer[0], &st);
    CHECK(st.last_error == PQX_ERR_BAD_MAC || st.last_error == PQX_ERR_UNEXPECTED);
    CHECK(s.node[1].pq_installs[0] == 0 && s.node[1].pq_installs[2] == 0);
    CHECK(s.node[1].blocked[0] && s.node[1].blocked[2]);
    sim_fini(&s);
}

static void test_replay_and_reflection(void)
{
    static struct recorder r;
    struct pqx_status st;
    uint8_t psk0[32];
    unsigned inst0, inst1;
    int d_idx, o_idx;

    r.n = 0;
    r.drop_node = -1;
    sim_init(&s, 2, 0x50, 0x55, NULL);
    s.hook = record_hook;
    s.hook_ctx = &r;
    sim_run(&s, 500);
    CHECK(s.node[0].psk_kind[1] == PQX_PSK_PQ && s.node[1].psk_kind[0] == PQX_PSK_PQ);
    s.hook = NULL;
    d_idx = designated_index();
    o_idx = 1 - d_idx;
    sim_run(&s, PQX_ROTATE_MS + 2000); /* a second epoch completes */
    CHECK(s.node[0].pq_installs[1] == 2);
    memcpy(psk0, s.node[0].psk[1], 32);
    inst0 = s.node[0].pq_installs[1];
    inst1 = s.node[1].pq_installs[0];

    /* Replay every message of the first epoch to its original receiver. */
    for (size_t i = 0; i < r.n; i++) {
        if (r.d[i].buf[2] == PQX_KIND_INIT && r.d[i].from != d_idx)
            continue; /* the collision loser's INIT was never answered */
        sim_inject(&s, r.d[i].from, r.d[i].to, r.d[i].buf, r.d[i].len);
    }
    sim_run(&s, 50);
    pqx_peer_status(&s.node[o_idx].peer[d_idx], &st);
    CHECK(st.last_error == PQX_ERR_STALE_EPOCH);
    pqx_peer_status(&s.node[d_idx].peer[o_idx], &st);
    CHECK(st.last_error == PQX_ERR_STALE_EPOCH || st.last_error == PQX_ERR_UNEXPECTED);
    sim_run(&s, 3000);
    CHECK(s.node[0].pq_installs[1] == inst0 && s.node[1].pq_installs[0] == inst1);
    CHECK(memcmp(psk0, s.node[0].psk[1], 32) == 0 && memcmp(psk0, s.node[1].psk[0], 32) == 0);

    /* Reflect the designated peer's INIT back to it. */
    for (size_t i = 0; i < r.n; i++) {
        if (r.d[i].from != d_idx || r.d[i].buf[2] != PQX_KIND_INIT)
            continue;
        sim_inject(&s, o_idx, d_idx, r.d[i].buf, r.d[i].len);
    }
    sim_run(&s, 20);
    pqx_peer_status(&s.node[d_idx].peer[o_idx], &st);
    CHECK(st.last_error == PQX_ERR_WRONG_PAIR);
    /* With the hint fixed up, TH1 still binds S_I and S_R in order: bad MAC. */
    for (size_t i = 0; i < r.n; i++) {
        if (r.d[i].from != d_idx || r.d[i].buf[2] != PQX_KIND_INIT)
            continue;
        memcpy(r.d[i].buf + 12, s.node[d_idx].peer[o_idx].hint_in, PQX_HINT_LEN);
        r.d[i].buf[8] ^= 0x55; /* a fresh msg_id so reassembly starts over */
        sim_inject(&s, o_idx, d_idx, r.d[i].buf, r.d[i].len);
    }
    sim_run(&s, 20);
    pqx_peer_status(&s.node[d_idx].peer[o_idx], &st);
    CHECK(st.last_error == PQX_ERR_BAD_MAC);
    CHECK(st.exch == PQX_EXCH_IDLE);
    sim_run(&s, 3000);
    CHECK(s.node[0].pq_installs[1] == inst0 && s.node[1].pq_installs[0] == inst1);
    CHECK(memcmp(psk0, s.node[0].psk[1], 32) == 0);
    sim_fini(&s);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_tamper_each_field();
    test_splice_from_other_pair();
    test_replay_and_reflection();
    return check_finish("test_pqx_attack");
}
