/* struct server set-up and tear-down, and the signing key (see server.h). */
#include "server/server.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sodium.h>

#include "common/log.h"
#include "server/db.h"
#include "server/ratelimit.h"

static const char SQL_KEY_GET[] = "SELECT public_key, secret_key FROM server_keys WHERE id = 1";
static const char SQL_KEY_INSERT[] =
    "INSERT OR IGNORE INTO server_keys (id, public_key, secret_key, created_at) VALUES (1, ?, ?, ?)";

int64_t server_now(void)
{
    return (int64_t)time(NULL);
}

static int key_load(struct server *srv, struct db_conn *c)
{
    sqlite3_stmt *st = db_stmt(c, SQL_KEY_GET);
    int ret = -ENOENT;

    if (!st)
        return -EIO;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32 &&
        sqlite3_column_bytes(st, 1) == 64) {
        memcpy(srv->sign_pk, sqlite3_column_blob(st, 0), 32);
        memcpy(srv->sign_sk, sqlite3_column_blob(st, 1), 64);
        ret = 0;
    }
    sqlite3_reset(st);
    return ret;
}

static int key_load_or_create(struct server *srv, struct db_conn *c)
{
    uint8_t pk[32], sk[64];
    sqlite3_stmt *st;
    int ret = key_load(srv, c);

    if (ret != -ENOENT)
        return ret;
    crypto_sign_keypair(pk, sk);
    st = db_stmt(c, SQL_KEY_INSERT);
    ret = st ? db_bind_blob(st, 1, pk, 32) ?: db_bind_blob(st, 2, sk, 64) ?:
               db_bind_int64(st, 3, server_now()) ?: db_exec_stmt(st) : -EIO;
    sodium_memzero(sk, sizeof(sk));
    if (ret < 0)
        return ret;
    return key_load(srv, c); /* INSERT OR IGNORE: another process may have won */
}

int server_init(struct server *srv)
{
    char path[SRV_MAX_SETTING_BYTES + 16];
    struct db_conn *c;
    int ret;

    if (sodium_init() < 0)
        return -EIO;
    srv->started_at = server_now();
    if (mkdir(srv->set.data_dir, 0700) < 0 && errno != EEXIST) {
        ret = -errno;
        log_error("server", "cannot create data dir %s: %s", srv->set.data_dir, strerror(errno));
        return ret;
    }
    snprintf(path, sizeof(path), "%s/ztna.db", srv->set.data_dir);
    ret = db_open(&srv->db, path);
    if (ret < 0)
        return ret;
    c = db_conn_get(srv->db);
    if (!c)
        return -EIO;
    ret = key_load_or_create(srv, c);
    db_conn_idle(c);
    if (ret < 0) {
        log_error("server", "cannot load the signing key: %d", ret);
        return ret;
    }
    srv->login_limit = ratelimit_new();
    return srv->login_limit ? 0 : -ENOMEM;
}

void server_free(struct server *srv)
{
    if (!srv)
        return;
    db_close(srv->db);
    srv->db = NULL;
    ratelimit_free(srv->login_limit);
    srv->login_limit = NULL;
    sodium_memzero(srv->sign_sk, sizeof(srv->sign_sk));
}
