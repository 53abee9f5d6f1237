/* /api/orgs/{org}/users[/{user}]: org membership. Users are addressed by numeric id.
 * Rules beyond the route's admin minimum: only an owner may grant, change or remove the owner
 * role; the last owner can be neither demoted nor removed (409). */
#include <errno.h>
#include <stdio.h>

#include "server/api.h"
#include "server/auth.h"
#include "server/db.h"
#include "server/db_users.h"
#include "server/realtime.h"
#include "server/validate.h"

struct member_add {
    const char *email, *role, *name, *password;
};
static const struct field_spec member_add_fields[] = {
    {"email", FIELD_STRING, true, offsetof(struct member_add, email), 3, SRV_MAX_EMAIL_BYTES, 0},
    {"role", FIELD_STRING, false, offsetof(struct member_add, role), 1, 16, 0},
    {"name", FIELD_STRING, false, offsetof(struct member_add, name), 0, SRV_MAX_NAME_BYTES, 0},
    {"password", FIELD_STRING, false, offsetof(struct member_add, password),
     SRV_MIN_PASSWORD_BYTES, SRV_MAX_PASSWORD_BYTES, 0},
};
const struct body_spec member_add_body = BODY_SPEC(struct member_add, member_add_fields);

struct member_update {
    const char *role;
};
static const struct field_spec member_update_fields[] = {
    {"role", FIELD_STRING, true, offsetof(struct member_update, role), 1, 16, 0},
};
const struct body_spec member_update_body = BODY_SPEC(struct member_update, member_update_fields);

static void member_reply(struct api_ctx *ctx, int status, int64_t user_id, enum org_role role)
{
    struct db_user u;
    cJSON *j;
    int ret = db_user_by_id(ctx->db, user_id, &u);

    if (ret < 0) {
        api_reply_errno(ctx, ret, "user");
        return;
    }
    j = db_user_json(&u);
    if (j)
        cJSON_AddStringToObject(j, "role", org_role_name(role));
    api_reply_ok(ctx, status, j);
}

void api_members_list(struct api_ctx *ctx)
{
    cJSON *arr = db_members_list(ctx->db, ctx->auth.org_id);

    if (!arr)
        api_reply_errno(ctx, -EIO, "members");
    else
        api_reply_ok(ctx, 200, arr);
}

void api_members_add(struct api_ctx *ctx)
{
    const struct member_add *b = ctx->body;
    char hash[crypto_pwhash_STRBYTES] = "";
    enum org_role role = ROLE_MEMBER;
    struct db_user u = {0};
    char id[24];
    int ret;

    if (b->role && !org_role_parse(b->role, &role)) {
        api_reply_error(ctx, 400, "INVALID_FIELD", "role must be owner, admin or member");
        return;
    }
    if (!validate_email(b->email) || (b->name && !validate_text(b->name))) {
        api_reply_error(ctx, 400, "INVALID_FIELD", "email or name is malformed");
        return;
    }
    if (role == ROLE_OWNER && !api_require_role(ctx, ROLE_OWNER))
        return;
    ret = db_user_by_email(ctx->db, b->email, &u);
    if (ret == -ENOENT) {
        if (!b->password) {
            api_reply_error(ctx, 400, "MISSING_FIELD", "password is required for a new user");
            return;
        }
        ret = auth_password_hash(ctx->srv, b->password, hash);
        if (ret == 0)
            ret = db_user_insert(ctx->db, b->email, b->name, hash, &u.id);
        sodium_memzero(hash, sizeof(hash));
    } else if (ret == 0 && b->password) {
        /* Never let an org admin reset the password of an existing account. */
        api_reply_error(ctx, 409, "CONFLICT", "user exists; omit password to add them");
        return;
    }
    if (ret == 0)
        ret = db_member_insert(ctx->db, ctx->auth.org_id, u.id, role);
    if (ret < 0) {
        api_reply_errno(ctx, ret, "member");
        return;
    }
    snprintf(id, sizeof(id), "%lld", (long long)u.id);
    api_audit(ctx, ctx->auth.org_id, "member.add", "user", id, NULL);
    realtime_member_changed(ctx->srv, ctx->db, ctx->auth.org_id, u.id, "invited");
    member_reply(ctx, 201, u.id, role);
}

/* Inside a transaction: 409 if target is the last owner and is losing the role. */
static int last_owner_check(struct api_ctx *ctx, enum org_role cur, enum org_role next)
{
    int64_t owners;

    if (cur != ROLE_OWNER || next == ROLE_OWNER)
        return 0;
    owners = db_member_count_role(ctx->db, ctx->auth.org_id, ROLE_OWNER);
    if (owners < 0)
        return (int)owners;
    return owners <= 1 ? -EMLINK : 0;
}

static void member_change(struct api_ctx *ctx, bool remove)
{
    const struct member_update *b = ctx->body;
    int64_t uid = api_param_id(ctx, "user");
    enum org_role cur, next = ROLE_NONE;
    char id[24];
    int ret;

    if (!remove && !org_role_parse(b->role, &next)) {
        api_reply_error(ctx, 400, "INVALID_FIELD", "role must be owner, admin or member");
        return;
    }
    ret = uid > 0 ? db_begin(ctx->db) : -ENOENT;
    if (ret == 0)
        ret = db_member_role(ctx->db, ctx->auth.org_id, uid, &cur);
    if (ret < 0)
        goto out;
    if ((cur == ROLE_OWNER || next == ROLE_OWNER) && ctx->auth.role < ROLE_OWNER) {
        ret = -EPERM;
        goto out;
    }
    ret = last_owner_check(ctx, cur, next);
    if (ret < 0)
        goto out;
    ret = remove ? db_member_delete(ctx->db, ctx->auth.org_id, uid) :
                   db_member_set_role(ctx->db, ctx->auth.org_id, uid, next);
    if (ret == 0)
        ret = db_commit(ctx->db);
out:
    if (ret < 0) {
        db_rollback(ctx->db);
        if (ret == -EMLINK)
            api_reply_error(ctx, 409, "LAST_OWNER", "an org must keep at least one owner");
        else if (ret == -EPERM)
            api_reply_error(ctx, 403, "FORBIDDEN", "only an owner can change an owner role");
        else
            api_reply_errno(ctx, ret, "member");
        return;
    }
    snprintf(id, sizeof(id), "%lld", (long long)uid);
    api_audit(ctx, ctx->auth.org_id, remove ? "member.remove" : "member.update", "user", id, NULL);
    realtime_member_changed(ctx->srv, ctx->db, ctx->auth.org_id, uid, remove ? "removed" : "role");
    if (remove)
        api_reply_ok(ctx, 200, cJSON_CreateObject());
    else
        member_reply(ctx, 200, uid, next);
}

void api_member_update(struct api_ctx *ctx)
{
    member_change(ctx, false);
}

void api_member_delete(struct api_ctx *ctx)
{
    member_change(ctx, true);
}
