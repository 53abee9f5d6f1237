/* Discovery, token endpoint and JWKS over libcurl, with the per-issuer cache (see oidc.h). */
#include "server/oidc.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>
#include <cjson/cJSON.h>
#include <sodium.h>

#include "common/log.h"

struct oidc_entry {
    char issuer[OIDC_MAX_URL];       /* "" = free slot */
    struct oidc_endpoints ep;
    int64_t discovered_at;
    char jwks_uri[OIDC_MAX_URL];     /* the URI jwks was fetched from */
    struct jose_jwks *jwks;          /* owned; NULL until fetched */
    int64_t jwks_at;
    int64_t used_at;                 /* for eviction */
};

struct oidc_cache {
    pthread_mutex_t lock; /* guards entries[] and every jwks in it */
    struct oidc_entry entries[OIDC_MAX_PROVIDERS];
};

int oidc_start(struct server *srv)
{
    struct oidc_cache *c;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -EIO;
    c = calloc(1, sizeof(*c));
    if (!c) {
        curl_global_cleanup();
        return -ENOMEM;
    }
    pthread_mutex_init(&c->lock, NULL);
    srv->oidc = c;
    return 0;
}

void oidc_stop(struct server *srv)
{
    struct oidc_cache *c = srv->oidc;

    if (!c)
        return;
    for (size_t i = 0; i < OIDC_MAX_PROVIDERS; i++)
        jose_jwks_free(c->entries[i].jwks);
    pthread_mutex_destroy(&c->lock);
    free(c);
    srv->oidc = NULL;
    curl_global_cleanup();
}

static bool host_is_loopback(const char *h, size_t n)
{
    return (n == 9 && strncasecmp(h, "localhost", 9) == 0) || (n == 5 && !strncmp(h, "[::1]", 5)) ||
           (n >= 4 && n <= 15 && strncmp(h, "127.", 4) == 0 && strspn(h, "0123456789.") == n);
}

bool oidc_url_allowed(const char *url)
{
    const char *host;
    size_t n, len = strlen(url);

    if (len >= OIDC_MAX_URL || strpbrk(url, "#@ \t\r\n\"<>\\") != NULL)
        return false;
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)url[i] < 0x21 || (unsigned char)url[i] > 0x7e)
            return false;
    }
    if (strncasecmp(url, "https://", 8) == 0) {
        host = url + 8;
        return strcspn(host, ":/?") > 0;
    }
    if (strncasecmp(url, "http://", 7) != 0)
        return false;
    host = url + 7;
    n = host[0] == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":/?");
    return host_is_loopback(host, n);
}

/* --- HTTP ------------------------------------------------------------------------------------ */

struct buf {
    char *p;
    size_t n;
    bool overflow;
};

static size_t buf_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct buf *b = arg;
    size_t add = size * nmemb;
    char *p;

    if (b->n + add > OIDC_HTTP_MAX_BYTES) {
        b->overflow = true;
        return 0; /* makes curl fail the transfer */
    }
    p = realloc(b->p, b->n + add + 1);
    if (!p)
        return 0;
    memcpy(p + b->n, data, add);
    b->p = p;
    b->n += add;
    b->p[b->n] = '\0';
    return add;
}

/* GET (form == NULL) or POST form; *body is new. Returns the HTTP status or -errno. */
static long http_call(const char *url, const char *form, const char *basic_auth, struct buf *body,
                      char *why, size_t why_size)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    long status = -EIO;
    CURLcode rc;

    memset(body, 0, sizeof(*body));
    if (!h)
        return -ENOMEM;
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    if (basic_auth)
        hdrs = curl_slist_append(hdrs, basic_auth);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)OIDC_HTTP_TIMEOUT);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)OIDC_CONNECT_TIMEOUT);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE, (long)OIDC_HTTP_MAX_BYTES);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "ztna-server/" ZTNA_VERSION);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, buf_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    if (form)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
    rc = curl_easy_perform(h);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    } else {
        snprintf(why, why_size, "cannot reach the identity provider at %.200s: %.120s", url,
                 body->overflow ? "reply too large" : errbuf[0] ? errbuf : curl_easy_strerror(rc));
        log_warn("oidc", "%s", why);
        status = -EHOSTUNREACH;
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    if (status < 0) {
        free(body->p);
        body->p = NULL;
    }
    return status;
}

