/* The OpenID Provider side of SSO: discovery (OpenID Connect Discovery 1.0 §4), the token
 * endpoint (RFC 6749 §4.1.3 with PKCE, RFC 7636) and the JWKS, all through libcurl.
 *
 * Cache (struct oidc_cache, hung off srv->oidc by the "oidc" module): per issuer the discovered
 * endpoints (kept OIDC_DISCOVERY_TTL) and the parsed JWK Set (kept OIDC_JWKS_TTL, and fetched
 * again at once, a single time per verification, when a token names a kid the set lacks: that
 * is how a provider's key rotation is picked up). One mutex guards the cache; it is never held
 * across a network call. */
#ifndef ZTNA_SERVER_OIDC_H
#define ZTNA_SERVER_OIDC_H

#include <stdbool.h>
#include <stddef.h>

#include "server/jose.h"
#include "server/server.h"

#define OIDC_MAX_URL          512
#define OIDC_HTTP_MAX_BYTES   (256 * 1024) /* largest provider reply read */
#define OIDC_HTTP_TIMEOUT     10           /* seconds for one provider request */
#define OIDC_CONNECT_TIMEOUT  5
#define OIDC_DISCOVERY_TTL    3600
#define OIDC_JWKS_TTL         3600
#define OIDC_MAX_PROVIDERS    32           /* issuers cached; the oldest is evicted */
#define OIDC_MAX_ERROR_BYTES  200          /* provider's error text kept for a message */

struct oidc_endpoints {
    char issuer[OIDC_MAX_URL];
    char authorization[OIDC_MAX_URL];
    char token[OIDC_MAX_URL];
    char jwks_uri[OIDC_MAX_URL];
};

struct oidc_client {
    const char *client_id, *client_secret;
    bool secret_post; /* client_secret_post; else client_secret_basic */
};

/* Module hooks (modules.c): libcurl's global init and the cache. */
int oidc_start(struct server *srv);
void oidc_stop(struct server *srv);

/* https://..., or http:// to a loopback host (127.0.0.0/8, [::1], localhost) for tests and
 * providers on the same machine. No userinfo, no fragment. */
bool oidc_url_allowed(const char *url);

/* The provider's endpoints, from the cache or its discovery document (whose issuer must equal
 * issuer exactly). 0, or -errno with why (a sentence) filled. */
int oidc_discover(struct server *srv, const char *issuer, struct oidc_endpoints *out,
                  char *why, size_t why_size);

/* Exchanges code for tokens; *id_token is new (free()). -EPROTO: the provider refused (why has
 * its error); other -errno: unreachable or malformed reply. */
int oidc_token_exchange(struct server *srv, const struct oidc_endpoints *ep,
                        const struct oidc_client *c, const char *code, const char *verifier,
                        const char *redirect_uri, char **id_token, char *why, size_t why_size);

/* Verifies j against the issuer's JWKS (cached; refetched once on an unknown kid).
 * 0, -ENOKEY (no such key even after a refresh), -EBADMSG (bad signature), other -errno when
 * the JWKS cannot be fetched. */
int oidc_jws_verify(struct server *srv, const struct oidc_endpoints *ep, const struct jose_jws *j);

#endif
