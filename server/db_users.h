/* users, orgs and org_members tables (db_users.c, db_orgs.c). All queries org-scoped where the
 * row belongs to an org. Text outputs are copied into caller buffers. */
#ifndef ZTNA_SERVER_DB_USERS_H
#define ZTNA_SERVER_DB_USERS_H

#include <stdint.h>
#include <cjson/cJSON.h>

#include "server/api.h"

struct db_conn;

struct db_user {
    int64_t id;
    char email[SRV_MAX_EMAIL_BYTES + 1];
    char name[SRV_MAX_NAME_BYTES + 1];
    char password_hash[160];
    int64_t created_at;
};

struct db_org {
    int64_t id;
    char name[SRV_MAX_NAME_BYTES + 1];
    char slug[SRV_MAX_SLUG_BYTES + 1];
    int64_t created_at;
};

int64_t db_user_count(struct db_conn *db); /* >= 0 or -errno */
int db_user_insert(struct db_conn *db, const char *email, const char *name, const char *pwhash,
                   int64_t *id); /* -EEXIST if the email is taken */
int db_user_by_email(struct db_conn *db, const char *email, struct db_user *out); /* -ENOENT */
int db_user_by_id(struct db_conn *db, int64_t id, struct db_user *out);
cJSON *db_user_json(const struct db_user *u); /* new; never includes the password hash */

int db_org_insert(struct db_conn *db, const char *name, const char *slug, int64_t *id);
int db_org_get(struct db_conn *db, int64_t id, struct db_org *out);
int db_org_update(struct db_conn *db, int64_t id, const char *name, const char *slug);
int db_org_delete(struct db_conn *db, int64_t id);
cJSON *db_org_json(const struct db_org *o, enum org_role role); /* new */
/* New array of the user's orgs with their role; NULL on error. */
cJSON *db_orgs_of_user(struct db_conn *db, int64_t user_id);

int db_member_role(struct db_conn *db, int64_t org_id, int64_t user_id, enum org_role *role);
int db_member_insert(struct db_conn *db, int64_t org_id, int64_t user_id, enum org_role role);
int db_member_set_role(struct db_conn *db, int64_t org_id, int64_t user_id, enum org_role role);
int db_member_delete(struct db_conn *db, int64_t org_id, int64_t user_id);
int64_t db_member_count_role(struct db_conn *db, int64_t org_id, enum org_role role);
cJSON *db_members_list(struct db_conn *db, int64_t org_id); /* new array; NULL on error */

#endif