/* GET url expecting 200 and a JSON object; *out new. */
static int get_json(const char *url, const char *what, cJSON **out, char *why, size_t why_size)
{
    struct buf b;
    long st = http_call(url, NULL, NULL, &b, why, why_size);

    *out = NULL;
    if (st < 0)
        return (int)st;
    if (st == 200)
        *out = cJSON_ParseWithLength(b.p ? b.p : "", b.n);
    free(b.p);
    if (st != 200 || !cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        snprintf(why, why_size, "the identity provider's %s at %.200s %s", what, url,
                 st != 200 ? "did not answer 200" : "is not a JSON object");
        return -EPROTO;
    }
    return 0;
}

/* --- cache ----------------------------------------------------------------------------------- */

/* The entry for issuer, or a free / least recently used slot reset for it. Lock held. */
static struct oidc_entry *entry_get(struct oidc_cache *c, const char *issuer, int64_t now)
{
    struct oidc_entry *victim = &c->entries[0];

    for (size_t i = 0; i < OIDC_MAX_PROVIDERS; i++) {
        struct oidc_entry *e = &c->entries[i];

        if (strcmp(e->issuer, issuer) == 0) {
            e->used_at = now;
            return e;
        }
        if (!e->issuer[0] || e->used_at < victim->used_at)
            victim = e;
        if (!e->issuer[0])
            break;
    }
    jose_jwks_free(victim->jwks);
    memset(victim, 0, sizeof(*victim));
    snprintf(victim->issuer, sizeof(victim->issuer), "%s", issuer);
    victim->used_at = now;
    return victim;
}

static bool copy_url(const cJSON *doc, const char *name, char *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, name);

    if (!cJSON_IsString(v) || !oidc_url_allowed(v->valuestring))
        return false;
    strcpy(out, v->valuestring);
    return true;
}

int oidc_discover(struct server *srv, const char *issuer, struct oidc_endpoints *out,
                  char *why, size_t why_size)
{
    struct oidc_cache *c = srv->oidc;
    char url[OIDC_MAX_URL + 64];
    int64_t now = server_now();
    struct oidc_entry *e;
    const cJSON *iss;
    cJSON *doc;
    int ret;

    if (!c)
        return -ENODEV;
    pthread_mutex_lock(&c->lock);
    e = entry_get(c, issuer, now);
    if (e->discovered_at && now - e->discovered_at < OIDC_DISCOVERY_TTL) {
        *out = e->ep;
        pthread_mutex_unlock(&c->lock);
        return 0;
    }
    pthread_mutex_unlock(&c->lock);
    /* §4: the issuer with any trailing '/' removed, then the well-known path. */
    snprintf(url, sizeof(url), "%.*s/.well-known/openid-configuration",
             (int)(strlen(issuer) - (issuer[strlen(issuer) - 1] == '/')), issuer);
    ret = get_json(url, "discovery document", &doc, why, why_size);
    if (ret < 0)
        return ret;
    memset(out, 0, sizeof(*out));
    iss = cJSON_GetObjectItemCaseSensitive(doc, "issuer");
    ret = -EPROTO;
    if (!cJSON_IsString(iss) || strcmp(iss->valuestring, issuer) != 0) {
        /* §4.3: a document naming another issuer must not be used. */
        snprintf(why, why_size, "the discovery document at %.200s names another issuer", url);
    } else if (!copy_url(doc, "authorization_endpoint", out->authorization) ||
               !copy_url(doc, "token_endpoint", out->token) ||
               !copy_url(doc, "jwks_uri", out->jwks_uri)) {
        snprintf(why, why_size, "the discovery document at %.200s lacks a usable "
                 "authorization_endpoint, token_endpoint or jwks_uri", url);
    } else {
        snprintf(out->issuer, sizeof(out->issuer), "%s", issuer);
        ret = 0;
    }
    cJSON_Delete(doc);
    if (ret < 0)
        return ret;
    pthread_mutex_lock(&c->lock);
    e = entry_get(c, issuer, now);
    e->ep = *out;
    e->discovered_at = now;
    pthread_mutex_unlock(&c->lock);
    log_info("oidc", "discovered %s", issuer);
    return 0;
}

