/* Policy benchmark: compile 1,000 rules over 10,000 nodes in 50 groups (full compile time, RSS,
 * one machine retagged, one rule edited), and the matcher's ns/packet with a 1,000-entry filter
 * vs an allow-all and an empty filter, measured in the same run. Prints figures; never fails on
 * timing. */
#include "common/filter/matcher.h"
#include "server/policy/compile.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NGROUPS 50
#define NTAGS 100
#define NUSERS 9000
#define NSERVERS 1000
#define NRULES 1000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, field, strlen(field)))
            v = atol(line + strlen(field) + 1);
    if (f)
        fclose(f);
    return v;
}

static char *policy_text(int edited_port)
{
    size_t cap = 8 << 20, n = 0;
    char *s = malloc(cap);
    n += (size_t)snprintf(s + n, cap - n, "{\"groups\": {");
    for (int g = 0; g < NGROUPS; g++) {
        n += (size_t)snprintf(s + n, cap - n, "\"group:g%d\": [", g);
        for (int u = g; u < NUSERS; u += NGROUPS)
            n += (size_t)snprintf(s + n, cap - n, "\"user%d@example.com\",", u);
        n += (size_t)snprintf(s + n, cap - n, "],");
    }
    n += (size_t)snprintf(s + n, cap - n, "}, \"tagOwners\": {");
    for (int t = 0; t < NTAGS; t++)
        n += (size_t)snprintf(s + n, cap - n, "\"tag:t%d\": [\"ops@example.com\"],", t);
    n += (size_t)snprintf(s + n, cap - n, "}, \"postures\": {\"posture:base\": {\"diskEncryption\": true}},"
                                          "\"rules\": [");
    for (int r = 0; r < NRULES; r++) {
        int port = r == 0 && edited_port ? edited_port : 1000 + (r * 17 + r / 50) % 100;
        n += (size_t)snprintf(s + n, cap - n,
                              "{\"action\": \"accept\", \"src\": [\"group:g%d\"], \"dst\": [\"tag:t%d:%d\"],"
                              " \"proto\": \"tcp\"%s},",
                              (r * 31 + r / 100) % NGROUPS, (r * 7) % NTAGS, port,
                              r % 10 == 0 ? ", \"posture\": [\"posture:base\"]" : "");
    }
    n += (size_t)snprintf(s + n, cap - n,
                          "{\"action\": \"accept\", \"src\": [\"autogroup:member\"], \"dst\": [\"autogroup:self:*\"]}]}");
    return s;
}

