/* Standalone driver for libFuzzer-style targets, so that every parser is fuzzed in `make test`
 * (and under ASan in the sanitizer build) without needing clang's libFuzzer.
 *
 *   fuzz_x [CORPUS_DIR_OR_FILE ...]
 *
 * Runs every corpus file once, then a bounded number of inputs derived from them by a fixed-seed
 * mutator (bit flips, byte sets, truncation, splices, random bytes). Bounded by ZTNA_FUZZ_ITERS
 * (default 20000) and ZTNA_FUZZ_SECONDS (default 20). A crash or sanitizer report fails the test. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT 65536
#define MAX_SEEDS 512

static uint8_t *seeds[MAX_SEEDS];
static size_t seed_len[MAX_SEEDS];
static size_t nseeds;

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void add_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f || nseeds >= MAX_SEEDS) {
        if (f)
            fclose(f);
        return;
    }
    uint8_t *buf = malloc(FUZZ_MAX_INPUT);
    size_t n = buf ? fread(buf, 1, FUZZ_MAX_INPUT, f) : 0;
    fclose(f);
    if (!buf)
        return;
    seeds[nseeds] = buf;
    seed_len[nseeds++] = n;
}

static void add_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "fuzz: no corpus at %s\n", path);
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        add_file(path);
        return;
    }
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
        add_file(p);
    }
    if (d)
        closedir(d);
}

static size_t mutate(uint8_t *buf, size_t len)
{
    int ops = 1 + (int)(rnd() % 4);
    for (int i = 0; i < ops; i++) {
        switch (rnd() % 7) {
        case 0: /* bit flip */
            if (len)
                buf[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
            break;
        case 1: /* interesting byte */
            if (len) {
                static const uint8_t vals[] = {0, 1, 0x7f, 0x80, 0xff, '"', '\\', '{', '[', ':'};
                buf[rnd() % len] = vals[rnd() % sizeof(vals)];
            }
            break;
        case 2: /* truncate */
            if (len)
                len = rnd() % len;
            break;
        case 3: /* append random bytes */
            for (int k = (int)(rnd() % 16); k > 0 && len < FUZZ_MAX_INPUT; k--)
                buf[len++] = (uint8_t)rnd();
            break;
        case 4: /* splice from another seed */
            if (nseeds) {
                size_t s = rnd() % nseeds;
                if (seed_len[s] && len) {
                    size_t from = rnd() % seed_len[s], at = rnd() % len;
                    size_t n = seed_len[s] - from;
                    if (n > 64)
                        n = 64;
                    if (at + n > FUZZ_MAX_INPUT)
                        n = FUZZ_MAX_INPUT - at;
                    memcpy(buf + at, seeds[s] + from, n);
                    if (at + n > len)
                        len = at + n;
                }
            }
            break;
        case 5: /* duplicate a chunk */
            if (len > 1 && len < FUZZ_MAX_INPUT / 2) {
                size_t from = rnd() % len, n = 1 + rnd() % (len - from);
                memmove(buf + from + n, buf + from, len - from);
                len += n;
            }
            break;
        default: /* random 16-bit value */
            if (len > 1) {
                size_t at = rnd() % (len - 1);
                uint16_t v = (uint16_t)rnd();
                memcpy(buf + at, &v, 2);
            }
        }
    }
    return len;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        add_path(argv[i]);
    long iters = getenv("ZTNA_FUZZ_ITERS") ? atol(getenv("ZTNA_FUZZ_ITERS")) : 20000;
    long secs = getenv("ZTNA_FUZZ_SECONDS") ? atol(getenv("ZTNA_FUZZ_SECONDS")) : 20;

    for (size_t i = 0; i < nseeds; i++)
        LLVMFuzzerTestOneInput(seeds[i], seed_len[i]);

    uint8_t *buf = malloc(FUZZ_MAX_INPUT);
    if (!buf)
        return 1;
    time_t start = time(NULL);
    long done = 0;
    for (; done < iters && time(NULL) - start < secs; done++) {
        size_t len;
        if (nseeds && rnd() % 8) {
            size_t s = rnd() % nseeds;
            len = seed_len[s];
            memcpy(buf, seeds[s], len);
            len = mutate(buf, len);
        } else {
            len = rnd() % 512;
            for (size_t k = 0; k < len; k++)
                buf[k] = (uint8_t)rnd();
        }
        /* Exact-size heap copy so ASan catches any read past the end. */
        uint8_t *in = malloc(len ? len : 1);
        memcpy(in, buf, len);
        LLVMFuzzerTestOneInput(in, len);
        free(in);
    }
    printf("fuzz: %zu corpus inputs, %ld generated inputs, no crash\n", nseeds, done);
    free(buf);
    for (size_t i = 0; i < nseeds; i++)
        free(seeds[i]);
    return 0;
}
