/* The daemon's inner epoll set, nested in the WireGuard device's loop as one fd (see daemon.h):
 * epoll is level-triggered, so the outer loop calls us while any inner fd is ready and we drain
 * what is ready each time without blocking. */
#include "agent/daemon/daemon.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "agent/wg/device.h"

#define LOOP_BATCH 32

uint64_t agent_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void loop_dispatch(struct agent *a)
{
    struct epoll_event evs[LOOP_BATCH];
    int n = epoll_wait(a->epfd, evs, LOOP_BATCH, 0);
    for (int i = 0; i < n; i++) {
        struct loop_src *src = evs[i].data.ptr;
        if (!src->dead)
            src->fn(a, src, evs[i].events);
    }
    while (a->dead) {
        struct loop_src *s = a->dead;
        a->dead = s->next_dead;
        free(s);
    }
}

static void inner_ready(void *ctx, struct wg_device *dev, int fd)
{
    (void)dev;
    (void)fd;
    loop_dispatch(ctx);
}

void loop_release(struct agent *a, struct loop_src *src)
{
    if (!src || src->dead)
        return;
    if (src->fd >= 0) {
        epoll_ctl(a->epfd, EPOLL_CTL_DEL, src->fd, NULL);
        close(src->fd);
        src->fd = -1;
    }
    src->dead = true;
    src->next_dead = a->dead;
    a->dead = src;
}

int loop_init(struct agent *a)
{
    a->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (a->epfd < 0)
        return -errno;
    /* the kernel backend has no userspace device: kengine_run() polls the set itself */
    return a->dev ? wg_device_add_fd(a->dev, a->epfd, inner_ready, a) : 0;
}

void loop_fini(struct agent *a)
{
    while (a->dead) {
        struct loop_src *s = a->dead;
        a->dead = s->next_dead;
        free(s);
    }
    if (a->epfd >= 0)
        close(a->epfd);
    a->epfd = -1;
}

int loop_add(struct agent *a, struct loop_src *src, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = src};
    return epoll_ctl(a->epfd, EPOLL_CTL_ADD, src->fd, &ev) < 0 ? -errno : 0;
}

int loop_mod(struct agent *a, struct loop_src *src, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = src};
    return epoll_ctl(a->epfd, EPOLL_CTL_MOD, src->fd, &ev) < 0 ? -errno : 0;
}

void loop_del(struct agent *a, struct loop_src *src)
{
    epoll_ctl(a->epfd, EPOLL_CTL_DEL, src->fd, NULL);
}
