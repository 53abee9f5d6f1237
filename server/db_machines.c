/* machines table: registration (name uniqueness, IP allocation) and single-row operations.
 * Listing, heartbeats, nonces and janitor queries are in db_machines_list.c. */
#include "server/db_machines.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/db.h"
#include "server/db_auth_keys.h"
#include "server/db_machines_row.h"

static const char SQL_BY_KEY[] = "SELECT " MACHINE_COLS " FROM machines WHERE machine_key = ?";
static const char SQL_GET[] = "SELECT " MACHINE_COLS " FROM machines WHERE org_id = ? AND id = ?";
/* Names equal to the label or starting with "label-": the range keeps it on the index. */
static const char SQL_NAMES[] =
    "SELECT name FROM machines WHERE org_id = ?1 AND id != ?3 AND "
    "(name = ?2 OR (name > ?2 || '-' AND name < ?2 || '.'))";
static const char SQL_MAX_IP[] = "SELECT max(ip_num) FROM machines WHERE org_id = ?";
static const char SQL_ALL_IPS[] = "SELECT ip_num FROM machines WHERE org_id = ? ORDER BY ip_num";
static const char SQL_INSERT[] =
    "INSERT INTO machines (org_id, user_id, auth_key_id, machine_key, wg_public_key, hostname, "
    "name, ip_num, tailnet_ip, os, os_version, tags, ephemeral, created_at, last_seen, online) "
    "VALUES (?, nullif(?, 0), nullif(?, 0), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)";
static const char SQL_REACTIVATE[] =
    "UPDATE machines SET wg_public_key = ?, hostname = ?, os = ?, os_version = ?, "
    "expired_at = NULL, last_seen = ?, online = 1 WHERE id = ?";
static const char SQL_RENAME[] = "UPDATE machines SET name = ? WHERE org_id = ? AND id = ?";
static const char SQL_SET_TAGS[] = "UPDATE machines SET tags = ? WHERE org_id = ? AND id = ?";
static const char SQL_DELETE[] = "DELETE FROM machines WHERE org_id = ? AND id = ?";
static const char SQL_EXPIRE[] =
    "UPDATE machines SET expired_at = coalesce(expired_at, ?), online = 0 "
    "WHERE org_id = ? AND id = ?";
static const char SQL_SLUG[] = "SELECT slug FROM orgs WHERE id = ?";

void machine_label_sanitize(const char *hostname, char out[static MACH_LABEL_MAX + 1])
{
    size_t n = 0;
    bool dash = false;
    /* Only the first DNS label of a FQDN-like hostname ("laptop.local" -> "laptop"). */
    for (const char *s = hostname; s && *s && *s != '.' && n < MACH_LABEL_BASE_MAX; s++) {
        char c = *s;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            if (dash && n)
                out[n++] = '-';
            if (n < MACH_LABEL_BASE_MAX)
                out[n++] = c;
            dash = false;
        } else {
            dash = true;
        }
    }
    out[n] = '\0';
    if (!n)
        snprintf(out, MACH_LABEL_MAX + 1, "machine");
}

static int get_one(sqlite3_stmt *st, struct machine_row *out)
{
    int rc = sqlite3_step(st);
    int ret = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_rc_errno(rc);
    if (!ret)
        machine_row_read(st, out);
    sqlite3_reset(st);
    return ret;
}

int db_machine_get(struct db_conn *db, int64_t org_id, int64_t id, struct machine_row *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_GET);
    if (!st)
        return -EIO;
    int ret = db_bind_int64(st, 1, org_id);
    if (!ret)
        ret = db_bind_int64(st, 2, id);
    return ret ? ret : get_one(st, out);
}

int db_machine_find_key(struct db_conn *db, const uint8_t key[static 32], struct machine_row *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_BY_KEY);
    if (!st)
        return -EIO;
    int ret = db_bind_blob(st, 1, key, 32);
    return ret ? ret : get_one(st, out);
}

/* Picks label, or label-N with N one above the highest suffix in use. self: id to ignore. */
static int unique_name(struct db_conn *db, int64_t org_id, int64_t self, const char *label,
                       char out[static MACH_LABEL_MAX + 1])
{
    sqlite3_stmt *st = db_stmt(db, SQL_NAMES);
    if (!st)
        return -EIO;
    int ret = db_bind_int64(st, 1, org_id);
    if (!ret)
        ret = db_bind_text(st, 2, label);
    if (!ret)
        ret = db_bind_int64(st, 3, self);
    if (ret)
        return ret;
    size_t ll = strlen(label);
    bool base_taken = false;
    long max = 1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *n = (const char *)sqlite3_column_text(st, 0);
        if (!n)
            continue;
        if (strcmp(n, label) == 0) {
            base_taken = true;
            continue;
        }
        const char *suf = n + ll + 1;
        char *end;
        if (strncmp(n, label, ll) != 0 || n[ll] != '-' || *suf < '1' || *suf > '9')
            continue;
        long v = strtol(suf, &end, 10);
        if (*end == '\0' && v > max && v < 100000000)
            max = v;
    }
    ret = rc == SQLITE_DONE ? 0 : db_rc_errno(rc);
    sqlite3_reset(st);
    if (ret)
        return ret;
    if (!base_taken)
        snprintf(out, MACH_LABEL_MAX + 1, "%s", label);
    else
        snprintf(out, MACH_LABEL_MAX + 1, "%s-%ld", label, max + 1);
    return 0;
}

