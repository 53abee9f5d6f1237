/* Audit export formatters (server/audit_export.c), parsed back by small independent parsers:
 * hostile actor names and details must round-trip and never add a field, a header column or a
 * line. Lives here (tests/ctl, owned by the server-machines engineer) and compiles the pure
 * source directly so it does not depend on the rest of the server. */
#include "server/audit_export.h"
#include "tests/check.h"

#include <stdlib.h>

static char *render(enum audit_format f, const struct audit_row *r, const char *host)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    CHECK(m && audit_row_write(m, f, r, host) == 0);
    fclose(m);
    return buf;
}

/* CEF: split the 8 header columns on unescaped '|' and unescape the header. */
static int cef_header(const char *line, char cols[8][256], const char **ext)
{
    int n = 0;
    size_t k = 0;
    const char *p = line;
    for (; *p && n < 7; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            if (k < 255)
                cols[n][k++] = *p == 'n' ? '\n' : *p == 'r' ? '\r' : *p;
        } else if (*p == '|') {
            cols[n][k] = 0;
            n++;
            k = 0;
        } else if (k < 255) {
            cols[n][k++] = *p;
        }
    }
    *ext = p;
    return n;
}

/* CEF extension: value of key (unescaped) into out; a value runs until " <key>=" unescaped. */
static bool cef_ext_get(const char *ext, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    const char *p = ext;
    while (*p) {
        /* at the start of a key */
        const char *eq = p;
        while (*eq && *eq != '=')
            eq++;
        if (!*eq)
            return false;
        bool match = (size_t)(eq - p) == kl && memcmp(p, key, kl) == 0;
        const char *v = eq + 1;
        size_t k = 0;
        /* value ends at the last unescaped space before the next unescaped '=' */
        const char *end = v, *last_space = NULL;
        for (; *end && *end != '\n'; end++) {
            if (*end == '\\' && end[1]) {
                end++;
                continue;
            }
            if (*end == ' ')
                last_space = end;
            if (*end == '=')
                break;
        }
        const char *vend = *end == '=' ? last_space : end;
        if (!vend)
            return false;
        if (match) {
            for (const char *q = v; q < vend; q++) {
                char c = *q;
                if (c == '\\' && q + 1 < vend) {
                    q++;
                    c = *q == 'n' ? '\n' : *q == 'r' ? '\r' : *q;
                }
                if (k + 1 < cap)
                    out[k++] = c;
            }
            out[k] = 0;
            return true;
        }
        p = *vend ? vend + 1 : vend;
        if (*p == '\n')
            return false;
    }
    return false;
}

/* RFC 5424: find PARAM-NAME="..." in the SD element and unescape it. */
static bool sd_get(const char *line, const char *name, char *out, size_t cap)
{
    const char *sd = strchr(line, '[');
    char pat[64];
    snprintf(pat, sizeof(pat), " %s=\"", name);
    /* walk params properly so a value containing ` name="` cannot fool us */
    const char *p = sd ? strchr(sd, ' ') : NULL;
    while (p && *p == ' ') {
        const char *eq = strchr(p, '=');
        if (!eq || eq[1] != '"')
            return false;
        bool match = (size_t)(eq - p - 1) == strlen(name) && memcmp(p + 1, name, strlen(name)) == 0;
        size_t k = 0;
        const char *q = eq + 2;
        for (; *q && *q != '"'; q++) {
            char c = *q;
            if (c == '\\' && (q[1] == '"' || q[1] == '\\' || q[1] == ']'))
                c = *++q;
            else if (c == ']')
                return false; /* unescaped ] inside a value: broken */
            if (match && k + 1 < cap)
                out[k++] = c;
        }
        if (*q != '"')
            return false;
        if (match) {
            out[k] = 0;
            return true;
        }
        p = q + 1;
    }
    (void)pat;
    return false;
}

