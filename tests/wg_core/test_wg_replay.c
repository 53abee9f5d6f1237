/* Anti-replay window: a table of accept/reject cases (window edges, far jumps, the 8128
 * boundary, the message limit), check() agreeing with update(), and random sequences against a
 * naive reference (a flag per counter plus the greatest one seen). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/wg/replay.h"
#include "tests/check.h"

#define W WG_REPLAY_WINDOW_SIZE
#define LIM WG_REJECT_AFTER_MESSAGES

struct step {
    uint64_t counter;
    bool accept;
};

static const struct step table[] = {
    {0, true}, {1, true}, {1, false}, {0, false}, {9, true}, {8, true}, {7, true}, {7, false},
    /* Window edges: the greatest is W + 9, so 9 is exactly W behind (kept), 8 is W + 1 behind. */
    {W + 9, true}, {9, false}, {8, false}, {10, true}, {10, false}, {11, true},
    {W + 8, true}, {W + 8, false}, {W + 9, false},
    /* Move by exactly one block boundary and by less than the ring. */
    {W + 9 + 64, true}, {73, true}, {72, false}, {W + 9 + 63, true},
    /* A far jump clears everything behind it. */
    {100000, true}, {100000 - W, true}, {100000 - W - 1, false}, {100000 - 1, true},
    {100000 - 1, false}, {W + 9 + 64, false}, {100001, true}, {100000 - W, false},
    /* A jump of more than the ring, then the window edges again. */
    {1000000, true}, {1000000 - W, true}, {1000000 - W + 1, true}, {1000000 - W - 1, false},
    {1000000 - 64, true}, {1000000 - 64, false},
    /* The message limit: 2^64 - 2^13 - 1 and above are never accepted. */
    {LIM, false}, {LIM + 1, false}, {UINT64_MAX, false}, {LIM - 1, true}, {LIM - 1, false},
    {LIM, false}, {LIM - 2, true}, {LIM - 2, false}, {LIM - 1 - W, true}, {LIM - 2 - W, false},
    {1000000, false}, {0, false},
};

static void test_table(void)
{
    struct wg_replay r;
    wg_replay_init(&r);
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        struct wg_replay before = r;
        bool c = wg_replay_check(&r, table[i].counter);
        CHECK(memcmp(&before, &r, sizeof(r)) == 0); /* check does not modify */
        bool u = wg_replay_update(&r, table[i].counter);
        if (c != table[i].accept || u != table[i].accept)
            fprintf(stderr, "replay table step %zu (counter %llu): check %d update %d want %d\n",
                    i, (unsigned long long)table[i].counter, c, u, table[i].accept);
        CHECK(c == table[i].accept);
        CHECK(u == table[i].accept);
        if (!u)
            CHECK(memcmp(&before, &r, sizeof(r)) == 0); /* a rejected counter changes nothing */
    }
}

static uint64_t rng = 0x243f6a8885a308d3ULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Naive reference over counters < N. */
#define N 8000000
static void test_random(void)
{
    static bool seen[N];
    long accepted = 0, total = 0;
    for (int round = 0; round < 10; round++) {
        struct wg_replay r;
        uint64_t greatest = 0;
        bool any = false;
        wg_replay_init(&r);
        memset(seen, 0, sizeof(seen));
        for (int i = 0; i < 20000; i++) {
            uint64_t c, m = rnd() % 64;
            if (m == 0) /* far ahead, sometimes more than the whole ring */
                c = greatest + rnd() % 20000;
            else if (m <= 8) /* around the window edge */
                c = greatest > W + 2 ? greatest - W - 2 + rnd() % 5 : rnd() % 8;
            else /* mostly in order, with reordering and duplicates */
                c = greatest + 1 > 200 ? greatest + 1 - 200 + rnd() % 260 : rnd() % 260;
            if (c >= N)
                break;
            bool want = !seen[c] && (!any || c > greatest || c + W >= greatest);
            bool got = wg_replay_check(&r, c);
            CHECK(got == want);
            got = wg_replay_update(&r, c);
            CHECK(got == want);
            if (got != want) {
                fprintf(stderr, "replay random: round %d step %d counter %llu greatest %llu\n",
                        round, i, (unsigned long long)c, (unsigned long long)greatest);
                return;
            }
            accepted += want;
            total++;
            if (want) {
                seen[c] = true;
                if (!any || c > greatest)
                    greatest = c;
                any = true;
            }
        }
    }
    /* Both outcomes were exercised in bulk. */
    printf("replay random: %ld of %ld accepted\n", accepted, total);
    CHECK(accepted > 20000 && total - accepted > 10000);
}

int main(void)
{
    test_table();
    test_random();
    return check_finish("test_wg_replay");
}
