/* jit_requests table (see jit.h). SQL is literals with placeholders, prepared once per
 * connection. */
#include "server/jit.h"

#include <errno.h>
#include <string.h>

#include "server/db.h"

#define COLS "j.id, j.org_id, j.requester_id, j.machine_id, j.port, j.proto, j.duration, j.reason, " \
             "j.state, j.created_at, coalesce(j.decided_by, 0), coalesce(j.decided_at, 0), "         \
             "coalesce(j.expires_at, 0), coalesce(j.ended_at, 0), coalesce(u.email, ''), "            \
             "coalesce(m.name, '')"
#define FROM " FROM jit_requests j LEFT JOIN users u ON u.id = j.requester_id " \
             "LEFT JOIN machines m ON m.id = j.machine_id "

static const char SQL_INSERT[] =
    "INSERT INTO jit_requests (org_id, requester_id, machine_id, port, proto, duration, reason, "
    "state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)";
static const char SQL_GET[] = "SELECT " COLS FROM "WHERE j.org_id = ? AND j.id = ?";
static const char SQL_LIST[] =
    "SELECT " COLS FROM "WHERE j.org_id = ?1 AND (?2 = 0 OR j.requester_id = ?2) "
    "AND (?3 = 0 OR j.id < ?3) ORDER BY j.id DESC LIMIT ?4";
static const char SQL_ACTIVE[] = "SELECT " COLS FROM
    "WHERE j.org_id = ? AND j.state = 'approved' AND j.expires_at > ? ORDER BY j.id";
static const char SQL_DUE[] = "SELECT " COLS FROM
    "WHERE j.state = 'approved' AND j.expires_at <= ? ORDER BY j.id";
/* ?1 org ?2 id ?3 from ?4 to ?5 by ?6 now */
static const char SQL_MOVE[] =
    "UPDATE jit_requests SET state = ?4, "
    "decided_by = CASE WHEN ?4 IN ('approved', 'denied') THEN nullif(?5, 0) ELSE decided_by END, "
    "decided_at = CASE WHEN ?4 IN ('approved', 'denied') THEN ?6 ELSE decided_at END, "
    "expires_at = CASE WHEN ?4 = 'approved' THEN ?6 + duration ELSE expires_at END, "
    "ended_at = CASE WHEN ?4 IN ('revoked', 'expired') THEN ?6 ELSE ended_at END "
    "WHERE org_id = ?1 AND id = ?2 AND state = ?3";
static const char SQL_RESOLVE[] =
    "SELECT id FROM machines WHERE org_id = ?1 AND (CAST(id AS TEXT) = ?2 OR name = ?2 OR "
    "tailnet_ip = ?2 OR hostname = ?2 OR lower(rtrim(?2, '.')) = lower(name || '.' || "
    "(SELECT slug FROM orgs WHERE id = ?1) || '.' || ?3)) "
    "ORDER BY CAST(id AS TEXT) = ?2 DESC, name = ?2 DESC, id LIMIT 1";
static const char SQL_EXISTS[] = "SELECT 1 FROM jit_requests WHERE org_id = ? AND id = ?";

static void row_read(sqlite3_stmt *st, struct jit_row *r)
{
    memset(r, 0, sizeof(*r));
    r->id = sqlite3_column_int64(st, 0);
    r->org_id = sqlite3_column_int64(st, 1);
    r->requester_id = sqlite3_column_int64(st, 2);
    r->machine_id = sqlite3_column_int64(st, 3);
    r->port = (uint16_t)sqlite3_column_int(st, 4);
    r->proto = (uint8_t)sqlite3_column_int(st, 5);
    r->duration = sqlite3_column_int64(st, 6);
    db_column_text_copy(st, 7, r->reason, sizeof(r->reason));
    db_column_text_copy(st, 8, r->state, sizeof(r->state));
    r->created_at = sqlite3_column_int64(st, 9);
    r->decided_by = sqlite3_column_int64(st, 10);
    r->decided_at = sqlite3_column_int64(st, 11);
    r->expires_at = sqlite3_column_int64(st, 12);
    r->ended_at = sqlite3_column_int64(st, 13);
    db_column_text_copy(st, 14, r->requester_email, sizeof(r->requester_email));
    db_column_text_copy(st, 15, r->machine_name, sizeof(r->machine_name));
}