static int count_char(const char *s, char c)
{
    int n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

static void test_hostile(void)
{
    const char *evil = "eve|x\\y=z \"q\"] a=b\nCEF:0|forged\r[x";
    struct audit_row r = {
        .id = 42, .ts = 1763848800, .org_id = 7, .actor_type = "user", .actor_id = 3,
        .actor_name = evil, .action = "auth.login.failure", .target_type = "user",
        .target_id = "a]b\"c", .source_addr = "198.18.0.1",
        .detail_json = "{\"reason\":\"bad|pw=1\\n\",\"x\":\"]\"}",
    };
    char *cef = render(AUDIT_FMT_CEF, &r, NULL);
    CHECK(count_char(cef, '\n') == 1 && cef[strlen(cef) - 1] == '\n');
    char cols[8][256];
    const char *ext;
    CHECK(cef_header(cef, cols, &ext) == 7);
    CHECK(strcmp(cols[0], "CEF:0") == 0 && strcmp(cols[1], "ZTNA") == 0);
    CHECK(strcmp(cols[4], "auth.login.failure") == 0 && strcmp(cols[6], "7") == 0);
    char v[512];
    CHECK(cef_ext_get(ext, "suser", v, sizeof(v)) && strcmp(v, evil) == 0);
    CHECK(cef_ext_get(ext, "rt", v, sizeof(v)) && strcmp(v, "1763848800000") == 0);
    CHECK(cef_ext_get(ext, "cs4", v, sizeof(v)) && strcmp(v, "a]b\"c") == 0);
    CHECK(cef_ext_get(ext, "msg", v, sizeof(v)) && strcmp(v, r.detail_json) == 0);
    CHECK(cef_ext_get(ext, "src", v, sizeof(v)) && strcmp(v, "198.18.0.1") == 0);
    CHECK(!cef_ext_get(ext, "a", v, sizeof(v))); /* the forged " a=b" is not a key */
    CHECK(strstr(cef, "eve\\|") == NULL);          /* | is not escaped in extension values */
    CHECK(strstr(cef, "y\\=z") != NULL);
    free(cef);

    /* A pipe in the action lands escaped in the header. */
    struct audit_row r2 = r;
    r2.action = "a|b\\c";
    cef = render(AUDIT_FMT_CEF, &r2, NULL);
    CHECK(cef_header(cef, cols, &ext) == 7 && strcmp(cols[4], "a|b\\c") == 0 &&
          strcmp(cols[5], "a|b\\c") == 0);
    free(cef);

    char *sl = render(AUDIT_FMT_SYSLOG, &r, "host one");
    CHECK(count_char(sl, '\n') == 1);
    CHECK(strncmp(sl, "<84>1 2025-11-22T22:00:00Z host_one ztna-server - auth.login.failure [ztna@32473 ", 80) == 0);
    char want_actor[256];
    snprintf(want_actor, sizeof(want_actor), "%s", evil);
    for (char *c = want_actor; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    CHECK(sd_get(sl, "actor", v, sizeof(v)) && strcmp(v, want_actor) == 0);
    CHECK(sd_get(sl, "targetId", v, sizeof(v)) && strcmp(v, "a]b\"c") == 0);
    CHECK(sd_get(sl, "org", v, sizeof(v)) && strcmp(v, "7") == 0);
    CHECK(sd_get(sl, "id", v, sizeof(v)) && strcmp(v, "42") == 0);
    CHECK(!sd_get(sl, "a", v, sizeof(v)));
    free(sl);

    /* Success event: notice severity, no org -> no org param, "-" hostname. */
    struct audit_row r3 = {.id = 1, .ts = 0, .actor_type = "system", .action = "machine.delete"};
    sl = render(AUDIT_FMT_SYSLOG, &r3, NULL);
    CHECK(strcmp(sl, "<85>1 1970-01-01T00:00:00Z - ztna-server - machine.delete [ztna@32473 id=\"1\" "
                     "actorType=\"system\" action=\"machine.delete\"]\n") == 0);
    free(sl);
    cef = render(AUDIT_FMT_CEF, &r3, NULL);
    CHECK(strcmp(cef, "CEF:0|ZTNA|ztna-server|" ZTNA_VERSION "|machine.delete|machine.delete|5|rt=0 "
                      "externalId=1 act=machine.delete cs1Label=actorType cs1=system\n") == 0);
    free(cef);

    char *jl = render(AUDIT_FMT_JSONL, &r, NULL);
    CHECK(count_char(jl, '\n') == 1);
    cJSON *o = cJSON_Parse(jl);
    CHECK(o != NULL);
    CHECK(strcmp(cJSON_GetObjectItem(o, "actor_name")->valuestring, evil) == 0);
    CHECK(strcmp(cJSON_GetObjectItem(o, "time")->valuestring, "2025-11-22T22:00:00Z") == 0);
    cJSON *d = cJSON_GetObjectItem(o, "detail");
    CHECK(cJSON_IsObject(d) && strcmp(cJSON_GetObjectItem(d, "x")->valuestring, "]") == 0);
    cJSON_Delete(o);
    free(jl);
    /* Non-JSON detail is kept as a string. */
    r3.detail_json = "not json";
    jl = render(AUDIT_FMT_JSONL, &r3, NULL);
    o = cJSON_Parse(jl);
    CHECK(o && cJSON_IsString(cJSON_GetObjectItem(o, "detail")) &&
          cJSON_IsNull(cJSON_GetObjectItem(o, "org_id")));
    cJSON_Delete(o);
    free(jl);
}

static void test_escapers(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    audit_cef_header_escape(m, "a|b\\c=d\ne");
    fputc('#', m);
    audit_cef_ext_escape(m, "a|b\\c=d\re");
    fputc('#', m);
    audit_sd_escape(m, "a\"b\\c]d=e\n");
    fclose(m);
    CHECK(strcmp(buf, "a\\|b\\\\c=d\\ne#a|b\\\\c\\=d\\re#a\\\"b\\\\c\\]d=e ") == 0);
    free(buf);
    enum audit_format f;
    CHECK(audit_format_parse("cef", &f) && f == AUDIT_FMT_CEF);
    CHECK(audit_format_parse("syslog", &f) && f == AUDIT_FMT_SYSLOG);
    CHECK(audit_format_parse("jsonl", &f) && f == AUDIT_FMT_JSONL);
    CHECK(!audit_format_parse("csv", &f) && !audit_format_parse(NULL, &f));
}

int main(void)
{
    test_hostile();
    test_escapers();
    return check_finish("test_audit_export");
}
