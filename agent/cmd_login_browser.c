/* The CLI half of the browser login (cmd_login_browser.h). */
#include "agent/cmd_login_browser.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <sodium.h>

extern char **environ;

#define START_MAX_REPLY 16384

struct buf {
    char d[START_MAX_REPLY];
    size_t n;
    bool over;
};

static size_t buf_write(char *p, size_t sz, size_t nm, void *u)
{
    struct buf *b = u;
    size_t n = sz * nm;
    if (b->n + n >= sizeof(b->d)) {
        b->over = true;
        return 0;
    }
    memcpy(b->d + b->n, p, n);
    b->n += n;
    b->d[b->n] = 0;
    return n;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* POST /api/cli-login/start. 0 with request_id and the URL path, or 1 (printed). */
static int start(const char *server, int port, const char *challenge, const char *hostname,
                 char rid[33], char *url, size_t url_cap)
{
    char full[1100], errbuf[CURL_ERROR_SIZE] = "";
    static struct buf b;
    int ret = 1;
    long status = 0;
    cJSON *body = cJSON_CreateObject(), *root = NULL;
    char *txt = NULL;
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    if (!body || !h || !hdr)
        goto out;
    cJSON_AddNumberToObject(body, "port", port);
    cJSON_AddStringToObject(body, "code_challenge", challenge);
    cJSON_AddStringToObject(body, "hostname", hostname);
    if (!(txt = cJSON_PrintUnformatted(body)))
        goto out;
    snprintf(full, sizeof(full), "%s/api/cli-login/start", server);
    memset(&b, 0, sizeof(b));
    curl_easy_setopt(h, CURLOPT_URL, full);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, txt);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, buf_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        fprintf(stderr, "ztna login: server unreachable at %s: %s\n", server,
                b.over ? "reply too long" : errbuf[0] ? errbuf : curl_easy_strerror(rc));
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    root = cJSON_ParseWithLength(b.d, b.n);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(data, "request_id");
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(data, "url");
    if (status < 200 || status > 299 || !cJSON_IsString(id) || !cJSON_IsString(u) ||
        strlen(id->valuestring) != 32 || u->valuestring[0] != '/') {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(err, "message");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(err, "code");
        fprintf(stderr, "ztna login: the server refused to start a browser login: %s (%s, HTTP %ld)\n",
                cJSON_IsString(m) ? m->valuestring : "no usable reply",
                cJSON_IsString(c) ? c->valuestring : "?", status);
        goto out;
    }
    snprintf(rid, 33, "%s", id->valuestring);
    snprintf(url, url_cap, "%s%s", server, u->valuestring);
    ret = 0;
out:
    cJSON_Delete(root);
    cJSON_Delete(body);
    free(txt);
    curl_slist_free_all(hdr);
    if (h)
        curl_easy_cleanup(h);
    return ret;
}

/* Runs xdg-open URL without waiting, its output discarded; failure is ignored (the URL is printed). */
static void open_browser(const char *url)
{
    if (!getenv("DISPLAY") && !getenv("WAYLAND_DISPLAY"))
        return;
    posix_spawn_file_actions_t fa;
    pid_t pid;
    char *argv[] = {"xdg-open", (char *)url, NULL};
    if (posix_spawn_file_actions_init(&fa))
        return;
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    (void)posix_spawnp(&pid, "xdg-open", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The value of key in a query string (percent-decoded into out). false when absent or too long. */
static bool query_get(const char *q, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    for (const char *p = q; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, key, kl) || p[kl] != '=')
            continue;
        size_t n = 0;
        for (const char *v = p + kl + 1; *v && *v != '&'; v++) {
            int c = (unsigned char)*v;
            if (c == '%' && hexval(v[1]) >= 0 && hexval(v[2]) >= 0) {
                c = hexval(v[1]) * 16 + hexval(v[2]);
                v += 2;
            } else if (c == '+') {
                c = ' ';
            }
            if (n + 1 >= cap || c < 0x21 || c > 0x7e)
                return false;
            out[n++] = (char)c;
        }
        out[n] = 0;
        return n > 0;
    }
    return false;
}

static void answer(int fd, int status, const char *text)
{
    char page[768];
    int n = snprintf(page, sizeof(page),
                     "HTTP/1.1 %d %s\r\nContent-Type: text/html; charset=utf-8\r\n"
                     "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
                     "<!doctype html><html><head><meta charset=\"utf-8\"><title>ztna login</title></head>"
                     "<body><p>ztna: %s</p></body></html>\n",
                     status, status == 200 ? "OK" : status == 404 ? "Not Found" : "Bad Request", text);
    if (n > 0)
        (void)!write(fd, page, (size_t)n < sizeof(page) ? (size_t)n : sizeof(page) - 1);
}

