/* Machine request signatures: how an agent authenticates every control call after registration.
 *
 * The agent signs each request with its machine key (Ed25519, private key never leaves the device)
 * and sends ONE header:
 *
 *   Authorization: ZTNA-Ed25519 key=<64 hex>,ts=<unix seconds>,nonce=<32 hex>,sig=<128 hex>
 *
 *   key    the machine's Ed25519 public key (as registered), lower- or upper-case hex
 *   ts     the signer's clock, decimal seconds since the epoch
 *   nonce  16 random bytes, never reused
 *   sig    Ed25519 signature over the canonical string below
 *
 * Canonical string (every line ends with "\n", no trailing data):
 *   ZTNA-MACHINE-AUTH-V1
 *   <METHOD>              upper case, as sent ("POST")
 *   <PATH>                the request target as sent: path plus "?query" if any
 *   <ts>                  decimal, as in the header
 *   <nonce hex>           lower case
 *   <SHA-256(body) hex>   lower case; the hash of the empty string when there is no body
 *
 * The hash covers the body bytes exactly as sent: the server hashes the raw request body it
 * received (server/machine_auth.h), so any JSON formatting the agent signed verifies.
 *
 * The server accepts a request when the key belongs to a live machine, |now - ts| <= 60 s and the
 * (machine, nonce) pair was never accepted before within the window (replay protection, the server
 * keeps accepted nonces until they fall out of the window). */
#ifndef ZTNA_COMMON_CTL_AUTH_H
#define ZTNA_COMMON_CTL_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_AUTH_HEADER         "Authorization"
#define CTL_AUTH_SCHEME         "ZTNA-Ed25519"
#define CTL_AUTH_CANON_TAG      "ZTNA-MACHINE-AUTH-V1"
#define CTL_AUTH_WINDOW_SECONDS 60
#define CTL_AUTH_KEY_BYTES      32
#define CTL_AUTH_SECRET_BYTES   64  /* libsodium Ed25519 secret key (seed || public) */
#define CTL_AUTH_NONCE_BYTES    16
#define CTL_AUTH_SIG_BYTES      64
#define CTL_AUTH_HEADER_MAX     512 /* longest header value we format or accept */
#define CTL_AUTH_PATH_MAX       2048

struct ctl_auth {
    uint8_t machine_key[CTL_AUTH_KEY_BYTES];
    int64_t timestamp;
    uint8_t nonce[CTL_AUTH_NONCE_BYTES];
    uint8_t signature[CTL_AUTH_SIG_BYTES];
};

/* Parses a header value (len bytes, need not be NUL-terminated). False on any deviation. */
bool ctl_auth_header_parse(const char *value, size_t len, struct ctl_auth *out);
/* Writes the header value and a NUL into out. Returns its length or -ENOSPC. */
int ctl_auth_header_format(const struct ctl_auth *a, char *out, size_t cap);
/* Writes the canonical string (NUL-terminated) into out. Returns its length, -EINVAL on a method
 * or path with a control character or too long, or -ENOSPC. */
int ctl_auth_canonical(char *out, size_t cap, const char *method, const char *path, int64_t ts,
                       const uint8_t nonce[static CTL_AUTH_NONCE_BYTES], const uint8_t *body,
                       size_t body_len);
/* Signs a request at time `now` with a fresh random nonce; fills every field of out. 0 / -errno. */
int ctl_auth_sign(struct ctl_auth *out, const uint8_t secret_key[static CTL_AUTH_SECRET_BYTES],
                  const char *method, const char *path, const uint8_t *body, size_t body_len,
                  int64_t now);
/* Checks the window and the signature (not the nonce history: the caller's store does that).
 * Returns 0, -ETIME when |now - ts| > window, -EBADMSG on a bad signature, -EINVAL on bad input. */
int ctl_auth_verify(const struct ctl_auth *a, const char *method, const char *path,
                    const uint8_t *body, size_t body_len, int64_t now, int window);

#endif
