/* X25519 over libsodium's crypto_scalarmult, with the all-zero result refused. */
#include "common/crypto/x25519.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

void x25519_private_generate(uint8_t priv[static X25519_KEY_SIZE])
{
    randombytes_buf(priv, X25519_KEY_SIZE);
    priv[0] &= 248;
    priv[31] = (uint8_t)((priv[31] & 127) | 64);
}

int x25519_public_from_private(uint8_t pub[static X25519_KEY_SIZE],
                               const uint8_t priv[static X25519_KEY_SIZE])
{
    return crypto_scalarmult_base(pub, priv) == 0 ? 0 : -EINVAL;
}

int x25519_shared(uint8_t out[static X25519_KEY_SIZE], const uint8_t priv[static X25519_KEY_SIZE],
                  const uint8_t pub[static X25519_KEY_SIZE])
{
    /* libsodium returns -1 (and an all-zero out) when the product is the identity. */
    if (crypto_scalarmult(out, priv, pub) != 0) {
        sodium_memzero(out, X25519_KEY_SIZE);
        return -EINVAL;
    }
    return 0;
}
