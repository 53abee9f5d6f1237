/* Small helpers shared by the OIDC and CLI-login handlers (api_oidc_util.c). */
#ifndef ZTNA_SERVER_API_OIDC_UTIL_H
#define ZTNA_SERVER_API_OIDC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/api.h"
#include "server/db_oidc.h"

#define REFRESH_COOKIE_NAME "__Host-refresh_token"

/* Appends "name=value" (value percent-encoded, RFC 3986 unreserved kept) to out, preceded by
 * sep; false if it does not fit. */
bool url_param_append(char *out, size_t size, char sep, const char *name, const char *value);
/* Copies the value of cookie name from the request's Cookie header; false if absent or longer
 * than size - 1. */
bool api_cookie_get(const struct api_ctx *ctx, const char *name, char *out, size_t size);
/* Our external base URL without trailing '/': --public-url, else scheme://Host. false when
 * neither is known. */
bool api_base_url(const struct api_ctx *ctx, char *out, size_t size);
/* n random bytes as unpadded base64url into out (4 * ((n + 2) / 3) + 1 bytes). */
void random_b64url(size_t n, char *out);
/* base64url(SHA-256(s)): the PKCE S256 challenge of a verifier (RFC 7636 §4.2); out 44 bytes. */
void pkce_s256(const char *verifier, char out[static 44]);
/* Sets the refresh cookie of a new session, exactly as the password login does. */
void api_refresh_cookie_set(struct api_ctx *ctx, const char *refresh);
/* True if the request comes from a browser navigation (Accept names text/html). */
bool api_wants_html(const struct api_ctx *ctx);
/* The org's OIDC configuration: its own row, else the server config's oidc-* settings when
 * oidc-org names this org. -ENOENT when neither exists. */
int oidc_config_resolve(struct api_ctx *ctx, int64_t org_id, struct oidc_config *out);

#endif
