/* machine_control table (see db_control.h). */
#include "server/db_control.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "server/db.h"

static const char SQL_SET_ENDPOINTS[] =
    "INSERT INTO machine_control (machine_id, listen_port, endpoints, endpoints_at) "
    "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (machine_id) DO UPDATE SET "
    "listen_port = excluded.listen_port, endpoints = excluded.endpoints, "
    "endpoints_at = excluded.endpoints_at";
static const char SQL_SET_REPORT[] =
    "INSERT INTO machine_control (machine_id, denials, stats, reported_at) "
    "VALUES (?1, coalesce(?2, '[]'), coalesce(?3, '{}'), ?4) ON CONFLICT (machine_id) DO UPDATE SET "
    "denials = coalesce(?2, denials), stats = coalesce(?3, stats), reported_at = ?4";
static const char SQL_GET[] =
    "SELECT listen_port, endpoints, coalesce(endpoints_at, 0), denials, stats, "
    "coalesce(reported_at, 0) FROM machine_control WHERE machine_id = ?";

int db_control_set_endpoints(struct db_conn *db, int64_t machine_id, int64_t listen_port,
                             const char *endpoints_json, int64_t now)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SET_ENDPOINTS);
    int ret = st ? db_bind_int64(st, 1, machine_id) : -EIO;

    if (!ret)
        ret = db_bind_int64(st, 2, listen_port);
    if (!ret)
        ret = db_bind_text(st, 3, endpoints_json);
    if (!ret)
        ret = db_bind_int64(st, 4, now);
    return ret ? ret : db_exec_stmt(st);
}

int db_control_set_report(struct db_conn *db, int64_t machine_id, const char *denials_json,
                          const char *stats_json, int64_t now)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SET_REPORT);
    int ret = st ? db_bind_int64(st, 1, machine_id) : -EIO;

    if (!ret)
        ret = db_bind_text(st, 2, denials_json);
    if (!ret)
        ret = db_bind_text(st, 3, stats_json);
    if (!ret)
        ret = db_bind_int64(st, 4, now);
    return ret ? ret : db_exec_stmt(st);
}

int db_control_get(struct db_conn *db, int64_t machine_id, struct control_row *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_GET);
    int ret = st ? db_bind_int64(st, 1, machine_id) : -EIO;
    int rc;

    memset(out, 0, sizeof(*out));
    snprintf(out->endpoints, sizeof(out->endpoints), "[]");
    snprintf(out->denials, sizeof(out->denials), "[]");
    snprintf(out->stats, sizeof(out->stats), "{}");
    if (ret)
        return ret;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->listen_port = sqlite3_column_int64(st, 0);
        db_column_text_copy(st, 1, out->endpoints, sizeof(out->endpoints));
        out->endpoints_at = sqlite3_column_int64(st, 2);
        db_column_text_copy(st, 3, out->denials, sizeof(out->denials));
        db_column_text_copy(st, 4, out->stats, sizeof(out->stats));
        out->reported_at = sqlite3_column_int64(st, 5);
    }
    ret = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_rc_errno(rc);
    sqlite3_reset(st);
    return ret;
}
