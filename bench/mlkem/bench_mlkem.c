/* ML-KEM-768 benchmark: keygen / encaps / decaps per second on one core, a full hybrid exchange
 * between two peers, the cost of rotating 1,000 peers, with libsodium's X25519 measured in the
 * same run as the reference point; then the 1,000,000-case accumulated known answer
 * (vectors/README.md, Go's recipe). Prints figures; exits non-zero only on a wrong answer.
 * Usage: bench_mlkem [SECONDS_PER_FIGURE] [ACCUMULATED_COUNT] (0 skips the accumulated run). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/hex.h"
#include "common/mlkem/mlkem768.h"
#include "common/mlkem/sha3.h"

/* CPU time of this thread: the machine is shared, and wall time would count other processes. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t ek[MLKEM768_EK_BYTES], dk[MLKEM768_DK_BYTES], ct[MLKEM768_CT_BYTES];
static uint8_t ss[32], ss2[32], xsk_a[32], xpk_a[32], xsk_b[32], xpk_b[32], xs1[32], xs2[32];

enum op { OP_KEYGEN, OP_ENCAPS, OP_DECAPS, OP_X25519_BASE, OP_X25519, OP_EXCHANGE,
          OP_EXCHANGE_X25519 };

static int run(enum op op)
{
    switch (op) {
    case OP_KEYGEN:
        return mlkem768_keygen(ek, dk);
    case OP_ENCAPS:
        return mlkem768_encaps(ct, ss, ek);
    case OP_DECAPS:
        return mlkem768_decaps(ss2, ct, dk);
    case OP_X25519_BASE:
        return crypto_scalarmult_base(xpk_a, xsk_a);
    case OP_X25519:
        return crypto_scalarmult(xs1, xsk_a, xpk_b);
    case OP_EXCHANGE: /* A: ML-KEM keygen + X25519 key; B: encaps + X25519 key + DH; A: decaps + DH */
    {
        int rc = mlkem768_keygen(ek, dk);
        randombytes_buf(xsk_a, 32);
        rc |= crypto_scalarmult_base(xpk_a, xsk_a);
        rc |= mlkem768_encaps(ct, ss, ek);
        randombytes_buf(xsk_b, 32);
        rc |= crypto_scalarmult_base(xpk_b, xsk_b);
        rc |= crypto_scalarmult(xs2, xsk_b, xpk_a);
        rc |= mlkem768_decaps(ss2, ct, dk);
        rc |= crypto_scalarmult(xs1, xsk_a, xpk_b);
        return rc | (memcmp(ss, ss2, 32) != 0) | (memcmp(xs1, xs2, 32) != 0);
    }
    case OP_EXCHANGE_X25519: /* the classical part alone */
    {
        randombytes_buf(xsk_a, 32);
        int rc = crypto_scalarmult_base(xpk_a, xsk_a);
        randombytes_buf(xsk_b, 32);
        rc |= crypto_scalarmult_base(xpk_b, xsk_b);
        rc |= crypto_scalarmult(xs2, xsk_b, xpk_a);
        rc |= crypto_scalarmult(xs1, xsk_a, xpk_b);
        return rc | (memcmp(xs1, xs2, 32) != 0);
    }
    }
    return -1;
}

/* Runs op for about `secs` seconds (at least 10 times); returns microseconds per op. */
static double measure(enum op op, double secs, int *bad)
{
    long n = 0;
    double t0 = now(), t;
    do {
        for (int i = 0; i < 10; i++)
            *bad |= run(op) != 0;
        n += 10;
        t = now() - t0;
    } while (t < secs && n < 10000000);
    return t / (double)n * 1e6;
}