int jit_db_insert(struct db_conn *db, struct jit_row *r)
{
    sqlite3_stmt *st = db_stmt(db, SQL_INSERT);
    int ret = st ? db_bind_int64(st, 1, r->org_id) : -EIO;
    if (!ret)
        ret = db_bind_int64(st, 2, r->requester_id);
    if (!ret)
        ret = db_bind_int64(st, 3, r->machine_id);
    if (!ret)
        ret = db_bind_int64(st, 4, r->port);
    if (!ret)
        ret = db_bind_int64(st, 5, r->proto);
    if (!ret)
        ret = db_bind_int64(st, 6, r->duration);
    if (!ret)
        ret = db_bind_text(st, 7, r->reason);
    if (!ret)
        ret = db_bind_int64(st, 8, r->created_at);
    if (!ret)
        ret = db_exec_stmt(st);
    if (!ret) {
        r->id = sqlite3_last_insert_rowid(db_conn_handle(db));
        strcpy(r->state, "pending");
    }
    return ret;
}

static int each(sqlite3_stmt *st, int ret, int (*cb)(const struct jit_row *r, void *arg), void *arg)
{
    int rc = SQLITE_DONE;
    struct jit_row r;
    while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        row_read(st, &r);
        ret = cb(&r, arg);
    }
    if (!ret && rc != SQLITE_DONE)
        ret = db_rc_errno(rc);
    if (st)
        sqlite3_reset(st);
    return ret;
}

static int copy_one(const struct jit_row *r, void *arg)
{
    *(struct jit_row *)arg = *r;
    return 1;
}

int jit_db_get(struct db_conn *db, int64_t org_id, int64_t id, struct jit_row *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_GET);
    int ret = st ? db_bind_int64(st, 1, org_id) : -EIO;
    if (!ret)
        ret = db_bind_int64(st, 2, id);
    ret = each(st, ret, copy_one, out);
    return ret == 1 ? 0 : ret ? ret : -ENOENT;
}

int jit_db_list(struct db_conn *db, int64_t org_id, int64_t requester, int64_t before_id,
                int64_t limit, int (*cb)(const struct jit_row *r, void *arg), void *arg)
{
    sqlite3_stmt *st = db_stmt(db, SQL_LIST);
    int ret = st ? db_bind_int64(st, 1, org_id) : -EIO;
    if (!ret)
        ret = db_bind_int64(st, 2, requester);
    if (!ret)
        ret = db_bind_int64(st, 3, before_id);
    if (!ret)
        ret = db_bind_int64(st, 4, limit);
    return each(st, ret, cb, arg);
}

int jit_db_transition(struct db_conn *db, int64_t org_id, int64_t id, const char *from,
                      const char *to, int64_t by, int64_t now)
{
    sqlite3_stmt *st = db_stmt(db, SQL_MOVE);
    int ret = st ? db_bind_int64(st, 1, org_id) : -EIO;
    if (!ret)
        ret = db_bind_int64(st, 2, id);
    if (!ret)
        ret = db_bind_text(st, 3, from);
    if (!ret)
        ret = db_bind_text(st, 4, to);
    if (!ret)
        ret = db_bind_int64(st, 5, by);
    if (!ret)
        ret = db_bind_int64(st, 6, now);
    if (!ret)
        ret = db_exec_stmt(st);
    if (ret || sqlite3_changes(db_conn_handle(db)) == 1)
        return ret;
    st = db_stmt(db, SQL_EXISTS);
    ret = st ? db_bind_int64(st, 1, org_id) : -EIO;
    if (!ret)
        ret = db_bind_int64(st, 2, id);
    if (ret)
        return ret;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? -EALREADY : rc == SQLITE_DONE ? -ENOENT : db_rc_errno(rc);
}

int jit_db_active(struct db_conn *db, int64_t org_id, int64_t now,
                  int (*cb)(const struct jit_row *r, void *arg), void *arg)
{
    sqlite3_stmt *st = db_stmt(db, SQL_ACTIVE);
    int ret = st ? db_bind_int64(st, 1, org_id) : -EIO;
    if (!ret)
        ret = db_bind_int64(st, 2, now);
    return each(st, ret, cb, arg);
}

int jit_db_due(struct db_conn *db, int64_t now, int (*cb)(const struct jit_row *r, void *arg),
               void *arg)
{
    sqlite3_stmt *st = db_stmt(db, SQL_DUE);
    int ret = st ? db_bind_int64(st, 1, now) : -EIO;
    return each(st, ret, cb, arg);
}

int jit_db_machine_resolve(struct db_conn *db, int64_t org_id, const char *base_domain,
                           const char *text, int64_t *id)
{
    sqlite3_stmt *st = db_stmt(db, SQL_RESOLVE);
    int ret = st ? db_bind_int64(st, 1, org_id) : -EIO;
    if (!ret)
        ret = db_bind_text(st, 2, text);
    if (!ret)
        ret = db_bind_text(st, 3, base_domain);
    if (ret)
        return ret;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_rc_errno(rc);
}
