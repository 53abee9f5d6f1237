/* Machine-facing endpoints: POST /api/register-machine (Bearer pre-auth key) and
 * POST /api/machine-heartbeat (machine-key signature, machine_auth.h).
 *
 * Keys in requests: machine_key (Ed25519 public) and wg_public_key (X25519 public) are 32 bytes
 * as 64 hex characters or standard base64 (44 characters with padding). In replies keys are hex,
 * except wg_public_key, which is base64 as WireGuard tools print it. */
#include "server/api_machines.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/hex.h"
#include "server/api_control.h"
#include "server/audit.h"
#include "server/realtime.h"
#include "server/db_control.h"
#include "server/db_auth_keys.h"
#include "server/janitor.h"
#include "server/db.h"
#include "server/machine_auth.h"
#include "server/machine_tags.h"
#include "server/policy_rt.h"
#include "server/validate.h"

struct register_body {
    const char *machine_key, *wg_public_key, *hostname, *os, *os_version;
    struct json_strv tags;
};
static const struct field_spec register_fields[] = {
    {"machine_key", FIELD_STRING, true, offsetof(struct register_body, machine_key), 44, 64, 0},
    {"wg_public_key", FIELD_STRING, true, offsetof(struct register_body, wg_public_key), 44, 64, 0},
    {"hostname", FIELD_STRING, true, offsetof(struct register_body, hostname), 1, MACH_HOSTNAME_MAX, 0},
    {"os", FIELD_STRING, false, offsetof(struct register_body, os), 0, MACH_OS_MAX, 0},
    {"os_version", FIELD_STRING, false, offsetof(struct register_body, os_version), 0, MACH_OS_MAX, 0},
    {"tags", FIELD_STRV, false, offsetof(struct register_body, tags), 0, SRV_MAX_STRV, 0},
};
const struct body_spec machine_register_body = BODY_SPEC(struct register_body, register_fields);

struct heartbeat_body {
    const cJSON *posture;
    const cJSON *denials; /* optional: latest policy denials (api_control.h) */
    const cJSON *stats;   /* optional: latest counters */
};
static const struct field_spec heartbeat_fields[] = {
    {"posture", FIELD_OBJECT, true, offsetof(struct heartbeat_body, posture), 0, 0, 0},
    {"denials", FIELD_ARRAY, false, offsetof(struct heartbeat_body, denials), 0, 32, 0},
    {"stats", FIELD_OBJECT, false, offsetof(struct heartbeat_body, stats), 0, 0, 0},
};
const struct body_spec machine_heartbeat_body = BODY_SPEC(struct heartbeat_body, heartbeat_fields);

void machine_fqdn(const struct server *srv, const struct machine_row *m, const char *slug,
                  char *out, size_t size)
{
    snprintf(out, size, "%s.%s.%s", m->name, slug, srv->set.base_domain);
}

static void add_time(cJSON *o, const char *k, int64_t t)
{
    if (t)
        cJSON_AddNumberToObject(o, k, (double)t);
    else
        cJSON_AddNullToObject(o, k);
}

static void add_count(cJSON *o, const char *k, int64_t v)
{
    if (v >= 0)
        cJSON_AddNumberToObject(o, k, (double)v);
    else
        cJSON_AddNullToObject(o, k);
}

/* "pq": the PQ counters of the latest heartbeat's stats, null until one reported them. */
static void add_pq(cJSON *o, const struct machine_pq *pq)
{
    if (pq->peers < 0) {
        cJSON_AddNullToObject(o, "pq");
        return;
    }
    cJSON *q = cJSON_AddObjectToObject(o, "pq");
    if (!q)
        return;
    add_count(q, "peers", pq->peers);
    add_count(q, "peers_pq", pq->peers_pq);
    add_count(q, "classical", pq->classical);
    add_count(q, "failing", pq->failing);
    add_time(q, "reported_at", pq->reported_at);
}

