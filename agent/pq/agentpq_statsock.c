/* Status socket of the PQ exchange (agentpq_statsock.h). */
#include "agent/pq/agentpq_statsock.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int status_path(const char *ifname, struct sockaddr_un *sun)
{
    int n;

    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    if (!ifname || !*ifname || strchr(ifname, '/'))
        return -EINVAL;
    n = snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/%s.pq", AGENTPQ_STATUS_DIR, ifname);
    return n < 0 || (size_t)n >= sizeof(sun->sun_path) ? -ENAMETOOLONG : 0;
}

int agentpq_status_listen(const char *ifname)
{
    struct sockaddr_un sun;
    mode_t old;
    int fd, ret = status_path(ifname, &sun);

    if (ret)
        return ret;
    if (mkdir(AGENTPQ_STATUS_DIR, 0700) < 0 && errno != EEXIST)
        return -errno;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    unlink(sun.sun_path);
    old = umask(0077);
    ret = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    umask(old);
    if (ret < 0 || listen(fd, 8) < 0) {
        ret = -errno;
        close(fd);
        return ret;
    }
    return fd;
}

void agentpq_status_unlink(const char *ifname)
{
    struct sockaddr_un sun;

    if (status_path(ifname, &sun) == 0)
        unlink(sun.sun_path);
}

/* Bounded: a client that stops reading costs the loop at most AGENTPQ_STATUS_TIMEOUT_MS. */
static void write_bounded(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            if (poll(&pfd, 1, AGENTPQ_STATUS_TIMEOUT_MS) == 1)
                continue;
            return;
        }
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

void agentpq_status_serve(const struct agentpq *pq, int listen_fd, uint64_t now_ms)
{
    size_t need = agentpq_status_format(pq, NULL, 0, now_ms) + 1;
    char *buf = need <= AGENTPQ_STATUS_MAX ? malloc(need) : NULL;
    size_t len = buf ? agentpq_status_format(pq, buf, need, now_ms) : 0;

    for (int i = 0; i < 8; i++) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            break;
        if (buf)
            write_bounded(fd, buf, len);
        else
            write_bounded(fd, "error=status-unavailable\n", 25);
        close(fd);
    }
    free(buf);
}

int agentpq_status_query(const char *ifname, char **out)
{
    struct sockaddr_un sun;
    size_t len = 0, cap = 4096;
    char *buf;
    int fd, ret = status_path(ifname, &sun);

    *out = NULL;
    if (ret)
        return ret;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        ret = -errno;
        close(fd);
        return ret;
    }
    buf = malloc(cap);
    while (buf) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t n;

        if (len + 1 == cap) {
            char *nb = cap < AGENTPQ_STATUS_MAX ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                ret = cap < AGENTPQ_STATUS_MAX ? -ENOMEM : -E2BIG;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        if (poll(&pfd, 1, AGENTPQ_STATUS_TIMEOUT_MS) != 1) {
            ret = -ETIMEDOUT;
            break;
        }
        n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ret = -errno;
            break;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (!buf)
        return -ENOMEM;
    if (ret) {
        free(buf);
        return ret;
    }
    buf[len] = '\0';
    *out = buf;
    return 0;
}