/* The next free address: above the highest in use, else the lowest gap (bounded scan). */
static int alloc_ip(struct db_conn *db, int64_t org_id, uint32_t *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_MAX_IP);
    if (!st)
        return -EIO;
    int ret = db_bind_int64(st, 1, org_id);
    if (ret)
        return ret;
    int rc = sqlite3_step(st);
    uint32_t max = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL
                       ? (uint32_t)sqlite3_column_int64(st, 0)
                       : 0;
    ret = rc == SQLITE_ROW ? 0 : db_rc_errno(rc);
    sqlite3_reset(st);
    if (ret)
        return ret;
    uint32_t next = ipalloc_next(max);
    if (next) {
        *out = next;
        return 0;
    }
    st = db_stmt(db, SQL_ALL_IPS);
    if (!st)
        return -EIO;
    ret = db_bind_int64(st, 1, org_id);
    uint32_t want = ipalloc_next(0);
    long scanned = 0;
    while (!ret && want && (rc = sqlite3_step(st)) == SQLITE_ROW && scanned++ < MACH_IP_SCAN_MAX) {
        uint32_t used = (uint32_t)sqlite3_column_int64(st, 0);
        if (used > want)
            break; /* gap found */
        if (used == want)
            want = ipalloc_next(want);
    }
    sqlite3_reset(st);
    if (ret)
        return ret;
    if (!want || !ipalloc_usable(want))
        return -ENOSPC;
    *out = want;
    return 0;
}

static int reactivate(struct db_conn *db, struct machine_row *m, const struct machine_row *old,
                      int64_t now)
{
    sqlite3_stmt *st = db_stmt(db, SQL_REACTIVATE);
    if (!st)
        return -EIO;
    int ret = db_bind_blob(st, 1, m->wg_public_key, 32);
    if (!ret)
        ret = db_bind_text(st, 2, m->hostname);
    if (!ret)
        ret = db_bind_text(st, 3, m->os);
    if (!ret)
        ret = db_bind_text(st, 4, m->os_version);
    if (!ret)
        ret = db_bind_int64(st, 5, now);
    if (!ret)
        ret = db_bind_int64(st, 6, old->id);
    if (!ret)
        ret = db_exec_stmt(st);
    if (!ret) {
        m->id = old->id;
        m->ip_num = old->ip_num;
        memcpy(m->tailnet_ip, old->tailnet_ip, sizeof(m->tailnet_ip));
        memcpy(m->name, old->name, sizeof(m->name));
        memcpy(m->tags, old->tags, sizeof(m->tags));
        m->ephemeral = old->ephemeral;
        m->created_at = old->created_at;
    }
    return ret;
}

static int insert(struct db_conn *db, struct machine_row *m, int64_t auth_key_id, int64_t now)
{
    sqlite3_stmt *st = db_stmt(db, SQL_INSERT);
    if (!st)
        return -EIO;
    int ret = db_bind_int64(st, 1, m->org_id);
    if (!ret)
        ret = db_bind_int64(st, 2, m->user_id);
    if (!ret)
        ret = db_bind_int64(st, 3, auth_key_id);
    if (!ret)
        ret = db_bind_blob(st, 4, m->machine_key, 32);
    if (!ret)
        ret = db_bind_blob(st, 5, m->wg_public_key, 32);
    if (!ret)
        ret = db_bind_text(st, 6, m->hostname);
    if (!ret)
        ret = db_bind_text(st, 7, m->name);
    if (!ret)
        ret = db_bind_int64(st, 8, m->ip_num);
    if (!ret)
        ret = db_bind_text(st, 9, m->tailnet_ip);
    if (!ret)
        ret = db_bind_text(st, 10, m->os);
    if (!ret)
        ret = db_bind_text(st, 11, m->os_version);
    if (!ret)
        ret = db_bind_text(st, 12, m->tags);
    if (!ret)
        ret = db_bind_int64(st, 13, m->ephemeral);
    if (!ret)
        ret = db_bind_int64(st, 14, now);
    if (!ret)
        ret = db_bind_int64(st, 15, now);
    if (!ret)
        ret = db_exec_stmt(st);
    if (!ret) {
        m->id = sqlite3_last_insert_rowid(db_conn_handle(db));
        m->created_at = now;
        m->last_seen = now;
        m->online = true;
    }
    return ret;
}

