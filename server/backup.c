/* Online backup with the SQLite backup API: `ztna-server backup FILE`. Safe while the server
 * writes: WAL readers do not block the writer, and each step that meets BUSY/LOCKED is retried
 * after a short sleep; the whole copy is bounded by SRV_BACKUP_MAX_SECONDS. */
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "server/db.h"
#include "server/limits.h"

int db_backup_to(const char *src_path, const char *dst_path)
{
    sqlite3 *src = NULL, *dst = NULL;
    sqlite3_backup *bk = NULL;
    struct timespec start, now;
    int ret = 0;
    int rc;

    clock_gettime(CLOCK_MONOTONIC, &start);
    if (access(src_path, R_OK) != 0) {
        log_error("backup", "no database at %s", src_path);
        return -ENOENT;
    }
    rc = sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(src, SRV_DB_BUSY_TIMEOUT_MS);
        rc = sqlite3_open_v2(dst_path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    }
    if (rc != SQLITE_OK) {
        log_error("backup", "open failed: %s", sqlite3_errstr(rc));
        ret = -EIO;
        goto out;
    }
    bk = sqlite3_backup_init(dst, "main", src, "main");
    if (!bk) {
        log_error("backup", "%s", sqlite3_errmsg(dst));
        ret = -EIO;
        goto out;
    }
    for (;;) {
        rc = sqlite3_backup_step(bk, SRV_BACKUP_STEP_PAGES);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED) {
            log_error("backup", "step failed: %s", sqlite3_errstr(rc));
            ret = db_rc_errno(rc) ? db_rc_errno(rc) : -EIO;
            goto out;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > SRV_BACKUP_MAX_SECONDS) {
            log_error("backup", "gave up after %d s", SRV_BACKUP_MAX_SECONDS);
            ret = -ETIMEDOUT;
            goto out;
        }
        if (rc != SQLITE_OK)
            usleep(10 * 1000);
    }
out:
    if (bk && sqlite3_backup_finish(bk) != SQLITE_OK && ret == 0)
        ret = -EIO;
    sqlite3_close(dst);
    sqlite3_close(src);
    if (ret < 0 && dst_path)
        unlink(dst_path);
    return ret;
}