static int accumulated(long n, const char *want_hex)
{
    struct keccak_state s, o;
    uint8_t seed[64], m[32], k[32], out[32], want[32];
    shake128_init(&s);
    shake128_init(&o);
    double t0 = now();
    for (long i = 0; i < n; i++) {
        keccak_squeeze(&s, seed, sizeof(seed));
        mlkem768_keygen_derand(ek, dk, seed);
        keccak_absorb(&o, ek, sizeof(ek));
        keccak_squeeze(&s, m, sizeof(m));
        mlkem768_encaps_derand(ct, k, ek, m);
        keccak_absorb(&o, ct, sizeof(ct));
        keccak_absorb(&o, k, sizeof(k));
        keccak_squeeze(&s, ct, sizeof(ct));
        mlkem768_decaps(k, ct, dk);
        keccak_absorb(&o, k, sizeof(k));
    }
    keccak_squeeze(&o, out, sizeof(out));
    int ok = hex_decode(want, 32, want_hex) && memcmp(out, want, 32) == 0;
    printf("accumulated %ld cases: %s in %.1f s of CPU\n", n, ok ? "match" : "MISMATCH", now() - t0);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    long acc = argc > 2 ? atol(argv[2]) : 1000000;
    int bad = 0;
    setvbuf(stdout, NULL, _IOLBF, 0); /* figures appear as they are measured */
    if (sodium_init() < 0)
        return 1;
    randombytes_buf(xsk_a, 32);
    randombytes_buf(xsk_b, 32);
    crypto_scalarmult_base(xpk_b, xsk_b);
    mlkem768_keygen(ek, dk);
    mlkem768_encaps(ct, ss, ek);

    static const struct {
        enum op op;
        const char *name;
    } figs[] = {
        {OP_KEYGEN, "ML-KEM-768 keygen"},
        {OP_ENCAPS, "ML-KEM-768 encaps"},
        {OP_DECAPS, "ML-KEM-768 decaps"},
        {OP_X25519_BASE, "X25519 keygen (libsodium)"},
        {OP_X25519, "X25519 shared secret (libsodium)"},
    };
    double us[5];
    printf("figures are per core, in thread CPU time (immune to other load on the machine)\n");
    printf("%-34s %12s %10s\n", "operation (one core)", "ops/s", "us/op");
    for (size_t i = 0; i < 5; i++) {
        us[i] = measure(figs[i].op, secs, &bad);
        printf("%-34s %12.0f %10.2f\n", figs[i].name, 1e6 / us[i], us[i]);
    }
    printf("ratio ML-KEM decaps / X25519 shared secret: %.2fx\n", us[2] / us[4]);

    double ex = measure(OP_EXCHANGE, secs, &bad), exc = measure(OP_EXCHANGE_X25519, secs, &bad);
    printf("full hybrid exchange (ML-KEM keygen+encaps+decaps, 2 X25519 keys + 2 DH): %.1f us\n",
           ex);
    printf("classical part alone (2 X25519 keys + 2 DH): %.1f us; hybrid/classical %.2fx\n", exc,
           ex / exc);

    double t0 = now();
    for (int i = 0; i < 1000; i++)
        bad |= run(OP_EXCHANGE) != 0;
    double both = (now() - t0) * 1e3;
    printf("rotating 1,000 peers: %.1f ms for both sides of all 1,000 exchanges on one core, "
           "%.1f ms of it as one node's share (~half); one rotation per 2 min = %.3f%% of a core\n",
           both, both / 2, both / 2 / 120000.0 * 100.0);
    if (bad)
        printf("ERROR: an operation failed or peers disagreed\n");
    if (acc > 0)
        bad |= accumulated(acc, acc == 1000000 ? "424bf8f0e8ae99b78d788a6e2e8e9cdaf9773fc0c08a6f433507cb559edfd0f0"
                                : acc == 10000 ? "8a518cc63da366322a8e7a818c7a0d63483cb3528d34a4cf42f35d5ad73f22fc"
                                               : "1114b1b6699ed191734fa339376afa7e285c9e6acf6ff0177d346696ce564415");
    return bad ? 1 : 0;
}
