/* The committed fuzz seeds are accepted by the fixture's consumers (so the fuzzers start from
 * messages that reach the deep paths), and single-bit flips of them are rejected, except in mac2,
 * which is only checked under load. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/check.h"
#include "tests/wg_core/fuzz_fixture.h"

typedef int (*run_fn)(const uint8_t *, size_t);

static void check_dir(const char *sub, run_fn run, int want_files, size_t unchecked_tail)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/tests/wg_core/corpus/%s", ZTNA_SOURCE_DIR, sub);
    DIR *d = opendir(path);
    CHECK(d != NULL);
    if (!d)
        return;
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char file[1024];
        uint8_t buf[2048];
        snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
        FILE *f = fopen(file, "rb");
        CHECK(f != NULL);
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        files++;
        int ret = run(buf, n);
        if (ret)
            fprintf(stderr, "%s: rejected (%d)\n", file, ret);
        CHECK(ret == 0);
        for (size_t bit = 0; bit < 8 * (n - unchecked_tail); bit += 8 * n / 64 + 1) {
            buf[bit / 8] ^= (uint8_t)(1 << (bit % 8));
            if (run(buf, n) == 0)
                fprintf(stderr, "%s: flip of bit %zu accepted\n", file, bit);
            CHECK(run(buf, n) != 0);
            buf[bit / 8] ^= (uint8_t)(1 << (bit % 8));
        }
        CHECK(run(buf, n) == 0);
    }
    closedir(d);
    CHECK(files == want_files);
}

int main(void)
{
    CHECK(fx_pristine() != NULL);
    check_dir("initiation", fx_run_initiation, 1, WG_MAC_SIZE);
    check_dir("response", fx_run_response, 1, WG_MAC_SIZE);
    check_dir("cookie_reply", fx_run_cookie_reply, 1, 0);
    check_dir("data", fx_run_data, 5, 0);
    return check_finish("test_wg_corpus");
}
