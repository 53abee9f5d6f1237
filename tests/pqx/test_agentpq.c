/* The agent glue over a fake backend: two agentpq instances wired back to back exchange PSKs,
 * block until then, route by pair hint, learn a missing endpoint from an authenticated INIT, report
 * status, forget removed peers, and restart peers when the private key changes. */
#include "agent/pq/agentpq.h"
#include "tests/check.h"

#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>

struct fake {
    struct agentpq *pq, *other;
    uint8_t psk[32];
    int installs;
    bool blocked, no_endpoint;
    int endpoint_sets;
    int handshakes;     /* handshake_now calls */
    int sends_after_hs; /* datagrams sent after the last handshake_now (CONFIRM must precede it) */
    uint64_t now;
    uint8_t init[2][PQX_FRAG_HDR_LEN + PQX_FRAG_PAYLOAD_MAX]; /* last INIT sent */
    size_t init_len[2];
};

static int fk_install(void *ctx, const uint8_t peer[static 32], const uint8_t psk[static 32])
{
    struct fake *f = ctx;
    (void)peer;
    memcpy(f->psk, psk, 32);
    f->installs++;
    return 0;
}

static int fk_block(void *ctx, const uint8_t peer[static 32], bool blocked)
{
    struct fake *f = ctx;
    (void)peer;
    f->blocked = blocked;
    return 0;
}

static int fk_send(void *ctx, const uint8_t peer[static 32], const uint8_t *buf, size_t len)
{
    struct fake *f = ctx;
    struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons(51820)};
    (void)peer;
    if (f->handshakes)
        f->sends_after_hs++;
    if (len >= 4 && buf[2] == PQX_KIND_INIT && buf[3] < 2 && len <= sizeof(f->init[0])) {
        memcpy(f->init[buf[3]], buf, len);
        f->init_len[buf[3]] = len;
    }
    if (f->no_endpoint)
        return -EDESTADDRREQ;
    /* Delivered synchronously: the pair hint routes it. */
    agentpq_receive(f->other, (const struct sockaddr *)&from, sizeof(from), buf, len, f->now,
                    f->now + 1700000000000ULL);
    return 0;
}

static int fk_endpoint(void *ctx, const uint8_t peer[static 32], const struct sockaddr *addr,
                       socklen_t addr_len)
{
    struct fake *f = ctx;
    (void)peer;
    if (addr_len != sizeof(struct sockaddr_in) || addr->sa_family != AF_INET)
        return -EINVAL;
    f->no_endpoint = false;
    f->endpoint_sets++;
    return 0;
}

static int fk_handshake(void *ctx, const uint8_t peer[static 32])
{
    struct fake *f = ctx;
    (void)peer;
    f->handshakes++;
    f->sends_after_hs = 0;
    return 0;
}

