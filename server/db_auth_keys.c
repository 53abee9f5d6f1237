/* auth_keys table. SQL is literals with placeholders, prepared once per connection. */
#include "server/db_auth_keys.h"

#include <errno.h>
#include <string.h>

#include "server/db.h"

#define KEY_COLS "id, org_id, key_prefix, description, reusable, ephemeral, tags, " \
                 "coalesce(created_by, 0), created_at, coalesce(expires_at, 0), " \
                 "coalesce(revoked_at, 0), used_count, coalesce(last_used_at, 0)"

static const char SQL_INSERT[] =
    "INSERT INTO auth_keys (org_id, key_hash, key_prefix, description, reusable, ephemeral, tags, "
    "created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, nullif(?, 0), ?, nullif(?, 0))";
static const char SQL_GET[] = "SELECT " KEY_COLS " FROM auth_keys WHERE org_id = ? AND id = ?";
static const char SQL_FIND[] = "SELECT " KEY_COLS " FROM auth_keys WHERE key_hash = ?";
static const char SQL_LIST[] = "SELECT " KEY_COLS " FROM auth_keys WHERE org_id = ? ORDER BY id DESC";
static const char SQL_REVOKE[] =
    "UPDATE auth_keys SET revoked_at = coalesce(revoked_at, ?) WHERE org_id = ? AND id = ?";
static const char SQL_CONSUME[] =
    "UPDATE auth_keys SET used_count = used_count + 1, last_used_at = ?1 WHERE id = ?2 AND "
    "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?1) AND "
    "(reusable = 1 OR used_count = 0)";

const char *auth_key_unusable_reason(const struct auth_key_row *k, int64_t now)
{
    if (k->revoked_at)
        return "auth key revoked";
    if (k->expires_at && k->expires_at <= now)
        return "auth key expired";
    if (!k->reusable && k->used_count > 0)
        return "auth key already used";
    return NULL;
}

static void row_read(sqlite3_stmt *st, struct auth_key_row *k)
{
    memset(k, 0, sizeof(*k));
    k->id = sqlite3_column_int64(st, 0);
    k->org_id = sqlite3_column_int64(st, 1);
    db_column_text_copy(st, 2, k->prefix, sizeof(k->prefix));
    db_column_text_copy(st, 3, k->description, sizeof(k->description));
    k->reusable = sqlite3_column_int(st, 4) != 0;
    k->ephemeral = sqlite3_column_int(st, 5) != 0;
    db_column_text_copy(st, 6, k->tags, sizeof(k->tags));
    k->created_by = sqlite3_column_int64(st, 7);
    k->created_at = sqlite3_column_int64(st, 8);
    k->expires_at = sqlite3_column_int64(st, 9);
    k->revoked_at = sqlite3_column_int64(st, 10);
    k->used_count = sqlite3_column_int64(st, 11);
    k->last_used_at = sqlite3_column_int64(st, 12);
}

int db_auth_key_insert(struct db_conn *db, struct auth_key_row *row, const uint8_t hash[static 32])
{
    sqlite3_stmt *st = db_stmt(db, SQL_INSERT);
    int ret = st ? 0 : -EIO;
    if (!ret)
        ret = db_bind_int64(st, 1, row->org_id);
    if (!ret)
        ret = db_bind_blob(st, 2, hash, 32);
    if (!ret)
        ret = db_bind_text(st, 3, row->prefix);
    if (!ret)
        ret = db_bind_text(st, 4, row->description);
    if (!ret)
        ret = db_bind_int64(st, 5, row->reusable);
    if (!ret)
        ret = db_bind_int64(st, 6, row->ephemeral);
    if (!ret)
        ret = db_bind_text(st, 7, row->tags);
    if (!ret)
        ret = db_bind_int64(st, 8, row->created_by);
    if (!ret)
        ret = db_bind_int64(st, 9, row->created_at);
    if (!ret)
        ret = db_bind_int64(st, 10, row->expires_at);
    if (!ret)
        ret = db_exec_stmt(st);
    if (!ret)
        row->id = sqlite3_last_insert_rowid(db_conn_handle(db));
    return ret;
}

static int get_one(sqlite3_stmt *st, struct auth_key_row *out)
{
    int rc = sqlite3_step(st);
    int ret = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_rc_errno(rc);
    if (!ret)
        row_read(st, out);
    sqlite3_reset(st);
    return ret;
}

int db_auth_key_get(struct db_conn *db, int64_t org_id, int64_t id, struct auth_key_row *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_GET);
    if (!st)
        return -EIO;
    int ret = db_bind_int64(st, 1, org_id);
    if (!ret)
        ret = db_bind_int64(st, 2, id);
    return ret ? ret : get_one(st, out);
}

int db_auth_key_find_hash(struct db_conn *db, const uint8_t hash[static 32], struct auth_key_row *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_FIND);
    if (!st)
        return -EIO;
    int ret = db_bind_blob(st, 1, hash, 32);
    return ret ? ret : get_one(st, out);
}

int db_auth_key_list(struct db_conn *db, int64_t org_id,
                     int (*cb)(const struct auth_key_row *k, void *arg), void *arg)
{
    struct auth_key_row k;
    sqlite3_stmt *st = db_stmt(db, SQL_LIST);
    if (!st)
        return -EIO;
    int ret = db_bind_int64(st, 1, org_id);
    int rc;
    while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        row_read(st, &k);
        ret = cb(&k, arg);
    }
    if (!ret && rc != SQLITE_DONE)
        ret = db_rc_errno(rc);
    sqlite3_reset(st);
    return ret;
}

int db_auth_key_revoke(struct db_conn *db, int64_t org_id, int64_t id, int64_t now)
{
    sqlite3_stmt *st = db_stmt(db, SQL_REVOKE);
    if (!st)
        return -EIO;
    int ret = db_bind_int64(st, 1, now);
    if (!ret)
        ret = db_bind_int64(st, 2, org_id);
    if (!ret)
        ret = db_bind_int64(st, 3, id);
    if (!ret)
        ret = db_exec_stmt(st);
    if (!ret && sqlite3_changes(db_conn_handle(db)) == 0)
        ret = -ENOENT;
    return ret;
}

int db_auth_key_consume(struct db_conn *db, int64_t id, int64_t now)
{
    sqlite3_stmt *st = db_stmt(db, SQL_CONSUME);
    if (!st)
        return -EIO;
    int ret = db_bind_int64(st, 1, now);
    if (!ret)
        ret = db_bind_int64(st, 2, id);
    if (!ret)
        ret = db_exec_stmt(st);
    if (!ret && sqlite3_changes(db_conn_handle(db)) == 0)
        ret = -EACCES;
    return ret;
}
