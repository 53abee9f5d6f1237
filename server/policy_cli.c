/* `ztna-server policy ...` (see policy_cli.h): one libcurl request per step, JSON through cJSON,
 * every server error printed with its code and message. */
#include "server/policy_cli.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cjson/cJSON.h>

#include "server/limits.h"

#define CLI_MAX_REPLY   (8u << 20)
#define CLI_TIMEOUT     30L
#define EXIT_REFUSED    1
#define EXIT_USAGE      2

struct cli {
    const char *server, *token, *org;
    const char *proto, *at;
    char orgbuf[24];
};

struct reply {
    long status;
    char *body;
    size_t len;
    char etag[64];
    cJSON *json;      /* the envelope, or NULL */
};

static void usage(void)
{
    fprintf(stderr,
            "usage: ztna-server policy get\n"
            "       ztna-server policy set FILE\n"
            "       ztna-server policy test FILE\n"
            "       ztna-server policy explain SRC DST PORT [--proto tcp|udp|icmp] [--at TIME]\n"
            "options: --server URL (ZTNA_SERVER), --token TOKEN (ZTNA_TOKEN), --org ID (ZTNA_ORG)\n");
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct reply *r = arg;
    size_t add = size * n;
    if (r->len + add > CLI_MAX_REPLY)
        return 0;
    char *nb = realloc(r->body, r->len + add + 1);
    if (!nb)
        return 0;
    memcpy(nb + r->len, p, add);
    r->body = nb;
    r->len += add;
    r->body[r->len] = 0;
    return add;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct reply *r = arg;
    size_t len = size * n;
    if (len > 5 && !strncasecmp(p, "ETag:", 5)) {
        size_t i = 5, j = 0;
        while (i < len && (p[i] == ' ' || p[i] == '"'))
            i++;
        while (i < len && p[i] != '"' && p[i] != '\r' && p[i] != '\n' && j + 1 < sizeof(r->etag))
            r->etag[j++] = p[i++];
        r->etag[j] = 0;
    }
    return len;
}

static void reply_free(struct reply *r)
{
    free(r->body);
    cJSON_Delete(r->json);
    memset(r, 0, sizeof(*r));
}

/* One request. 0 when the server answered (any status), else -EIO with a message printed. */
static int request(const struct cli *c, const char *method, const char *path, const cJSON *body,
                   const char *if_match, struct reply *r)
{
    char url[SRV_MAX_SETTING_BYTES + 256], auth[SRV_TOKEN_TEXT_BYTES + 256], im[80];
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *h = NULL;
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    int ret = 0;
    CURL *curl = curl_easy_init();
    memset(r, 0, sizeof(*r));
    if (!curl || (body && !text)) {
        fprintf(stderr, "ztna-server policy: out of memory\n");
        ret = -ENOMEM;
        goto out;
    }
    snprintf(url, sizeof(url), "%s%s", c->server, path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
    h = curl_slist_append(h, auth);
    h = curl_slist_append(h, "Accept: application/json");
    if (text)
        h = curl_slist_append(h, "Content-Type: application/json");
    if (if_match) {
        snprintf(im, sizeof(im), "If-Match: \"%s\"", if_match);
        h = curl_slist_append(h, im);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, CLI_TIMEOUT);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, r);
    if (text)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, text);
    CURLcode rc = curl_easy_perform(curl);
    if (rc != CURLE_OK) {
        fprintf(stderr, "ztna-server policy: %s %s: %s\n", method, url,
                errbuf[0] ? errbuf : curl_easy_strerror(rc));
        ret = -EIO;
        goto out;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
    r->json = r->body ? cJSON_Parse(r->body) : NULL;
    if (!cJSON_IsObject(r->json)) {
        fprintf(stderr, "ztna-server policy: %s %s: HTTP %ld without a JSON reply (is %s a "
                "ztna-server?)\n", method, url, r->status, c->server);
        ret = -EIO;
    }
out:
    curl_slist_free_all(h);
    curl_easy_cleanup(curl);
    free(text);
    return ret;
}

static const cJSON *data(const struct reply *r)
{
    return cJSON_GetObjectItemCaseSensitive(r->json, "data");
}

