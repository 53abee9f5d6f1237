/* The CLI side of the local API. */
#include "agent/daemon/client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent/daemon/agent_limits.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int client_call(const char *socket_path, const cJSON *req, int timeout_ms, cJSON **data,
                char *err, size_t err_len)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    char *txt = NULL, *buf = NULL;
    size_t len = 0, cap = 0;
    int fd = -1, ret = -1;
    long long deadline = now_ms() + timeout_ms;
    cJSON *root = NULL;

    *data = NULL;
    if (strlen(socket_path) >= sizeof(sun.sun_path)) {
        snprintf(err, err_len, "socket path too long: %s", socket_path);
        return -1;
    }
    memcpy(sun.sun_path, socket_path, strlen(socket_path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        snprintf(err, err_len, "cannot reach the ztna daemon at %s: %s (is 'ztna daemon' running?)",
                 socket_path, strerror(errno));
        goto out;
    }
    txt = cJSON_PrintUnformatted(req);
    if (!txt) {
        snprintf(err, err_len, "out of memory");
        goto out;
    }
    size_t tl = strlen(txt);
    txt[tl] = '\n';
    if (send(fd, txt, tl + 1, MSG_NOSIGNAL) != (ssize_t)(tl + 1)) {
        snprintf(err, err_len, "sending to the daemon at %s: %s", socket_path, strerror(errno));
        goto out;
    }
    for (;;) {
        long long left = deadline - now_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
            snprintf(err, err_len, "the daemon at %s did not answer within %d s", socket_path,
                     timeout_ms / 1000);
            goto out;
        }
        if (len + 4096 + 1 > cap) {
            if (cap >= AGENT_API_MAX_REPLY) {
                snprintf(err, err_len, "the daemon's reply is too long");
                goto out;
            }
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb) {
                snprintf(err, err_len, "out of memory");
                goto out;
            }
            buf = nb;
        }
        ssize_t r = recv(fd, buf + len, cap - len - 1, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        if (memchr(buf, '\n', len))
            break;
    }
    root = buf ? cJSON_ParseWithLength(buf, len) : NULL;
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(root, "ok");
    if (!cJSON_IsBool(ok)) {
        snprintf(err, err_len, "the daemon at %s sent no valid reply", socket_path);
        goto out;
    }
    if (!cJSON_IsTrue(ok)) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
        snprintf(err, err_len, "%s", cJSON_IsString(e) ? e->valuestring : "failed");
        goto out;
    }
    *data = cJSON_DetachItemFromObjectCaseSensitive(root, "data");
    if (!*data)
        *data = cJSON_CreateObject();
    ret = 0;
out:
    if (fd >= 0)
        close(fd);
    free(txt);
    free(buf);
    cJSON_Delete(root);
    return ret;
}
