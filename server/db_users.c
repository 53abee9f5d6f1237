/* users table (see db_users.h). */
#include <errno.h>
#include <string.h>

#include "server/db.h"
#include "server/db_users.h"

static const char SQL_USER_COUNT[] = "SELECT COUNT(*) FROM users";
static const char SQL_USER_INSERT[] =
    "INSERT INTO users (email, name, password_hash, created_at) VALUES (?, ?, ?, ?)";
static const char SQL_USER_BY_EMAIL[] =
    "SELECT id, email, name, password_hash, created_at FROM users WHERE email = ?";
static const char SQL_USER_BY_ID[] =
    "SELECT id, email, name, password_hash, created_at FROM users WHERE id = ?";

int64_t db_user_count(struct db_conn *db)
{
    sqlite3_stmt *st = db_stmt(db, SQL_USER_COUNT);
    int64_t n = -EIO;

    if (st && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    if (st)
        sqlite3_reset(st);
    return n;
}

int db_user_insert(struct db_conn *db, const char *email, const char *name, const char *pwhash,
                   int64_t *id)
{
    sqlite3_stmt *st = db_stmt(db, SQL_USER_INSERT);
    int ret;

    if (!st)
        return -EIO;
    ret = db_bind_text(st, 1, email) ?: db_bind_text(st, 2, name ? name : "") ?:
          db_bind_text(st, 3, pwhash) ?: db_bind_int64(st, 4, server_now()) ?: db_exec_stmt(st);
    if (ret == 0)
        *id = sqlite3_last_insert_rowid(db_conn_handle(db));
    return ret;
}

static int user_row(sqlite3_stmt *st, struct db_user *out)
{
    int rc = sqlite3_step(st);
    int ret = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_rc_errno(rc);

    if (ret == 0) {
        out->id = sqlite3_column_int64(st, 0);
        db_column_text_copy(st, 1, out->email, sizeof(out->email));
        db_column_text_copy(st, 2, out->name, sizeof(out->name));
        db_column_text_copy(st, 3, out->password_hash, sizeof(out->password_hash));
        out->created_at = sqlite3_column_int64(st, 4);
    }
    sqlite3_reset(st);
    return ret;
}

int db_user_by_email(struct db_conn *db, const char *email, struct db_user *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_USER_BY_EMAIL);

    if (!st || db_bind_text(st, 1, email) < 0)
        return -EIO;
    return user_row(st, out);
}

int db_user_by_id(struct db_conn *db, int64_t id, struct db_user *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_USER_BY_ID);

    if (!st || db_bind_int64(st, 1, id) < 0)
        return -EIO;
    return user_row(st, out);
}

cJSON *db_user_json(const struct db_user *u)
{
    cJSON *o = cJSON_CreateObject();

    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "id", (double)u->id);
    cJSON_AddStringToObject(o, "email", u->email);
    cJSON_AddStringToObject(o, "name", u->name);
    cJSON_AddNumberToObject(o, "created_at", (double)u->created_at);
    return o;
}
