/* /api/orgs/{org}/audit (list, filtered, cursor-paged) and /audit/export (admin and owner).
 *
 * Filters (query): action (exact, or "prefix.*"), actor (name or id), actor_type, target_type,
 * target_id, since / until (unix seconds or RFC 3339 "YYYY-MM-DDTHH:MM:SSZ"; since inclusive,
 * until exclusive). Paging: newest first, limit (1..1000, default 100) and cursor = the
 * next_cursor of the previous page (rows with a smaller id).
 * Export: format=jsonl|cef|syslog; the same filters; the reply is the file itself (one event per
 * line, newest first, at most AUDIT_EXPORT_MAX_ROWS), not the envelope, with its content type,
 * Content-Disposition: attachment and X-Audit-Count (events in it). Errors are envelopes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/api.h"
#include "server/audit_export.h"
#include "server/db_audit.h"
#include "server/limits.h"

struct audit_query {
    struct audit_filter f;
    char action[AUDIT_FILTER_MAX], actor[AUDIT_FILTER_MAX], actor_type[AUDIT_FILTER_MAX];
    char target_type[AUDIT_FILTER_MAX], target_id[AUDIT_FILTER_MAX];
};

static bool parse_time(const char *s, int64_t *out)
{
    char *end;
    struct tm tm = {0};
    long long v = strtoll(s, &end, 10);
    if (*s && !*end && v >= 0) {
        *out = v;
        return true;
    }
    end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end)
        return false;
    *out = (int64_t)timegm(&tm);
    return *out >= 0;
}

static bool query_parse(struct api_ctx *ctx, struct audit_query *q, int64_t max_limit)
{
    char buf[AUDIT_FILTER_MAX];
    memset(q, 0, sizeof(*q));
    struct {
        const char *name;
        char *dst;
        const char **slot;
    } strs[] = {
        {"action", q->action, &q->f.action},
        {"actor", q->actor, &q->f.actor},
        {"actor_type", q->actor_type, &q->f.actor_type},
        {"target_type", q->target_type, &q->f.target_type},
        {"target_id", q->target_id, &q->f.target_id},
    };
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        if (api_query_get(ctx, strs[i].name, strs[i].dst, AUDIT_FILTER_MAX) && strs[i].dst[0])
            *strs[i].slot = strs[i].dst;
    if (api_query_get(ctx, "since", buf, sizeof(buf)) && !parse_time(buf, &q->f.since)) {
        api_reply_error(ctx, 400, "INVALID_QUERY", "since: unix seconds or YYYY-MM-DDTHH:MM:SSZ");
        return false;
    }
    if (api_query_get(ctx, "until", buf, sizeof(buf)) && !parse_time(buf, &q->f.until)) {
        api_reply_error(ctx, 400, "INVALID_QUERY", "until: unix seconds or YYYY-MM-DDTHH:MM:SSZ");
        return false;
    }
    return api_query_int(ctx, "limit", 1, max_limit,
                         max_limit == AUDIT_LIST_MAX ? AUDIT_LIST_DEFAULT : max_limit,
                         &q->f.limit) &&
           api_query_int(ctx, "cursor", 1, INT64_MAX, 0, &q->f.before_id);
}

struct list_ctx {
    cJSON *arr;
    int64_t last_id;
    int64_t n;
};

static int list_one(const struct audit_row *r, void *arg)
{
    struct list_ctx *l = arg;
    cJSON *o = audit_row_to_json(r);
    if (!o)
        return -ENOMEM;
    cJSON_AddItemToArray(l->arr, o);
    l->last_id = r->id;
    l->n++;
    return 0;
}

void api_audit_list(struct api_ctx *ctx)
{
    struct audit_query q;
    if (!query_parse(ctx, &q, AUDIT_LIST_MAX))
        return;
    struct list_ctx l = {.arr = cJSON_CreateArray()};
    int ret = l.arr ? db_audit_list(ctx->db, ctx->auth.org_id, &q.f, list_one, &l) : -ENOMEM;
    cJSON *d = ret ? NULL : cJSON_CreateObject();
    if (!d) {
        cJSON_Delete(l.arr);
        api_reply_errno(ctx, ret ? ret : -ENOMEM, "audit");
        return;
    }
    cJSON_AddItemToObject(d, "events", l.arr);
    /* A full page may have more behind it. */
    if (l.n == q.f.limit)
        cJSON_AddNumberToObject(d, "next_cursor", (double)l.last_id);
    else
        cJSON_AddNullToObject(d, "next_cursor");
    api_reply_ok(ctx, 200, d);
}

struct export_ctx {
    FILE *out;
    enum audit_format fmt;
    const char *host;
    int64_t last_id;
    int64_t n;
};

static int export_one(const struct audit_row *r, void *arg)
{
    struct export_ctx *e = arg;
    e->last_id = r->id;
    e->n++;
    return audit_row_write(e->out, e->fmt, r, e->host);
}

void api_audit_export(struct api_ctx *ctx)
{
    char fmt[16], host[256] = "";
    struct audit_query q;
    struct export_ctx e = {0};
    char *text = NULL;
    size_t len = 0;
    int ret = 0;

    if (!api_query_get(ctx, "format", fmt, sizeof(fmt)) || !audit_format_parse(fmt, &e.fmt)) {
        api_reply_error(ctx, 400, "INVALID_QUERY", "format must be jsonl, cef or syslog");
        return;
    }
    if (!query_parse(ctx, &q, AUDIT_EXPORT_MAX_ROWS))
        return;
    int64_t want = q.f.limit; /* default AUDIT_EXPORT_MAX_ROWS, or the limit asked for */
    gethostname(host, sizeof(host) - 1);
    e.host = host;
    e.out = open_memstream(&text, &len);
    if (!e.out) {
        api_reply_errno(ctx, -ENOMEM, "export");
        return;
    }
    /* Page through in chunks so no statement holds a read snapshot for the whole export. */
    while (!ret && e.n < want) {
        int64_t before = e.n;
        q.f.limit = want - e.n < AUDIT_LIST_MAX ? want - e.n : AUDIT_LIST_MAX;
        ret = db_audit_list(ctx->db, ctx->auth.org_id, &q.f, export_one, &e);
        if (e.n - before < q.f.limit)
            break;
        q.f.before_id = e.last_id;
    }
    if (fclose(e.out) != 0 && !ret)
        ret = -ENOMEM;
    if (ret) {
        free(text);
        api_reply_errno(ctx, ret, "export");
        return;
    }
    /* The file itself, not the envelope: what a browser download or a SIEM import expects. */
    api_header_add(ctx, "Content-Disposition", "attachment; filename=\"audit-org%lld.%s\"",
                   (long long)ctx->auth.org_id, e.fmt == AUDIT_FMT_JSONL ? "jsonl" :
                   e.fmt == AUDIT_FMT_CEF ? "cef" : "log");
    api_header_add(ctx, "X-Audit-Count", "%lld", (long long)e.n);
    api_reply_raw(ctx, 200, audit_format_content_type(e.fmt), text ? text : strdup(""),
                  text ? len : 0);
    char detail[96];
    snprintf(detail, sizeof(detail), "{\"format\":\"%s\",\"count\":%lld}", fmt, (long long)e.n);
    api_audit(ctx, ctx->auth.org_id, "audit.export", "org", NULL, detail);
}
