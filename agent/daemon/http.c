/* Control calls over libcurl (see http.h); curlloop.c runs them in the daemon's loop. */
#include "agent/daemon/http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "agent/daemon/curlloop.h"
#include "agent/daemon/daemon.h"
#include "agent/daemon/jfields.h"
#include "common/ctl/ctl_auth.h"
#include "common/log.h"

struct http {
    struct curlloop *cl;
    struct http_req *reqs; /* in flight */
};

static void transfer_done(struct agent *a, CURL *easy, CURLcode result);

int http_init(struct agent *a, struct http **out)
{
    struct http *h = calloc(1, sizeof(*h));
    int ret;
    if (!h)
        return -ENOMEM;
    ret = curlloop_new(a, transfer_done, &h->cl);
    if (ret) {
        free(h);
        return ret;
    }
    a->http = h;
    *out = h;
    return 0;
}

static void req_free(struct agent *a, struct http_req *r)
{
    struct http *h = a->http;
    for (struct http_req **pp = &h->reqs; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }
    if (r->easy) {
        curl_multi_remove_handle(curlloop_multi(h->cl), r->easy);
        curl_easy_cleanup(r->easy);
    }
    curl_slist_free_all(r->hdrs);
    cJSON_Delete(r->res.root);
    free(r->body);
    free(r->resp);
    free(r->raw);
    free(r);
}

void http_cancel(struct agent *a, struct http_req *r)
{
    if (r)
        req_free(a, r);
}

void http_cancel_all(struct agent *a)
{
    while (a->http && a->http->reqs)
        req_free(a, a->http->reqs);
}

void http_free(struct agent *a, struct http *h)
{
    if (!h)
        return;
    http_cancel_all(a);
    curlloop_free(a, h->cl);
    free(h);
    a->http = NULL;
}

static size_t on_write(char *p, size_t sz, size_t n, void *userp)
{
    struct http_req *r = userp;
    size_t len = sz * n;
    if (r->resp_len + len > r->resp_max)
        return 0; /* too large: curl fails the transfer (CURLE_WRITE_ERROR) */
    char *nb = realloc(r->resp, r->resp_len + len + 1);
    if (!nb)
        return 0;
    r->resp = nb;
    memcpy(r->resp + r->resp_len, p, len);
    r->resp_len += len;
    r->resp[r->resp_len] = 0;
    return len;
}

/* "Connection refused" -> "connection refused" (messages read as one sentence). */
static void lower_first(char *s)
{
    if (s[0] >= 'A' && s[0] <= 'Z' && !(s[1] >= 'A' && s[1] <= 'Z'))
        s[0] = (char)(s[0] - 'A' + 'a');
}

void http_transport_error(CURL *easy, CURLcode cc, const char *errbuf, const char *base,
                          char *out, size_t cap)
{
    char why[320];
    long os_err = 0;
    curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_err);
    if (cc == CURLE_WRITE_ERROR)
        snprintf(why, sizeof(why), "reply too large or out of memory");
    else if (cc == CURLE_OPERATION_TIMEDOUT)
        snprintf(why, sizeof(why), "timed out");
    else if (os_err)
        snprintf(why, sizeof(why), "%s", strerror((int)os_err));
    else
        snprintf(why, sizeof(why), "%s", errbuf && errbuf[0] ? errbuf : curl_easy_strerror(cc));
    lower_first(why);
    snprintf(out, cap, "server unreachable at %s: %s", base, why);
}

