/* JIT notifications to the admin's webhook (setting jit-webhook URL, see jit.h): one JSON POST per
 * event, {"event": "jit.request", "org_id": 1, "time": ..., "request": {...}}, sent by a worker
 * thread from a bounded queue so that no API request or timer tick waits on the receiver. A full
 * queue drops the event (logged); a failed POST is logged and not retried (the audit log is the
 * record). */
#include "server/jit.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "common/log.h"

#define WEBHOOK_QUEUE   256
#define WEBHOOK_TIMEOUT 5L   /* seconds per POST */

struct jit_webhook {
    char url[JIT_WEBHOOK_MAX_URL];
    pthread_t thread;
    pthread_mutex_t lock;    /* protects q, head, n, stop */
    pthread_cond_t wake;
    char *q[WEBHOOK_QUEUE];  /* JSON bodies, owned */
    size_t head, n;
    bool stop;
};

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p, (void)arg;
    return size * n;
}

static void post(const struct jit_webhook *w, const char *body)
{
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    CURL *c = curl_easy_init();
    long status = 0;
    if (!c || !h) {
        log_warn("jit", "webhook: out of memory, event dropped");
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_URL, w->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, WEBHOOK_TIMEOUT);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status < 200 || status > 299)
        log_warn("jit", "webhook %s: %s (HTTP %ld)", w->url,
                 rc == CURLE_OK ? "refused" : curl_easy_strerror(rc), status);
out:
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

static void *worker(void *arg)
{
    struct jit_webhook *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->stop && w->n == 0)
            pthread_cond_wait(&w->wake, &w->lock);
        if (w->n == 0) /* stopping, queue drained */
            break;
        char *body = w->q[w->head];
        w->head = (w->head + 1) % WEBHOOK_QUEUE;
        w->n--;
        pthread_mutex_unlock(&w->lock);
        post(w, body);
        free(body);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int jit_webhook_start(const char *url, struct jit_webhook **out)
{
    struct jit_webhook *w;
    *out = NULL;
    if (!url || !*url)
        return 0;
    if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
        log_error("jit", "jit-webhook must be an http:// or https:// URL");
        return -EINVAL;
    }
    if (strlen(url) >= JIT_WEBHOOK_MAX_URL) {
        log_error("jit", "jit-webhook URL longer than %d bytes", JIT_WEBHOOK_MAX_URL - 1);
        return -EINVAL;
    }
    if (!(w = calloc(1, sizeof(*w))))
        return -ENOMEM;
    memcpy(w->url, url, strlen(url) + 1);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(w);
        return -EIO;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    int ret = -pthread_create(&w->thread, NULL, worker, w);
    if (ret) {
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        curl_global_cleanup();
        free(w);
        return ret;
    }
    *out = w;
    return 0;
}

void jit_webhook_stop(struct jit_webhook *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL); /* drains what is queued, each POST bounded by its timeout */
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    curl_global_cleanup();
    free(w);
}

void jit_webhook_event(struct jit_webhook *w, const char *event, const struct jit_row *r,
                       int64_t now)
{
    if (!w)
        return;
    cJSON *o = cJSON_CreateObject(), *q = jit_row_json(r, JIT_JSON_WEBHOOK);
    if (!o || !q) {
        cJSON_Delete(o);
        cJSON_Delete(q);
        log_warn("jit", "webhook: out of memory, %s for request %" PRId64 " dropped", event, r->id);
        return;
    }
    cJSON_AddStringToObject(o, "event", event);
    cJSON_AddNumberToObject(o, "org_id", (double)r->org_id);
    cJSON_AddNumberToObject(o, "time", (double)now);
    cJSON_AddItemToObject(o, "request", q);
    char *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!body)
        return;
    pthread_mutex_lock(&w->lock);
    if (w->n < WEBHOOK_QUEUE && !w->stop) {
        w->q[(w->head + w->n) % WEBHOOK_QUEUE] = body;
        w->n++;
        body = NULL;
        pthread_cond_signal(&w->wake);
    }
    pthread_mutex_unlock(&w->lock);
    if (body) {
        log_warn("jit", "webhook queue full: %s for request %" PRId64 " dropped", event, r->id);
        free(body);
    }
}
