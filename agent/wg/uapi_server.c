/* The UAPI socket: WGDEV_UAPI_DIR/IFNAME.sock, served from the device loop. A client sends one or
 * more requests ("get=1\n\n" or "set=1\n...\n\n") and gets "...errno=N\n\n" for each; errno is
 * the negative errno, as wireguard-go writes it. Requests are buffered per client (non-blocking
 * reads); replies are written with a bounded wait for the client to read. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/wg/uapi.h"
#include "agent/wg/wgdev.h"
#include "agent/wg/wgdev_limits.h"
#include "common/log.h"

struct uapi_client {
    struct wgd_source src;
    struct wg_device *dev;
    char *buf;
    size_t len, cap;
};

static void client_close(struct uapi_client *c)
{
    epoll_ctl(c->dev->epfd, EPOLL_CTL_DEL, c->src.fd, NULL);
    close(c->src.fd);
    c->dev->uapi_clients--;
    if (c->buf)
        sodium_memzero(c->buf, c->cap);
    free(c->buf);
    free(c);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                /* a big `get` (thousands of peers) outruns the socket buffer: wait, bounded */
                struct pollfd pfd = {.fd = fd, .events = POLLOUT};
                if (poll(&pfd, 1, WGDEV_UAPI_WRITE_TIMEOUT_MS) == 1)
                    continue;
                return -ETIMEDOUT;
            }
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int reply_errno(int fd, int err)
{
    char line[32];
    int n = snprintf(line, sizeof(line), "errno=%d\n\n", err);
    return write_all(fd, line, (size_t)n);
}

static int handle_get(struct uapi_client *c)
{
    struct wg_device_config *cfg = NULL;
    char *text = NULL;
    size_t tlen = 0;
    int ret = wg_device_get(c->dev, &cfg);
    if (!ret)
        ret = wg_uapi_format_get(cfg, &text, &tlen);
    if (!ret)
        ret = write_all(c->src.fd, text, tlen);
    if (!ret || ret == -ENOMEM)
        ret = reply_errno(c->src.fd, ret);
    if (text) {
        sodium_memzero(text, tlen);
        free(text);
    }
    wg_device_config_free(cfg);
    return ret;
}

static int handle_set(struct uapi_client *c, const char *body, size_t len)
{
    struct wg_device_config *cfg = NULL;
    int ret = wg_uapi_parse_set(body, len, &cfg);
    if (!ret)
        ret = wg_device_apply(c->dev, cfg);
    if (ret)
        log_debug("uapi", "set failed: %d", ret);
    wg_device_config_free(cfg);
    return reply_errno(c->src.fd, ret);
}

/* Processes every complete request in the buffer. Returns false to close the client. */
static bool process(struct uapi_client *c)
{
    for (;;) {
        if (c->len < 6)
            return true;
        if (!memcmp(c->buf, "get=1\n", 6)) {
            if (c->len < 7)
                return true;
            if (c->buf[6] != '\n')
                return false;
            if (handle_get(c))
                return false;
            memmove(c->buf, c->buf + 7, c->len - 7);
            c->len -= 7;
        } else if (!memcmp(c->buf, "set=1\n", 6)) {
            char *end = memmem(c->buf + 5, c->len - 5, "\n\n", 2);
            if (!end)
                return c->len < WGDEV_UAPI_MAX_REQUEST;
            size_t used = (size_t)(end - c->buf) + 2;
            size_t body_len = (size_t)(end - c->buf) + 1 > 6 ? (size_t)(end - c->buf) + 1 - 6 : 0;
            if (handle_set(c, c->buf + 6, body_len))
                return false;
            sodium_memzero(c->buf, used);
            memmove(c->buf, c->buf + used, c->len - used);
            c->len -= used;
        } else {
            reply_errno(c->src.fd, -EINVAL);
            return false;
        }
    }
}

static void on_client(struct wg_device *dev, struct wgd_source *src, uint32_t events)
{
    struct uapi_client *c = (struct uapi_client *)src;
    (void)dev;
    for (int i = 0; i < 64; i++) {
        if (c->cap - c->len < 4096) {
            size_t ncap = c->cap ? c->cap * 2 : 8192;
            if (ncap > WGDEV_UAPI_MAX_REQUEST + 8192) {
                client_close(c);
                return;
            }
            char *nb = malloc(ncap);
            if (!nb) {
                client_close(c);
                return;
            }
            if (c->buf) {
                memcpy(nb, c->buf, c->len);
                sodium_memzero(c->buf, c->cap);
                free(c->buf);
            }
            c->buf = nb;
            c->cap = ncap;
        }
        ssize_t n = recv(c->src.fd, c->buf + c->len, c->cap - c->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            process(c);
            client_close(c);
            return;
        }
        c->len += (size_t)n;
        if (!process(c)) {
            client_close(c);
            return;
        }
    }
    (void)events;
}

static void on_accept(struct wg_device *dev, struct wgd_source *src, uint32_t events)
{
    (void)events;
    for (int i = 0; i < 16; i++) {
        int fd = accept4(src->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        struct uapi_client *c = calloc(1, sizeof(*c));
        if (!c || dev->uapi_clients >= WGDEV_UAPI_MAX_CLIENTS) {
            free(c);
            close(fd);
            continue;
        }
        c->src.fd = fd;
        c->src.fn = on_client;
        c->dev = dev;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c->src};
        if (epoll_ctl(dev->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
            continue;
        }
        dev->uapi_clients++;
    }
}

int wg_device_uapi_listen(struct wg_device *dev)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd, ret;

    if (mkdir(WGDEV_UAPI_DIR, 0700) < 0 && errno != EEXIST)
        return -errno;
    chmod(WGDEV_UAPI_DIR, 0700);
    ret = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s.sock", WGDEV_UAPI_DIR, dev->ifname);
    if (ret < 0 || (size_t)ret >= sizeof(sun.sun_path))
        return -ENAMETOOLONG;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    unlink(sun.sun_path);
    mode_t old = umask(0077);
    ret = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    umask(old);
    if (ret < 0 || listen(fd, 16) < 0) {
        ret = -errno;
        close(fd);
        return ret;
    }
    dev->uapi_src.fd = fd;
    dev->uapi_src.fn = on_accept;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &dev->uapi_src};
    if (epoll_ctl(dev->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        ret = -errno;
        close(fd);
        unlink(sun.sun_path);
        dev->uapi_src.fd = -1;
        return ret;
    }
    memcpy(dev->uapi_path, sun.sun_path, sizeof(dev->uapi_path));
    return 0;
}