static void parse_result(struct http_req *r, CURLcode cc, const char *base)
{
    struct http_result *res = &r->res;
    if (cc != CURLE_OK) {
        http_transport_error(r->easy, cc, r->errbuf, base, res->err, sizeof(res->err));
        return;
    }
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res->status);
    res->root = r->resp ? cJSON_ParseWithLength(r->resp, r->resp_len) : NULL;
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(res->root, "success");
    if (!res->root || !cJSON_IsBool(ok)) {
        snprintf(res->err, sizeof(res->err), "server at %s answered HTTP %ld without a ztna envelope",
                 base, res->status);
        return;
    }
    res->success = cJSON_IsTrue(ok);
    res->data = cJSON_GetObjectItemCaseSensitive(res->root, "data");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(res->root, "error");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "code");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
    if (cJSON_IsString(c))
        snprintf(res->code, sizeof(res->code), "%s", c->valuestring);
    if (cJSON_IsString(m))
        snprintf(res->message, sizeof(res->message), "%s", m->valuestring);
    if (!res->success && !res->code[0])
        snprintf(res->code, sizeof(res->code), "HTTP_%ld", res->status);
    if (res->success && res->data) {
        r->raw = cJSON_PrintUnformatted(res->data);
        res->raw_data = r->raw;
        res->raw_data_len = r->raw ? strlen(r->raw) : 0;
    }
}

static void transfer_done(struct agent *a, CURL *easy, CURLcode result)
{
    struct http_req *r = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
    if (!r)
        return;
    char base[sizeof(r->url)];
    snprintf(base, sizeof(base), "%s", r->url);
    char *q = strstr(base, "/api/");
    if (q)
        *q = 0;
    parse_result(r, result, base);
    r->done(a, r);
    req_free(a, r);
}

int http_auth_header(const struct agent *a, const char *method, const char *path,
                     const char *body, char *line, size_t cap)
{
    struct ctl_auth auth;
    char hv[CTL_AUTH_HEADER_MAX];
    size_t blen = body ? strlen(body) : 0;
    int ret = ctl_auth_sign(&auth, a->keys.machine_sk, method, path, (const uint8_t *)body, blen,
                            (int64_t)time(NULL));
    if (ret)
        return ret;
    if (ctl_auth_header_format(&auth, hv, sizeof(hv)) < 0)
        return -ENOSPC;
    if ((size_t)snprintf(line, cap, CTL_AUTH_HEADER ": %s", hv) >= cap)
        return -ENOSPC;
    return 0;
}

static int add_auth(struct agent *a, struct http_req *r, const char *method, const char *path)
{
    char line[HTTP_AUTH_LINE_MAX];
    int ret = http_auth_header(a, method, path, r->body, line, sizeof(line));
    if (ret)
        return ret;
    struct curl_slist *l = curl_slist_append(r->hdrs, line);
    if (!l)
        return -ENOMEM;
    r->hdrs = l;
    return 0;
}

struct http_req *http_start(struct agent *a, const char *base_url, const char *method,
                            const char *path, const char *body, bool sign, const char *header,
                            long timeout_s, size_t max_bytes, http_done_fn done, void *arg)
{
    struct http_req *r = calloc(1, sizeof(*r));
    CURL *e;
    if (!r)
        return NULL;
    r->h = a->http;
    r->done = done;
    r->arg = arg;
    r->resp_max = max_bytes;
    if ((size_t)snprintf(r->url, sizeof(r->url), "%s%s", base_url, path) >= sizeof(r->url))
        goto err;
    if (body && !(r->body = strdup(body)))
        goto err;
    if (!(e = curl_easy_init()))
        goto err;
    r->easy = e;
    struct curl_slist *l = curl_slist_append(NULL, "Content-Type: application/json");
    if (!l)
        goto err;
    r->hdrs = l;
    if (header && !(l = curl_slist_append(r->hdrs, header)))
        goto err;
    r->hdrs = l;
    if (sign && add_auth(a, r, method, path))
        goto err;
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "ztna/" ZTNA_VERSION);
    if (!strcmp(method, "POST")) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? r->body : "");
    }
    const char *ca = getenv("ZTNA_CA_FILE");
    if (ca && *ca)
        curl_easy_setopt(e, CURLOPT_CAINFO, ca);
    if (curl_multi_add_handle(curlloop_multi(a->http->cl), e) != CURLM_OK)
        goto err;
    r->next = a->http->reqs;
    a->http->reqs = r;
    return r;
err:
    if (r->easy)
        curl_easy_cleanup(r->easy);
    r->easy = NULL;
    curl_slist_free_all(r->hdrs);
    free(r->body);
    free(r);
    return NULL;
}
