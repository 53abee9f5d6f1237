/* X25519 (RFC 7748) as the data plane uses it, over libsodium. */
#ifndef ZTNA_COMMON_CRYPTO_X25519_H
#define ZTNA_COMMON_CRYPTO_X25519_H

#include <stdint.h>

#define X25519_KEY_SIZE 32

/* A fresh private key from the system RNG, clamped as RFC 7748 section 5 says. */
void x25519_private_generate(uint8_t priv[static X25519_KEY_SIZE]);
/* pub = X25519(priv, 9). 0 / -EINVAL. */
int x25519_public_from_private(uint8_t pub[static X25519_KEY_SIZE],
                               const uint8_t priv[static X25519_KEY_SIZE]);
/* out = X25519(priv, pub). Returns -EINVAL (and zeroes out) when the result is all-zero, i.e. pub
 * is of low order: WireGuard and Noise must refuse such a shared secret. */
int x25519_shared(uint8_t out[static X25519_KEY_SIZE], const uint8_t priv[static X25519_KEY_SIZE],
                  const uint8_t pub[static X25519_KEY_SIZE]);

#endif
