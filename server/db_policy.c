/* policies table. SQL is literals with placeholders, prepared once per connection. */
#include "server/db_policy.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "server/db.h"

#define COLS "org_id, version, coalesce(author_id, 0), author_email, created_at"

static const char SQL_CURRENT[] =
    "SELECT " COLS ", text FROM policies WHERE org_id = ? ORDER BY version DESC LIMIT 1";
static const char SQL_GET[] = "SELECT " COLS ", text FROM policies WHERE org_id = ? AND version = ?";
static const char SQL_INSERT[] = "INSERT INTO policies (org_id, version, author_id, author_email, "
                                 "created_at, text) VALUES (?, ?, nullif(?, 0), ?, ?, ?)";
static const char SQL_HISTORY[] = "SELECT " COLS " FROM policies WHERE org_id = ? ORDER BY version DESC";

static int row_read(sqlite3_stmt *st, struct policy_version *v, bool text)
{
    memset(v, 0, sizeof(*v));
    v->org_id = sqlite3_column_int64(st, 0);
    v->version = sqlite3_column_int64(st, 1);
    v->author_id = sqlite3_column_int64(st, 2);
    db_column_text_copy(st, 3, v->author_email, sizeof(v->author_email));
    v->created_at = sqlite3_column_int64(st, 4);
    if (!text)
        return 0;
    const char *t = (const char *)sqlite3_column_text(st, 5);
    v->text = strdup(t ? t : "");
    return v->text ? 0 : -ENOMEM;
}

static int one(sqlite3_stmt *st, struct policy_version *out)
{
    int rc = sqlite3_step(st);
    int ret = rc == SQLITE_ROW ? row_read(st, out, true) : rc == SQLITE_DONE ? -ENOENT : db_rc_errno(rc);
    sqlite3_reset(st);
    return ret;
}

int db_policy_current(struct db_conn *db, int64_t org_id, struct policy_version *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_CURRENT);
    int ret = st ? db_bind_int64(st, 1, org_id) : -EIO;
    return ret ? ret : one(st, out);
}

int db_policy_get(struct db_conn *db, int64_t org_id, int64_t version, struct policy_version *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_GET);
    int ret = st ? db_bind_int64(st, 1, org_id) : -EIO;
    if (!ret)
        ret = db_bind_int64(st, 2, version);
    return ret ? ret : one(st, out);
}

int db_policy_insert(struct db_conn *db, const struct policy_version *v)
{
    sqlite3_stmt *st = db_stmt(db, SQL_INSERT);
    int ret = st ? db_bind_int64(st, 1, v->org_id) : -EIO;
    if (!ret)
        ret = db_bind_int64(st, 2, v->version);
    if (!ret)
        ret = db_bind_int64(st, 3, v->author_id);
    if (!ret)
        ret = db_bind_text(st, 4, v->author_email);
    if (!ret)
        ret = db_bind_int64(st, 5, v->created_at);
    if (!ret)
        ret = db_bind_text(st, 6, v->text);
    return ret ? ret : db_exec_stmt(st);
}

int db_policy_history(struct db_conn *db, int64_t org_id,
                      int (*cb)(const struct policy_version *v, void *arg), void *arg)
{
    sqlite3_stmt *st = db_stmt(db, SQL_HISTORY);
    int ret = st ? db_bind_int64(st, 1, org_id) : -EIO;
    int rc = SQLITE_DONE;
    struct policy_version v;
    while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        row_read(st, &v, false);
        ret = cb(&v, arg);
    }
    if (!ret && rc != SQLITE_DONE)
        ret = db_rc_errno(rc);
    if (st)
        sqlite3_reset(st);
    return ret;
}
