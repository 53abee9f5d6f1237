/* ML-KEM-768 against published vectors: every case of the four Wycheproof ML-KEM-768 files (valid,
 * invalid and wrong-length, as "result" says), CCTV strcmp, CCTV unlucky sample (ek, m, c, K only:
 * its key-generation lines are draft-era) and the 780 CCTV modulus cases (read through gzip -dc,
 * a test-only helper; the product has no zlib dependency). A caller of the fixed-size API checks
 * lengths at its boundary, as `accept_*` below does; "invalid" means that boundary or the API
 * rejects the input. */
#include <errno.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "common/hex.h"
#include "common/mlkem/mlkem768.h"
#include "tests/check.h"

#define VEC ZTNA_VECTORS_DIR

struct blob {
    uint8_t *p;
    size_t n;
    int present;
};

static struct blob field(const cJSON *t, const char *name)
{
    struct blob b = {0};
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(t, name);
    if (!cJSON_IsString(f))
        return b;
    b.present = 1;
    b.p = hex_decode_alloc(f->valuestring, &b.n);
    if (!b.p && f->valuestring[0] == '\0')
        b.p = calloc(1, 1);
    if (!b.p)
        b.present = 0;
    return b;
}

static int is_valid(const cJSON *t)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(t, "result");
    return cJSON_IsString(r) && strcmp(r->valuestring, "valid") == 0;
}

static cJSON *load_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    CHECK(s && fread(s, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    s[n] = 0;
    cJSON *j = cJSON_Parse(s);
    free(s);
    CHECK(j != NULL);
    return j;
}

/* Boundary + API: encapsulate if ek has the right length and passes the modulus check. */
static int accept_encaps(uint8_t ct[1088], uint8_t ss[32], const struct blob *ek, const struct blob *m)
{
    if (ek->n != MLKEM768_EK_BYTES || m->n != 32)
        return -EINVAL;
    return mlkem768_encaps_derand(ct, ss, ek->p, m->p);
}

static int accept_decaps(uint8_t ss[32], const struct blob *c, const uint8_t *dk, size_t dk_len)
{
    if (c->n != MLKEM768_CT_BYTES || dk_len != MLKEM768_DK_BYTES)
        return -EINVAL;
    return mlkem768_decaps(ss, c->p, dk);
}

typedef void (*case_fn)(const cJSON *t, int *n_valid, int *n_invalid);

static void run_file(const char *name, case_fn fn, int want_total)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/wycheproof/%s", VEC, name);
    cJSON *j = load_json(path);
    int nv = 0, ni = 0;
    const cJSON *g, *t;
    cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(j, "testGroups"))
        cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(g, "tests")) fn(t, &nv, &ni);
    printf("%s: %d valid, %d invalid cases\n", name, nv, ni);
    CHECK(nv + ni == want_total);
    cJSON_Delete(j);
}

static void case_keygen(const cJSON *t, int *nv, int *ni)
{
    struct blob seed = field(t, "seed"), ek = field(t, "ek"), dk = field(t, "dk");
    uint8_t e[MLKEM768_EK_BYTES], d[MLKEM768_DK_BYTES];
    int ok = seed.n == 64 && mlkem768_keygen_derand(e, d, seed.p) == 0 &&
             ek.n == sizeof(e) && dk.n == sizeof(d) && memcmp(e, ek.p, sizeof(e)) == 0 &&
             memcmp(d, dk.p, sizeof(d)) == 0;
    CHECK(ok == is_valid(t));
    *(is_valid(t) ? nv : ni) += 1;
    free(seed.p), free(ek.p), free(dk.p);
}

static void case_encaps(const cJSON *t, int *nv, int *ni)
{
    struct blob ek = field(t, "ek"), m = field(t, "m"), c = field(t, "c"), k = field(t, "K");
    uint8_t ct[MLKEM768_CT_BYTES], ss[32];
    int rc = accept_encaps(ct, ss, &ek, &m);
    if (is_valid(t)) {
        CHECK(rc == 0);
        CHECK(c.n == sizeof(ct) && k.n == 32);
        if (rc == 0 && c.n == sizeof(ct) && k.n == 32) {
            CHECK_MEM(ct, c.p, sizeof(ct));
            CHECK_MEM(ss, k.p, 32);
        }
        (*nv)++;
    } else {
        CHECK(rc == -EINVAL);
        if (ek.n == MLKEM768_EK_BYTES)
            CHECK(!mlkem768_ek_check(ek.p));
        (*ni)++;
    }
    free(ek.p), free(m.p), free(c.p), free(k.p);
}

static void case_decaps(const cJSON *t, int *nv, int *ni)
{
    struct blob dk = field(t, "dk"), c = field(t, "c"), k = field(t, "K");
    uint8_t ss[32];
    int rc = accept_decaps(ss, &c, dk.p, dk.n);
    if (is_valid(t)) {
        CHECK(rc == 0 && k.n == 32);
        if (rc == 0 && k.n == 32)
            CHECK_MEM(ss, k.p, 32);
        (*nv)++;
    } else {
        CHECK(rc == -EINVAL);
        (*ni)++;
    }
    free(dk.p), free(c.p), free(k.p);
}

