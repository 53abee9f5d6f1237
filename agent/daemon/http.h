/* Control-plane HTTP over libcurl's multi interface, driven from the daemon's inner loop
 * (curlloop.h), so no call ever blocks the loop. Requests to the machine API are signed with the
 * machine key (common/ctl/ctl_auth.h). */
#ifndef ZTNA_AGENT_DAEMON_HTTP_H
#define ZTNA_AGENT_DAEMON_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "common/ctl/ctl_auth.h"

struct agent;
struct http_req;
struct http;

typedef void (*http_done_fn)(struct agent *a, struct http_req *r);

/* What came back. Exactly one of: transport error (err set), an envelope (status, and either
 * data or code/message). */
struct http_result {
    char err[1024];    /* "server unreachable at URL: connection refused", or empty */
    long status;
    bool success;
    cJSON *root;       /* owned by the request */
    const cJSON *data; /* borrowed from root */
    char code[48], message[200];
    const char *raw_data; /* for map messages: the "data" member as JSON text (owned) */
    size_t raw_data_len;
};

struct http_req {
    http_done_fn done;
    void *arg; /* the caller's */
    struct http_result res;
    /* private */
    struct http *h;
    void *easy, *hdrs;
    char *body, *resp, *raw;
    size_t resp_len, resp_max;
    char url[640], errbuf[256];
    struct http_req *next;
};

int http_init(struct agent *a, struct http **out);
void http_free(struct agent *a, struct http *h);
/* Starts a request: method "GET"/"POST", path with query ("/api/machine/map?since=3&wait=25"),
 * body (JSON text or NULL, copied), signed with the machine key when sign is set, an extra
 * header (or NULL), a timeout in seconds and a response cap in bytes. done runs once, from the
 * loop, and the request is freed after it returns. Returns the request (borrowed) or NULL. */
struct http_req *http_start(struct agent *a, const char *base_url, const char *method,
                            const char *path, const char *body, bool sign, const char *header,
                            long timeout_s, size_t max_bytes, http_done_fn done, void *arg);
/* The signature header of a machine call, "Authorization: ZTNA-Ed25519 ...", for method, path
 * (the target as sent, query included) and body (NULL: none), signed now with a->keys. Written
 * with a NUL into line (HTTP_AUTH_LINE_MAX bytes is enough). 0 or -errno. */
#define HTTP_AUTH_LINE_MAX (CTL_AUTH_HEADER_MAX + 32)
int http_auth_header(const struct agent *a, const char *method, const char *path,
                     const char *body, char *line, size_t cap);
/* "server unreachable at BASE: connection refused": a failed transfer of easy (result cc, its
 * CURLOPT_ERRORBUFFER errbuf or NULL) as one sentence, into out. */
void http_transport_error(CURL *easy, CURLcode cc, const char *errbuf, const char *base,
                          char *out, size_t cap);
/* Cancels every request in flight (their done callbacks do not run). */
void http_cancel_all(struct agent *a);
/* Cancels one in-flight request without running its callback. */
void http_cancel(struct agent *a, struct http_req *r);

#endif
