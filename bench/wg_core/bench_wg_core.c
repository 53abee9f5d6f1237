/* Micro-benchmarks of the WireGuard protocol core, each next to a peer measured in the same run:
 *   seal/open at 1420 B and 64 B        vs the bare libsodium ChaCha20-Poly1305 call
 *   handshakes/s (both sides, in memory) vs the 7 X25519 operations it must do (lower bound)
 *   allowed-IPs lookups/s                vs a linear scan of the same prefixes
 *   BLAKE2s MB/s                         vs libsodium's BLAKE2b (crypto_generichash)
 * Figures only; nothing here fails on timing. Usage: bench_wg_core [seconds per figure]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <sodium.h>

#include "common/crypto/blake2s.h"
#include "common/crypto/chacha20poly1305.h"
#include "common/crypto/x25519.h"
#include "common/wg/allowedips.h"
#include "common/wg/keypair.h"
#include "common/wg/noise.h"

static double budget = 0.5;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs fn in batches until the time budget is spent; returns operations per second. */
#define MEASURE(ops_per_s, batch, body)                                    \
    do {                                                                   \
        double t0_ = now_s(), t_;                                          \
        long n_ = 0;                                                       \
        do {                                                               \
            for (int b_ = 0; b_ < (batch); b_++) {                         \
                body;                                                      \
            }                                                              \
            n_ += (batch);                                                 \
            t_ = now_s() - t0_;                                            \
        } while (t_ < budget);                                             \
        ops_per_s = (double)n_ / t_;                                       \
    } while (0)

static volatile uint8_t sink;

static void bench_data(size_t len)
{
    static uint8_t buf[2048], out[2048];
    struct wg_keypair tx = {0}, rx = {0};
    size_t olen = 0, plen = 0;
    double seal_ops, open_ops, raw_ops;
    randombytes_buf(tx.send_key, 32);
    memcpy(rx.recv_key, tx.send_key, 32);
    tx.valid = rx.valid = true;
    tx.birth_ns = rx.birth_ns = 1;
    memset(buf, 0x42, sizeof(buf));

    MEASURE(seal_ops, 1000, {
        wg_keypair_seal(&tx, buf + 16, len, 1420, buf, sizeof(buf), &olen, 2);
        memset(buf + 16, 0x42, len);
    });
    /* Open needs fresh valid messages: seal a ring of 1000 and reopen it with a reset window. */
    static uint8_t ring[1000][1500];
    size_t rlen[1000];
    for (int i = 0; i < 1000; i++)
        wg_keypair_seal(&tx, buf + 16, len, 1420, ring[i], sizeof(ring[i]), &rlen[i], 2);
    MEASURE(open_ops, 1000, {
        if (b_ == 0)
            wg_replay_init(&rx.replay);
        wg_keypair_open(&rx, ring[b_], rlen[b_], out, sizeof(out), &plen, NULL, 2);
    });
    uint8_t nonce[12] = {0};
    size_t padded = wg_keypair_padded_len(len, 1420);
    MEASURE(raw_ops, 1000, {
        nonce[4] = (uint8_t)b_;
        chacha20poly1305_seal(out, buf, padded, NULL, 0, nonce, tx.send_key);
    });
    sink = out[0];
    double gbps = 8.0 * (double)len / 1e9;
    printf("seal %4zu B: %8.0f pkt/s %6.2f Gb/s | open %8.0f pkt/s %6.2f Gb/s | bare AEAD %6.2f Gb/s "
           "(seal/bare ratio %.2f)\n",
           len, seal_ops, seal_ops * gbps, open_ops, open_ops * gbps, raw_ops * gbps,
           seal_ops / raw_ops);
}

static struct wg_noise_handshake *lookup(void *ctx, const uint8_t remote_static[32])
{
    struct wg_noise_handshake *hs = ctx;
    return memcmp(hs->remote_static, remote_static, 32) == 0 ? hs : NULL;
}

