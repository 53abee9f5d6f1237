/* Admin views of machines: /api/orgs/{org}/machines[/{machine}[/expire]].
 * Members may read every machine of their org (the tailnet is shared: members see the devices
 * they can reach); only admins and owners change or delete. Another org's machine is 404. */
#include "server/api_machines.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/api_control.h"
#include "server/machine_tags.h"
#include "server/realtime.h"
#include "server/policy_rt.h"

struct machine_update_body {
    const char *name;
    struct json_strv tags;
};
static const struct field_spec machine_update_fields[] = {
    {"name", FIELD_STRING, false, offsetof(struct machine_update_body, name), 1, MACH_LABEL_MAX, 0},
    {"tags", FIELD_STRV, false, offsetof(struct machine_update_body, tags), 0, SRV_MAX_STRV, 0},
};
const struct body_spec machine_update_body =
    BODY_SPEC(struct machine_update_body, machine_update_fields);

static bool org_slug(struct api_ctx *ctx, char slug[static SRV_MAX_SLUG_BYTES + 1])
{
    int ret = db_machine_org_slug(ctx->db, ctx->auth.org_id, slug, SRV_MAX_SLUG_BYTES + 1);
    if (ret)
        api_reply_errno(ctx, ret, "org");
    return ret == 0;
}

static void reply_errno(struct api_ctx *ctx, int ret)
{
    if (ret == -ENOENT)
        api_reply_error(ctx, 404, "NOT_FOUND", "no such machine");
    else
        api_reply_errno(ctx, ret, "machine");
}

struct list_ctx {
    struct api_ctx *ctx;
    cJSON *arr;
    const char *slug;
};

static int list_one(const struct machine_row *m, void *arg)
{
    struct list_ctx *l = arg;
    cJSON *o = machine_json(l->ctx->srv, m, l->slug);
    if (!o)
        return -ENOMEM;
    cJSON_AddItemToArray(l->arr, o);
    return 0;
}

void api_machines_list(struct api_ctx *ctx)
{
    char slug[SRV_MAX_SLUG_BYTES + 1], q[SRV_MAX_NAME_BYTES + 1], tag[MACH_TAG_MAX_BYTES + 1];
    char online[8];
    struct machine_filter f = {.online = -1};
    int64_t total = 0;
    if (!api_query_int(ctx, "limit", 1, MACH_LIST_MAX, MACH_LIST_DEFAULT, &f.limit) ||
        !api_query_int(ctx, "offset", 0, INT32_MAX, 0, &f.offset) || !org_slug(ctx, slug))
        return;
    if (api_query_get(ctx, "q", q, sizeof(q)))
        f.q = q;
    if (api_query_get(ctx, "tag", tag, sizeof(tag)))
        f.tag = tag;
    if (api_query_get(ctx, "online", online, sizeof(online))) {
        if (strcmp(online, "true") && strcmp(online, "false")) {
            api_reply_error(ctx, 400, "INVALID_QUERY", "online must be true or false");
            return;
        }
        f.online = online[0] == 't';
    }
    struct list_ctx l = {.ctx = ctx, .arr = cJSON_CreateArray(), .slug = slug};
    int ret = l.arr ? db_machine_list(ctx->db, ctx->auth.org_id, &f, list_one, &l, &total) : -ENOMEM;
    cJSON *d = ret ? NULL : cJSON_CreateObject();
    if (!d) {
        cJSON_Delete(l.arr);
        api_reply_errno(ctx, ret ? ret : -ENOMEM, "machines");
        return;
    }
    cJSON_AddItemToObject(d, "machines", l.arr);
    cJSON_AddNumberToObject(d, "total", (double)total);
    cJSON_AddNumberToObject(d, "limit", (double)f.limit);
    cJSON_AddNumberToObject(d, "offset", (double)f.offset);
    api_reply_ok(ctx, 200, d);
}

void api_machine_get(struct api_ctx *ctx)
{
    char slug[SRV_MAX_SLUG_BYTES + 1];
    struct machine_row *m = malloc(sizeof(*m));
    int64_t id = api_param_id(ctx, "machine");
    int ret = !m ? -ENOMEM : id > 0 ? db_machine_get(ctx->db, ctx->auth.org_id, id, m) : -ENOENT;
    if (ret)
        reply_errno(ctx, ret);
    else if (org_slug(ctx, slug)) {
        cJSON *o = machine_json(ctx->srv, m, slug);

        /* endpoints, denials and stats reported over the control protocol (api_control.h) */
        ret = o ? control_json_add(ctx->db, m->id, o) : -ENOMEM;
        if (ret) {
            cJSON_Delete(o);
            api_reply_errno(ctx, ret, "machine");
        } else {
            api_reply_ok(ctx, 200, o);
        }
    }
    free(m);
}

