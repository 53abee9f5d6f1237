/* The SQLite access layer.
 *
 * Concurrency model: ONE sqlite3 connection per thread. db_conn_get() returns the calling thread's
 * connection, opening it on first use (WAL, busy_timeout SRV_DB_BUSY_TIMEOUT_MS, foreign_keys=ON);
 * it is closed by a pthread key destructor when the thread exits (civetweb workers exit at mg_stop)
 * or by db_close() for whatever is left. A connection is never shared between threads, so no lock
 * is needed around statements; SQLite's WAL gives concurrent readers and one writer, and writers
 * wait up to the busy timeout. Writes that read-then-write use db_begin() (BEGIN IMMEDIATE).
 *
 * Statements are prepared once per connection: db_stmt(c, SQL) looks the literal up in the
 * connection's cache (keyed by the string's address, so pass string literals / static arrays,
 * never built strings), prepares it on first use, and hands it back reset with bindings cleared.
 * Every bind goes through db_bind_* which checks the result. */
#ifndef ZTNA_SERVER_DB_H
#define ZTNA_SERVER_DB_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

struct db;
struct db_conn;

/* Embedded migrations (generated at build time from schema/NNN_name.sql, in order). */
struct schema_migration {
    int version; /* NNN */
    const char *name;
    const char *sql;
};
extern const struct schema_migration schema_migrations[];
extern const size_t schema_migrations_count;

/* Opens (creating) the database at path and applies pending migrations in one transaction each.
 * -EPROTO if the database's user_version is newer than this binary knows (message logged).
 * On success *out is new: free with db_close(). */
int db_open(struct db **out, const char *path);
void db_close(struct db *db); /* accepts NULL */
const char *db_path(const struct db *db); /* borrowed, valid until db_close */

/* Applies migrations to an open handle; returns the resulting version or -errno. */
int db_migrate(sqlite3 *h);
int db_schema_latest(void);

/* The calling thread's connection (borrowed: valid until this thread exits or db_close). NULL on
 * failure to open. */
struct db_conn *db_conn_get(struct db *db);
sqlite3 *db_conn_handle(struct db_conn *c);
/* Unbinds the calling thread's connection (if any) and keeps it open for the next db_conn_get()
 * of any thread: HTTP workers call it after each request, so that a large worker pool (held map
 * streams, server/netmap.h) shares at most SRV_MAX_DB_CONNS connections. When every slot is
 * bound, db_conn_get() waits up to SRV_DB_BUSY_TIMEOUT_MS for one to be released. */
void db_conn_release(struct db *db);

/* Prepared, reset, bindings cleared; borrowed (owned by the connection's cache). NULL on error. */
sqlite3_stmt *db_stmt(struct db_conn *c, const char *sql);

int db_bind_text(sqlite3_stmt *st, int idx, const char *s);   /* NULL binds NULL */
int db_bind_int64(sqlite3_stmt *st, int idx, int64_t v);
int db_bind_blob(sqlite3_stmt *st, int idx, const void *p, size_t n);
int db_bind_null(sqlite3_stmt *st, int idx);

/* Steps a statement that returns no rows: 0, -EEXIST (constraint), -EBUSY, -ENOSPC, -EIO. */
int db_exec_stmt(sqlite3_stmt *st);
/* Maps an SQLite result code to -errno (see above; SQLITE_ROW/DONE/OK -> 0). */
int db_rc_errno(int rc);

/* Resets every cached statement and rolls back a transaction left open (logged): called by the
 * dispatcher after each request so that no read transaction outlives it. */
void db_conn_idle(struct db_conn *c);

int db_begin(struct db_conn *c);    /* BEGIN IMMEDIATE */
int db_commit(struct db_conn *c);
int db_rollback(struct db_conn *c); /* safe to call when no transaction is open */

/* Copies text column into buf (truncating, always NUL-terminated). */
void db_column_text_copy(sqlite3_stmt *st, int col, char *buf, size_t size);

/* Online backup of the live database to dst_path with the SQLite backup API (works while a server
 * is writing: copies in steps, retrying on BUSY/LOCKED, bounded by SRV_BACKUP_MAX_SECONDS). */
int db_backup_to(const char *src_path, const char *dst_path);

#endif