static void bench_handshake(void)
{
    uint8_t ka[32], kb[32], ts[12], m1[148], m2[92], dh[32];
    struct wg_noise_identity a, b;
    struct wg_noise_handshake ha, hb, *hs;
    struct wg_keypair kpa, kpb;
    uint64_t t = 1700000000ULL * WG_NSEC_PER_SEC, mono = WG_NSEC_PER_SEC;
    double hs_ops, dh_ops;
    x25519_private_generate(ka);
    x25519_private_generate(kb);
    wg_noise_identity_init(&a, ka);
    wg_noise_identity_init(&b, kb);
    wg_noise_handshake_init(&ha, &a, b.public_key, NULL);
    wg_noise_handshake_init(&hb, &b, a.public_key, NULL);
    long failures = 0;
    MEASURE(hs_ops, 20, {
        t += WG_NSEC_PER_SEC;
        mono += WG_NSEC_PER_SEC;
        wg_tai64n_from_unix_ns(ts, t);
        failures += wg_noise_handshake_create_initiation(&ha, 1, ts, m1) != 0;
        failures += wg_noise_handshake_consume_initiation(&b, m1, 148, lookup, &hb, mono, &hs) != 0;
        failures += wg_noise_handshake_create_response(&hb, 2, m2) != 0;
        failures += wg_noise_handshake_consume_response(&ha, m2, 92) != 0;
        failures += wg_noise_handshake_begin_session(&ha, &kpa, mono) != 0;
        failures += wg_noise_handshake_begin_session(&hb, &kpb, mono) != 0;
    });
    /* Per handshake: ephemeral keygen x2, es x2, ee x2, se x2 = 8 scalar mults (ss precomputed). */
    MEASURE(dh_ops, 20, { x25519_shared(dh, ka, b.public_key); });
    sink = dh[0];
    printf("handshakes (both sides): %8.0f /s | X25519: %8.0f /s -> 8 mults bound %.0f /s "
           "(ratio %.2f)%s\n",
           hs_ops, dh_ops, dh_ops / 8, hs_ops / (dh_ops / 8), failures ? " FAILURES" : "");
}

static void bench_allowedips(void)
{
    enum { N = 10000, Q = 4096 };
    static uint8_t prefixes[N][4], cidrs[N], queries[Q][4];
    static char peers[64];
    struct wg_allowedips t;
    double trie_ops, scan_ops;
    wg_allowedips_init(&t);
    for (int i = 0; i < N; i++) {
        randombytes_buf(prefixes[i], 4);
        prefixes[i][0] = 10;
        cidrs[i] = (uint8_t)(16 + randombytes_uniform(17));
        wg_allowedips_insert(&t, AF_INET, prefixes[i], cidrs[i], &peers[i % 64]);
    }
    for (int i = 0; i < Q; i++) {
        memcpy(queries[i], prefixes[randombytes_uniform(N)], 4);
        queries[i][3] ^= (uint8_t)randombytes_uniform(4);
    }
    void *volatile found;
    MEASURE(trie_ops, Q, { found = wg_allowedips_lookup(&t, AF_INET, queries[b_]); });
    double saved = budget;
    budget = saved / 5;
    MEASURE(scan_ops, 64, {
        const uint8_t *q = queries[b_];
        uint32_t a = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
        int best = -1;
        for (int i = 0; i < N; i++) {
            uint32_t p = (uint32_t)prefixes[i][0] << 24 | (uint32_t)prefixes[i][1] << 16 |
                         (uint32_t)prefixes[i][2] << 8 | prefixes[i][3];
            uint32_t m = cidrs[i] ? ~0U << (32 - cidrs[i]) : 0;
            if (((a ^ p) & m) == 0 && cidrs[i] > best) {
                best = cidrs[i];
                found = &peers[i % 64];
            }
        }
    });
    budget = saved;
    (void)found;
    printf("allowed-IPs lookups (%d v4 prefixes): %10.0f /s | linear scan %8.0f /s (ratio %.0f)\n",
           N, trie_ops, scan_ops, trie_ops / scan_ops);
    wg_allowedips_free(&t);
}

static void bench_blake2s(void)
{
    static uint8_t in[8192];
    uint8_t out[32];
    double s_ops, b_ops, small_ops;
    MEASURE(s_ops, 100, { blake2s_hash(out, 32, in, sizeof(in), NULL, 0); });
    MEASURE(b_ops, 100, { crypto_generichash(out, 32, in, sizeof(in), NULL, 0); });
    MEASURE(small_ops, 1000, { blake2s_hmac(out, in, 32, out, 32); });
    sink = out[0];
    printf("BLAKE2s 8 KiB: %7.0f MB/s | libsodium BLAKE2b: %7.0f MB/s (ratio %.2f) | "
           "HMAC-BLAKE2s(32 B): %8.0f /s\n",
           s_ops * sizeof(in) / 1e6, b_ops * sizeof(in) / 1e6, s_ops / b_ops, small_ops);
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    if (argc > 1 && atof(argv[1]) > 0)
        budget = atof(argv[1]);
    bench_data(1420);
    bench_data(64);
    bench_handshake();
    bench_allowedips();
    bench_blake2s();
    return 0;
}
