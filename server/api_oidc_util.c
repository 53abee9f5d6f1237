/* Helpers of the OIDC and CLI-login handlers (see api_oidc_util.h). */
#include "server/api_oidc_util.h"

#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "server/jose.h"

bool url_param_append(char *out, size_t size, char sep, const char *name, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = strlen(out);
    int n = snprintf(out + o, size - o, "%c%s=", sep, name);

    if (n < 0 || (size_t)n >= size - o)
        return false;
    o += (size_t)n;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || strchr("-._~", *p);

        if (o + (plain ? 1 : 3) >= size)
            return false;
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
    return true;
}

bool api_cookie_get(const struct api_ctx *ctx, const char *name, char *out, size_t size)
{
    const char *c = api_header(ctx, "Cookie");
    size_t nl = strlen(name);

    while (c && *c) {
        while (*c == ' ' || *c == ';')
            c++;
        if (strncmp(c, name, nl) == 0 && c[nl] == '=') {
            size_t n = strcspn(c + nl + 1, "; ");

            if (n >= size)
                return false;
            memcpy(out, c + nl + 1, n);
            out[n] = '\0';
            return true;
        }
        c = strchr(c, ';');
    }
    return false;
}

bool api_base_url(const struct api_ctx *ctx, char *out, size_t size)
{
    const char *host = api_header(ctx, "Host");
    const char *pub = ctx->srv->set.public_url;
    int n;

    if (pub[0])
        n = snprintf(out, size, "%.*s", (int)(strlen(pub) - (pub[strlen(pub) - 1] == '/')), pub);
    else if (host && host[0] && strlen(host) < 256 && !strpbrk(host, "/\\ @?#\"<>"))
        n = snprintf(out, size, "%s://%s", ctx->is_tls ? "https" : "http", host);
    else
        return false;
    return n > 0 && (size_t)n < size;
}

void random_b64url(size_t n, char *out)
{
    uint8_t raw[64];

    if (n > sizeof(raw))
        n = sizeof(raw);
    randombytes_buf(raw, n);
    jose_b64url_encode(raw, n, out);
    sodium_memzero(raw, sizeof(raw));
}

void pkce_s256(const char *verifier, char out[static 44])
{
    uint8_t h[crypto_hash_sha256_BYTES];

    crypto_hash_sha256(h, (const uint8_t *)verifier, strlen(verifier));
    jose_b64url_encode(h, sizeof(h), out);
}

void api_refresh_cookie_set(struct api_ctx *ctx, const char *refresh)
{
    api_header_add(ctx, "Set-Cookie", REFRESH_COOKIE_NAME "=%s; HttpOnly; Secure; "
                   "SameSite=Strict; Path=/; Max-Age=%lld", refresh,
                   (long long)ctx->srv->set.refresh_token_ttl);
}

bool api_wants_html(const struct api_ctx *ctx)
{
    const char *a = api_header(ctx, "Accept");

    return a && strstr(a, "text/html") != NULL;
}
