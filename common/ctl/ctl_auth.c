/* Machine request signatures (see ctl_auth.h for the wire format and the canonical string). */
#include "common/ctl/ctl_auth.h"

#include "common/hex.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static int nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Matches `name=` at *p, then exactly 2*n hex digits. Advances *p. */
static bool take_hex(const char **p, const char *end, const char *name, uint8_t *out, size_t n)
{
    size_t nl = strlen(name);
    if ((size_t)(end - *p) < nl + 1 + 2 * n || memcmp(*p, name, nl) != 0 || (*p)[nl] != '=')
        return false;
    const char *s = *p + nl + 1;
    for (size_t i = 0; i < n; i++) {
        int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *p = s + 2 * n;
    return true;
}

/* Matches `ts=` and 1..12 decimal digits (no sign, no leading zero unless "0"). */
static bool take_ts(const char **p, const char *end, int64_t *out)
{
    const char *s = *p;
    if (end - s < 4 || memcmp(s, "ts=", 3) != 0)
        return false;
    s += 3;
    int64_t v = 0;
    int digits = 0;
    while (s < end && *s >= '0' && *s <= '9') {
        if (++digits > 12 || (digits == 2 && v == 0))
            return false;
        v = v * 10 + (*s - '0');
        s++;
    }
    if (!digits)
        return false;
    *out = v;
    *p = s;
    return true;
}

/* A separator is "," followed by at most one space. */
static bool take_sep(const char **p, const char *end)
{
    if (*p >= end || **p != ',')
        return false;
    (*p)++;
    if (*p < end && **p == ' ')
        (*p)++;
    return true;
}

bool ctl_auth_header_parse(const char *value, size_t len, struct ctl_auth *out)
{
    memset(out, 0, sizeof(*out));
    if (!value || len > CTL_AUTH_HEADER_MAX)
        return false;
    const char *p = value, *end = value + len;
    size_t sl = strlen(CTL_AUTH_SCHEME);
    if (len < sl + 1 || strncasecmp(p, CTL_AUTH_SCHEME, sl) != 0 || p[sl] != ' ')
        return false;
    p += sl + 1;
    bool ok = take_hex(&p, end, "key", out->machine_key, sizeof(out->machine_key)) &&
              take_sep(&p, end) && take_ts(&p, end, &out->timestamp) && take_sep(&p, end) &&
              take_hex(&p, end, "nonce", out->nonce, sizeof(out->nonce)) && take_sep(&p, end) &&
              take_hex(&p, end, "sig", out->signature, sizeof(out->signature)) && p == end;
    if (!ok)
        memset(out, 0, sizeof(*out));
    return ok;
}

int ctl_auth_header_format(const struct ctl_auth *a, char *out, size_t cap)
{
    char key[2 * CTL_AUTH_KEY_BYTES + 1], nonce[2 * CTL_AUTH_NONCE_BYTES + 1];
    char sig[2 * CTL_AUTH_SIG_BYTES + 1];
    if (a->timestamp < 0)
        return -EINVAL;
    hex_encode(key, a->machine_key, sizeof(a->machine_key));
    hex_encode(nonce, a->nonce, sizeof(a->nonce));
    hex_encode(sig, a->signature, sizeof(a->signature));
    int n = snprintf(out, cap, "%s key=%s,ts=%" PRId64 ",nonce=%s,sig=%s", CTL_AUTH_SCHEME, key,
                     a->timestamp, nonce, sig);
    if (n < 0 || (size_t)n >= cap)
        return -ENOSPC;
    return n;
}

static bool printable(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= max || (unsigned char)s[n] <= 0x20 || s[n] == 0x7f)
            return false;
    return n > 0;
}

int ctl_auth_canonical(char *out, size_t cap, const char *method, const char *path, int64_t ts,
                       const uint8_t nonce[static CTL_AUTH_NONCE_BYTES], const uint8_t *body,
                       size_t body_len)
{
    uint8_t digest[crypto_hash_sha256_BYTES];
    char digest_hex[2 * sizeof(digest) + 1], nonce_hex[2 * CTL_AUTH_NONCE_BYTES + 1];
    if (!method || !path || !printable(method, 16) || !printable(path, CTL_AUTH_PATH_MAX) ||
        ts < 0 || (!body && body_len))
        return -EINVAL;
    crypto_hash_sha256(digest, body ? body : (const uint8_t *)"", body_len);
    hex_encode(digest_hex, digest, sizeof(digest));
    hex_encode(nonce_hex, nonce, CTL_AUTH_NONCE_BYTES);
    int n = snprintf(out, cap, "%s\n%s\n%s\n%" PRId64 "\n%s\n%s\n", CTL_AUTH_CANON_TAG, method,
                     path, ts, nonce_hex, digest_hex);
    if (n < 0 || (size_t)n >= cap)
        return -ENOSPC;
    return n;
}

#define CANON_MAX (CTL_AUTH_PATH_MAX + 256)

int ctl_auth_sign(struct ctl_auth *out, const uint8_t secret_key[static CTL_AUTH_SECRET_BYTES],
                  const char *method, const char *path, const uint8_t *body, size_t body_len,
                  int64_t now)
{
    char canon[CANON_MAX];
    memset(out, 0, sizeof(*out));
    if (sodium_init() < 0)
        return -EIO;
    out->timestamp = now;
    randombytes_buf(out->nonce, sizeof(out->nonce));
    if (crypto_sign_ed25519_sk_to_pk(out->machine_key, secret_key) != 0)
        return -EINVAL;
    int n = ctl_auth_canonical(canon, sizeof(canon), method, path, now, out->nonce, body, body_len);
    if (n < 0)
        return n;
    crypto_sign_detached(out->signature, NULL, (const uint8_t *)canon, (size_t)n, secret_key);
    return 0;
}

int ctl_auth_verify(const struct ctl_auth *a, const char *method, const char *path,
                    const uint8_t *body, size_t body_len, int64_t now, int window)
{
    char canon[CANON_MAX];
    if (window < 0)
        return -EINVAL;
    /* Window first: it costs nothing and bounds how long the nonce store must remember. */
    if (a->timestamp > now + window || a->timestamp < now - window)
        return -ETIME;
    int n = ctl_auth_canonical(canon, sizeof(canon), method, path, a->timestamp, a->nonce, body,
                               body_len);
    if (n < 0)
        return n;
    if (crypto_sign_verify_detached(a->signature, (const uint8_t *)canon, (size_t)n,
                                    a->machine_key) != 0)
        return -EBADMSG;
    return 0;
}
