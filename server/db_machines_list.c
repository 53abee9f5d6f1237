/* machines table: the row reader, listing, heartbeats, request nonces and janitor queries. */
#include "server/db_machines.h"

#include <errno.h>
#include <string.h>

#include "server/db.h"
#include "server/db_machines_row.h"

static const char SQL_LIST[] =
    "SELECT " MACHINE_COLS " FROM machines WHERE org_id = ?1 "
    "AND (?2 IS NULL OR instr(name, ?2) > 0 OR instr(hostname, ?2) > 0) "
    "AND (?3 IS NULL OR EXISTS (SELECT 1 FROM json_each(machines.tags) WHERE value = ?3)) "
    "AND (?4 < 0 OR online = ?4) ORDER BY id LIMIT ?5 OFFSET ?6";
static const char SQL_COUNT[] =
    "SELECT count(*) FROM machines WHERE org_id = ?1 "
    "AND (?2 IS NULL OR instr(name, ?2) > 0 OR instr(hostname, ?2) > 0) "
    "AND (?3 IS NULL OR EXISTS (SELECT 1 FROM json_each(machines.tags) WHERE value = ?3)) "
    "AND (?4 < 0 OR online = ?4)";
static const char SQL_HEARTBEAT[] =
    "UPDATE machines SET last_seen = ?1, online = 1, "
    "posture = coalesce(?2, posture), posture_at = CASE WHEN ?2 IS NULL THEN posture_at ELSE ?1 END, "
    "os_version = coalesce(?3, os_version) WHERE id = ?4";
static const char SQL_NONCE_INSERT[] =
    "INSERT INTO machine_nonces (machine_id, nonce, expires_at) VALUES (?, ?, ?)";
static const char SQL_NONCE_PRUNE[] = "DELETE FROM machine_nonces WHERE expires_at < ?";
static const char SQL_MARK_OFFLINE[] =
    "UPDATE machines SET online = 0 WHERE online = 1 AND coalesce(last_seen, 0) < ?";
static const char SQL_MARK_OFFLINE_RETURNING[] =
    "UPDATE machines SET online = 0 WHERE online = 1 AND coalesce(last_seen, 0) < ? "
    "RETURNING org_id, id";
static const char SQL_EPHEMERAL_STALE[] =
    "SELECT " MACHINE_COLS " FROM machines WHERE ephemeral = 1 AND coalesce(last_seen, created_at) < ? "
    "ORDER BY id LIMIT 1000";
static const char SQL_COUNT_ONLINE[] = "SELECT count(*) FROM machines WHERE online = 1";

void machine_row_read(sqlite3_stmt *st, struct machine_row *m)
{
    memset(m, 0, sizeof(*m));
    m->id = sqlite3_column_int64(st, 0);
    m->org_id = sqlite3_column_int64(st, 1);
    m->user_id = sqlite3_column_int64(st, 2);
    m->auth_key_id = sqlite3_column_int64(st, 3);
    if (sqlite3_column_bytes(st, 4) == 32)
        memcpy(m->machine_key, sqlite3_column_blob(st, 4), 32);
    if (sqlite3_column_bytes(st, 5) == 32)
        memcpy(m->wg_public_key, sqlite3_column_blob(st, 5), 32);
    db_column_text_copy(st, 6, m->hostname, sizeof(m->hostname));
    db_column_text_copy(st, 7, m->name, sizeof(m->name));
    m->ip_num = (uint32_t)sqlite3_column_int64(st, 8);
    db_column_text_copy(st, 9, m->tailnet_ip, sizeof(m->tailnet_ip));
    db_column_text_copy(st, 10, m->os, sizeof(m->os));
    db_column_text_copy(st, 11, m->os_version, sizeof(m->os_version));
    db_column_text_copy(st, 12, m->tags, sizeof(m->tags));
    m->ephemeral = sqlite3_column_int(st, 13) != 0;
    m->created_at = sqlite3_column_int64(st, 14);
    m->last_seen = sqlite3_column_int64(st, 15);
    m->online = sqlite3_column_int(st, 16) != 0;
    m->expired_at = sqlite3_column_int64(st, 17);
    db_column_text_copy(st, 18, m->posture, sizeof(m->posture));
    m->posture_at = sqlite3_column_int64(st, 19);
    int64_t *pq[] = {&m->pq.peers, &m->pq.peers_pq, &m->pq.classical, &m->pq.failing};
    for (int i = 0; i < 4; i++) {
        int t = sqlite3_column_type(st, 20 + i);
        double v = sqlite3_column_double(st, 20 + i);
        /* counters a machine reports: whole, non-negative numbers only */
        *pq[i] = (t == SQLITE_INTEGER || t == SQLITE_FLOAT) && v >= 0 && v <= 1e9 ? (int64_t)v : -1;
    }
    m->pq.reported_at = sqlite3_column_int64(st, 24);
}

static int bind_filter(sqlite3_stmt *st, int64_t org_id, const struct machine_filter *f)
{
    int ret = db_bind_int64(st, 1, org_id);
    if (!ret)
        ret = db_bind_text(st, 2, f->q && *f->q ? f->q : NULL);
    if (!ret)
        ret = db_bind_text(st, 3, f->tag && *f->tag ? f->tag : NULL);
    if (!ret)
        ret = db_bind_int64(st, 4, f->online);
    return ret;
}

