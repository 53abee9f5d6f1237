/* `ztna debug ...`: developer tools that expose building blocks to scripts and cross-checks.
 *   ztna debug mlkem keygen SEED_HEX      (64-byte d||z)    -> "ek: HEX" and "dk: HEX"
 *   ztna debug mlkem encaps EK_HEX M_HEX  (1184 + 32 bytes) -> "ct: HEX" and "K: HEX"
 *   ztna debug mlkem decaps DK_HEX CT_HEX (2400 + 1088)     -> "K: HEX"
 * Bad hex, wrong lengths and keys failing the FIPS 203 input checks print an error naming the
 * problem and exit 1; usage errors exit 2. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agent/commands.h"
#include "common/hex.h"
#include "common/mlkem/mlkem768.h"

static int usage(void)
{
    fprintf(stderr, "usage: ztna debug mlkem keygen SEED_HEX\n"
                    "       ztna debug mlkem encaps EK_HEX M_HEX\n"
                    "       ztna debug mlkem decaps DK_HEX CT_HEX\n");
    return 2;
}

/* Decodes exactly `want` bytes of hex into a new buffer, or prints why not and returns NULL. */
static uint8_t *arg_bytes(const char *what, const char *hex, size_t want)
{
    size_t n = 0;
    uint8_t *b = hex_decode_alloc(hex, &n);
    if (!b) {
        fprintf(stderr, "ztna debug mlkem: %s is not valid hex\n", what);
        return NULL;
    }
    if (n != want) {
        fprintf(stderr, "ztna debug mlkem: %s has %zu bytes, expected %zu\n", what, n, want);
        free(b);
        return NULL;
    }
    return b;
}

static void print_hex(const char *label, const uint8_t *b, size_t n)
{
    char *s = malloc(2 * n + 1);
    if (!s) {
        fprintf(stderr, "ztna debug mlkem: out of memory\n");
        return;
    }
    hex_encode(s, b, n);
    printf("%s: %s\n", label, s);
    sodium_memzero(s, 2 * n + 1);
    free(s);
}

static int mlkem_keygen(char **argv)
{
    uint8_t ek[MLKEM768_EK_BYTES], dk[MLKEM768_DK_BYTES];
    uint8_t *seed = arg_bytes("seed", argv[0], MLKEM768_SEED_BYTES);
    int ret = 1;
    if (!seed)
        goto out;
    if (mlkem768_keygen_derand(ek, dk, seed) != 0)
        goto out;
    print_hex("ek", ek, sizeof(ek));
    print_hex("dk", dk, sizeof(dk));
    ret = 0;
out:
    if (seed)
        sodium_memzero(seed, MLKEM768_SEED_BYTES);
    free(seed);
    sodium_memzero(dk, sizeof(dk));
    return ret;
}

static int mlkem_encaps(char **argv)
{
    uint8_t ct[MLKEM768_CT_BYTES], k[MLKEM768_SS_BYTES];
    uint8_t *ek = arg_bytes("encapsulation key", argv[0], MLKEM768_EK_BYTES);
    uint8_t *m = ek ? arg_bytes("message", argv[1], MLKEM768_MSG_BYTES) : NULL;
    int ret = 1;
    if (!ek || !m)
        goto out;
    if (mlkem768_encaps_derand(ct, k, ek, m) != 0) {
        fprintf(stderr, "ztna debug mlkem: encapsulation key fails the modulus check "
                        "(FIPS 203 7.2)\n");
        goto out;
    }
    print_hex("ct", ct, sizeof(ct));
    print_hex("K", k, sizeof(k));
    ret = 0;
out:
    free(ek);
    if (m)
        sodium_memzero(m, MLKEM768_MSG_BYTES);
    free(m);
    sodium_memzero(k, sizeof(k));
    return ret;
}

static int mlkem_decaps(char **argv)
{
    uint8_t k[MLKEM768_SS_BYTES];
    uint8_t *dk = arg_bytes("decapsulation key", argv[0], MLKEM768_DK_BYTES);
    uint8_t *ct = dk ? arg_bytes("ciphertext", argv[1], MLKEM768_CT_BYTES) : NULL;
    int ret = 1;
    if (!dk || !ct)
        goto out;
    if (mlkem768_decaps(k, ct, dk) != 0) {
        fprintf(stderr, "ztna debug mlkem: decapsulation key fails the hash check "
                        "(FIPS 203 7.3)\n");
        goto out;
    }
    print_hex("K", k, sizeof(k));
    ret = 0;
out:
    if (dk)
        sodium_memzero(dk, MLKEM768_DK_BYTES);
    free(dk);
    free(ct);
    sodium_memzero(k, sizeof(k));
    return ret;
}

static int debug_mlkem(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "keygen") == 0)
        return mlkem_keygen(argv + 2);
    if (argc == 4 && strcmp(argv[1], "encaps") == 0)
        return mlkem_encaps(argv + 2);
    if (argc == 4 && strcmp(argv[1], "decaps") == 0)
        return mlkem_decaps(argv + 2);
    return usage();
}

int cmd_debug(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "mlkem") == 0)
        return debug_mlkem(argc - 1, argv + 1);
    return usage();
}
