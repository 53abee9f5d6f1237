/* oidc_configs, oidc_login_states, oidc_identities, oidc_user_groups (see db_oidc.h). */
#include "server/db_oidc.h"

#include <errno.h>
#include <string.h>

#include "server/db.h"

static const char SQL_CONFIG_GET[] =
    "SELECT issuer, client_id, client_secret, token_auth, scopes, allowed_domains, groups_claim, "
    "enabled, updated_at FROM oidc_configs WHERE org_id = ?";
static const char SQL_CONFIG_PUT[] =
    "INSERT INTO oidc_configs (org_id, issuer, client_id, client_secret, token_auth, scopes, "
    "allowed_domains, groups_claim, enabled, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (org_id) DO UPDATE SET issuer = excluded.issuer, client_id = excluded.client_id, "
    "client_secret = excluded.client_secret, token_auth = excluded.token_auth, "
    "scopes = excluded.scopes, allowed_domains = excluded.allowed_domains, "
    "groups_claim = excluded.groups_claim, enabled = excluded.enabled, "
    "updated_at = excluded.updated_at";
static const char SQL_CONFIG_DELETE[] = "DELETE FROM oidc_configs WHERE org_id = ?";
static const char SQL_ORG_BY_SLUG[] = "SELECT id FROM orgs WHERE slug = ?";
static const char SQL_STATE_INSERT[] =
    "INSERT INTO oidc_login_states (state_hash, org_id, nonce, code_verifier, created_at, "
    "expires_at) VALUES (?, ?, ?, ?, ?, ?)";
static const char SQL_STATE_TAKE[] =
    "DELETE FROM oidc_login_states WHERE state_hash = ? "
    "RETURNING org_id, nonce, code_verifier, expires_at";
static const char SQL_STATE_PRUNE[] = "DELETE FROM oidc_login_states WHERE expires_at < ?";
static const char SQL_IDENTITY_FIND[] =
    "SELECT user_id FROM oidc_identities WHERE issuer = ? AND subject = ?";
static const char SQL_IDENTITY_UPSERT[] =
    "INSERT INTO oidc_identities (issuer, subject, user_id, email, created_at, last_login_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (issuer, subject) DO UPDATE SET "
    "email = excluded.email, last_login_at = excluded.last_login_at";
static const char SQL_GROUPS_CLEAR[] =
    "DELETE FROM oidc_user_groups WHERE org_id = ? AND user_id = ?";
static const char SQL_GROUP_INSERT[] =
    "INSERT INTO oidc_user_groups (org_id, user_id, group_name, updated_at) VALUES (?, ?, ?, ?)";
static const char SQL_GROUPS_LIST[] =
    "SELECT group_name FROM oidc_user_groups WHERE org_id = ? AND user_id = ? ORDER BY group_name";

static int step_row(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_rc_errno(rc);
}

int db_oidc_config_get(struct db_conn *db, int64_t org_id, struct oidc_config *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_CONFIG_GET);
    char auth[32];
    int ret;

    if (!st || db_bind_int64(st, 1, org_id) < 0)
        return -EIO;
    ret = step_row(st);
    if (ret == 0) {
        memset(out, 0, sizeof(*out));
        out->org_id = org_id;
        db_column_text_copy(st, 0, out->issuer, sizeof(out->issuer));
        db_column_text_copy(st, 1, out->client_id, sizeof(out->client_id));
        db_column_text_copy(st, 2, out->client_secret, sizeof(out->client_secret));
        db_column_text_copy(st, 3, auth, sizeof(auth));
        out->secret_post = strcmp(auth, "client_secret_post") == 0;
        db_column_text_copy(st, 4, out->scopes, sizeof(out->scopes));
        db_column_text_copy(st, 5, out->allowed_domains, sizeof(out->allowed_domains));
        db_column_text_copy(st, 6, out->groups_claim, sizeof(out->groups_claim));
        out->enabled = sqlite3_column_int(st, 7) != 0;
        out->updated_at = sqlite3_column_int64(st, 8);
        out->source = "org";
    }
    sqlite3_reset(st);
    return ret;
}

int db_oidc_config_put(struct db_conn *db, const struct oidc_config *c)
{
    sqlite3_stmt *st = db_stmt(db, SQL_CONFIG_PUT);

    if (!st)
        return -EIO;
    return db_bind_int64(st, 1, c->org_id) ?: db_bind_text(st, 2, c->issuer) ?:
           db_bind_text(st, 3, c->client_id) ?: db_bind_text(st, 4, c->client_secret) ?:
           db_bind_text(st, 5, c->secret_post ? "client_secret_post" : "client_secret_basic") ?:
           db_bind_text(st, 6, c->scopes) ?: db_bind_text(st, 7, c->allowed_domains) ?:
           db_bind_text(st, 8, c->groups_claim) ?: db_bind_int64(st, 9, c->enabled) ?:
           db_bind_int64(st, 10, c->updated_at) ?: db_exec_stmt(st);
}

int db_oidc_config_delete(struct db_conn *db, int64_t org_id)
{
    sqlite3_stmt *st = db_stmt(db, SQL_CONFIG_DELETE);
    int ret;

    if (!st)
        return -EIO;
    ret = db_bind_int64(st, 1, org_id) ?: db_exec_stmt(st);
    if (ret == 0 && sqlite3_changes(db_conn_handle(db)) == 0)
        ret = -ENOENT;
    return ret;
}

