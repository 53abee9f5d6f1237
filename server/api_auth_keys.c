/* /api/orgs/{org}/auth-keys: pre-auth keys for machine registration (admin and owner only).
 * A key is "ztna-auth-" + 64 hex characters (32 random bytes); it is returned once, by create,
 * and only its SHA-256 is stored. */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/hex.h"
#include "server/api.h"
#include "server/db_auth_keys.h"
#include "server/machine_tags.h"
#include "server/realtime.h"

struct key_create_body {
    const char *description;
    bool reusable;
    bool ephemeral;
    struct json_strv tags;
    int64_t expires_in;
};
static const struct field_spec key_create_fields[] = {
    {"description", FIELD_STRING, false, offsetof(struct key_create_body, description), 0,
     SRV_MAX_NAME_BYTES, 0},
    {"reusable", FIELD_BOOL, false, offsetof(struct key_create_body, reusable), 0, 1, 0},
    {"ephemeral", FIELD_BOOL, false, offsetof(struct key_create_body, ephemeral), 0, 1, 0},
    {"tags", FIELD_STRV, false, offsetof(struct key_create_body, tags), 0, SRV_MAX_STRV, 0},
    /* seconds from now; 0 = never expires */
    {"expires_in", FIELD_INT, false, offsetof(struct key_create_body, expires_in), 0,
     MACH_MAX_KEY_TTL, 90 * 24 * 3600},
};
const struct body_spec auth_key_create_body = BODY_SPEC(struct key_create_body, key_create_fields);

static void add_time(cJSON *o, const char *k, int64_t t)
{
    if (t)
        cJSON_AddNumberToObject(o, k, (double)t);
    else
        cJSON_AddNullToObject(o, k);
}

/* The one serializer of an auth key (never includes the secret or its hash). */
static cJSON *key_json(const struct auth_key_row *k, int64_t now)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    const char *why = auth_key_unusable_reason(k, now);
    cJSON_AddNumberToObject(o, "id", (double)k->id);
    cJSON_AddStringToObject(o, "prefix", k->prefix);
    cJSON_AddStringToObject(o, "description", k->description);
    cJSON_AddBoolToObject(o, "reusable", k->reusable);
    cJSON_AddBoolToObject(o, "ephemeral", k->ephemeral);
    cJSON_AddItemToObject(o, "tags", machine_tags_parse(k->tags));
    add_time(o, "created_at", k->created_at);
    add_time(o, "expires_at", k->expires_at);
    add_time(o, "revoked_at", k->revoked_at);
    add_time(o, "last_used_at", k->last_used_at);
    cJSON_AddNumberToObject(o, "used_count", (double)k->used_count);
    cJSON_AddBoolToObject(o, "usable", why == NULL);
    cJSON_AddStringToObject(o, "state", !why                     ? "valid"
                                        : k->revoked_at          ? "revoked"
                                        : strstr(why, "expired") ? "expired"
                                                                 : "used");
    return o;
}

