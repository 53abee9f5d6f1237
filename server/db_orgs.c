/* orgs and org_members tables (see db_users.h). Every member query is scoped by org_id. */
#include <errno.h>
#include <string.h>

#include "server/db.h"
#include "server/db_users.h"

static const char SQL_ORG_INSERT[] = "INSERT INTO orgs (name, slug, created_at) VALUES (?, ?, ?)";
static const char SQL_ORG_GET[] = "SELECT id, name, slug, created_at FROM orgs WHERE id = ?";
static const char SQL_ORG_UPDATE[] =
    "UPDATE orgs SET name = COALESCE(?, name), slug = COALESCE(?, slug) WHERE id = ?";
static const char SQL_ORG_DELETE[] = "DELETE FROM orgs WHERE id = ?";
static const char SQL_ORGS_OF_USER[] =
    "SELECT o.id, o.name, o.slug, o.created_at, m.role FROM org_members m "
    "JOIN orgs o ON o.id = m.org_id WHERE m.user_id = ? ORDER BY o.id";
static const char SQL_MEMBER_ROLE[] =
    "SELECT role FROM org_members WHERE org_id = ? AND user_id = ?";
static const char SQL_MEMBER_INSERT[] =
    "INSERT INTO org_members (org_id, user_id, role, created_at) VALUES (?, ?, ?, ?)";
static const char SQL_MEMBER_SET_ROLE[] =
    "UPDATE org_members SET role = ? WHERE org_id = ? AND user_id = ?";
static const char SQL_MEMBER_DELETE[] = "DELETE FROM org_members WHERE org_id = ? AND user_id = ?";
static const char SQL_MEMBER_COUNT_ROLE[] =
    "SELECT COUNT(*) FROM org_members WHERE org_id = ? AND role = ?";
static const char SQL_MEMBERS_LIST[] =
    "SELECT u.id, u.email, u.name, m.role, m.created_at FROM org_members m "
    "JOIN users u ON u.id = m.user_id WHERE m.org_id = ? ORDER BY u.id";

static int step_changes(struct db_conn *db, sqlite3_stmt *st)
{
    int ret = db_exec_stmt(st);

    if (ret == 0 && sqlite3_changes(db_conn_handle(db)) == 0)
        ret = -ENOENT;
    return ret;
}

int db_org_insert(struct db_conn *db, const char *name, const char *slug, int64_t *id)
{
    sqlite3_stmt *st = db_stmt(db, SQL_ORG_INSERT);
    int ret;

    if (!st)
        return -EIO;
    ret = db_bind_text(st, 1, name) ?: db_bind_text(st, 2, slug) ?:
          db_bind_int64(st, 3, server_now()) ?: db_exec_stmt(st);
    if (ret == 0)
        *id = sqlite3_last_insert_rowid(db_conn_handle(db));
    return ret;
}

int db_org_get(struct db_conn *db, int64_t id, struct db_org *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_ORG_GET);
    int rc, ret;

    if (!st || db_bind_int64(st, 1, id) < 0)
        return -EIO;
    rc = sqlite3_step(st);
    ret = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_rc_errno(rc);
    if (ret == 0) {
        out->id = sqlite3_column_int64(st, 0);
        db_column_text_copy(st, 1, out->name, sizeof(out->name));
        db_column_text_copy(st, 2, out->slug, sizeof(out->slug));
        out->created_at = sqlite3_column_int64(st, 3);
    }
    sqlite3_reset(st);
    return ret;
}

int db_org_update(struct db_conn *db, int64_t id, const char *name, const char *slug)
{
    sqlite3_stmt *st = db_stmt(db, SQL_ORG_UPDATE);

    if (!st)
        return -EIO;
    return db_bind_text(st, 1, name) ?: db_bind_text(st, 2, slug) ?: db_bind_int64(st, 3, id) ?:
           step_changes(db, st);
}

int db_org_delete(struct db_conn *db, int64_t id)
{
    sqlite3_stmt *st = db_stmt(db, SQL_ORG_DELETE);

    if (!st)
        return -EIO;
    return db_bind_int64(st, 1, id) ?: step_changes(db, st);
}

cJSON *db_org_json(const struct db_org *o, enum org_role role)
{
    cJSON *j = cJSON_CreateObject();

    if (!j)
        return NULL;
    cJSON_AddNumberToObject(j, "id", (double)o->id);
    cJSON_AddStringToObject(j, "name", o->name);
    cJSON_AddStringToObject(j, "slug", o->slug);
    cJSON_AddNumberToObject(j, "created_at", (double)o->created_at);
    if (role != ROLE_NONE)
        cJSON_AddStringToObject(j, "role", org_role_name(role));
    return j;
}