int db_oidc_org_by_slug(struct db_conn *db, const char *slug, int64_t *org_id)
{
    sqlite3_stmt *st = db_stmt(db, SQL_ORG_BY_SLUG);
    int ret;

    if (!st || db_bind_text(st, 1, slug) < 0)
        return -EIO;
    ret = step_row(st);
    if (ret == 0)
        *org_id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return ret;
}

int db_oidc_state_insert(struct db_conn *db, const uint8_t state_hash[static 32],
                         const struct oidc_login_state *s, int64_t now)
{
    sqlite3_stmt *st = db_stmt(db, SQL_STATE_PRUNE);

    /* Abandoned logins go when new ones start: the table stays small without a timer. */
    if (st && db_bind_int64(st, 1, now) == 0)
        db_exec_stmt(st);
    st = db_stmt(db, SQL_STATE_INSERT);
    if (!st)
        return -EIO;
    return db_bind_blob(st, 1, state_hash, 32) ?: db_bind_int64(st, 2, s->org_id) ?:
           db_bind_text(st, 3, s->nonce) ?: db_bind_text(st, 4, s->verifier) ?:
           db_bind_int64(st, 5, now) ?: db_bind_int64(st, 6, s->expires_at) ?: db_exec_stmt(st);
}

int db_oidc_state_take(struct db_conn *db, const uint8_t state_hash[static 32], int64_t now,
                       struct oidc_login_state *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_STATE_TAKE);
    int ret;

    if (!st || db_bind_blob(st, 1, state_hash, 32) < 0)
        return -EIO;
    ret = step_row(st);
    if (ret == 0) {
        out->org_id = sqlite3_column_int64(st, 0);
        db_column_text_copy(st, 1, out->nonce, sizeof(out->nonce));
        db_column_text_copy(st, 2, out->verifier, sizeof(out->verifier));
        out->expires_at = sqlite3_column_int64(st, 3);
        /* RETURNING: the delete is done once the statement has run to completion. */
        if (sqlite3_step(st) != SQLITE_DONE)
            ret = -EIO;
    }
    sqlite3_reset(st);
    st = db_stmt(db, SQL_STATE_PRUNE);
    if (st && db_bind_int64(st, 1, now) == 0)
        db_exec_stmt(st);
    return ret;
}

int db_oidc_identity_find(struct db_conn *db, const char *issuer, const char *sub, int64_t *user_id)
{
    sqlite3_stmt *st = db_stmt(db, SQL_IDENTITY_FIND);
    int ret;

    if (!st || db_bind_text(st, 1, issuer) < 0 || db_bind_text(st, 2, sub) < 0)
        return -EIO;
    ret = step_row(st);
    if (ret == 0)
        *user_id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return ret;
}

int db_oidc_identity_upsert(struct db_conn *db, const char *issuer, const char *sub,
                            int64_t user_id, const char *email, int64_t now)
{
    sqlite3_stmt *st = db_stmt(db, SQL_IDENTITY_UPSERT);

    if (!st)
        return -EIO;
    return db_bind_text(st, 1, issuer) ?: db_bind_text(st, 2, sub) ?:
           db_bind_int64(st, 3, user_id) ?: db_bind_text(st, 4, email) ?:
           db_bind_int64(st, 5, now) ?: db_bind_int64(st, 6, now) ?: db_exec_stmt(st);
}

int db_oidc_groups_set(struct db_conn *db, int64_t org_id, int64_t user_id,
                       const struct oidc_identity *id, int64_t now)
{
    sqlite3_stmt *st = db_stmt(db, SQL_GROUPS_CLEAR);
    int ret;

    if (!st)
        return -EIO;
    ret = db_bind_int64(st, 1, org_id) ?: db_bind_int64(st, 2, user_id) ?: db_exec_stmt(st);
    for (size_t i = 0; ret == 0 && i < id->ngroups; i++) {
        st = db_stmt(db, SQL_GROUP_INSERT);
        ret = !st ? -EIO : db_bind_int64(st, 1, org_id) ?: db_bind_int64(st, 2, user_id) ?:
                           db_bind_text(st, 3, id->groups[i]) ?: db_bind_int64(st, 4, now) ?:
                           db_exec_stmt(st);
    }
    return ret;
}

cJSON *db_oidc_groups_json(struct db_conn *db, int64_t org_id, int64_t user_id)
{
    sqlite3_stmt *st = db_stmt(db, SQL_GROUPS_LIST);
    cJSON *arr = cJSON_CreateArray();
    int rc;

    if (!st || !arr || db_bind_int64(st, 1, org_id) < 0 || db_bind_int64(st, 2, user_id) < 0) {
        cJSON_Delete(arr);
        return NULL;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        cJSON_AddItemToArray(arr, cJSON_CreateString((const char *)sqlite3_column_text(st, 0)));
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}

void db_oidc_groups_annotate(struct db_conn *db, int64_t user_id, cJSON *orgs)
{
    cJSON *o;

    cJSON_ArrayForEach(o, orgs)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
        cJSON *g = cJSON_IsNumber(id) ? db_oidc_groups_json(db, (int64_t)id->valuedouble, user_id)
                                      : NULL;

        if (g)
            cJSON_AddItemToObject(o, "oidc_groups", g);
    }
}
