/* cli_login_requests (see db_cli_login.h). */
#include "server/db_cli_login.h"

#include <errno.h>
#include <string.h>

#include "server/db.h"

static const char SQL_INSERT[] =
    "INSERT INTO cli_login_requests (id, code_challenge, port, hostname, source_addr, created_at, "
    "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)";
static const char SQL_GET[] =
    "SELECT id, code_challenge, port, hostname, created_at, expires_at, approved_by, org_id, "
    "approved_at, code_hash, code_expires_at, used_at, machine_id, source_addr "
    "FROM cli_login_requests "
    "WHERE id = ?";
static const char SQL_APPROVE[] =
    "UPDATE cli_login_requests SET approved_by = ?, org_id = ?, approved_at = ?, code_hash = ?, "
    "code_expires_at = ? WHERE id = ? AND approved_by IS NULL AND expires_at > ?";
static const char SQL_SPEND[] =
    "UPDATE cli_login_requests SET used_at = ? WHERE id = ? AND used_at IS NULL";
static const char SQL_SET_MACHINE[] = "UPDATE cli_login_requests SET machine_id = ? WHERE id = ?";
static const char SQL_PRUNE[] = "DELETE FROM cli_login_requests WHERE expires_at < ?";

static int changes(struct db_conn *db)
{
    return sqlite3_changes(db_conn_handle(db));
}

int db_cli_login_insert(struct db_conn *db, const struct cli_login_row *r, const char *source)
{
    sqlite3_stmt *st = db_stmt(db, SQL_INSERT);

    if (!st)
        return -EIO;
    return db_bind_text(st, 1, r->id) ?: db_bind_text(st, 2, r->code_challenge) ?:
           db_bind_int64(st, 3, r->port) ?: db_bind_text(st, 4, r->hostname) ?:
           db_bind_text(st, 5, source) ?: db_bind_int64(st, 6, r->created_at) ?:
           db_bind_int64(st, 7, r->expires_at) ?: db_exec_stmt(st);
}

int db_cli_login_get(struct db_conn *db, const char *id, struct cli_login_row *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_GET);
    int rc, ret;

    if (!st || db_bind_text(st, 1, id) < 0)
        return -EIO;
    rc = sqlite3_step(st);
    ret = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_rc_errno(rc);
    if (ret == 0) {
        memset(out, 0, sizeof(*out));
        db_column_text_copy(st, 0, out->id, sizeof(out->id));
        db_column_text_copy(st, 1, out->code_challenge, sizeof(out->code_challenge));
        out->port = sqlite3_column_int64(st, 2);
        db_column_text_copy(st, 3, out->hostname, sizeof(out->hostname));
        out->created_at = sqlite3_column_int64(st, 4);
        out->expires_at = sqlite3_column_int64(st, 5);
        out->approved_by = sqlite3_column_int64(st, 6);
        out->org_id = sqlite3_column_int64(st, 7);
        out->approved_at = sqlite3_column_int64(st, 8);
        out->has_code = sqlite3_column_bytes(st, 9) == 32;
        if (out->has_code)
            memcpy(out->code_hash, sqlite3_column_blob(st, 9), 32);
        out->code_expires_at = sqlite3_column_int64(st, 10);
        out->used_at = sqlite3_column_int64(st, 11);
        out->machine_id = sqlite3_column_int64(st, 12);
        db_column_text_copy(st, 13, out->source_addr, sizeof(out->source_addr));
    }
    sqlite3_reset(st);
    return ret;
}

int db_cli_login_approve(struct db_conn *db, const char *id, int64_t user_id, int64_t org_id,
                         const uint8_t code_hash[static 32], int64_t code_expires_at, int64_t now)
{
    sqlite3_stmt *st = db_stmt(db, SQL_APPROVE);
    struct cli_login_row r;
    int ret;

    if (!st)
        return -EIO;
    ret = db_bind_int64(st, 1, user_id) ?: db_bind_int64(st, 2, org_id) ?:
          db_bind_int64(st, 3, now) ?: db_bind_blob(st, 4, code_hash, 32) ?:
          db_bind_int64(st, 5, code_expires_at) ?: db_bind_text(st, 6, id) ?:
          db_bind_int64(st, 7, now) ?: db_exec_stmt(st);
    if (ret == 0 && changes(db) == 0) {
        ret = db_cli_login_get(db, id, &r);
        if (ret == 0)
            ret = r.approved_by ? -EALREADY : -ENOENT;
    }
    return ret;
}

int db_cli_login_spend(struct db_conn *db, const char *id, int64_t now)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SPEND);
    int ret;

    if (!st)
        return -EIO;
    ret = db_bind_int64(st, 1, now) ?: db_bind_text(st, 2, id) ?: db_exec_stmt(st);
    return ret == 0 && changes(db) == 0 ? -EALREADY : ret;
}

int db_cli_login_set_machine(struct db_conn *db, const char *id, int64_t machine_id)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SET_MACHINE);

    if (!st)
        return -EIO;
    return db_bind_int64(st, 1, machine_id) ?: db_bind_text(st, 2, id) ?: db_exec_stmt(st);
}

int db_cli_login_prune(struct db_conn *db, int64_t now)
{
    sqlite3_stmt *st = db_stmt(db, SQL_PRUNE);

    if (!st)
        return -EIO;
    return db_bind_int64(st, 1, now - 3600) ?: db_exec_stmt(st);
}