/* Full round trip: keygen from seed (ek must match), decapsulate c to K. */
static void case_full(const cJSON *t, int *nv, int *ni)
{
    struct blob seed = field(t, "seed"), ek = field(t, "ek"), c = field(t, "c"), k = field(t, "K");
    uint8_t e[MLKEM768_EK_BYTES], d[MLKEM768_DK_BYTES], ss[32];
    int rc = -EINVAL;
    if (seed.n == 64) {
        CHECK(mlkem768_keygen_derand(e, d, seed.p) == 0);
        if (ek.present)
            CHECK(ek.n == sizeof(e) && memcmp(e, ek.p, sizeof(e)) == 0);
        rc = accept_decaps(ss, &c, d, sizeof(d));
    }
    if (is_valid(t)) {
        CHECK(rc == 0 && k.n == 32);
        if (rc == 0 && k.n == 32)
            CHECK_MEM(ss, k.p, 32);
        (*nv)++;
    } else {
        CHECK(rc == -EINVAL);
        (*ni)++;
    }
    free(seed.p), free(ek.p), free(c.p), free(k.p);
}

/* "name = hex" lines of a CCTV text file; returns a new buffer or NULL. */
static uint8_t *cctv_field(const char *file, const char *name, size_t *n)
{
    char path[512], *line = NULL;
    size_t cap = 0;
    uint8_t *out = NULL;
    snprintf(path, sizeof(path), "%s/cctv/%s", VEC, file);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f)
        return NULL;
    size_t nl = strlen(name);
    while (!out && getline(&line, &cap, f) > 0) {
        if (strncmp(line, name, nl) == 0 && strncmp(line + nl, " = ", 3) == 0) {
            line[strcspn(line, "\r\n")] = 0;
            out = hex_decode_alloc(line + nl + 3, n);
        }
    }
    free(line);
    fclose(f);
    CHECK(out != NULL);
    return out;
}

static void test_cctv_strcmp(void)
{
    size_t ndk = 0, nc = 0, nk = 0;
    uint8_t *dk = cctv_field("mlkem768_strcmp.txt", "dk", &ndk);
    uint8_t *c = cctv_field("mlkem768_strcmp.txt", "c", &nc);
    uint8_t *k = cctv_field("mlkem768_strcmp.txt", "K", &nk);
    uint8_t ss[32];
    CHECK(dk && c && k && ndk == MLKEM768_DK_BYTES && nc == MLKEM768_CT_BYTES && nk == 32);
    if (dk && c && k && ndk == MLKEM768_DK_BYTES && nc == MLKEM768_CT_BYTES && nk == 32) {
        CHECK(mlkem768_decaps(ss, c, dk) == 0);
        CHECK_MEM(ss, k, 32);
    }
    free(dk), free(c), free(k);
}

static void test_cctv_unlucky(void)
{
    size_t nek = 0, nm = 0, nc = 0, nk = 0;
    uint8_t *ek = cctv_field("mlkem768_unluckysample.txt", "ek", &nek);
    uint8_t *m = cctv_field("mlkem768_unluckysample.txt", "m", &nm);
    uint8_t *c = cctv_field("mlkem768_unluckysample.txt", "c", &nc);
    uint8_t *k = cctv_field("mlkem768_unluckysample.txt", "K", &nk);
    uint8_t ct[MLKEM768_CT_BYTES], ss[32];
    int sizes = ek && m && c && k && nek == MLKEM768_EK_BYTES && nm == 32 &&
                nc == MLKEM768_CT_BYTES && nk == 32;
    CHECK(sizes);
    if (sizes) {
        CHECK(mlkem768_encaps_derand(ct, ss, ek, m) == 0);
        CHECK_MEM(ct, c, sizeof(ct));
        CHECK_MEM(ss, k, 32);
    }
    free(ek), free(m), free(c), free(k);
}

static void test_cctv_modulus(void)
{
    char cmd[600], *line = NULL;
    size_t cap = 0, n;
    int cases = 0;
    uint8_t ct[MLKEM768_CT_BYTES], ss[32], m[32] = {0};
    snprintf(cmd, sizeof(cmd), "gzip -dc '%s/cctv/mlkem768_modulus.txt.gz'", VEC);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    if (!p)
        return;
    while (getline(&line, &cap, p) > 0 && cases < 10000) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0])
            continue;
        uint8_t *ek = hex_decode_alloc(line, &n);
        CHECK(ek && n == MLKEM768_EK_BYTES);
        if (ek && n == MLKEM768_EK_BYTES) {
            CHECK(!mlkem768_ek_check(ek));
            CHECK(mlkem768_encaps_derand(ct, ss, ek, m) == -EINVAL);
        }
        free(ek);
        cases++;
    }
    free(line);
    CHECK(pclose(p) == 0);
    printf("cctv modulus: %d cases rejected\n", cases);
    CHECK(cases == 780);
}

int main(void)
{
    run_file("mlkem_768_keygen_seed_test.json", case_keygen, 100);
    run_file("mlkem_768_encaps_test.json", case_encaps, 265);
    run_file("mlkem_768_semi_expanded_decaps_test.json", case_decaps, 9);
    run_file("mlkem_768_test.json", case_full, 193);
    test_cctv_strcmp();
    test_cctv_unlucky();
    test_cctv_modulus();
    return check_finish("test_mlkem_vectors");
}
