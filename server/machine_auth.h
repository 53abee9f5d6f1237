/* Authentication of machine requests (after registration) by the machine-key signature of
 * common/ctl/ctl_auth.h: window +-CTL_AUTH_WINDOW_SECONDS, and every nonce accepted at most once
 * (machine_nonces, pruned by the janitor once out of the window).
 *
 * Body bytes: the signature covers SHA-256 of the request body exactly as received: handlers pass
 * ctx->raw_body / ctx->raw_body_len (api.h), so any JSON formatting a client signed verifies.
 * Map polls are first checked from memory (netmap_auth() in netmap.h) and come here only when
 * memory cannot decide. */
#ifndef ZTNA_SERVER_MACHINE_AUTH_H
#define ZTNA_SERVER_MACHINE_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "server/api.h"
#include "server/db_machines.h"

/* On success fills *m, ctx->auth.machine_id and ctx->auth.org_id and returns true. Otherwise sets
 * a 401 reply (message says why: malformed header, unknown key, machine expired, timestamp out of
 * window, bad signature, replayed nonce), records failures that look like attacks in the audit
 * log, and returns false. */
bool machine_auth_request(struct api_ctx *ctx, const char *body, size_t body_len,
                          struct machine_row *m);

/* The request target the client signed: the route pattern with its captures filled in, plus
 * "?query" when there is one. false if it does not fit. */
bool machine_auth_target(const struct api_ctx *ctx, char *out, size_t size);

#endif
