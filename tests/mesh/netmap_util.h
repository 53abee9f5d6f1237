/* Helpers for the netmap tests and fuzzer: sign a payload as the server does, for a poll (one
 * signature) or for streams (one signature over a batch's root, common/ctl/map_batch.h). */
#ifndef ZTNA_TESTS_MESH_NETMAP_UTIL_H
#define ZTNA_TESTS_MESH_NETMAP_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agent/daemon/netmap.h"
#include "common/ctl/map_batch.h"
#include "common/hex.h"

/* The reply's data member for payload (len bytes) signed with sk; new string (free()). */
static inline char *nm_sign(const uint8_t sk[64], const char *payload, size_t len)
{
    size_t tag = strlen(NETMAP_SIG_TAG), b64len = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    uint8_t *msg = malloc(tag + len + 1), sig[64];
    char *b64 = malloc(b64len), hex[129], *out = malloc(b64len + 200);
    memcpy(msg, NETMAP_SIG_TAG, tag);
    memcpy(msg + tag, payload, len);
    crypto_sign_detached(sig, NULL, msg, tag + len, sk);
    sodium_bin2base64(b64, b64len, (const uint8_t *)payload, len, sodium_base64_VARIANT_ORIGINAL);
    hex_encode(hex, sig, 64);
    snprintf(out, b64len + 200, "{\"payload\":\"%s\",\"sig\":\"%s\"}", b64, hex);
    free(msg);
    free(b64);
    return out;
}

/* The stream frames of one batch of n payloads signed with sk, as the server's pump writes them:
 * {"type":"map","payload":base64,"sig":hex,"path":["l<hex>",...]}. frames[i] new (free()). */
static inline void nm_batch_sign(const uint8_t sk[64], const char *const *payloads, size_t n,
                                 char **frames)
{
    size_t tag = strlen(NETMAP_SIG_TAG), *depths = malloc(n * sizeof(*depths));
    uint8_t (*leaves)[32] = malloc(n * 32), root[32], msg_signed[64], sig[64];
    struct map_batch_step *paths = malloc(n * MAP_BATCH_DEPTH_MAX * sizeof(*paths));
    char sig_hex[129];
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(payloads[i]);
        uint8_t *msg = malloc(tag + len);
        memcpy(msg, NETMAP_SIG_TAG, tag);
        memcpy(msg + tag, payloads[i], len);
        map_batch_leaf(leaves[i], msg, tag + len);
        free(msg);
    }
    if (map_batch_build((const uint8_t (*)[32])leaves, n, root, paths, depths))
        abort();
    crypto_sign_detached(sig, NULL, msg_signed, map_batch_signed(msg_signed, sizeof(msg_signed), root),
                         sk);
    hex_encode(sig_hex, sig, 64);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(payloads[i]), b64len = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
        size_t cap = b64len + 256 + depths[i] * (MAP_BATCH_STEP_TEXT + 3);
        char *f = malloc(cap), *p;
        p = f + sprintf(f, "{\"type\":\"map\",\"payload\":\"");
        sodium_bin2base64(p, b64len, (const uint8_t *)payloads[i], len, sodium_base64_VARIANT_ORIGINAL);
        p += strlen(p);
        p += sprintf(p, "\",\"sig\":\"%s\",\"path\":[", sig_hex);
        for (size_t k = 0; k < depths[i]; k++) {
            p += sprintf(p, "%s\"", k ? "," : "");
            map_batch_step_format(p, &paths[i * MAP_BATCH_DEPTH_MAX + k]);
            p += MAP_BATCH_STEP_TEXT;
            *p++ = '"';
        }
        strcpy(p, "]}");
        frames[i] = f;
    }
    free(depths);
    free(leaves);
    free(paths);
}

#endif