/* Reads one request's head from fd into req (bounded: cap bytes, until deadline). false on
 * timeout, EOF or error before the end of the head. */
static bool read_head(int fd, char *req, size_t cap, int64_t deadline)
{
    size_t n = 0;
    req[0] = 0;
    while (!strstr(req, "\r\n\r\n") && !strstr(req, "\n\n")) {
        struct pollfd p = {fd, POLLIN, 0};
        int64_t left = deadline - now_ms();
        if (n + 1 >= cap || left <= 0 || poll(&p, 1, (int)left) <= 0)
            return false;
        ssize_t r = read(fd, req + n, cap - 1 - n);
        if (r <= 0)
            return false;
        n += (size_t)r;
        req[n] = 0;
    }
    return true;
}

int login_callback_parse(const char *head, size_t len, const char *rid, char *code, size_t cap)
{
    char line[2048];
    size_t n = 0;
    while (n < len && n + 1 < sizeof(line) && head[n] && head[n] != '\r' && head[n] != '\n') {
        line[n] = head[n];
        n++;
    }
    line[n] = 0;
    if (strncmp(line, "GET /callback?", 14))
        return -ENOENT;
    char *q = line + 14, *sp = strchr(q, ' '), state[64];
    if (sp)
        *sp = 0;
    if (!query_get(q, "state", state, sizeof(state)) || strcmp(state, rid))
        return -EPERM;
    if (!query_get(q, "code", code, cap))
        return -EINVAL;
    return 0;
}

/* Serves the loopback listener until the callback arrives or the deadline. 0, or 1 (printed). */
static int wait_callback(int lfd, const char *rid, int timeout_s, struct browser_login *out)
{
    int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
    for (;;) {
        int64_t left = deadline - now_ms();
        struct pollfd p = {lfd, POLLIN, 0};
        int pn = left > 0 ? poll(&p, 1, (int)left) : 0;
        if (pn < 0)
            continue; /* EINTR: the deadline still bounds the wait */
        if (pn == 0) {
            fprintf(stderr, "ztna login: timed out after %d s waiting for the browser to approve "
                            "the login (run 'ztna login' again)\n", timeout_s);
            return 1;
        }
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        char req[8192];
        int64_t conn_deadline = now_ms() + 3000 < deadline ? now_ms() + 3000 : deadline;
        int pr = read_head(fd, req, sizeof(req), conn_deadline)
                     ? login_callback_parse(req, strlen(req), rid, out->code, sizeof(out->code))
                     : -ENOENT;
        if (pr == -ENOENT) {
            answer(fd, 404, "nothing here");
            close(fd);
            continue;
        }
        if (pr == -EPERM) {
            answer(fd, 400, "this login does not match the one the CLI started (state mismatch).");
            close(fd);
            fprintf(stderr, "ztna login: state mismatch: the browser came back for a different login "
                            "request than this one (%s); not logging in\n", rid);
            return 1;
        }
        if (pr) {
            answer(fd, 400, "the login came back without a code.");
            close(fd);
            fprintf(stderr, "ztna login: the browser came back without a login code\n");
            return 1;
        }
        answer(fd, 200, "you are logged in on the command line. You can close this tab.");
        close(fd);
        snprintf(out->request_id, sizeof(out->request_id), "%s", rid);
        return 0;
    }
}

int browser_login_wait(const char *server, const char *hostname, int timeout_s,
                       struct browser_login *out)
{
    uint8_t raw[32], hash[crypto_hash_sha256_BYTES];
    char challenge[64], url[1200], rid[33];
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    int ret = 1;

    memset(out, 0, sizeof(*out));
    if (sodium_init() < 0)
        return 1;
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(out->verifier, sizeof(out->verifier), raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    crypto_hash_sha256(hash, (const uint8_t *)out->verifier, strlen(out->verifier));
    sodium_bin2base64(challenge, sizeof(challenge), hash, sizeof(hash),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 8) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0) {
        fprintf(stderr, "ztna login: cannot listen on 127.0.0.1 for the browser: %s\n", strerror(errno));
        goto out;
    }
    if (start(server, ntohs(sa.sin_port), challenge, hostname, rid, url, sizeof(url)))
        goto out;
    printf("To log in, open: %s\n", url);
    printf("Waiting for the browser on http://127.0.0.1:%u/callback (up to %d s)\n",
           ntohs(sa.sin_port), timeout_s);
    fflush(stdout);
    open_browser(url);
    ret = wait_callback(lfd, rid, timeout_s, out);
out:
    if (lfd >= 0)
        close(lfd);
    if (ret)
        sodium_memzero(out, sizeof(*out));
    return ret;
}