/* Fetches and parses the JWKS; installs it in the issuer's entry. */
static int jwks_fetch(struct oidc_cache *c, const struct oidc_endpoints *ep)
{
    char why[256];
    struct jose_jwks *ks = NULL;
    struct oidc_entry *e;
    struct buf b;
    const char *perr;
    long st = http_call(ep->jwks_uri, NULL, NULL, &b, why, sizeof(why));
    int ret;

    if (st < 0)
        return (int)st;
    ret = st == 200 ? jose_jwks_parse(b.p ? b.p : "", b.n, &ks, &perr) : -EPROTO;
    free(b.p);
    if (ret < 0) {
        log_warn("oidc", "JWKS at %s unusable (HTTP %ld)", ep->jwks_uri, st);
        return ret == -ENOMEM ? ret : -EPROTO;
    }
    pthread_mutex_lock(&c->lock);
    e = entry_get(c, ep->issuer, server_now());
    jose_jwks_free(e->jwks);
    e->jwks = ks;
    e->jwks_at = server_now();
    snprintf(e->jwks_uri, sizeof(e->jwks_uri), "%s", ep->jwks_uri);
    pthread_mutex_unlock(&c->lock);
    log_info("oidc", "fetched JWKS of %s: %zu usable keys", ep->issuer, jose_jwks_count(ks));
    return 0;
}

/* Verifies with the cached set; -ESTALE when there is no fresh set for this jwks_uri. */
static int verify_cached(struct oidc_cache *c, const struct oidc_endpoints *ep,
                         const struct jose_jws *j)
{
    struct oidc_entry *e;
    int64_t now = server_now();
    int ret = -ESTALE;

    pthread_mutex_lock(&c->lock);
    e = entry_get(c, ep->issuer, now);
    if (e->jwks && now - e->jwks_at < OIDC_JWKS_TTL && strcmp(e->jwks_uri, ep->jwks_uri) == 0)
        ret = jose_jws_verify(j, e->jwks);
    pthread_mutex_unlock(&c->lock);
    return ret;
}

int oidc_jws_verify(struct server *srv, const struct oidc_endpoints *ep, const struct jose_jws *j)
{
    struct oidc_cache *c = srv->oidc;
    int ret;

    if (!c)
        return -ENODEV;
    ret = verify_cached(c, ep, j);
    if (ret != -ESTALE && ret != -ENOKEY)
        return ret;
    /* No set yet, an old one, or a kid it lacks (rotation): fetch once, then decide. */
    ret = jwks_fetch(c, ep);
    if (ret < 0)
        return ret;
    ret = verify_cached(c, ep, j);
    return ret == -ESTALE ? -ENOKEY : ret;
}

/* --- token endpoint -------------------------------------------------------------------------- */

static int form_add(CURL *h, char **form, size_t *len, const char *k, const char *v)
{
    char *ev = curl_easy_escape(h, v, 0);
    size_t add = (ev ? strlen(ev) : 0) + strlen(k) + 2;
    char *p = ev ? realloc(*form, *len + add + 1) : NULL;

    if (!p) {
        curl_free(ev);
        return -ENOMEM;
    }
    *len += (size_t)sprintf(p + *len, "%s%s=%s", *len ? "&" : "", k, ev);
    *form = p;
    curl_free(ev);
    return 0;
}

