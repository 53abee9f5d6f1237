/* HKDF-SHA256 against every Wycheproof case (valid OKMs and rejected output sizes). */
#include "common/crypto/hkdf_sha256.h"
#include "common/hex.h"
#include "tests/check.h"

#include <errno.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n + 1);
        if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n)
            buf[n] = 0;
        else {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}

static uint8_t *field(const cJSON *t, const char *name, size_t *len)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(t, name);
    if (!cJSON_IsString(s))
        return NULL;
    if (!s->valuestring[0]) {
        *len = 0;
        return calloc(1, 1);
    }
    return hex_decode_alloc(s->valuestring, len);
}

int main(void)
{
    char *json = read_all(ZTNA_VECTORS_DIR "/wycheproof/hkdf_sha256_test.json");
    cJSON *root, *groups, *g, *t;
    int n_valid = 0, n_invalid = 0;

    CHECK(json != NULL);
    if (!json)
        return check_finish("test_hkdf_sha256");
    root = cJSON_Parse(json);
    CHECK(root != NULL);
    groups = cJSON_GetObjectItemCaseSensitive(root, "testGroups");
    cJSON_ArrayForEach(g, groups) {
        cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(g, "tests")) {
            size_t ikm_len = 0, salt_len = 0, info_len = 0, okm_len = 0;
            uint8_t *ikm = field(t, "ikm", &ikm_len), *salt = field(t, "salt", &salt_len);
            uint8_t *info = field(t, "info", &info_len), *okm = field(t, "okm", &okm_len);
            int size = cJSON_GetObjectItemCaseSensitive(t, "size")->valueint;
            const char *result = cJSON_GetObjectItemCaseSensitive(t, "result")->valuestring;
            uint8_t *out = calloc(1, (size_t)size + 1);
            int ret;

            CHECK(ikm && salt && info && out);
            ret = hkdf_sha256(out, (size_t)size, salt, salt_len, ikm, ikm_len, info, info_len);
            if (strcmp(result, "valid") == 0) {
                n_valid++;
                CHECK(ret == 0);
                CHECK(okm && okm_len == (size_t)size);
                if (okm && okm_len == (size_t)size && memcmp(out, okm, okm_len) != 0) {
                    fprintf(stderr, "tcId %d: okm mismatch\n",
                            cJSON_GetObjectItemCaseSensitive(t, "tcId")->valueint);
                    check_failures++;
                }
            } else {
                n_invalid++;
                CHECK(ret == -EINVAL);
            }
            free(ikm);
            free(salt);
            free(info);
            free(okm);
            free(out);
        }
    }
    /* The file has 83 valid and 3 invalid cases; a silently empty parse must not pass. */
    CHECK(n_valid == 83 && n_invalid == 3);
    /* Absent salt equals HashLen zero bytes (RFC 5869 2.2). */
    {
        uint8_t a[32], b[32], zero[32] = {0}, ikm[5] = {1, 2, 3, 4, 5};
        CHECK(hkdf_sha256(a, 32, NULL, 0, ikm, 5, NULL, 0) == 0);
        CHECK(hkdf_sha256(b, 32, zero, 32, ikm, 5, NULL, 0) == 0);
        CHECK_MEM(a, b, 32);
        CHECK(hkdf_sha256(a, 0, NULL, 0, ikm, 5, NULL, 0) == -EINVAL);
    }
    cJSON_Delete(root);
    free(json);
    return check_finish("test_hkdf_sha256");
}