static void bench_compile(void)
{
    static struct fleet_user users[NUSERS + 1];
    static char emails[NUSERS + 1][32];
    static struct fleet_machine ms[NUSERS + NSERVERS];
    static const char *tags[NTAGS][1];
    static char tagn[NTAGS][16];
    int64_t now = 1795442370;
    for (int t = 0; t < NTAGS; t++) {
        snprintf(tagn[t], sizeof(tagn[t]), "tag:t%d", t);
        tags[t][0] = tagn[t];
    }
    for (int u = 0; u <= NUSERS; u++) {
        if (u < NUSERS)
            snprintf(emails[u], sizeof(emails[u]), "user%d@example.com", u);
        else
            snprintf(emails[u], sizeof(emails[u]), "ops@example.com");
        users[u] = (struct fleet_user){.id = u + 1, .email = emails[u]};
    }
    for (int i = 0; i < NUSERS + NSERVERS; i++) {
        struct fleet_machine *m = &ms[i];
        *m = (struct fleet_machine){.id = 100000 + i, .name = "m", .has_ip4 = true,
                                    .ip4 = {100, (uint8_t)(64 + i / 65536), (uint8_t)(i / 256), (uint8_t)i},
                                    .posture = {.present = true, .disk_encryption = i % 3 != 0,
                                                .reported_at = now - 60}};
        if (i < NUSERS) {
            m->owner = i + 1;
        } else {
            m->owner = NUSERS + 1;
            m->tags = tags[(i - NUSERS) % NTAGS];
            m->ntags = 1;
        }
    }
    struct fleet f = {.users = users, .nusers = NUSERS + 1, .machines = ms,
                      .nmachines = NUSERS + NSERVERS};
    char *text = policy_text(0), *text2 = policy_text(2222);
    struct policy *p = NULL, *p2 = NULL;
    struct policy_error err;
    long rss0 = rss_kb("VmRSS:");
    double t0 = now_s();
    if (policy_parse(text, strlen(text), &p, &err)) {
        fprintf(stderr, "parse: %s\n", err.msg);
        exit(1);
    }
    double t1 = now_s();
    struct policy_engine *e = NULL;
    if (policy_engine_new(&e, p, NULL, &f, now)) {
        fprintf(stderr, "compile failed\n");
        exit(1);
    }
    double t2 = now_s();
    size_t entries = 0, peers = 0;
    for (size_t i = 0; i < f.nmachines; i++) {
        const struct policy_node *n = policy_engine_node(e, ms[i].id);
        entries += n->nentries;
        peers += n->npeers;
    }
    printf("policy: %d rules, %d groups, %d nodes (%d tagged servers, %d tags); document %zu KiB\n",
           NRULES + 1, NGROUPS, NUSERS + NSERVERS, NSERVERS, NTAGS, strlen(text) / 1024);
    printf("policy: parse+validate %.1f ms\n", (t1 - t0) * 1e3);
    printf("policy: full compile %.1f ms -> %zu filter entries, %zu peer links\n", (t2 - t1) * 1e3,
           entries, peers);
    printf("policy: RSS %ld MiB (+%ld MiB for parse+compile), peak %ld MiB\n", rss_kb("VmRSS:") / 1024,
           (rss_kb("VmRSS:") - rss0) / 1024, rss_kb("VmHWM:") / 1024);
    /* one machine retagged: a server moves from tag:t0 to tag:t1 */
    struct fleet_machine mv = ms[NUSERS];
    mv.tags = tags[1];
    double t3 = now_s();
    policy_engine_machine_upsert(e, &mv);
    double t4 = now_s();
    size_t nch;
    policy_engine_changed(e, &nch);
    printf("policy: one machine retagged: %.2f ms, %zu nodes changed\n", (t4 - t3) * 1e3, nch);
    /* one rule edited (rule 0's port): parse the new version, then apply it */
    double t5 = now_s();
    policy_parse(text2, strlen(text2), &p2, &err);
    double t6 = now_s();
    policy_engine_set_policy(e, p2);
    double t7 = now_s();
    policy_engine_changed(e, &nch);
    printf("policy: one rule edited: apply %.2f ms (+ parse %.1f ms), %zu nodes changed\n",
           (t7 - t6) * 1e3, (t6 - t5) * 1e3, nch);
    printf("policy: full compile / one-change ratio: %.0fx (retag), %.0fx (rule edit)\n",
           (t2 - t1) / (t4 - t3), (t2 - t1) / (t7 - t6));
    policy_engine_free(e);
    policy_free(p);
    policy_free(p2);
    free(text);
    free(text2);
}

static uint64_t rs = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

#define NPKT 4096
static double per_packet(struct filter_matcher *m, uint8_t (*pk)[40], int rounds, size_t *accepted)
{
    *accepted = 0;
    double t0 = now_s();
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < NPKT; i++)
            *accepted += filter_matcher_inbound(m, pk[i], 40, 1000) != FILTER_DENY;
    return (now_s() - t0) * 1e9 / ((double)rounds * NPKT);
}

