/* SQLite access layer: per-thread connections, statement cache, migrations (see db.h). */
#include "server/db.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "server/limits.h"

#define DB_MMAP_BYTES "1073741824" /* the database file mapped up to 1 GiB (address space only) */

struct db_conn {
    sqlite3 *h;
    struct db *db;
    size_t nstmt;
    struct {
        const char *sql; /* key: the literal's address */
        sqlite3_stmt *st;
    } cache[SRV_MAX_STMT_CACHE];
};

struct db {
    char *path;
    pthread_key_t key;
    pthread_mutex_t lock; /* protects conns[], idle[] and nidle */
    pthread_cond_t released; /* signalled when a connection joins idle[] */
    struct db_conn *conns[SRV_MAX_DB_CONNS];
    struct db_conn *idle[SRV_MAX_DB_CONNS]; /* open, bound to no thread (db_conn_release) */
    size_t nidle;
    size_t nopen; /* connections open or being opened (slots reserved) */
};

static void conn_close(struct db_conn *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nstmt; i++)
        sqlite3_finalize(c->cache[i].st);
    sqlite3_close(c->h);
    free(c);
}

static void conn_release(void *arg)
{
    struct db_conn *c = arg;
    struct db *db = c->db;

    pthread_mutex_lock(&db->lock);
    for (size_t i = 0; i < SRV_MAX_DB_CONNS; i++) {
        if (db->conns[i] == c) {
            db->conns[i] = NULL;
            db->nopen--;
        }
    }
    pthread_cond_signal(&db->released); /* a slot is free */
    pthread_mutex_unlock(&db->lock);
    conn_close(c);
}

int db_rc_errno(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_CONSTRAINT:
        return -EEXIST;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_READONLY:
    case SQLITE_PERM:
        return -EROFS;
    default:
        return -EIO;
    }
}

static int exec_sql(sqlite3 *h, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(h, sql, NULL, NULL, &err);

    if (rc != SQLITE_OK) {
        log_error("db", "%s", err ? err : sqlite3_errstr(rc));
        sqlite3_free(err);
        return db_rc_errno(rc) ? db_rc_errno(rc) : -EIO;
    }
    return 0;
}

