/* Audit row serialisers (see audit_export.h). Every format is one line per event: escaping is
 * what keeps a hostile actor name or detail from forging a second event or a field. */
#include "server/audit_export.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool audit_format_parse(const char *s, enum audit_format *out)
{
    if (!s)
        return false;
    if (strcmp(s, "jsonl") == 0)
        *out = AUDIT_FMT_JSONL;
    else if (strcmp(s, "cef") == 0)
        *out = AUDIT_FMT_CEF;
    else if (strcmp(s, "syslog") == 0)
        *out = AUDIT_FMT_SYSLOG;
    else
        return false;
    return true;
}

const char *audit_format_content_type(enum audit_format f)
{
    return f == AUDIT_FMT_JSONL ? "application/x-ndjson" : "text/plain; charset=utf-8";
}

static void time_rfc3339(int64_t ts, char out[32])
{
    struct tm tm;
    time_t t = (time_t)ts;
    if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, 32, "1970-01-01T00:00:00Z");
}

static bool add_str_or_null(cJSON *o, const char *k, const char *v)
{
    return v ? cJSON_AddStringToObject(o, k, v) != NULL : cJSON_AddNullToObject(o, k) != NULL;
}

cJSON *audit_row_to_json(const struct audit_row *r)
{
    char when[32];
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    time_rfc3339(r->ts, when);
    bool ok = cJSON_AddNumberToObject(o, "id", (double)r->id) &&
              cJSON_AddStringToObject(o, "time", when) &&
              cJSON_AddNumberToObject(o, "ts", (double)r->ts) &&
              (r->org_id ? cJSON_AddNumberToObject(o, "org_id", (double)r->org_id) != NULL
                         : cJSON_AddNullToObject(o, "org_id") != NULL) &&
              add_str_or_null(o, "actor_type", r->actor_type) &&
              (r->actor_id ? cJSON_AddNumberToObject(o, "actor_id", (double)r->actor_id) != NULL
                           : cJSON_AddNullToObject(o, "actor_id") != NULL) &&
              add_str_or_null(o, "actor_name", r->actor_name) &&
              add_str_or_null(o, "action", r->action) &&
              add_str_or_null(o, "target_type", r->target_type) &&
              add_str_or_null(o, "target_id", r->target_id) &&
              add_str_or_null(o, "source_addr", r->source_addr);
    if (ok) {
        cJSON *detail = r->detail_json ? cJSON_Parse(r->detail_json) : cJSON_CreateNull();
        if (!detail && r->detail_json)
            detail = cJSON_CreateString(r->detail_json);
        ok = detail && cJSON_AddItemToObject(o, "detail", detail);
        if (!ok)
            cJSON_Delete(detail);
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int put(FILE *out, const char *s)
{
    return fputs(s, out) < 0 ? -EIO : 0;
}

/* CEF: header fields escape \ and |, extension values escape \ and =; both turn CR and LF into
 * the two-character sequences \r and \n and other control bytes into spaces. */
static int cef_escape(FILE *out, const char *s, char special)
{
    for (; s && *s; s++) {
        int rc;
        unsigned char c = (unsigned char)*s;
        if (c == '\\' || c == (unsigned char)special)
            rc = fprintf(out, "\\%c", c);
        else if (c == '\n')
            rc = fputs("\\n", out);
        else if (c == '\r')
            rc = fputs("\\r", out);
        else if (c < 0x20 || c == 0x7f)
            rc = fputc(' ', out);
        else
            rc = fputc(c, out);
        if (rc < 0)
            return -EIO;
    }
    return 0;
}

int audit_cef_header_escape(FILE *out, const char *s) { return cef_escape(out, s, '|'); }
int audit_cef_ext_escape(FILE *out, const char *s) { return cef_escape(out, s, '='); }

/* RFC 5424 section 6.3.3: inside PARAM-VALUE, '"', '\' and ']' MUST be escaped. Control bytes
 * become spaces so that an exported event stays on one line. */
int audit_sd_escape(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        int rc;
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\' || c == ']')
            rc = fprintf(out, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            rc = fputc(' ', out);
        else
            rc = fputc(c, out);
        if (rc < 0)
            return -EIO;
    }
    return 0;
}

static bool is_failure(const char *action)
{
    return action && (strstr(action, "fail") || strstr(action, "denied") || strstr(action, "reject"));
}

static int cef_severity(const char *action)
{
    if (is_failure(action))
        return 7;
    if (action && (strstr(action, "delete") || strstr(action, "revoke") || strstr(action, "expire")))
        return 5;
    return 3;
}

static int cef_kv(FILE *out, const char *k, const char *v)
{
    if (!v)
        return 0;
    if (fprintf(out, " %s=", k) < 0)
        return -EIO;
    return audit_cef_ext_escape(out, v);
}

static int write_cef(FILE *out, const struct audit_row *r)
{
    char num[32];
    const char *act = r->action ? r->action : "unknown";
    int rc = put(out, "CEF:0|" AUDIT_CEF_VENDOR "|" AUDIT_CEF_PRODUCT "|" ZTNA_VERSION "|");
    if (!rc)
        rc = audit_cef_header_escape(out, act);
    if (!rc)
        rc = put(out, "|");
    if (!rc)
        rc = audit_cef_header_escape(out, act);
    if (!rc && fprintf(out, "|%d|rt=%" PRId64 " externalId=%" PRId64, cef_severity(act),
                       r->ts * 1000, r->id) < 0)
        rc = -EIO;
    if (!rc)
        rc = cef_kv(out, "act", act);
    if (!rc)
        rc = cef_kv(out, "cs1Label", "actorType");
    if (!rc)
        rc = cef_kv(out, "cs1", r->actor_type);
    if (!rc)
        rc = cef_kv(out, "suser", r->actor_name);
    if (!rc && r->actor_id) {
        snprintf(num, sizeof(num), "%" PRId64, r->actor_id);
        rc = cef_kv(out, "suid", num);
    }
    if (!rc && r->org_id) {
        snprintf(num, sizeof(num), "%" PRId64, r->org_id);
        rc = cef_kv(out, "cs2Label", "orgId");
        if (!rc)
            rc = cef_kv(out, "cs2", num);
    }
    if (!rc && r->target_type) {
        rc = cef_kv(out, "cs3Label", "targetType");
        if (!rc)
            rc = cef_kv(out, "cs3", r->target_type);
    }
    if (!rc && r->target_id) {
        rc = cef_kv(out, "cs4Label", "targetId");
        if (!rc)
            rc = cef_kv(out, "cs4", r->target_id);
    }
    if (!rc)
        rc = cef_kv(out, "src", r->source_addr);
    if (!rc)
        rc = cef_kv(out, "msg", r->detail_json);
    if (!rc)
        rc = put(out, "\n");
    return rc;
}

/* HOSTNAME, APP-NAME, MSGID: PRINTUSASCII (33..126) only, bounded length, "-" when empty. */
static int put_token(FILE *out, const char *s, size_t max)
{
    size_t n = 0;
    for (; s && s[n] && n < max; n++)
        if (fputc(s[n] > 32 && s[n] < 127 ? s[n] : '_', out) < 0)
            return -EIO;
    return n ? 0 : put(out, "-");
}

static int sd_param(FILE *out, const char *name, const char *v)
{
    if (!v)
        return 0;
    if (fprintf(out, " %s=\"", name) < 0)
        return -EIO;
    int rc = audit_sd_escape(out, v);
    return rc ? rc : put(out, "\"");
}

static int write_syslog(FILE *out, const struct audit_row *r, const char *host)
{
    char when[32], id[24], org[24], aid[24];
    int sev = is_failure(r->action) ? 4 : 5; /* warning : notice */
    time_rfc3339(r->ts, when);
    snprintf(id, sizeof(id), "%" PRId64, r->id);
    snprintf(org, sizeof(org), "%" PRId64, r->org_id);
    snprintf(aid, sizeof(aid), "%" PRId64, r->actor_id);
    int rc = fprintf(out, "<%d>1 %s ", AUDIT_SYSLOG_FACILITY * 8 + sev, when) < 0 ? -EIO : 0;
    if (!rc)
        rc = put_token(out, host, 255);
    if (!rc)
        rc = put(out, " " AUDIT_SYSLOG_APP " - ");
    if (!rc)
        rc = put_token(out, r->action, 32);
    if (!rc)
        rc = put(out, " [" AUDIT_SYSLOG_SD_ID);
    if (!rc)
        rc = sd_param(out, "id", id);
    if (!rc)
        rc = sd_param(out, "org", r->org_id ? org : NULL);
    if (!rc)
        rc = sd_param(out, "actorType", r->actor_type);
    if (!rc)
        rc = sd_param(out, "actorId", r->actor_id ? aid : NULL);
    if (!rc)
        rc = sd_param(out, "actor", r->actor_name);
    if (!rc)
        rc = sd_param(out, "action", r->action);
    if (!rc)
        rc = sd_param(out, "targetType", r->target_type);
    if (!rc)
        rc = sd_param(out, "targetId", r->target_id);
    if (!rc)
        rc = sd_param(out, "src", r->source_addr);
    if (!rc)
        rc = put(out, "]");
    /* MSG: the detail object, control bytes turned into spaces (one event, one line). */
    if (!rc && r->detail_json) {
        rc = put(out, " ");
        for (const char *s = r->detail_json; !rc && *s; s++)
            if (fputc((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s, out) < 0)
                rc = -EIO;
    }
    if (!rc)
        rc = put(out, "\n");
    return rc;
}

int audit_row_write(FILE *out, enum audit_format f, const struct audit_row *r, const char *host)
{
    int rc = 0;
    char *text = NULL;
    cJSON *o = NULL;
    switch (f) {
    case AUDIT_FMT_JSONL:
        o = audit_row_to_json(r);
        text = o ? cJSON_PrintUnformatted(o) : NULL;
        if (!text) {
            rc = -ENOMEM;
            goto out;
        }
        rc = fprintf(out, "%s\n", text) < 0 ? -EIO : 0;
        break;
    case AUDIT_FMT_CEF:
        rc = write_cef(out, r);
        break;
    case AUDIT_FMT_SYSLOG:
        rc = write_syslog(out, r, host);
        break;
    default:
        rc = -EINVAL;
    }
out:
    free(text);
    cJSON_Delete(o);
    return rc;
}