/* RFC 6749 §2.3.1: Basic with the form-urlencoded client id and secret. */
static int basic_header(CURL *h, const struct oidc_client *c, char **out)
{
    char *id = curl_easy_escape(h, c->client_id, 0);
    char *sec = curl_easy_escape(h, c->client_secret, 0);
    char *pair = NULL;
    int ret = -ENOMEM;

    *out = NULL;
    if (id && sec && asprintf(&pair, "%s:%s", id, sec) > 0) {
        size_t n = strlen(pair), blen = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
        char *hdr = malloc(blen + 32);

        if (hdr) {
            strcpy(hdr, "Authorization: Basic ");
            sodium_bin2base64(hdr + strlen(hdr), blen, (const unsigned char *)pair, n,
                              sodium_base64_VARIANT_ORIGINAL);
            *out = hdr;
            ret = 0;
        }
        sodium_memzero(pair, n);
    }
    free(pair);
    curl_free(id);
    curl_free(sec);
    return ret;
}

/* The provider's error reply in words: "invalid_grant: code expired" (printable ASCII only). */
static void provider_error(const cJSON *doc, long st, char *why, size_t why_size)
{
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(doc, "error");
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(doc, "error_description");
    char text[OIDC_MAX_ERROR_BYTES];

    snprintf(text, sizeof(text), "%s%s%s", cJSON_IsString(err) ? err->valuestring : "no error code",
             cJSON_IsString(desc) ? ": " : "", cJSON_IsString(desc) ? desc->valuestring : "");
    for (char *p = text; *p; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = '?';
    }
    snprintf(why, why_size, "the identity provider refused the login code (HTTP %ld, %s)", st, text);
}

int oidc_token_exchange(struct server *srv, const struct oidc_endpoints *ep,
                        const struct oidc_client *c, const char *code, const char *verifier,
                        const char *redirect_uri, char **id_token, char *why, size_t why_size)
{
    CURL *h = curl_easy_init();
    char *form = NULL, *auth = NULL;
    size_t len = 0;
    cJSON *doc = NULL;
    const cJSON *tok;
    struct buf b = {0};
    long st;
    int ret;

    (void)srv;
    *id_token = NULL;
    if (!h)
        return -ENOMEM;
    ret = form_add(h, &form, &len, "grant_type", "authorization_code") ?:
          form_add(h, &form, &len, "code", code) ?:
          form_add(h, &form, &len, "redirect_uri", redirect_uri) ?:
          form_add(h, &form, &len, "code_verifier", verifier);
    if (ret == 0 && c->secret_post)
        ret = form_add(h, &form, &len, "client_id", c->client_id) ?:
              form_add(h, &form, &len, "client_secret", c->client_secret);
    else if (ret == 0)
        ret = form_add(h, &form, &len, "client_id", c->client_id) ?: basic_header(h, c, &auth);
    curl_easy_cleanup(h);
    if (ret < 0)
        goto out;
    st = http_call(ep->token, form, auth, &b, why, why_size);
    if (st < 0) {
        ret = (int)st;
        goto out;
    }
    doc = cJSON_ParseWithLength(b.p ? b.p : "", b.n);
    tok = cJSON_GetObjectItemCaseSensitive(doc, "id_token");
    if (st != 200) {
        provider_error(doc, st, why, why_size);
        ret = -EPROTO;
    } else if (!cJSON_IsString(tok) || strlen(tok->valuestring) > JOSE_MAX_TOKEN_BYTES) {
        snprintf(why, why_size, "the identity provider's token reply has no usable id_token");
        ret = -EBADMSG;
    } else {
        *id_token = strdup(tok->valuestring);
        ret = *id_token ? 0 : -ENOMEM;
    }
out:
    cJSON_Delete(doc);
    if (b.p)
        sodium_memzero(b.p, b.n);
    free(b.p);
    if (form)
        sodium_memzero(form, len);
    free(form);
    if (auth)
        sodium_memzero(auth, strlen(auth));
    free(auth);
    return ret;
}
