/* cli_login_requests (005_oidc.sql): `ztna login` through the browser (db_cli_login.c). */
#ifndef ZTNA_SERVER_DB_CLI_LOGIN_H
#define ZTNA_SERVER_DB_CLI_LOGIN_H

#include <stdbool.h>
#include <stdint.h>

#include "server/limits.h"

struct db_conn;

#define CLI_LOGIN_ID_BYTES      16  /* request id: 32 hex characters */
#define CLI_LOGIN_CODE_BYTES    32  /* one-time code: 64 hex characters */
#define CLI_LOGIN_CHALLENGE_LEN 43  /* base64url(SHA-256) */

struct cli_login_row {
    char id[2 * CLI_LOGIN_ID_BYTES + 1];
    char code_challenge[CLI_LOGIN_CHALLENGE_LEN + 1];
    int64_t port;
    char hostname[MACH_HOSTNAME_MAX + 1];
    char source_addr[48];                     /* the CLI's address as the server saw it */
    int64_t created_at, expires_at;
    int64_t approved_by, org_id, approved_at; /* 0 until approved */
    uint8_t code_hash[32];
    bool has_code;
    int64_t code_expires_at, used_at, machine_id;
};

int db_cli_login_insert(struct db_conn *db, const struct cli_login_row *r, const char *source);
int db_cli_login_get(struct db_conn *db, const char *id, struct cli_login_row *out); /* -ENOENT */
/* Approves a pending, unexpired request once: -EALREADY if approved before, -ENOENT. */
int db_cli_login_approve(struct db_conn *db, const char *id, int64_t user_id, int64_t org_id,
                         const uint8_t code_hash[static 32], int64_t code_expires_at, int64_t now);
/* Marks the request's code used (first attempt wins): -EALREADY if it was used before. */
int db_cli_login_spend(struct db_conn *db, const char *id, int64_t now);
int db_cli_login_set_machine(struct db_conn *db, const char *id, int64_t machine_id);
/* Forgets requests that expired more than an hour ago. */
int db_cli_login_prune(struct db_conn *db, int64_t now);

#endif