int db_machine_register(struct db_conn *db, struct machine_row *m, int64_t auth_key_id,
                        int64_t now, bool *reactivated,
                        void (*before_commit)(const struct machine_row *m, bool reactivated,
                                              void *arg),
                        void *arg)
{
    struct machine_row *old = malloc(sizeof(*old));
    char label[MACH_LABEL_MAX + 1];
    int ret = old ? db_begin(db) : -ENOMEM;
    *reactivated = false;
    if (ret)
        goto out_free;
    if (auth_key_id) {
        ret = db_auth_key_consume(db, auth_key_id, now);
        if (ret)
            goto out;
    }
    ret = db_machine_find_key(db, m->machine_key, old);
    if (ret == 0) {
        if (old->org_id != m->org_id) {
            ret = -EEXIST;
            goto out;
        }
        ret = reactivate(db, m, old, now);
        *reactivated = ret == 0;
        goto out;
    }
    if (ret != -ENOENT)
        goto out;
    snprintf(label, sizeof(label), "%s", m->name);
    ret = unique_name(db, m->org_id, 0, label, m->name);
    if (!ret)
        ret = alloc_ip(db, m->org_id, &m->ip_num);
    if (ret)
        goto out;
    ipalloc_format(m->ip_num, m->tailnet_ip);
    ret = insert(db, m, auth_key_id, now);
out:
    if (!ret && before_commit)
        before_commit(m, *reactivated, arg);
    if (!ret)
        ret = db_commit(db);
    if (ret)
        db_rollback(db);
out_free:
    free(old);
    return ret;
}

int db_machine_update(struct db_conn *db, int64_t org_id, int64_t id, const char *new_label,
                      const char *tags_json, struct machine_row *out)
{
    char name[MACH_LABEL_MAX + 1];
    int ret = db_begin(db);
    if (ret)
        return ret;
    ret = db_machine_get(db, org_id, id, out);
    if (!ret && new_label) {
        ret = unique_name(db, org_id, id, new_label, name);
        sqlite3_stmt *st = ret ? NULL : db_stmt(db, SQL_RENAME);
        if (!ret && !st)
            ret = -EIO;
        if (!ret)
            ret = db_bind_text(st, 1, name);
        if (!ret)
            ret = db_bind_int64(st, 2, org_id);
        if (!ret)
            ret = db_bind_int64(st, 3, id);
        if (!ret)
            ret = db_exec_stmt(st);
    }
    if (!ret && tags_json) {
        sqlite3_stmt *st = db_stmt(db, SQL_SET_TAGS);
        ret = st ? db_bind_text(st, 1, tags_json) : -EIO;
        if (!ret)
            ret = db_bind_int64(st, 2, org_id);
        if (!ret)
            ret = db_bind_int64(st, 3, id);
        if (!ret)
            ret = db_exec_stmt(st);
    }
    if (!ret)
        ret = db_machine_get(db, org_id, id, out);
    if (!ret)
        ret = db_commit(db);
    if (ret)
        db_rollback(db);
    return ret;
}

static int org_id_op(struct db_conn *db, const char *sql, bool with_now, int64_t now,
                     int64_t org_id, int64_t id)
{
    sqlite3_stmt *st = db_stmt(db, sql);
    if (!st)
        return -EIO;
    int i = 1, ret = 0;
    if (with_now)
        ret = db_bind_int64(st, i++, now);
    if (!ret)
        ret = db_bind_int64(st, i++, org_id);
    if (!ret)
        ret = db_bind_int64(st, i, id);
    if (!ret)
        ret = db_exec_stmt(st);
    if (!ret && sqlite3_changes(db_conn_handle(db)) == 0)
        ret = -ENOENT;
    return ret;
}

int db_machine_delete(struct db_conn *db, int64_t org_id, int64_t id)
{
    return org_id_op(db, SQL_DELETE, false, 0, org_id, id);
}

int db_machine_expire(struct db_conn *db, int64_t org_id, int64_t id, int64_t now)
{
    return org_id_op(db, SQL_EXPIRE, true, now, org_id, id);
}

int db_machine_org_slug(struct db_conn *db, int64_t org_id, char *out, size_t size)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SLUG);
    if (!st)
        return -EIO;
    int ret = db_bind_int64(st, 1, org_id);
    if (ret)
        return ret;
    int rc = sqlite3_step(st);
    ret = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_rc_errno(rc);
    if (!ret)
        db_column_text_copy(st, 0, out, size);
    sqlite3_reset(st);
    return ret;
}