static int open_handle(const char *path, sqlite3 **out)
{
    sqlite3 *h = NULL;
    int ret;
    int rc = sqlite3_open_v2(path, &h,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);

    if (rc != SQLITE_OK) {
        log_error("db", "cannot open %s: %s", path, h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
        ret = -EIO;
        goto out;
    }
    sqlite3_extended_result_codes(h, 1);
    sqlite3_busy_timeout(h, SRV_DB_BUSY_TIMEOUT_MS);
    /* mmap_size: every thread has its own connection, and with it its own page cache (2 MB):
     * a scan of the whole fleet (the policy's check at every save reads 10,000 machines) missed
     * it and read the file a page per pread(). Mapped, the connections read the kernel's page
     * cache in place. */
    ret = exec_sql(h, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; "
                      "PRAGMA synchronous=NORMAL; PRAGMA mmap_size=" DB_MMAP_BYTES ";");
out:
    if (ret < 0) {
        sqlite3_close(h);
        h = NULL;
    }
    *out = h;
    return ret;
}

int db_schema_latest(void)
{
    return schema_migrations_count ? schema_migrations[schema_migrations_count - 1].version : 0;
}

static int user_version(sqlite3 *h)
{
    sqlite3_stmt *st = NULL;
    int v = -EIO;

    if (sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

int db_migrate(sqlite3 *h)
{
    int ret = 0;
    int cur;

    for (size_t i = 0; i < schema_migrations_count; i++) {
        if (schema_migrations[i].version != (int)i + 1) {
            log_error("db", "embedded migrations are not numbered 1..N (%s)",
                      schema_migrations[i].name);
            return -EINVAL;
        }
    }
    ret = exec_sql(h, "BEGIN IMMEDIATE");
    if (ret < 0)
        return ret;
    cur = user_version(h);
    if (cur < 0) {
        ret = cur;
        goto out;
    }
    if (cur > db_schema_latest()) {
        log_error("db", "database schema version %d is newer than this ztna-server knows (%d); "
                  "refusing to start: upgrade ztna-server or restore a backup", cur,
                  db_schema_latest());
        ret = -EPROTO;
        goto out;
    }
    /* One transaction for all pending steps: a failure leaves the database as it was. */
    for (size_t i = (size_t)cur; i < schema_migrations_count; i++) {
        char pragma[64];

        log_info("db", "applying migration %s", schema_migrations[i].name);
        ret = exec_sql(h, schema_migrations[i].sql);
        if (ret < 0)
            goto out;
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d", schema_migrations[i].version);
        ret = exec_sql(h, pragma);
        if (ret < 0)
            goto out;
    }
    ret = exec_sql(h, "COMMIT");
    if (ret == 0)
        ret = db_schema_latest();
out:
    if (ret < 0)
        sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
    return ret;
}

int db_open(struct db **out, const char *path)
{
    struct db *db = calloc(1, sizeof(*db));
    sqlite3 *h = NULL;
    int ret;

    *out = NULL;
    if (!db)
        return -ENOMEM;
    db->path = strdup(path);
    if (!db->path) {
        free(db);
        return -ENOMEM;
    }
    pthread_mutex_init(&db->lock, NULL);
    pthread_cond_init(&db->released, NULL);
    ret = -pthread_key_create(&db->key, conn_release);
    if (ret < 0) {
        free(db->path);
        free(db);
        return ret;
    }
    ret = open_handle(path, &h);
    if (ret < 0)
        goto out;
    ret = db_migrate(h);
    if (ret < 0)
        goto out;
    ret = 0;
    *out = db;
out:
    sqlite3_close(h);
    if (ret < 0)
        db_close(db);
    return ret;
}

void db_close(struct db *db)
{
    if (!db)
        return;
    struct db_conn *mine = pthread_getspecific(db->key);

    if (mine)
        pthread_setspecific(db->key, NULL);
    pthread_mutex_lock(&db->lock);
    for (size_t i = 0; i < SRV_MAX_DB_CONNS; i++) {
        conn_close(db->conns[i]);
        db->conns[i] = NULL;
    }
    pthread_mutex_unlock(&db->lock);
    db->nidle = 0;
    db->nopen = 0;
    pthread_key_delete(db->key);
    pthread_cond_destroy(&db->released);
    pthread_mutex_destroy(&db->lock);
    free(db->path);
    free(db);
}

const char *db_path(const struct db *db)
{
    return db->path;
}

/* A released connection, or NULL with a slot reserved for a new one (*reserved); waits (bounded
 * by the busy timeout) while every slot is taken, then gives up with neither. */
static struct db_conn *conn_reuse(struct db *db, bool *reserved)
{
    struct db_conn *c = NULL;
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += SRV_DB_BUSY_TIMEOUT_MS / 1000;
    *reserved = false;
    pthread_mutex_lock(&db->lock);
    while (!db->nidle && db->nopen >= SRV_MAX_DB_CONNS) {
        if (pthread_cond_timedwait(&db->released, &db->lock, &until) == ETIMEDOUT)
            break;
    }
    if (db->nidle) {
        c = db->idle[--db->nidle];
    } else if (db->nopen < SRV_MAX_DB_CONNS) {
        db->nopen++;
        *reserved = true;
    }
    pthread_mutex_unlock(&db->lock);
    return c;
}

static void slot_unreserve(struct db *db)
{
    pthread_mutex_lock(&db->lock);
    db->nopen--;
    pthread_cond_signal(&db->released);
    pthread_mutex_unlock(&db->lock);
}

void db_conn_release(struct db *db)
{
    struct db_conn *c = pthread_getspecific(db->key);

    if (!c)
        return;
    db_conn_idle(c);
    pthread_setspecific(db->key, NULL);
    pthread_mutex_lock(&db->lock);
    db->idle[db->nidle++] = c; /* at most one per open connection: cannot overflow */
    pthread_cond_signal(&db->released);
    pthread_mutex_unlock(&db->lock);
}

struct db_conn *db_conn_get(struct db *db)
{
    struct db_conn *c = pthread_getspecific(db->key);
    size_t slot;
    bool reserved;

    if (c)
        return c;
    c = conn_reuse(db, &reserved);
    if (c) {
        pthread_setspecific(db->key, c);
        return c;
    }
    if (!reserved) {
        log_error("db", "all %d connections busy for %d ms", SRV_MAX_DB_CONNS,
                  SRV_DB_BUSY_TIMEOUT_MS);
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        slot_unreserve(db);
        return NULL;
    }
    c->db = db;
    if (open_handle(db->path, &c->h) < 0) {
        free(c);
        slot_unreserve(db);
        return NULL;
    }
    pthread_mutex_lock(&db->lock);
    for (slot = 0; slot < SRV_MAX_DB_CONNS && db->conns[slot]; slot++)
        ;
    db->conns[slot] = c; /* reserved above: there is a free slot */
    pthread_mutex_unlock(&db->lock);
    pthread_setspecific(db->key, c);
    return c;
}

sqlite3 *db_conn_handle(struct db_conn *c)
{
    return c->h;
}

sqlite3_stmt *db_stmt(struct db_conn *c, const char *sql)
{
    sqlite3_stmt *st = NULL;

    for (size_t i = 0; i < c->nstmt; i++) {
        if (c->cache[i].sql == sql) {
            st = c->cache[i].st;
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            return st;
        }
    }
    if (c->nstmt == SRV_MAX_STMT_CACHE) {
        log_error("db", "statement cache full (SRV_MAX_STMT_CACHE)");
        return NULL;
    }
    if (sqlite3_prepare_v3(c->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        log_error("db", "prepare failed: %s", sqlite3_errmsg(c->h));
        sqlite3_finalize(st);
        return NULL;
    }
    c->cache[c->nstmt].sql = sql;
    c->cache[c->nstmt].st = st;
    c->nstmt++;
    return st;
}

static int bind_result(sqlite3_stmt *st, int rc, int idx)
{
    if (rc == SQLITE_OK)
        return 0;
    log_error("db", "bind %d failed: %s", idx, sqlite3_errstr(rc));
    (void)st;
    return -EINVAL;
}

int db_bind_text(sqlite3_stmt *st, int idx, const char *s)
{
    if (!s)
        return db_bind_null(st, idx);
    return bind_result(st, sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT), idx);
}

int db_bind_int64(sqlite3_stmt *st, int idx, int64_t v)
{
    return bind_result(st, sqlite3_bind_int64(st, idx, v), idx);
}

int db_bind_blob(sqlite3_stmt *st, int idx, const void *p, size_t n)
{
    return bind_result(st, sqlite3_bind_blob(st, idx, p, (int)n, SQLITE_TRANSIENT), idx);
}

int db_bind_null(sqlite3_stmt *st, int idx)
{
    return bind_result(st, sqlite3_bind_null(st, idx), idx);
}

int db_exec_stmt(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    int ret = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : db_rc_errno(rc);

    if (ret < 0 && ret != -EEXIST)
        log_error("db", "step failed: %s", sqlite3_errmsg(sqlite3_db_handle(st)));
    sqlite3_reset(st);
    return ret;
}

static int exec_simple(struct db_conn *c, const char *sql)
{
    sqlite3_stmt *st = db_stmt(c, sql);

    return st ? db_exec_stmt(st) : -EIO;
}

int db_begin(struct db_conn *c)
{
    return exec_simple(c, "BEGIN IMMEDIATE");
}

int db_commit(struct db_conn *c)
{
    return exec_simple(c, "COMMIT");
}

int db_rollback(struct db_conn *c)
{
    if (sqlite3_get_autocommit(c->h))
        return 0;
    return exec_simple(c, "ROLLBACK");
}

void db_column_text_copy(sqlite3_stmt *st, int col, char *buf, size_t size)
{
    const unsigned char *t = sqlite3_column_text(st, col);

    snprintf(buf, size, "%s", t ? (const char *)t : "");
}

void db_conn_idle(struct db_conn *c)
{
    for (size_t i = 0; i < c->nstmt; i++)
        sqlite3_reset(c->cache[i].st);
    if (!sqlite3_get_autocommit(c->h)) {
        log_warn("db", "transaction left open by a handler; rolling back");
        sqlite3_exec(c->h, "ROLLBACK", NULL, NULL, NULL);
    }
}