int db_machine_list(struct db_conn *db, int64_t org_id, const struct machine_filter *f,
                    int (*cb)(const struct machine_row *m, void *arg), void *arg, int64_t *total)
{
    struct machine_row *m = NULL;
    sqlite3_stmt *st = db_stmt(db, SQL_COUNT);
    int ret = st ? bind_filter(st, org_id, f) : -EIO;
    int rc;
    if (ret)
        goto out;
    rc = sqlite3_step(st);
    *total = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    ret = rc == SQLITE_ROW ? 0 : db_rc_errno(rc);
    sqlite3_reset(st);
    if (ret)
        goto out;
    m = sqlite3_malloc(sizeof(*m));
    st = db_stmt(db, SQL_LIST);
    ret = !m ? -ENOMEM : st ? bind_filter(st, org_id, f) : -EIO;
    if (!ret)
        ret = db_bind_int64(st, 5, f->limit);
    if (!ret)
        ret = db_bind_int64(st, 6, f->offset);
    if (ret)
        goto out;
    while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        machine_row_read(st, m);
        ret = cb(m, arg);
    }
    if (!ret && rc != SQLITE_DONE)
        ret = db_rc_errno(rc);
    sqlite3_reset(st);
out:
    sqlite3_free(m);
    return ret;
}

int db_machine_heartbeat(struct db_conn *db, int64_t id, int64_t now, const char *posture_json,
                         const char *os_version)
{
    sqlite3_stmt *st = db_stmt(db, SQL_HEARTBEAT);
    if (!st)
        return -EIO;
    int ret = db_bind_int64(st, 1, now);
    if (!ret)
        ret = db_bind_text(st, 2, posture_json);
    if (!ret)
        ret = db_bind_text(st, 3, os_version);
    if (!ret)
        ret = db_bind_int64(st, 4, id);
    if (!ret)
        ret = db_exec_stmt(st);
    if (!ret && sqlite3_changes(db_conn_handle(db)) == 0)
        ret = -ENOENT;
    return ret;
}

int db_machine_nonce_insert(struct db_conn *db, int64_t machine_id,
                            const uint8_t nonce[static 16], int64_t expires_at)
{
    sqlite3_stmt *st = db_stmt(db, SQL_NONCE_INSERT);
    if (!st)
        return -EIO;
    int ret = db_bind_int64(st, 1, machine_id);
    if (!ret)
        ret = db_bind_blob(st, 2, nonce, 16);
    if (!ret)
        ret = db_bind_int64(st, 3, expires_at);
    return ret ? ret : db_exec_stmt(st);
}

static int exec_cutoff(struct db_conn *db, const char *sql, int64_t cutoff)
{
    sqlite3_stmt *st = db_stmt(db, sql);
    if (!st)
        return -EIO;
    int ret = db_bind_int64(st, 1, cutoff);
    if (!ret)
        ret = db_exec_stmt(st);
    return ret ? ret : sqlite3_changes(db_conn_handle(db));
}

int db_machine_nonce_prune(struct db_conn *db, int64_t now)
{
    return exec_cutoff(db, SQL_NONCE_PRUNE, now);
}

int db_machine_mark_offline(struct db_conn *db, int64_t cutoff)
{
    return exec_cutoff(db, SQL_MARK_OFFLINE, cutoff);
}

int db_machine_mark_offline_each(struct db_conn *db, int64_t cutoff,
                                 int (*cb)(int64_t org_id, int64_t id, void *arg), void *arg)
{
    sqlite3_stmt *st = db_stmt(db, SQL_MARK_OFFLINE_RETURNING);
    int ret = st ? db_bind_int64(st, 1, cutoff) : -EIO;
    int rc = SQLITE_DONE, n = 0;
    while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        n++;
        ret = cb(sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), arg);
    }
    if (!ret && rc != SQLITE_DONE)
        ret = db_rc_errno(rc);
    if (st)
        sqlite3_reset(st);
    return ret ? ret : n;
}

int db_machine_ephemeral_stale(struct db_conn *db, int64_t cutoff,
                               int (*cb)(const struct machine_row *m, void *arg), void *arg)
{
    struct machine_row *m = sqlite3_malloc(sizeof(*m));
    sqlite3_stmt *st = db_stmt(db, SQL_EPHEMERAL_STALE);
    int ret = !m ? -ENOMEM : st ? db_bind_int64(st, 1, cutoff) : -EIO;
    int rc = SQLITE_DONE;
    while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        machine_row_read(st, m);
        ret = cb(m, arg);
    }
    if (!ret && rc != SQLITE_DONE)
        ret = db_rc_errno(rc);
    if (st)
        sqlite3_reset(st);
    sqlite3_free(m);
    return ret;
}

int64_t db_machine_count_online(struct db_conn *db)
{
    sqlite3_stmt *st = db_stmt(db, SQL_COUNT_ONLINE);
    if (!st)
        return -EIO;
    int rc = sqlite3_step(st);
    int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : db_rc_errno(rc);
    sqlite3_reset(st);
    return n;
}