static void bench_matcher(void)
{
    static struct filter_entry e[1000];
    static uint8_t pk[NPKT][40];
    for (int i = 0; i < 1000; i++) {
        e[i] = (struct filter_entry){.family = 4, .plen = 32, .proto = FILTER_PROTO_TCP,
                                     .addr = {100, 64, (uint8_t)(i / 250), (uint8_t)(i % 250)}};
        e[i].port_lo = (uint16_t)(1000 + rnd() % 50);
        e[i].port_hi = (uint16_t)(e[i].port_lo + rnd() % 3);
    }
    for (int i = 0; i < NPKT; i++) {
        uint8_t *b = pk[i];
        int s = (int)(rnd() % 1000);
        memset(b, 0, 40);
        b[0] = 0x45; b[3] = 40; b[8] = 64; b[9] = 6;
        b[12] = 100; b[13] = 64; b[14] = (uint8_t)(s / 250); b[15] = (uint8_t)(s % 250);
        b[16] = 100; b[17] = 64; b[18] = 200; b[19] = 1;
        uint16_t dp = i % 4 ? e[s].port_lo : 9; /* 3 of 4 allowed */
        b[20] = 0x9c; b[21] = 0x40; b[22] = (uint8_t)(dp >> 8); b[23] = (uint8_t)dp;
        b[32] = 0x50;
    }
    struct filter *big, *all, *empty;
    struct filter_entry any;
    filter_entry_parse("any 0.0.0.0/0 0-65535", &any);
    filter_build(&big, e, 1000);
    filter_build(&all, &any, 1);
    filter_build(&empty, NULL, 0);
    struct filter_matcher *m;
    filter_matcher_new(&m, 0);
    int rounds = 500;
    size_t acc;
    double r[3][3];
    for (int rep = 0; rep < 3; rep++) { /* interleaved, best of 3 */
        filter_matcher_set_filter(m, all);
        r[0][rep] = per_packet(m, pk, rounds, &acc);
        filter_matcher_set_filter(m, big);
        r[1][rep] = per_packet(m, pk, rounds, &acc);
        filter_matcher_set_filter(m, empty);
        size_t a2;
        r[2][rep] = per_packet(m, pk, rounds, &a2);
    }
    double best[3];
    for (int k = 0; k < 3; k++) {
        best[k] = r[k][0];
        for (int rep = 1; rep < 3; rep++)
            best[k] = r[k][rep] < best[k] ? r[k][rep] : best[k];
    }
    printf("matcher: allow-all filter (no filtering) %.1f ns/packet\n", best[0]);
    printf("matcher: 1,000-entry filter %.1f ns/packet (%.0f%% accepted)\n", best[1],
           100.0 * (double)acc / (rounds * (double)NPKT));
    printf("matcher: empty filter (deny all, counted) %.1f ns/packet\n", best[2]);
    printf("matcher: 1,000-entry / allow-all = %.2f (+%.1f ns/packet)\n", best[1] / best[0],
           best[1] - best[0]);
    /* the data-plane reference measured in the same run: opening one 1420-byte WireGuard data
     * packet (ChaCha20-Poly1305, libsodium) */
    static uint8_t key[32], nonce[12], pt[1420], ct[1420 + 16], out[1420];
    unsigned long long ctl, ol;
    crypto_aead_chacha20poly1305_ietf_encrypt(ct, &ctl, pt, sizeof(pt), NULL, 0, NULL, nonce, key);
    double d0 = now_s();
    int n = 20000;
    for (int i = 0; i < n; i++)
        if (crypto_aead_chacha20poly1305_ietf_decrypt(out, &ol, NULL, ct, ctl, NULL, 0, nonce, key))
            abort();
    double dec = (now_s() - d0) * 1e9 / n;
    printf("matcher: reference: decrypting one 1420-byte data packet %.0f ns\n", dec);
    printf("matcher: 1,000-entry filter vs no filter, per 1420-byte packet (decrypt + match): "
           "%.1f%% more\n", 100.0 * (best[1] - best[0]) / (dec + best[0]));
    filter_matcher_free(m);
    filter_free(big);
    filter_free(all);
    filter_free(empty);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    bench_matcher();
    bench_compile();
    return 0;
}
