/* Passwords, tokens and sessions.
 *
 * Passwords: argon2id through crypto_pwhash_str_alg(ALG_ARGON2ID13) with opslimit/memlimit from
 * the settings (default t=2, m=19 MiB, p=1: the OWASP minimum for argon2id, chosen so the API
 * tests can log in many times per second while staying memory-hard).
 * Tokens: 32 random bytes as 64 hex characters; only SHA-256(token) is stored, and tokens are
 * found by that hash, so no comparison ever runs over a secret. Access tokens live
 * access_token_ttl seconds; refresh tokens rotate on every use inside a family (one per login);
 * presenting a spent refresh token revokes the whole family with its access tokens. */
#ifndef ZTNA_SERVER_AUTH_H
#define ZTNA_SERVER_AUTH_H

#include <stdbool.h>
#include <stdint.h>
#include <sodium.h>

#include "server/api.h"
#include "server/limits.h"

struct db_conn;

int auth_password_hash(const struct server *srv, const char *password,
                       char out[static crypto_pwhash_STRBYTES]);
bool auth_password_verify(const char *hash, const char *password);
/* Burns the same time as a verify, for unknown accounts (no user enumeration by timing). */
void auth_password_dummy(const struct server *srv);

void auth_token_hash(const char *token, uint8_t hash[static 32]);

struct auth_tokens {
    char access[SRV_TOKEN_TEXT_BYTES];
    char refresh[SRV_TOKEN_TEXT_BYTES];
    int64_t family_id;
    int64_t user_id;
};

/* New family for user_id with a fresh access + refresh token. */
int auth_session_create(struct server *srv, struct db_conn *db, int64_t user_id,
                        struct auth_tokens *out);
/* Rotates: 0 and new tokens; -ENOENT unknown/expired/revoked; -EPERM reuse detected (the family
 * was revoked, out->user_id and out->family_id say whose). */
int auth_session_refresh(struct server *srv, struct db_conn *db, const char *refresh,
                         struct auth_tokens *out);
int auth_family_revoke(struct db_conn *db, int64_t family_id);
/* Family of a refresh token (spent or not), or -ENOENT. */
int auth_refresh_family(struct db_conn *db, const char *refresh, int64_t *family_id);
/* Resolves a bearer token into ctx->auth (user id, email, family): 0 or -ENOENT. */
int auth_access_check(struct db_conn *db, const char *token, struct auth_ctx *out);

#endif
