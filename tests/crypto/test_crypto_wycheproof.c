/* Wycheproof X25519, ChaCha20-Poly1305 and XChaCha20-Poly1305: every case, valid and invalid,
 * through the wrappers the data plane calls (common/crypto/x25519.h, chacha20poly1305.h). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/crypto/chacha20poly1305.h"
#include "common/crypto/x25519.h"
#include "tests/check.h"
#include "tests/crypto/json_file.h"

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

static int test_x25519(void)
{
    cJSON *j = json_file_load(ZTNA_VECTORS_DIR "/wycheproof/x25519_test.json");
    int n = 0;
    CHECK(j != NULL);
    if (!j)
        return 0;
    const cJSON *g, *t;
    cJSON_ArrayForEach(g, cJSON_GetObjectItem(j, "testGroups"))
    {
        cJSON_ArrayForEach(t, cJSON_GetObjectItem(g, "tests"))
        {
            size_t plen, qlen, slen;
            uint8_t *priv = json_hex(t, "private", &plen), *pub = json_hex(t, "public", &qlen);
            uint8_t *shared = json_hex(t, "shared", &slen);
            const char *result = json_str(t, "result");
            int tc = cJSON_GetObjectItem(t, "tcId")->valueint;
            n++;
            if (!priv || !pub || !shared || plen != 32 || qlen != 32 || slen != 32) {
                /* Our API only takes 32-byte keys: such a case must be one to reject. */
                CHECK(strcmp(result, "invalid") == 0);
            } else {
                uint8_t out[32];
                int ret = x25519_shared(out, priv, pub);
                if (strcmp(result, "invalid") == 0) {
                    CHECK(ret != 0 || memcmp(out, shared, 32) != 0);
                } else if (all_zero(shared, 32)) {
                    /* Low-order public keys: we refuse the all-zero secret. */
                    if (ret != -22)
                        fprintf(stderr, "x25519 tc %d: zero secret not refused\n", tc);
                    CHECK(ret == -22 && all_zero(out, 32));
                } else {
                    if (ret != 0 || memcmp(out, shared, 32) != 0)
                        fprintf(stderr, "x25519 tc %d (%s) failed\n", tc, result);
                    CHECK(ret == 0);
                    CHECK_MEM(out, shared, 32);
                }
            }
            free(priv);
            free(pub);
            free(shared);
        }
    }
    cJSON_Delete(j);
    return n;
}

/* One AEAD family; x selects XChaCha20-Poly1305. */
static int test_aead(const char *path, bool x)
{
    cJSON *j = json_file_load(path);
    size_t nonce_size = x ? XCHACHA20POLY1305_NONCE_SIZE : CHACHA20POLY1305_NONCE_SIZE;
    int n = 0;
    CHECK(j != NULL);
    if (!j)
        return 0;
    const cJSON *g, *t;
    cJSON_ArrayForEach(g, cJSON_GetObjectItem(j, "testGroups"))
    {
        cJSON_ArrayForEach(t, cJSON_GetObjectItem(g, "tests"))
        {
            size_t klen, ivlen, alen, mlen, clen, tlen;
            uint8_t *key = json_hex(t, "key", &klen), *iv = json_hex(t, "iv", &ivlen);
            uint8_t *aad = json_hex(t, "aad", &alen), *msg = json_hex(t, "msg", &mlen);
            uint8_t *ct = json_hex(t, "ct", &clen), *tag = json_hex(t, "tag", &tlen);
            bool valid = strcmp(json_str(t, "result"), "valid") == 0;
            int tc = cJSON_GetObjectItem(t, "tcId")->valueint;
            n++;
            CHECK(key && iv && aad && msg && ct && tag);
            if (!key || !iv || !aad || !msg || !ct || !tag)
                goto next;
            if (klen != 32 || ivlen != nonce_size || tlen != CHACHA20POLY1305_TAG_SIZE) {
                /* Not expressible through our fixed-size API: must be an invalid case. */
                CHECK(!valid);
                goto next;
            }
            uint8_t *sealed = malloc(clen + 16 + 1), *opened = malloc(clen + 1);
            CHECK(sealed && opened);
            if (!sealed || !opened) {
                free(sealed);
                free(opened);
                goto next;
            }
            memcpy(sealed, ct, clen);
            memcpy(sealed + clen, tag, 16);
            int ret = x ? xchacha20poly1305_open(opened, sealed, clen + 16, aad, alen, iv, key)
                        : chacha20poly1305_open(opened, sealed, clen + 16, aad, alen, iv, key);
            if (valid) {
                if (ret != 0)
                    fprintf(stderr, "%s tc %d: valid case rejected\n", path, tc);
                CHECK(ret == 0 && clen == mlen);
                CHECK(mlen == 0 || memcmp(opened, msg, mlen) == 0);
                /* And sealing the message gives exactly ct || tag, also in place. */
                uint8_t *again = malloc(mlen + 16 + 1);
                CHECK(again != NULL);
                if (again) {
                    memcpy(again, msg, mlen);
                    if (x)
                        xchacha20poly1305_seal(again, again, mlen, aad, alen, iv, key);
                    else
                        chacha20poly1305_seal(again, again, mlen, aad, alen, iv, key);
                    CHECK_MEM(again, sealed, mlen + 16);
                    free(again);
                }
            } else {
                if (ret == 0)
                    fprintf(stderr, "%s tc %d: invalid case accepted\n", path, tc);
                CHECK(ret == -74 /* EBADMSG */);
                CHECK(clen == 0 || all_zero(opened, clen));
            }
            free(sealed);
            free(opened);
        next:
            free(key);
            free(iv);
            free(aad);
            free(msg);
            free(ct);
            free(tag);
        }
    }
    cJSON_Delete(j);
    return n;
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    int nx = test_x25519();
    int nc = test_aead(ZTNA_VECTORS_DIR "/wycheproof/chacha20_poly1305_test.json", false);
    int nxc = test_aead(ZTNA_VECTORS_DIR "/wycheproof/xchacha20_poly1305_test.json", true);
    printf("x25519 %d, chacha20poly1305 %d, xchacha20poly1305 %d cases\n", nx, nc, nxc);
    CHECK(nx == 518 && nc == 325 && nxc == 315);
    return check_finish("test_crypto_wycheproof");
}
