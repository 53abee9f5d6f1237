/* Fuzz target for ML-KEM-768 input handling. The first byte picks the input under attack:
 *   0: an encapsulation key (modulus check, then encaps; a key that passes must round-trip with
 *      no decapsulation key, so only determinism and the check's verdict are asserted),
 *   1: a ciphertext for a fixed key pair (decaps must succeed and be deterministic; an altered
 *      valid ciphertext must not yield the real key),
 *   2: a decapsulation key built from the input (hash check verdict must equal H(ek) == h).
 * Short inputs are zero-padded to the fixed sizes; longer ones truncated. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/mlkem/mlkem768.h"
#include "common/mlkem/sha3.h"

static uint8_t ek0[MLKEM768_EK_BYTES], dk0[MLKEM768_DK_BYTES], ct0[MLKEM768_CT_BYTES], k0[32];
static int ready;

static void setup(void)
{
    uint8_t seed[64], m[32];
    for (int i = 0; i < 64; i++)
        seed[i] = (uint8_t)(0xa5 ^ i);
    memset(m, 0x3c, sizeof(m));
    if (mlkem768_keygen_derand(ek0, dk0, seed) != 0 ||
        mlkem768_encaps_derand(ct0, k0, ek0, m) != 0)
        abort();
    ready = 1;
}

static void fill(uint8_t *dst, size_t n, const uint8_t *src, size_t len)
{
    memset(dst, 0, n);
    memcpy(dst, src, len < n ? len : n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[MLKEM768_DK_BYTES], ct[MLKEM768_CT_BYTES];
    uint8_t k[32], k2[32], h[32];
    if (!ready)
        setup();
    if (size < 1)
        return 0;
    uint8_t op = data[0] % 3;
    data++, size--;

    if (op == 0) {
        fill(buf, MLKEM768_EK_BYTES, data, size);
        int rc = mlkem768_encaps_derand(ct, k, buf, buf + 100);
        if (rc != 0 && rc != -EINVAL)
            abort();
        if ((rc == 0) != mlkem768_ek_check(buf))
            abort();
        if (rc == 0) {
            uint8_t ct2[MLKEM768_CT_BYTES];
            if (mlkem768_encaps_derand(ct2, k2, buf, buf + 100) != 0 ||
                memcmp(ct, ct2, sizeof(ct)) != 0 || memcmp(k, k2, 32) != 0)
                abort();
        }
    } else if (op == 1) {
        memcpy(ct, ct0, sizeof(ct));
        for (size_t i = 0; i + 1 < size && i < 64; i += 2) /* sparse edits of a valid ct */
            ct[(data[i] * 257u + data[i + 1] * 7u) % MLKEM768_CT_BYTES] ^= data[i + 1] | 1;
        if (size > 128)
            fill(ct, MLKEM768_CT_BYTES, data, size);
        if (mlkem768_decaps(k, ct, dk0) != 0 || mlkem768_decaps(k2, ct, dk0) != 0 ||
            memcmp(k, k2, 32) != 0)
            abort();
        if (memcmp(ct, ct0, sizeof(ct)) != 0 && memcmp(k, k0, 32) == 0)
            abort();
    } else {
        memcpy(buf, dk0, sizeof(dk0));
        for (size_t i = 0; i + 2 < size && i < 96; i += 3)
            buf[(data[i] * 256u + data[i + 1]) % MLKEM768_DK_BYTES] ^= data[i + 2];
        sha3_256(h, buf + 1152, MLKEM768_EK_BYTES);
        int want_ok = memcmp(h, buf + 1152 + 1184, 32) == 0;
        int rc = mlkem768_decaps(k, ct0, buf);
        if (want_ok ? rc != 0 : rc != -EINVAL)
            abort();
    }
    return 0;
}