void api_machine_update(struct api_ctx *ctx)
{
    const struct machine_update_body *b = ctx->body;
    char slug[SRV_MAX_SLUG_BYTES + 1], label[MACH_LABEL_MAX + 1], tags[MACH_TAGS_JSON_MAX];
    char mid[24], detail[MACH_TAGS_JSON_MAX + 128];
    const char *bad = NULL;
    bool has_name = ctx->body_present & 1u, has_tags = ctx->body_present & 2u;
    struct machine_row *m = malloc(sizeof(*m));
    int64_t id = api_param_id(ctx, "machine");
    int ret;
    if (!m) {
        api_reply_errno(ctx, -ENOMEM, "machine");
        return;
    }
    if (!has_name && !has_tags) {
        api_reply_error(ctx, 400, "MISSING_FIELD", "give name and/or tags");
        goto out;
    }
    if (has_tags && machine_tags_to_json(&b->tags, tags, &bad) != 0) {
        api_reply_error(ctx, 400, "INVALID_FIELD", "tags: \"%.64s\" is not a valid tag", bad ? bad : "");
        goto out;
    }
    if (has_name)
        machine_label_sanitize(b->name, label);
    ret = id > 0 ? db_machine_update(ctx->db, ctx->auth.org_id, id, has_name ? label : NULL,
                                     has_tags ? tags : NULL, m)
                 : -ENOENT;
    if (ret) {
        reply_errno(ctx, ret);
        goto out;
    }
    if (!org_slug(ctx, slug))
        goto out;
    api_reply_ok(ctx, 200, machine_json(ctx->srv, m, slug));
    snprintf(mid, sizeof(mid), "%" PRId64, id);
    snprintf(detail, sizeof(detail), "{\"name\":\"%s\",\"tags\":%s}", m->name, m->tags);
    api_audit(ctx, ctx->auth.org_id, "machine.update", "machine", mid, detail);
    realtime_machine_changed(ctx->srv, ctx->db, ctx->auth.org_id, id);
    policy_rt_machine_changed(ctx->srv, ctx->auth.org_id, id, NULL);
out:
    free(m);
}

void api_machine_delete(struct api_ctx *ctx)
{
    char mid[24];
    int64_t id = api_param_id(ctx, "machine");
    int ret = id > 0 ? db_machine_delete(ctx->db, ctx->auth.org_id, id) : -ENOENT;
    if (ret) {
        reply_errno(ctx, ret);
        return;
    }
    cJSON *d = cJSON_CreateObject();
    if (d) {
        cJSON_AddNumberToObject(d, "id", (double)id);
        cJSON_AddBoolToObject(d, "deleted", true);
    }
    api_reply_ok(ctx, 200, d);
    snprintf(mid, sizeof(mid), "%" PRId64, id);
    api_audit(ctx, ctx->auth.org_id, "machine.delete", "machine", mid, NULL);
    realtime_machine_gone(ctx->srv, "delete", ctx->auth.org_id, id);
    policy_rt_machine_removed(ctx->srv, ctx->auth.org_id, id);
}

void api_machine_expire(struct api_ctx *ctx)
{
    char slug[SRV_MAX_SLUG_BYTES + 1], mid[24];
    struct machine_row *m = malloc(sizeof(*m));
    int64_t id = api_param_id(ctx, "machine");
    int ret = !m ? -ENOMEM : id > 0 ? db_machine_expire(ctx->db, ctx->auth.org_id, id, server_now())
                                    : -ENOENT;
    if (!ret)
        ret = db_machine_get(ctx->db, ctx->auth.org_id, id, m);
    if (ret) {
        reply_errno(ctx, ret);
        goto out;
    }
    if (!org_slug(ctx, slug))
        goto out;
    api_reply_ok(ctx, 200, machine_json(ctx->srv, m, slug));
    snprintf(mid, sizeof(mid), "%" PRId64, id);
    api_audit(ctx, ctx->auth.org_id, "machine.expire", "machine", mid, NULL);
    realtime_machine_changed(ctx->srv, ctx->db, ctx->auth.org_id, id);
    policy_rt_machine_changed(ctx->srv, ctx->auth.org_id, id, NULL);
out:
    free(m);
}
