/* token_families, refresh_tokens, access_tokens: sessions and rotation (see auth.h). */
#include <errno.h>
#include <string.h>

#include "common/hex.h"
#include "common/log.h"
#include "server/auth.h"
#include "server/db.h"

static const char SQL_FAMILY_INSERT[] =
    "INSERT INTO token_families (user_id, created_at) VALUES (?, ?)";
static const char SQL_FAMILY_REVOKE[] =
    "UPDATE token_families SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL";
static const char SQL_ACCESS_DELETE_FAMILY[] = "DELETE FROM access_tokens WHERE family_id = ?";
static const char SQL_REFRESH_INSERT[] =
    "INSERT INTO refresh_tokens (family_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?)";
static const char SQL_ACCESS_INSERT[] =
    "INSERT INTO access_tokens (token_hash, family_id, user_id, created_at, expires_at) "
    "VALUES (?, ?, ?, ?, ?)";
static const char SQL_REFRESH_LOOKUP[] =
    "SELECT r.id, r.family_id, r.expires_at, r.used_at, f.revoked_at, f.user_id "
    "FROM refresh_tokens r JOIN token_families f ON f.id = r.family_id WHERE r.token_hash = ?";
static const char SQL_REFRESH_SPEND[] =
    "UPDATE refresh_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL";
static const char SQL_ACCESS_LOOKUP[] =
    "SELECT a.user_id, a.family_id, u.email FROM access_tokens a "
    "JOIN token_families f ON f.id = a.family_id JOIN users u ON u.id = a.user_id "
    "WHERE a.token_hash = ? AND a.expires_at > ? AND f.revoked_at IS NULL";

static void token_new(char text[static SRV_TOKEN_TEXT_BYTES], uint8_t hash[static 32])
{
    uint8_t raw[SRV_TOKEN_BYTES];

    randombytes_buf(raw, sizeof(raw));
    hex_encode(text, raw, sizeof(raw));
    sodium_memzero(raw, sizeof(raw));
    auth_token_hash(text, hash);
}

/* Issues one access and one refresh token in family (inside the caller's transaction). */
static int tokens_issue(struct server *srv, struct db_conn *db, int64_t family, int64_t user_id,
                        struct auth_tokens *out)
{
    uint8_t ah[32], rh[32];
    int64_t now = server_now();
    sqlite3_stmt *st;
    int ret;

    token_new(out->access, ah);
    token_new(out->refresh, rh);
    st = db_stmt(db, SQL_ACCESS_INSERT);
    if (!st)
        return -EIO;
    ret = db_bind_blob(st, 1, ah, 32) ?: db_bind_int64(st, 2, family) ?:
          db_bind_int64(st, 3, user_id) ?: db_bind_int64(st, 4, now) ?:
          db_bind_int64(st, 5, now + srv->set.access_token_ttl) ?: db_exec_stmt(st);
    if (ret < 0)
        return ret;
    st = db_stmt(db, SQL_REFRESH_INSERT);
    if (!st)
        return -EIO;
    ret = db_bind_int64(st, 1, family) ?: db_bind_blob(st, 2, rh, 32) ?:
          db_bind_int64(st, 3, now) ?:
          db_bind_int64(st, 4, now + srv->set.refresh_token_ttl) ?: db_exec_stmt(st);
    out->family_id = family;
    out->user_id = user_id;
    return ret;
}

int auth_session_create(struct server *srv, struct db_conn *db, int64_t user_id,
                        struct auth_tokens *out)
{
    sqlite3_stmt *st;
    int ret = db_begin(db);

    if (ret < 0)
        return ret;
    st = db_stmt(db, SQL_FAMILY_INSERT);
    ret = st ? db_bind_int64(st, 1, user_id) ?: db_bind_int64(st, 2, server_now()) ?:
               db_exec_stmt(st) : -EIO;
    if (ret < 0)
        goto out;
    ret = tokens_issue(srv, db, sqlite3_last_insert_rowid(db_conn_handle(db)), user_id, out);
    if (ret < 0)
        goto out;
    ret = db_commit(db);
out:
    if (ret < 0) {
        db_rollback(db);
        sodium_memzero(out, sizeof(*out));
    }
    return ret;
}