int main(void)
{
    static struct fake a, b;
    uint8_t ka[32], kb[32], pa[32], pb[32], kc[32];
    struct agentpq_backend ba = {fk_install, fk_block, fk_send, fk_endpoint, &a, fk_handshake, NULL};
    struct agentpq_backend bb = {fk_install, fk_block, fk_send, fk_endpoint, &b, fk_handshake, NULL};
    struct pqx_status st;
    char status[512];
    size_t n;

    if (sodium_init() < 0)
        return 1;
    randombytes_buf(ka, 32);
    randombytes_buf(kb, 32);
    crypto_scalarmult_base(pa, ka);
    crypto_scalarmult_base(pb, kb);
    a.pq = agentpq_new(&ba, NULL);
    b.pq = agentpq_new(&bb, NULL);
    CHECK(a.pq && b.pq);
    a.other = b.pq;
    b.other = a.pq;
    b.no_endpoint = true; /* b learns a's address from a's authenticated INIT */
    CHECK(agentpq_peer_add(a.pq, pb, false, 0) == -EINVAL); /* no key yet */
    CHECK(agentpq_set_private_key(a.pq, ka, 0) == 0);
    CHECK(agentpq_set_private_key(b.pq, kb, 0) == 0);
    CHECK(agentpq_peer_add(a.pq, pb, false, 0) == 0);
    CHECK(a.blocked && a.installs == 1);
    CHECK(agentpq_peer_add(b.pq, pa, false, 0) == 0);
    CHECK(agentpq_peer_add(b.pq, pa, false, 0) == 0); /* idempotent */
    CHECK(agentpq_peer_count(b.pq) == 1);
    for (uint64_t t = 0; t <= 1000; t += AGENTPQ_TICK_MS) {
        a.now = b.now = t;
        agentpq_tick(a.pq, t, t + 1700000000000ULL);
        agentpq_tick(b.pq, t, t + 1700000000000ULL);
    }
    CHECK(!a.blocked && !b.blocked);
    CHECK(memcmp(a.psk, b.psk, 32) == 0);
    CHECK(b.endpoint_sets == 1 && a.endpoint_sets == 0);
    /* Exactly one side asked for a WireGuard handshake: the exchange's initiator, after its
     * CONFIRM (nothing was sent after the request). */
    CHECK(a.handshakes + b.handshakes == 1);
    CHECK(a.sends_after_hs == 0 && b.sends_after_hs == 0);
    /* A forged INIT (one byte of ek changed, fresh msg_id) never moves the endpoint. */
    {
        struct sockaddr_in evil = {.sin_family = AF_INET, .sin_port = htons(666)};
        b.no_endpoint = true;
        for (int i = 0; i < 2; i++) {
            CHECK(a.init_len[i] > PQX_FRAG_HDR_LEN);
            a.init[i][8] ^= 0x5a;
            a.init[i][PQX_FRAG_HDR_LEN + 100] ^= 1;
            agentpq_receive(b.pq, (const struct sockaddr *)&evil, sizeof(evil), a.init[i],
                            a.init_len[i], 1010, 1700000001010ULL);
        }
        CHECK(b.endpoint_sets == 1 && b.no_endpoint);
        CHECK(agentpq_peer_status(b.pq, pa, &st) == 0 && st.last_error == PQX_ERR_BAD_MAC);
        CHECK(st.psk == PQX_PSK_PQ); /* and the installed PSK stays */
        b.no_endpoint = false;
    }
    CHECK(agentpq_peer_status(a.pq, pb, &st) == 0 && st.psk == PQX_PSK_PQ && st.exchanges == 1);
    n = agentpq_status_format(a.pq, status, sizeof(status), 1000);
    CHECK(n > 0 && n < sizeof(status) && strstr(status, "psk=pq") && strstr(status, "blocked=0"));
    CHECK(strstr(status, " rx_error=none ") && strstr(status, " next_in_ms="));
    /* Restart (the data plane re-created the peer): back to a random PSK, blocked, and a new
     * exchange brings it back. */
    CHECK(agentpq_peer_restart(a.pq, pb, 1000) == 0);
    CHECK(a.blocked && agentpq_peer_status(a.pq, pb, &st) == 0 && st.psk == PQX_PSK_NONE &&
          st.exchanges == 0 && st.next_exchange_ms == 1000);
    for (uint64_t t = 1000; t <= 3000; t += AGENTPQ_TICK_MS) {
        a.now = b.now = t;
        agentpq_tick(a.pq, t, t + 1700000000000ULL);
        agentpq_tick(b.pq, t, t + 1700000000000ULL);
    }
    CHECK(!a.blocked && memcmp(a.psk, b.psk, 32) == 0);
    CHECK(agentpq_peer_status(a.pq, pb, &st) == 0 && st.psk == PQX_PSK_PQ);
    /* A key change restarts the peer: random PSK, blocked. */
    randombytes_buf(kc, 32);
    CHECK(agentpq_set_private_key(a.pq, kc, 1100) == 0);
    CHECK(a.blocked && agentpq_peer_status(a.pq, pb, &st) == 0 && st.psk == PQX_PSK_NONE);
    /* Explicit classical-only peer. */
    agentpq_peer_remove(a.pq, pb);
    CHECK(agentpq_peer_count(a.pq) == 0 && agentpq_peer_status(a.pq, pb, &st) == -ENOENT);
    CHECK(agentpq_peer_add(a.pq, pb, true, 1200) == 0);
    CHECK(!a.blocked && agentpq_peer_status(a.pq, pb, &st) == 0 && st.classical_only);
    n = agentpq_status_format(a.pq, status, sizeof(status), 1200);
    CHECK(strstr(status, "psk=classical-only") && strstr(status, "classical_only=1"));
    /* A restart keeps the classical flag; configuring it off brings back the exchange. */
    CHECK(agentpq_peer_restart(a.pq, pb, 1300) == 0);
    CHECK(!a.blocked && agentpq_peer_status(a.pq, pb, &st) == 0 && st.classical_only);
    CHECK(agentpq_classical_set(a.pq, pb, false, 1300) == 0);
    CHECK(a.blocked && agentpq_peer_status(a.pq, pb, &st) == 0 && st.psk == PQX_PSK_NONE);
    /* Classical-only by key, configured before the peer exists. */
    agentpq_peer_remove(a.pq, pb);
    CHECK(agentpq_classical_set(a.pq, pb, true, 1400) == 0 && agentpq_classical_get(a.pq, pb));
    CHECK(!agentpq_classical_get(a.pq, pa));
    CHECK(agentpq_peer_add(a.pq, pb, false, 1400) == 0);
    CHECK(!a.blocked && agentpq_peer_status(a.pq, pb, &st) == 0 && st.classical_only);
    /* A known PQ peer becomes classical-only when added again with the flag (the daemon's path). */
    CHECK(agentpq_classical_set(a.pq, pb, false, 1500) == 0 && a.blocked);
    CHECK(agentpq_peer_add(a.pq, pb, true, 1500) == 0);
    CHECK(!a.blocked && agentpq_peer_status(a.pq, pb, &st) == 0 && st.classical_only);
    agentpq_free(a.pq);
    agentpq_free(b.pq);
    return check_finish("test_agentpq");
}
