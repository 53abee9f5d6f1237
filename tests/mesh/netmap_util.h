/* Helpers for the netmap tests and fuzzer: sign a payload as the server does. */
#ifndef ZTNA_TESTS_MESH_NETMAP_UTIL_H
#define ZTNA_TESTS_MESH_NETMAP_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agent/daemon/netmap.h"
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

#endif