static const char *dstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double dnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* A non-2xx reply: prints "ztna-server policy: CODE: message" and returns EXIT_REFUSED. */
static int refused(const struct reply *r)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(r->json, "error");
    fprintf(stderr, "ztna-server policy: %s (HTTP %ld): %s\n", dstr(e, "code") ? dstr(e, "code") : "ERROR",
            r->status, dstr(e, "message") ? dstr(e, "message") : "(no message)");
    return r->status == 401 || r->status == 403 || r->status == 404 ? EXIT_USAGE : EXIT_REFUSED;
}

/* --org, or the caller's only org. */
static int pick_org(struct cli *c)
{
    struct reply r;
    if (c->org)
        return 0;
    if (request(c, "GET", "/api/me", NULL, NULL, &r))
        return EXIT_USAGE;
    int ret = 0;
    const cJSON *orgs = cJSON_GetObjectItemCaseSensitive(data(&r), "orgs");
    if (r.status != 200) {
        ret = refused(&r);
    } else if (cJSON_GetArraySize(orgs) != 1) {
        fprintf(stderr, "ztna-server policy: you belong to %d orgs: pass --org ID\n",
                cJSON_GetArraySize(orgs));
        ret = EXIT_USAGE;
    } else {
        snprintf(c->orgbuf, sizeof(c->orgbuf), "%.0f", dnum(cJSON_GetArrayItem(orgs, 0), "id"));
        c->org = c->orgbuf;
    }
    reply_free(&r);
    return ret;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0;
    if (!f) {
        fprintf(stderr, "ztna-server policy: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    buf = malloc(SRV_MAX_BODY_BYTES + 1);
    if (buf)
        len = fread(buf, 1, SRV_MAX_BODY_BYTES + 1, f);
    fclose(f);
    if (!buf || len > SRV_MAX_BODY_BYTES) {
        fprintf(stderr, "ztna-server policy: %s is larger than %d bytes\n", path, SRV_MAX_BODY_BYTES);
        free(buf);
        return NULL;
    }
    buf[len] = 0;
    if (strlen(buf) != len) {
        fprintf(stderr, "ztna-server policy: %s contains a NUL byte\n", path);
        free(buf);
        return NULL;
    }
    return buf;
}

static int cmd_get(const struct cli *c)
{
    char path[96];
    struct reply r;
    snprintf(path, sizeof(path), "/api/orgs/%s/policy", c->org);
    if (request(c, "GET", path, NULL, NULL, &r))
        return EXIT_USAGE;
    int ret = 0;
    if (r.status != 200) {
        ret = refused(&r);
    } else if (!dstr(data(&r), "policy")) {
        fprintf(stderr, "no policy (version 0): every machine may reach every other\n");
    } else {
        fputs(dstr(data(&r), "policy"), stdout);
        fprintf(stderr, "version %.0f by %s\n", dnum(data(&r), "version"),
                dstr(data(&r), "author_email") ? dstr(data(&r), "author_email") : "?");
    }
    reply_free(&r);
    return ret;
}

static int cmd_set_or_test(const struct cli *c, const char *file, bool save)
{
    char path[96];
    struct reply r = {0};
    char *text = read_file(file);
    cJSON *body = cJSON_CreateObject();
    int ret = EXIT_USAGE;
    if (!text || !body || !cJSON_AddStringToObject(body, "policy", text))
        goto out;
    if (!save) {
        snprintf(path, sizeof(path), "/api/orgs/%s/policy/validate", c->org);
        if (request(c, "POST", path, body, NULL, &r))
            goto out;
        ret = r.status == 200 ? 0 : refused(&r);
        if (!ret)
            printf("%s: valid, %.0f rules, %.0f tests passed\n", file, dnum(data(&r), "rules"),
                   dnum(data(&r), "tests"));
        goto out;
    }
    /* If-Match on the version we read just now: a concurrent edit gets 412, not overwritten */
    snprintf(path, sizeof(path), "/api/orgs/%s/policy", c->org);
    if (request(c, "GET", path, NULL, NULL, &r))
        goto out;
    if (r.status != 200) {
        ret = refused(&r);
        goto out;
    }
    char etag[64];
    snprintf(etag, sizeof(etag), "%s", r.etag);
    reply_free(&r);
    if (request(c, "PUT", path, body, etag, &r))
        goto out;
    ret = r.status == 200 ? 0 : refused(&r);
    if (!ret)
        printf("policy version %.0f saved\n", dnum(data(&r), "version"));
out:
    reply_free(&r);
    cJSON_Delete(body);
    free(text);
    return ret;
}

static int cmd_explain(const struct cli *c, const char *src, const char *dst, const char *port)
{
    char path[96], *end;
    struct reply r;
    long p = strtol(port, &end, 10);
    if (*end || p < 0 || p > 65535) {
        fprintf(stderr, "ztna-server policy: PORT must be 0..65535, not \"%s\"\n", port);
        return EXIT_USAGE;
    }
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "src", src);
    cJSON_AddStringToObject(body, "dst", dst);
    cJSON_AddNumberToObject(body, "port", (double)p);
    if (c->proto)
        cJSON_AddStringToObject(body, "proto", c->proto);
    if (c->at)
        cJSON_AddStringToObject(body, "at", c->at);
    snprintf(path, sizeof(path), "/api/orgs/%s/policy/explain", c->org);
    int ret = request(c, "POST", path, body, NULL, &r) ? EXIT_USAGE : 0;
    cJSON_Delete(body);
    if (ret)
        return ret;
    if (r.status != 200) {
        ret = refused(&r);
    } else {
        bool ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(data(&r), "accepted"));
        const char *failed = dstr(data(&r), "failed");
        printf("%s: %s%s%s%s\n", ok ? "accepted" : "denied", dstr(data(&r), "reason"),
               failed ? " [" : "", failed ? failed : "", failed ? "]" : "");
        ret = ok ? 0 : EXIT_REFUSED;
    }
    reply_free(&r);
    return ret;
}

