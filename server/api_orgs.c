/* /api/orgs and /api/orgs/{org}: orgs are addressed by numeric id. Roles were checked by the
 * dispatcher against the route table (read: member, update: admin, delete: owner). */
#include <errno.h>
#include <stdio.h>

#include "server/api.h"
#include "server/db.h"
#include "server/db_users.h"
#include "server/validate.h"

struct org_body {
    const char *name, *slug;
};
static const struct field_spec org_create_fields[] = {
    {"name", FIELD_STRING, true, offsetof(struct org_body, name), 1, SRV_MAX_NAME_BYTES, 0},
    {"slug", FIELD_STRING, false, offsetof(struct org_body, slug), 1, SRV_MAX_SLUG_BYTES, 0},
};
const struct body_spec org_create_body = BODY_SPEC(struct org_body, org_create_fields);
static const struct field_spec org_update_fields[] = {
    {"name", FIELD_STRING, false, offsetof(struct org_body, name), 1, SRV_MAX_NAME_BYTES, 0},
    {"slug", FIELD_STRING, false, offsetof(struct org_body, slug), 1, SRV_MAX_SLUG_BYTES, 0},
};
const struct body_spec org_update_body = BODY_SPEC(struct org_body, org_update_fields);

static void org_reply(struct api_ctx *ctx, int status, int64_t id, enum org_role role)
{
    struct db_org o;
    int ret = db_org_get(ctx->db, id, &o);

    if (ret < 0)
        api_reply_errno(ctx, ret, "org");
    else
        api_reply_ok(ctx, status, db_org_json(&o, role));
}

void api_orgs_list(struct api_ctx *ctx)
{
    cJSON *orgs = db_orgs_of_user(ctx->db, ctx->auth.user_id);

    if (!orgs)
        api_reply_errno(ctx, -EIO, "orgs");
    else
        api_reply_ok(ctx, 200, orgs);
}

void api_orgs_create(struct api_ctx *ctx)
{
    const struct org_body *b = ctx->body;
    char slug[SRV_MAX_SLUG_BYTES + 1], id[24];
    int64_t org_id = 0;
    int ret;

    if (!validate_text(b->name)) {
        api_reply_error(ctx, 400, "INVALID_FIELD", "name must not contain control characters");
        return;
    }
    if (!validate_slug_or_derive(b->slug, b->name, slug)) {
        api_reply_error(ctx, 400, "INVALID_FIELD", "slug must be 1..63 of a-z, 0-9, '-'");
        return;
    }
    ret = db_begin(ctx->db);
    if (ret == 0)
        ret = db_org_insert(ctx->db, b->name, slug, &org_id) ?:
              db_member_insert(ctx->db, org_id, ctx->auth.user_id, ROLE_OWNER) ?:
              db_commit(ctx->db);
    if (ret < 0) {
        db_rollback(ctx->db);
        api_reply_errno(ctx, ret, "org slug");
        return;
    }
    snprintf(id, sizeof(id), "%lld", (long long)org_id);
    api_audit(ctx, org_id, "org.create", "org", id, NULL);
    org_reply(ctx, 201, org_id, ROLE_OWNER);
}

void api_org_get(struct api_ctx *ctx)
{
    org_reply(ctx, 200, ctx->auth.org_id, ctx->auth.role);
}

void api_org_update(struct api_ctx *ctx)
{
    const struct org_body *b = ctx->body;
    char id[24];
    int ret;

    if ((b->name && !validate_text(b->name)) || (b->slug && !validate_slug(b->slug))) {
        api_reply_error(ctx, 400, "INVALID_FIELD", "bad name or slug (a-z, 0-9, '-')");
        return;
    }
    ret = db_org_update(ctx->db, ctx->auth.org_id, b->name, b->slug);
    if (ret < 0) {
        api_reply_errno(ctx, ret, "org slug");
        return;
    }
    snprintf(id, sizeof(id), "%lld", (long long)ctx->auth.org_id);
    api_audit(ctx, ctx->auth.org_id, "org.update", "org", id, NULL);
    org_reply(ctx, 200, ctx->auth.org_id, ctx->auth.role);
}

void api_org_delete(struct api_ctx *ctx)
{
    char id[24];
    int ret = db_org_delete(ctx->db, ctx->auth.org_id);

    if (ret < 0) {
        api_reply_errno(ctx, ret, "org");
        return;
    }
    snprintf(id, sizeof(id), "%lld", (long long)ctx->auth.org_id);
    /* org_id 0: the org's own audit rows may be gone with it. */
    api_audit(ctx, 0, "org.delete", "org", id, NULL);
    api_reply_ok(ctx, 200, cJSON_CreateObject());
}
