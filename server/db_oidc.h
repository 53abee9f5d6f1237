/* Tables of 005_oidc.sql for SSO: oidc_configs, oidc_login_states, oidc_identities,
 * oidc_user_groups (db_oidc.c). Every org row is read and written by org_id. */
#ifndef ZTNA_SERVER_DB_OIDC_H
#define ZTNA_SERVER_DB_OIDC_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "server/oidc.h"
#include "server/oidc_claims.h"

struct db_conn;

#define OIDC_MAX_CLIENT_ID     255
#define OIDC_MAX_SECRET        512
#define OIDC_MAX_SCOPES        255
#define OIDC_MAX_CLAIM_NAME    64
#define OIDC_MAX_DOMAINS_JSON  (OIDC_MAX_DOMAINS * 256)
#define OIDC_SECRET_BYTES      32  /* randomness in state, nonce and PKCE verifier */

struct oidc_config {
    int64_t org_id;
    char issuer[OIDC_MAX_URL];
    char client_id[OIDC_MAX_CLIENT_ID + 1];
    char client_secret[OIDC_MAX_SECRET + 1];
    bool secret_post;                            /* token_auth client_secret_post */
    char scopes[OIDC_MAX_SCOPES + 1];
    char allowed_domains[OIDC_MAX_DOMAINS_JSON]; /* JSON array text */
    char groups_claim[OIDC_MAX_CLAIM_NAME + 1];
    bool enabled;
    int64_t updated_at;
    const char *source;                          /* "org" or "server-config" (static) */
};

/* The org's own row; -ENOENT if none. */
int db_oidc_config_get(struct db_conn *db, int64_t org_id, struct oidc_config *out);
int db_oidc_config_put(struct db_conn *db, const struct oidc_config *c);
int db_oidc_config_delete(struct db_conn *db, int64_t org_id); /* -ENOENT */

/* The org id of a slug; -ENOENT. */
int db_oidc_org_by_slug(struct db_conn *db, const char *slug, int64_t *org_id);

struct oidc_login_state {
    int64_t org_id;
    char nonce[2 * OIDC_SECRET_BYTES];
    char verifier[2 * OIDC_SECRET_BYTES];
    int64_t expires_at;
};
/* Stores a started login (and forgets expired ones). */
int db_oidc_state_insert(struct db_conn *db, const uint8_t state_hash[static 32],
                         const struct oidc_login_state *s, int64_t now);
/* Deletes and returns the state (single use): -ENOENT if unknown or already used. The caller
 * checks expires_at. Also prunes expired states. */
int db_oidc_state_take(struct db_conn *db, const uint8_t state_hash[static 32], int64_t now,
                       struct oidc_login_state *out);

/* (issuer, subject) -> user id; -ENOENT. */
int db_oidc_identity_find(struct db_conn *db, const char *issuer, const char *sub, int64_t *user_id);
int db_oidc_identity_upsert(struct db_conn *db, const char *issuer, const char *sub,
                            int64_t user_id, const char *email, int64_t now);

/* Replaces the user's groups in the org (call inside a transaction). */
int db_oidc_groups_set(struct db_conn *db, int64_t org_id, int64_t user_id,
                       const struct oidc_identity *id, int64_t now);
/* New array of the user's group names in the org; NULL on error. */
cJSON *db_oidc_groups_json(struct db_conn *db, int64_t org_id, int64_t user_id);
/* Adds "oidc_groups": [...] to each org object (with "id") of the array from db_orgs_of_user. */
void db_oidc_groups_annotate(struct db_conn *db, int64_t user_id, cJSON *orgs);

#endif
