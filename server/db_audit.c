/* audit_log table: insert and filtered, cursor-paged listing. */
#include "server/db_audit.h"

#include <errno.h>
#include <string.h>

#include "server/db.h"

static const char SQL_INSERT[] =
    "INSERT INTO audit_log (ts, org_id, actor_type, actor_id, actor_name, action, target_type, "
    "target_id, source_addr, detail) VALUES (?, nullif(?, 0), ?, nullif(?, 0), ?, ?, ?, ?, ?, ?)";
/* Optional filters are "?N IS NULL OR ..." so that one prepared statement serves every query. */
static const char SQL_LIST[] =
    "SELECT id, ts, coalesce(org_id, 0), actor_type, coalesce(actor_id, 0), actor_name, action, "
    "target_type, target_id, source_addr, detail FROM audit_log WHERE org_id = ?1 "
    "AND (?2 IS NULL OR action = ?2) "
    "AND (?3 IS NULL OR substr(action, 1, length(?3)) = ?3) "
    "AND (?4 IS NULL OR actor_name = ?4 OR CAST(actor_id AS TEXT) = ?4) "
    "AND (?5 IS NULL OR actor_type = ?5) "
    "AND (?6 IS NULL OR target_type = ?6) "
    "AND (?7 IS NULL OR target_id = ?7) "
    "AND (?8 = 0 OR ts >= ?8) AND (?9 = 0 OR ts < ?9) "
    "AND (?10 = 0 OR id < ?10) ORDER BY id DESC LIMIT ?11";

int db_audit_insert(struct db_conn *db, const struct audit_event *ev, int64_t ts)
{
    sqlite3_stmt *st = db_stmt(db, SQL_INSERT);
    if (!st)
        return -EIO;
    int ret = db_bind_int64(st, 1, ts);
    if (!ret)
        ret = db_bind_int64(st, 2, ev->org_id);
    if (!ret)
        ret = db_bind_text(st, 3, ev->actor_type);
    if (!ret)
        ret = db_bind_int64(st, 4, ev->actor_id);
    if (!ret)
        ret = db_bind_text(st, 5, ev->actor_name);
    if (!ret)
        ret = db_bind_text(st, 6, ev->action);
    if (!ret)
        ret = db_bind_text(st, 7, ev->target_type);
    if (!ret)
        ret = db_bind_text(st, 8, ev->target_id);
    if (!ret)
        ret = db_bind_text(st, 9, ev->source_addr);
    if (!ret)
        ret = db_bind_text(st, 10, ev->detail_json);
    return ret ? ret : db_exec_stmt(st);
}

static const char *col(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

int db_audit_list(struct db_conn *db, int64_t org_id, const struct audit_filter *f,
                  int (*cb)(const struct audit_row *r, void *arg), void *arg)
{
    char prefix[AUDIT_MAX_FIELD_BYTES];
    const char *exact = f->action, *pre = NULL;
    size_t al = f->action ? strlen(f->action) : 0;
    if (al >= 2 && strcmp(f->action + al - 2, ".*") == 0 && al < sizeof(prefix)) {
        memcpy(prefix, f->action, al - 1); /* keep the dot: "machine." */
        prefix[al - 1] = '\0';
        pre = prefix;
        exact = NULL;
    }
    sqlite3_stmt *st = db_stmt(db, SQL_LIST);
    if (!st)
        return -EIO;
    int ret = db_bind_int64(st, 1, org_id);
    if (!ret)
        ret = db_bind_text(st, 2, exact);
    if (!ret)
        ret = db_bind_text(st, 3, pre);
    if (!ret)
        ret = db_bind_text(st, 4, f->actor);
    if (!ret)
        ret = db_bind_text(st, 5, f->actor_type);
    if (!ret)
        ret = db_bind_text(st, 6, f->target_type);
    if (!ret)
        ret = db_bind_text(st, 7, f->target_id);
    if (!ret)
        ret = db_bind_int64(st, 8, f->since);
    if (!ret)
        ret = db_bind_int64(st, 9, f->until);
    if (!ret)
        ret = db_bind_int64(st, 10, f->before_id);
    if (!ret)
        ret = db_bind_int64(st, 11, f->limit);
    int rc = SQLITE_DONE;
    while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct audit_row r = {
            .id = sqlite3_column_int64(st, 0),
            .ts = sqlite3_column_int64(st, 1),
            .org_id = sqlite3_column_int64(st, 2),
            .actor_type = col(st, 3),
            .actor_id = sqlite3_column_int64(st, 4),
            .actor_name = col(st, 5),
            .action = col(st, 6),
            .target_type = col(st, 7),
            .target_id = col(st, 8),
            .source_addr = col(st, 9),
            .detail_json = col(st, 10),
        };
        ret = cb(&r, arg);
    }
    if (!ret && rc != SQLITE_DONE)
        ret = db_rc_errno(rc);
    sqlite3_reset(st);
    return ret;
}
