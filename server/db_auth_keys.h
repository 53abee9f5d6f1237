/* auth_keys table (db_auth_keys.c): pre-auth keys, stored as SHA-256 of the key. */
#ifndef ZTNA_SERVER_DB_AUTH_KEYS_H
#define ZTNA_SERVER_DB_AUTH_KEYS_H

#include <stdbool.h>
#include <stdint.h>

#include "server/limits.h"

struct db_conn;

struct auth_key_row {
    int64_t id;
    int64_t org_id;
    char prefix[MACH_AUTH_KEY_SHOWN + 1];
    char description[SRV_MAX_NAME_BYTES + 1];
    bool reusable;
    bool ephemeral;
    char tags[MACH_TAGS_JSON_MAX]; /* JSON array text */
    int64_t created_by;            /* 0 = unknown */
    int64_t created_at;
    int64_t expires_at;            /* 0 = never */
    int64_t revoked_at;            /* 0 = not revoked */
    int64_t used_count;
    int64_t last_used_at;          /* 0 = never */
};

/* Why a key cannot be used now, or NULL if it can. */
const char *auth_key_unusable_reason(const struct auth_key_row *k, int64_t now);

/* Inserts row (id is set). -EEXIST on a hash collision. */
int db_auth_key_insert(struct db_conn *db, struct auth_key_row *row, const uint8_t hash[static 32]);
int db_auth_key_get(struct db_conn *db, int64_t org_id, int64_t id, struct auth_key_row *out);
int db_auth_key_find_hash(struct db_conn *db, const uint8_t hash[static 32],
                          struct auth_key_row *out); /* -ENOENT */
/* Calls cb for each key of the org, newest first; stops and returns cb's value if non-zero. */
int db_auth_key_list(struct db_conn *db, int64_t org_id,
                     int (*cb)(const struct auth_key_row *k, void *arg), void *arg);
/* -ENOENT when no such key in the org; revoking twice is fine. */
int db_auth_key_revoke(struct db_conn *db, int64_t org_id, int64_t id, int64_t now);
/* Counts one use, atomically with the checks: -EACCES if the key is no longer usable. Call inside
 * the registration transaction. */
int db_auth_key_consume(struct db_conn *db, int64_t id, int64_t now);

#endif