cJSON *machine_json(struct server *srv, const struct machine_row *m, const char *slug)
{
    char fqdn[MACH_LABEL_MAX + SRV_MAX_SLUG_BYTES + SRV_MAX_SETTING_BYTES + 3];
    char mk[65], wg[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    machine_fqdn(srv, m, slug, fqdn, sizeof(fqdn));
    hex_encode(mk, m->machine_key, 32);
    sodium_bin2base64(wg, sizeof(wg), m->wg_public_key, 32, sodium_base64_VARIANT_ORIGINAL);
    cJSON_AddNumberToObject(o, "id", (double)m->id);
    cJSON_AddStringToObject(o, "name", m->name);
    cJSON_AddStringToObject(o, "fqdn", fqdn);
    cJSON_AddStringToObject(o, "hostname", m->hostname);
    cJSON_AddStringToObject(o, "tailnet_ip", m->tailnet_ip);
    char ip6[IP6_TEXT_MAX];
    if (ip6_tailnet_text(&srv->set.ip6, m->tailnet_ip, ip6))
        cJSON_AddStringToObject(o, "tailnet_ip6", ip6);
    else
        cJSON_AddNullToObject(o, "tailnet_ip6");
    cJSON_AddStringToObject(o, "os", m->os);
    cJSON_AddStringToObject(o, "os_version", m->os_version);
    cJSON_AddItemToObject(o, "tags", machine_tags_parse(m->tags));
    cJSON_AddBoolToObject(o, "ephemeral", m->ephemeral);
    cJSON_AddBoolToObject(o, "online", m->online);
    cJSON_AddBoolToObject(o, "expired", m->expired_at != 0);
    add_time(o, "expired_at", m->expired_at);
    add_time(o, "last_seen", m->last_seen);
    add_time(o, "created_at", m->created_at);
    cJSON_AddStringToObject(o, "machine_key", mk);
    cJSON_AddStringToObject(o, "wg_public_key", wg);
    cJSON *posture = cJSON_Parse(m->posture);
    cJSON_AddItemToObject(o, "posture", cJSON_IsObject(posture) ? posture : cJSON_CreateObject());
    if (!cJSON_IsObject(posture))
        cJSON_Delete(posture);
    add_time(o, "posture_at", m->posture_at);
    if (m->user_id)
        cJSON_AddNumberToObject(o, "user_id", (double)m->user_id);
    else
        cJSON_AddNullToObject(o, "user_id");
    add_pq(o, &m->pq);
    /* quarantine and posture_checks: the policy engine's view now (policy_rt.h) */
    policy_rt_machine_status(srv, m->org_id, m->id, o);
    return o;
}

/* 64 hex digits or standard base64 of exactly 32 bytes. */
static bool key_decode(const char *s, uint8_t out[static 32])
{
    size_t n = strlen(s), got = 0;
    if (n == 64)
        return hex_decode(out, 32, s);
    return n == 44 &&
           sodium_base642bin(out, 32, s, n, NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
           got == 32;
}

static void register_failed(struct api_ctx *ctx, int64_t org_id, int status, const char *code,
                            const char *why)
{
    char detail[128];
    snprintf(detail, sizeof(detail), "{\"reason\":\"%s\"}", why); /* why: fixed literals */
    struct audit_event ev = {.org_id = org_id, .actor_type = "anonymous",
                             .action = "machine.register.failure",
                             .source_addr = ctx->source_addr, .detail_json = detail};
    audit_record(ctx->srv, &ev);
    api_reply_error(ctx, status, code, "%s", why);
}

struct register_ctx {
    struct api_ctx *ctx;
    const struct auth_key_row *k;
};

/* The CLI browser login's audit: the approving user registered the machine. */
static void register_audit_user(struct api_ctx *ctx, const struct machine_row *m, bool reactivated)
{
    char mid[24], detail[160];
    snprintf(mid, sizeof(mid), "%" PRId64, m->id);
    snprintf(detail, sizeof(detail), "{\"via\":\"cli-login\",\"user_id\":%" PRId64
             ",\"ip\":\"%s\"}", m->user_id, m->tailnet_ip);
    struct audit_event ev = {.org_id = m->org_id, .actor_type = "user", .actor_id = m->user_id,
                             .actor_name = ctx->auth.email[0] ? ctx->auth.email : NULL,
                             .action = reactivated ? "machine.reregister" : "machine.register",
                             .target_type = "machine", .target_id = mid,
                             .source_addr = ctx->source_addr, .detail_json = detail};
    audit_record(ctx->srv, &ev);
}

/* Runs inside the registration transaction (db_machine_register's before_commit). */
static void register_audit(const struct machine_row *m, bool reactivated, void *arg)
{
    struct register_ctx *rc = arg;
    struct api_ctx *ctx = rc->ctx;
    const struct auth_key_row *k = rc->k;
    char mid[24], kid[24], detail[256];
    if (!k) {
        register_audit_user(ctx, m, reactivated);
        return;
    }
    snprintf(mid, sizeof(mid), "%" PRId64, m->id);
    snprintf(kid, sizeof(kid), "%" PRId64, k->id);
    snprintf(detail, sizeof(detail), "{\"machine_id\":%" PRId64 ",\"name\":\"%s\",\"ip\":\"%s\"}",
             m->id, m->name, m->tailnet_ip); /* label and dotted quad: no escaping needed */
    struct audit_event ev = {.org_id = m->org_id, .actor_type = "machine", .actor_id = m->id,
                             .actor_name = m->hostname, .action = "auth_key.use",
                             .target_type = "auth_key", .target_id = kid,
                             .source_addr = ctx->source_addr, .detail_json = detail};
    audit_record(ctx->srv, &ev);
    snprintf(detail, sizeof(detail), "{\"auth_key_id\":%" PRId64 ",\"ip\":\"%s\",\"ephemeral\":%s}",
             k->id, m->tailnet_ip, m->ephemeral ? "true" : "false");
    ev.action = reactivated ? "machine.reregister" : "machine.register";
    ev.target_type = "machine";
    ev.target_id = mid;
    ev.detail_json = detail;
    audit_record(ctx->srv, &ev);
}

void api_machine_register(struct api_ctx *ctx)
{
    const struct register_body *b = ctx->body;
    const char *h = api_header(ctx, "Authorization");
    uint8_t hash[crypto_hash_sha256_BYTES];
    struct auth_key_row k;
    const char *why;
    int64_t now = server_now();

    if (!h || strncasecmp(h, "Bearer ", 7) != 0 || strlen(h + 7) >= MACH_AUTH_KEY_TEXT + 8) {
        api_header_add(ctx, "WWW-Authenticate", "Bearer");
        register_failed(ctx, 0, 401, "UNAUTHORIZED", "missing or malformed auth key");
        return;
    }
    crypto_hash_sha256(hash, (const uint8_t *)h + 7, strlen(h + 7));
    int ret = db_auth_key_find_hash(ctx->db, hash, &k);
    if (ret == -ENOENT) {
        register_failed(ctx, 0, 401, "UNAUTHORIZED", "unknown auth key");
        return;
    }
    if (ret) {
        api_reply_errno(ctx, ret, "auth key");
        return;
    }
    why = auth_key_unusable_reason(&k, now);
    if (why) {
        register_failed(ctx, k.org_id, 401, "UNAUTHORIZED", why);
        return;
    }
    struct machine_register_req req = {b->machine_key, b->wg_public_key, b->hostname, b->os,
                                       b->os_version, &b->tags};
    struct machine_register_via via = {.org_id = k.org_id, .key = &k, .key_hash = hash};
    machine_register_reply(ctx, &req, &via);
}

int64_t machine_register_reply(struct api_ctx *ctx, const struct machine_register_req *b,
                               const struct machine_register_via *via)
{
    struct auth_key_row k = {0};
    struct machine_row *m = NULL;
    const char *bad = NULL, *why;
    char slug[SRV_MAX_SLUG_BYTES + 1], spk[65];
    int64_t now = server_now(), id = 0;
    bool reactivated = false;
    int ret;

    if (via->key)
        k = *via->key;
    m = calloc(1, sizeof(*m));
    if (!m) {
        api_reply_errno(ctx, -ENOMEM, "machine");
        return 0;
    }
    if (!key_decode(b->machine_key, m->machine_key) ||
        !key_decode(b->wg_public_key, m->wg_public_key)) {
        api_reply_error(ctx, 400, "INVALID_FIELD",
                        "machine_key and wg_public_key must be 32 bytes as hex or base64");
        goto out;
    }
    if (!validate_text(b->hostname) || (b->os && !validate_text(b->os)) ||
        (b->os_version && !validate_text(b->os_version))) {
        api_reply_error(ctx, 400, "INVALID_FIELD", "hostname, os and os_version must be plain text");
        goto out;
    }
    ret = machine_tags_to_json(b->tags, m->tags, &bad);
    if (ret) {
        api_reply_error(ctx, 400, "INVALID_FIELD", "tags: \"%.64s\" is not a valid tag", bad ? bad : "");
        goto out;
    }
    /* No tags asked for: the machine gets the key's tags. Asked: each must be allowed by the key,
     * or, without a key (CLI browser login), the approving user must be allowed to tag. */
    if (b->tags->n == 0 && via->key)
        memcpy(m->tags, k.tags, sizeof(m->tags));
    else if (b->tags->n && via->key && !machine_tags_subset(m->tags, k.tags, &bad)) {
        register_failed(ctx, k.org_id, 403, "FORBIDDEN", "requested tag not allowed by the auth key");
        goto out;
    } else if (b->tags->n && !via->key && !via->may_tag) {
        api_reply_error(ctx, 403, "FORBIDDEN", "only an org admin may tag a machine at login");
        goto out;
    }
    m->org_id = via->org_id;
    m->user_id = via->user_id;
    m->ephemeral = via->key && k.ephemeral;
    snprintf(m->hostname, sizeof(m->hostname), "%s", b->hostname);
    snprintf(m->os, sizeof(m->os), "%s", b->os ? b->os : "");
    snprintf(m->os_version, sizeof(m->os_version), "%s", b->os_version ? b->os_version : "");
    machine_label_sanitize(b->hostname, m->name);
    struct register_ctx rc = {.ctx = ctx, .k = via->key ? &k : NULL};
    machines_write_lock(ctx->srv);
    ret = db_machine_register(ctx->db, m, via->key ? k.id : 0, now, &reactivated, register_audit,
                              &rc);
    machines_write_unlock(ctx->srv);
    if (ret == -EACCES && via->key) {
        /* Lost a race (single-use key taken by a concurrent registration, or just revoked). */
        if (db_auth_key_find_hash(ctx->db, via->key_hash, &k) == 0 &&
            (why = auth_key_unusable_reason(&k, now)))
            register_failed(ctx, k.org_id, 401, "UNAUTHORIZED", why);
        else
            register_failed(ctx, k.org_id, 401, "UNAUTHORIZED", "auth key no longer usable");
        goto out;
    }
    if (ret == -EEXIST) {
        api_reply_error(ctx, 409, "CONFLICT", "this machine key is registered in another org");
        goto out;
    }
    if (ret == -ENOSPC) {
        api_reply_error(ctx, 507, "NO_ADDRESSES", "no free tailnet address left in this org");
        goto out;
    }
    if (ret == 0)
        ret = db_machine_org_slug(ctx->db, m->org_id, slug, sizeof(slug));
    if (ret) {
        api_reply_errno(ctx, ret, "machine");
        goto out;
    }
    ctx->auth.machine_id = m->id;
    cJSON *d = machine_json(ctx->srv, m, slug);
    char fqdn[MACH_LABEL_MAX + SRV_MAX_SLUG_BYTES + SRV_MAX_SETTING_BYTES + 3];
    machine_fqdn(ctx->srv, m, slug, fqdn, sizeof(fqdn));
    hex_encode(spk, ctx->srv->sign_pk, 32);
    if (!d) {
        api_reply_errno(ctx, -ENOMEM, "machine");
        goto out;
    }
    cJSON_AddNumberToObject(d, "machine_id", (double)m->id);
    cJSON_ReplaceItemInObject(d, "name", cJSON_CreateString(fqdn));
    cJSON_AddStringToObject(d, "label", m->name);
    cJSON_AddStringToObject(d, "server_signing_key", spk);
    cJSON_AddNumberToObject(d, "org_id", (double)m->org_id);
    cJSON_AddNumberToObject(d, "heartbeat_interval", (double)ctx->srv->set.heartbeat_interval);
    api_reply_ok(ctx, reactivated ? 200 : 201, d);
    realtime_machine_changed(ctx->srv, ctx->db, m->org_id, m->id);
    policy_rt_machine_changed(ctx->srv, m->org_id, m->id, ctx->source_addr); /* registered */
    id = m->id;
out:
    free(m);
    return id;
}

/* Posture: an object of at most 32 entries, each a string (<= 128 bytes), bool or number. */
static bool posture_valid(const cJSON *p, const char **os_version)
{
    int n = 0;
    const cJSON *v;
    *os_version = NULL;
    cJSON_ArrayForEach(v, p)
    {
        if (++n > 32 || !v->string || strlen(v->string) > 64)
            return false;
        if (cJSON_IsString(v)) {
            if (strlen(v->valuestring) > MACH_POSTURE_FIELD_MAX || !validate_text(v->valuestring))
                return false;
            if (strcmp(v->string, "os_version") == 0 && strlen(v->valuestring) <= MACH_OS_MAX)
                *os_version = v->valuestring;
        } else if (!cJSON_IsBool(v) && !cJSON_IsNumber(v)) {
            return false;
        }
    }
    return true;
}

void api_machine_heartbeat(struct api_ctx *ctx)
{
    const struct heartbeat_body *b = ctx->body;
    struct machine_row *m = calloc(1, sizeof(*m));
    char *posture = b && b->posture ? cJSON_PrintUnformatted(b->posture) : NULL;
    char *denials = NULL, *stats = NULL;
    const char *os_version, *why;
    bool locked = false;
    if (!m || !posture) {
        api_reply_errno(ctx, -ENOMEM, "heartbeat");
        goto out;
    }
    /* The nonce record (inside machine_auth_request) and the update commit together. */
    machines_write_lock(ctx->srv);
    locked = true;
    int ret = db_begin(ctx->db);
    if (ret) {
        api_reply_errno(ctx, ret, "heartbeat");
        goto out;
    }
    /* The signature covers the body bytes as received (machine_auth.h). */
    if (!machine_auth_request(ctx, ctx->raw_body, ctx->raw_body_len, m))
        goto out;
    if (strlen(posture) >= MACH_POSTURE_MAX_BYTES || !posture_valid(b->posture, &os_version)) {
        api_reply_error(ctx, 400, "INVALID_FIELD", "posture must be an object of at most 32 "
                        "string (<= 128 bytes), boolean or number values");
        goto out;
    }
    ret = control_report_check(b->denials, b->stats, &denials, &stats, &why);
    if (ret == -EINVAL) {
        api_reply_error(ctx, 400, "INVALID_FIELD", "%s", why);
        goto out;
    }
    if (ret) {
        api_reply_errno(ctx, ret, "heartbeat");
        goto out;
    }
    ret = db_machine_heartbeat(ctx->db, m->id, server_now(), posture, os_version);
    if (!ret && (denials || stats))
        ret = db_control_set_report(ctx->db, m->id, denials, stats, server_now());
    if (!ret)
        ret = db_commit(ctx->db);
    if (ret) {
        api_reply_errno(ctx, ret, "heartbeat");
        goto out;
    }
    cJSON *d = cJSON_CreateObject();
    if (!d) {
        api_reply_errno(ctx, -ENOMEM, "heartbeat");
        goto out;
    }
    cJSON_AddNumberToObject(d, "machine_id", (double)m->id);
    cJSON_AddBoolToObject(d, "online", true);
    cJSON_AddNumberToObject(d, "heartbeat_interval", (double)ctx->srv->set.heartbeat_interval);
    api_reply_ok(ctx, 200, d);
    policy_rt_machine_changed(ctx->srv, m->org_id, m->id, ctx->source_addr); /* heartbeat */
    realtime_machine_changed(ctx->srv, ctx->db, m->org_id, m->id);
out:
    if (locked) {
        /* A failed authentication still keeps its audit row; nothing else was written. */
        if (ctx->status >= 300 && db_commit(ctx->db) != 0)
            db_rollback(ctx->db);
        machines_write_unlock(ctx->srv);
    }
    free(denials);
    free(stats);
    free(posture);
    free(m);
}