int auth_family_revoke(struct db_conn *db, int64_t family_id)
{
    sqlite3_stmt *st = db_stmt(db, SQL_FAMILY_REVOKE);
    int ret = st ? db_bind_int64(st, 1, server_now()) ?: db_bind_int64(st, 2, family_id) ?:
                   db_exec_stmt(st) : -EIO;

    if (ret < 0)
        return ret;
    st = db_stmt(db, SQL_ACCESS_DELETE_FAMILY);
    return st ? db_bind_int64(st, 1, family_id) ?: db_exec_stmt(st) : -EIO;
}

int auth_session_refresh(struct server *srv, struct db_conn *db, const char *refresh,
                         struct auth_tokens *out)
{
    uint8_t h[32];
    sqlite3_stmt *st;
    int64_t rid, family, expires, user_id;
    bool spent, revoked;
    int ret;

    memset(out, 0, sizeof(*out));
    auth_token_hash(refresh, h);
    ret = db_begin(db);
    if (ret < 0)
        return ret;
    st = db_stmt(db, SQL_REFRESH_LOOKUP);
    if (!st || db_bind_blob(st, 1, h, 32) < 0) {
        ret = -EIO;
        goto out;
    }
    if (sqlite3_step(st) != SQLITE_ROW) {
        ret = -ENOENT;
        goto out;
    }
    rid = sqlite3_column_int64(st, 0);
    family = sqlite3_column_int64(st, 1);
    expires = sqlite3_column_int64(st, 2);
    spent = sqlite3_column_type(st, 3) != SQLITE_NULL;
    revoked = sqlite3_column_type(st, 4) != SQLITE_NULL;
    user_id = sqlite3_column_int64(st, 5);
    sqlite3_reset(st);
    out->family_id = family;
    out->user_id = user_id;
    if (revoked || expires <= server_now()) {
        ret = -ENOENT;
        goto out;
    }
    if (spent) {
        /* A spent token came back: someone holds a copy. Kill the whole family. */
        ret = auth_family_revoke(db, family);
        if (ret == 0)
            ret = db_commit(db);
        if (ret == 0)
            ret = -EPERM;
        goto out;
    }
    st = db_stmt(db, SQL_REFRESH_SPEND);
    ret = st ? db_bind_int64(st, 1, server_now()) ?: db_bind_int64(st, 2, rid) ?:
               db_exec_stmt(st) : -EIO;
    if (ret < 0)
        goto out;
    ret = tokens_issue(srv, db, family, user_id, out);
    if (ret == 0)
        ret = db_commit(db);
out:
    if (ret < 0) {
        db_rollback(db);
        sodium_memzero(out->access, sizeof(out->access));
        sodium_memzero(out->refresh, sizeof(out->refresh));
    }
    return ret;
}

int auth_refresh_family(struct db_conn *db, const char *refresh, int64_t *family_id)
{
    uint8_t h[32];
    sqlite3_stmt *st = db_stmt(db, SQL_REFRESH_LOOKUP);
    int ret = -ENOENT;

    auth_token_hash(refresh, h);
    if (!st || db_bind_blob(st, 1, h, 32) < 0)
        return -EIO;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *family_id = sqlite3_column_int64(st, 1);
        ret = 0;
    }
    sqlite3_reset(st);
    return ret;
}

int auth_access_check(struct db_conn *db, const char *token, struct auth_ctx *out)
{
    uint8_t h[32];
    sqlite3_stmt *st = db_stmt(db, SQL_ACCESS_LOOKUP);
    int ret = -ENOENT;

    auth_token_hash(token, h);
    if (!st || db_bind_blob(st, 1, h, 32) < 0 || db_bind_int64(st, 2, server_now()) < 0)
        return -EIO;
    if (sqlite3_step(st) == SQLITE_ROW) {
        out->user_id = sqlite3_column_int64(st, 0);
        out->family_id = sqlite3_column_int64(st, 1);
        db_column_text_copy(st, 2, out->email, sizeof(out->email));
        ret = 0;
    }
    sqlite3_reset(st);
    return ret;
}
