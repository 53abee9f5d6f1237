/* Machine-signed calls a machine makes for its owning user (docs/control-protocol.md), signed
 * with the machine key like the other /api/machine/ calls (machine_auth.h):
 *   POST /api/machine/jit-requests                    {dst, port, proto?, duration, reason}
 *   GET  /api/machine/jit-requests[?limit&cursor]     the owner's requests, newest first, paged
 *   POST /api/machine/jit-requests/{request}/revoke   one of the owner's requests
 *   POST /api/machine/tags                            {tags}: the machine's own tags
 * The JIT calls run the user routes' code (jit.h) with the owner as requester; a machine without
 * an owning user (registered with a tagged key) or whose owner left the org gets 403. Tags must
 * be ones the owner may apply under the policy's tagOwners (machine_tags.h); a change is audited
 * (machine.tags) and reaches the netmap like an admin's retag. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/api.h"
#include "server/db_auth_keys.h"
#include "server/db_machines.h"
#include "server/db_users.h"
#include "server/janitor.h"
#include "server/jit.h"
#include "server/machine_auth.h"
#include "server/machine_tags.h"
#include "server/policy_rt.h"
#include "server/realtime.h"

/* The machine's owning user: its user (a browser login), else the creator of the untagged
 * pre-auth key that registered it (a personal key: the machine is that user's device, as the
 * policy's fleet counts it). A machine registered with a tagged key has none: 0. */
static int owner_find(struct api_ctx *ctx, const struct machine_row *m, int64_t *owner)
{
    struct auth_key_row *k;
    int ret = 0;

    *owner = m->user_id;
    if (*owner || !m->auth_key_id)
        return 0;
    k = malloc(sizeof(*k));
    ret = k ? db_auth_key_get(ctx->db, m->org_id, m->auth_key_id, k) : -ENOMEM;
    if (!ret) {
        cJSON *tags = machine_tags_parse(k->tags);
        if (tags && cJSON_GetArraySize(tags) == 0)
            *owner = k->created_by;
        cJSON_Delete(tags);
    }
    free(k);
    return ret == -ENOENT ? 0 : ret;
}

/* Authenticates the signed request (its nonce commits on its own, as for map polls) and finds
 * the machine's owning user, who must still be a member of the org. false: reply set. */
static bool owner_of(struct api_ctx *ctx, struct machine_row *m, const char *what, int64_t *owner)
{
    enum org_role role = ROLE_NONE;

    machines_write_lock(ctx->srv);
    bool ok = machine_auth_request(ctx, ctx->raw_body, ctx->raw_body_len, m);
    machines_write_unlock(ctx->srv);
    if (!ok)
        return false;
    int ret = owner_find(ctx, m, owner);
    if (!ret && !*owner) {
        api_reply_error(ctx, 403, "FORBIDDEN", "machine has no owning user (it was registered "
                        "with a tagged key): %s needs a user's machine", what);
        return false;
    }
    if (!ret)
        ret = db_member_role(ctx->db, m->org_id, *owner, &role);
    if (ret == -ENOENT || (!ret && role < ROLE_MEMBER)) {
        api_reply_error(ctx, 403, "FORBIDDEN", "the machine's owner is no longer a member of "
                        "the org");
        return false;
    }
    if (ret) {
        api_reply_errno(ctx, ret, "machine owner");
        return false;
    }
    return true;
}

void api_machine_jit_create(struct api_ctx *ctx)
{
    struct machine_row *m = malloc(sizeof(*m));
    int64_t owner;

    if (!m)
        api_reply_errno(ctx, -ENOMEM, "jit request");
    else if (owner_of(ctx, m, "a JIT request", &owner))
        jit_request_create(ctx, owner, ctx->body);
    free(m);
}

void api_machine_jit_list(struct api_ctx *ctx)
{
    struct machine_row *m = malloc(sizeof(*m));
    int64_t owner;

    if (!m)
        api_reply_errno(ctx, -ENOMEM, "jit requests");
    else if (owner_of(ctx, m, "listing JIT requests", &owner))
        jit_reply_list(ctx, owner);
    free(m);
}