cJSON *db_orgs_of_user(struct db_conn *db, int64_t user_id)
{
    sqlite3_stmt *st = db_stmt(db, SQL_ORGS_OF_USER);
    cJSON *arr;
    int rc;

    if (!st || db_bind_int64(st, 1, user_id) < 0)
        return NULL;
    arr = cJSON_CreateArray();
    while (arr && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct db_org o;
        enum org_role role = ROLE_NONE;

        o.id = sqlite3_column_int64(st, 0);
        db_column_text_copy(st, 1, o.name, sizeof(o.name));
        db_column_text_copy(st, 2, o.slug, sizeof(o.slug));
        o.created_at = sqlite3_column_int64(st, 3);
        org_role_parse((const char *)sqlite3_column_text(st, 4), &role);
        cJSON_AddItemToArray(arr, db_org_json(&o, role));
    }
    if (arr && rc != SQLITE_DONE) {
        cJSON_Delete(arr);
        arr = NULL;
    }
    sqlite3_reset(st);
    return arr;
}

int db_member_role(struct db_conn *db, int64_t org_id, int64_t user_id, enum org_role *role)
{
    sqlite3_stmt *st = db_stmt(db, SQL_MEMBER_ROLE);
    int rc, ret;

    if (!st || db_bind_int64(st, 1, org_id) < 0 || db_bind_int64(st, 2, user_id) < 0)
        return -EIO;
    rc = sqlite3_step(st);
    ret = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_rc_errno(rc);
    if (ret == 0 && !org_role_parse((const char *)sqlite3_column_text(st, 0), role))
        ret = -EIO;
    sqlite3_reset(st);
    return ret;
}

int db_member_insert(struct db_conn *db, int64_t org_id, int64_t user_id, enum org_role role)
{
    sqlite3_stmt *st = db_stmt(db, SQL_MEMBER_INSERT);

    if (!st)
        return -EIO;
    return db_bind_int64(st, 1, org_id) ?: db_bind_int64(st, 2, user_id) ?:
           db_bind_text(st, 3, org_role_name(role)) ?: db_bind_int64(st, 4, server_now()) ?:
           db_exec_stmt(st);
}

int db_member_set_role(struct db_conn *db, int64_t org_id, int64_t user_id, enum org_role role)
{
    sqlite3_stmt *st = db_stmt(db, SQL_MEMBER_SET_ROLE);

    if (!st)
        return -EIO;
    return db_bind_text(st, 1, org_role_name(role)) ?: db_bind_int64(st, 2, org_id) ?:
           db_bind_int64(st, 3, user_id) ?: step_changes(db, st);
}

int db_member_delete(struct db_conn *db, int64_t org_id, int64_t user_id)
{
    sqlite3_stmt *st = db_stmt(db, SQL_MEMBER_DELETE);

    if (!st)
        return -EIO;
    return db_bind_int64(st, 1, org_id) ?: db_bind_int64(st, 2, user_id) ?: step_changes(db, st);
}

int64_t db_member_count_role(struct db_conn *db, int64_t org_id, enum org_role role)
{
    sqlite3_stmt *st = db_stmt(db, SQL_MEMBER_COUNT_ROLE);
    int64_t n = -EIO;

    if (!st || db_bind_int64(st, 1, org_id) < 0 || db_bind_text(st, 2, org_role_name(role)) < 0)
        return -EIO;
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return n;
}

cJSON *db_members_list(struct db_conn *db, int64_t org_id)
{
    sqlite3_stmt *st = db_stmt(db, SQL_MEMBERS_LIST);
    cJSON *arr;
    int rc;

    if (!st || db_bind_int64(st, 1, org_id) < 0)
        return NULL;
    arr = cJSON_CreateArray();
    while (arr && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *m = cJSON_CreateObject();

        if (!m)
            break;
        cJSON_AddNumberToObject(m, "id", (double)sqlite3_column_int64(st, 0));
        cJSON_AddStringToObject(m, "email", (const char *)sqlite3_column_text(st, 1));
        cJSON_AddStringToObject(m, "name", (const char *)sqlite3_column_text(st, 2));
        cJSON_AddStringToObject(m, "role", (const char *)sqlite3_column_text(st, 3));
        cJSON_AddNumberToObject(m, "joined_at", (double)sqlite3_column_int64(st, 4));
        cJSON_AddItemToArray(arr, m);
    }
    if (arr && rc != SQLITE_DONE) {
        cJSON_Delete(arr);
        arr = NULL;
    }
    sqlite3_reset(st);
    return arr;
}