void api_auth_key_create(struct api_ctx *ctx)
{
    const struct key_create_body *b = ctx->body;
    struct auth_key_row row = {0};
    char key[MACH_AUTH_KEY_TEXT], hexpart[2 * MACH_AUTH_KEY_RANDOM + 1], id[24];
    uint8_t rnd[MACH_AUTH_KEY_RANDOM], hash[crypto_hash_sha256_BYTES];
    const char *bad = NULL;
    int64_t now = server_now();

    int ret = machine_tags_to_json(&b->tags, row.tags, &bad);
    if (ret == -EINVAL) {
        api_reply_error(ctx, 400, "INVALID_FIELD", "tags: \"%.64s\" is not a valid tag "
                        "(want tag:name with letters, digits, '-' or '_')", bad ? bad : "");
        return;
    }
    if (ret) {
        api_reply_errno(ctx, ret, "tags");
        return;
    }
    randombytes_buf(rnd, sizeof(rnd));
    hex_encode(hexpart, rnd, sizeof(rnd));
    snprintf(key, sizeof(key), "%s%s", MACH_AUTH_KEY_PREFIX, hexpart);
    crypto_hash_sha256(hash, (const uint8_t *)key, strlen(key));
    row.org_id = ctx->auth.org_id;
    snprintf(row.prefix, sizeof(row.prefix), "%.*s", MACH_AUTH_KEY_SHOWN, key);
    snprintf(row.description, sizeof(row.description), "%s", b->description ? b->description : "");
    row.reusable = b->reusable;
    row.ephemeral = b->ephemeral;
    row.created_by = ctx->auth.user_id;
    row.created_at = now;
    row.expires_at = b->expires_in ? now + b->expires_in : 0;
    ret = db_auth_key_insert(ctx->db, &row, hash);
    if (ret) {
        api_reply_errno(ctx, ret, "auth key");
        goto out;
    }
    cJSON *o = key_json(&row, now);
    if (!o || !cJSON_AddStringToObject(o, "key", key)) {
        cJSON_Delete(o);
        api_reply_errno(ctx, -ENOMEM, "auth key");
        goto out;
    }
    api_reply_ok(ctx, 201, o);
    snprintf(id, sizeof(id), "%" PRId64, row.id);
    char detail[MACH_TAGS_JSON_MAX + 96];
    snprintf(detail, sizeof(detail), "{\"reusable\":%s,\"ephemeral\":%s,\"tags\":%s}",
             row.reusable ? "true" : "false", row.ephemeral ? "true" : "false", row.tags);
    api_audit(ctx, ctx->auth.org_id, "auth_key.create", "auth_key", id, detail);
    realtime_notice(ctx->srv, ctx->auth.org_id, "keys", "created", row.id);
out:
    sodium_memzero(key, sizeof(key));
    sodium_memzero(hexpart, sizeof(hexpart));
    sodium_memzero(rnd, sizeof(rnd));
}

struct list_ctx {
    cJSON *arr;
    int64_t now;
};

static int list_one(const struct auth_key_row *k, void *arg)
{
    struct list_ctx *l = arg;
    cJSON *o = key_json(k, l->now);
    if (!o)
        return -ENOMEM;
    cJSON_AddItemToArray(l->arr, o);
    return 0;
}

void api_auth_keys_list(struct api_ctx *ctx)
{
    struct list_ctx l = {.arr = cJSON_CreateArray(), .now = server_now()};
    int ret = l.arr ? db_auth_key_list(ctx->db, ctx->auth.org_id, list_one, &l) : -ENOMEM;
    if (ret) {
        cJSON_Delete(l.arr);
        api_reply_errno(ctx, ret, "auth keys");
        return;
    }
    cJSON *d = cJSON_CreateObject();
    if (!d) {
        cJSON_Delete(l.arr);
        api_reply_errno(ctx, -ENOMEM, "auth keys");
        return;
    }
    cJSON_AddItemToObject(d, "auth_keys", l.arr);
    api_reply_ok(ctx, 200, d);
}

void api_auth_key_revoke(struct api_ctx *ctx)
{
    struct auth_key_row k;
    char id[24];
    int64_t kid = api_param_id(ctx, "key");
    int ret = kid > 0 ? db_auth_key_revoke(ctx->db, ctx->auth.org_id, kid, server_now()) : -ENOENT;
    if (!ret)
        ret = db_auth_key_get(ctx->db, ctx->auth.org_id, kid, &k);
    if (ret) {
        if (ret == -ENOENT)
            api_reply_error(ctx, 404, "NOT_FOUND", "no such auth key");
        else
            api_reply_errno(ctx, ret, "auth key");
        return;
    }
    api_reply_ok(ctx, 200, key_json(&k, server_now()));
    snprintf(id, sizeof(id), "%" PRId64, kid);
    api_audit(ctx, ctx->auth.org_id, "auth_key.revoke", "auth_key", id, NULL);
    realtime_notice(ctx->srv, ctx->auth.org_id, "keys", "revoked", kid);
}