void api_machine_jit_revoke(struct api_ctx *ctx)
{
    struct machine_row *m = malloc(sizeof(*m));
    struct jit_row *r = malloc(sizeof(*r));
    int64_t owner;

    if (!m || !r) {
        api_reply_errno(ctx, -ENOMEM, "jit request");
    } else if (owner_of(ctx, m, "revoking a JIT request", &owner)) {
        int64_t id = api_param_id(ctx, "request");
        int ret = id > 0 ? jit_db_get(ctx->db, m->org_id, id, r) : -ENOENT;
        /* someone else's request is not there, as on the user route */
        if (!ret && r->requester_id != owner)
            ret = -ENOENT;
        if (ret == -ENOENT)
            api_reply_error(ctx, 404, "NOT_FOUND", "no such JIT request of this machine's owner");
        else if (ret)
            api_reply_errno(ctx, ret, "jit request");
        else
            jit_request_revoke(ctx, r, owner);
    }
    free(r);
    free(m);
}

struct tags_body {
    struct json_strv tags;
};
static const struct field_spec tags_fields[] = {
    {"tags", FIELD_STRV, true, offsetof(struct tags_body, tags), 0, SRV_MAX_STRV, 0},
};
const struct body_spec machine_tags_body = BODY_SPEC(struct tags_body, tags_fields);

void api_machine_set_tags(struct api_ctx *ctx)
{
    const struct tags_body *b = ctx->body;
    struct machine_row *m = malloc(sizeof(*m));
    char tags[MACH_TAGS_JSON_MAX], previous[MACH_TAGS_JSON_MAX], why[400], mid[24];
    char detail[2 * MACH_TAGS_JSON_MAX + MACH_LABEL_MAX + 96];
    const char *bad = NULL;
    int64_t owner;
    int ret;

    if (!m) {
        api_reply_errno(ctx, -ENOMEM, "tags");
        return;
    }
    if (!owner_of(ctx, m, "setting tags", &owner))
        goto out;
    ret = machine_tags_to_json(&b->tags, tags, &bad);
    if (ret == -EINVAL) {
        api_reply_error(ctx, 400, "INVALID_FIELD", "tags: \"%.64s\" is not a valid tag (tag: and "
                        "1..60 of [A-Za-z0-9_-])", bad ? bad : "");
        goto out;
    }
    if (ret) {
        api_reply_error(ctx, 400, "INVALID_FIELD", "tags: too many or too long");
        goto out;
    }
    ret = machine_tags_owner_check(ctx->db, m->org_id, m->id, tags, why, sizeof(why));
    if (ret == -EPERM) {
        api_reply_error(ctx, 403, "FORBIDDEN", "%s", why);
        goto out;
    }
    snprintf(previous, sizeof(previous), "%s", m->tags);
    if (!ret)
        ret = db_machine_update(ctx->db, m->org_id, m->id, NULL, tags, m);
    if (ret) {
        api_reply_errno(ctx, ret, "tags");
        goto out;
    }
    cJSON *d = cJSON_CreateObject();
    if (d) {
        cJSON_AddNumberToObject(d, "id", (double)m->id);
        cJSON_AddStringToObject(d, "name", m->name);
        cJSON_AddItemToObject(d, "tags", machine_tags_parse(m->tags));
    }
    api_reply_ok(ctx, 200, d);
    snprintf(mid, sizeof(mid), "%" PRId64, m->id);
    /* a DNS label and validated tags: no escaping needed */
    snprintf(detail, sizeof(detail), "{\"name\":\"%s\",\"tags\":%s,\"previous\":%s,\"owner_id\":%"
             PRId64 "}", m->name, m->tags, previous, owner);
    api_audit(ctx, m->org_id, "machine.tags", "machine", mid, detail);
    /* as after an admin's retag (api_machines_admin.c): the dashboard, then filters and maps */
    realtime_machine_changed(ctx->srv, ctx->db, m->org_id, m->id);
    policy_rt_machine_changed(ctx->srv, m->org_id, m->id, NULL);
out:
    free(m);
}