int policy_cli_main(int argc, char **argv)
{
    struct cli c = {.server = getenv("ZTNA_SERVER"), .token = getenv("ZTNA_TOKEN"),
                    .org = getenv("ZTNA_ORG")};
    const char *pos[4];
    int npos = 0, ret;
    for (int i = 1; i < argc; i++) {
        const char **opt = !strcmp(argv[i], "--server") ? &c.server
                         : !strcmp(argv[i], "--token")  ? &c.token
                         : !strcmp(argv[i], "--org")    ? &c.org
                         : !strcmp(argv[i], "--proto")  ? &c.proto
                         : !strcmp(argv[i], "--at")     ? &c.at
                                                        : NULL;
        if (opt && i + 1 < argc) {
            *opt = argv[++i];
        } else if (opt || (argv[i][0] == '-' && argv[i][1]) || npos == 4) {
            fprintf(stderr, "ztna-server policy: unexpected argument \"%s\"\n", argv[i]);
            usage();
            return EXIT_USAGE;
        } else {
            pos[npos++] = argv[i];
        }
    }
    if (!c.server || !*c.server)
        c.server = "http://127.0.0.1:8080";
    if (npos == 0 || !((!strcmp(pos[0], "get") && npos == 1) ||
                       ((!strcmp(pos[0], "set") || !strcmp(pos[0], "test")) && npos == 2) ||
                       (!strcmp(pos[0], "explain") && npos == 4))) {
        usage();
        return EXIT_USAGE;
    }
    if (!c.token || !*c.token) {
        fprintf(stderr, "ztna-server policy: no access token: pass --token or set ZTNA_TOKEN\n");
        return EXIT_USAGE;
    }
    if (strlen(c.server) > SRV_MAX_SETTING_BYTES || strlen(c.token) > SRV_TOKEN_TEXT_BYTES + 128 ||
        (c.org && strspn(c.org, "0123456789") != strlen(c.org))) {
        fprintf(stderr, "ztna-server policy: --server, --token or --org is malformed\n");
        return EXIT_USAGE;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "ztna-server policy: libcurl failed to initialise\n");
        return EXIT_USAGE;
    }
    ret = pick_org(&c);
    if (!ret) {
        if (!strcmp(pos[0], "get"))
            ret = cmd_get(&c);
        else if (!strcmp(pos[0], "set") || !strcmp(pos[0], "test"))
            ret = cmd_set_or_test(&c, pos[1], pos[0][0] == 's');
        else
            ret = cmd_explain(&c, pos[1], pos[2], pos[3]);
    }
    curl_global_cleanup();
    return ret;
}
