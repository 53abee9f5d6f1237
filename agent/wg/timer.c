/* Timer heap: O(log n) arm/disarm, so 10,000 peers with five timers each cost nothing while idle. */
#include "agent/wg/timer.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

uint64_t wgd_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int wgd_timer_heap_init(struct wgd_timer_heap *h)
{
    h->v = NULL;
    h->n = h->cap = 0;
    h->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    return h->fd < 0 ? -errno : 0;
}

void wgd_timer_heap_fini(struct wgd_timer_heap *h)
{
    for (size_t i = 0; i < h->n; i++)
        h->v[i]->idx = 0;
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
}

static void place(struct wgd_timer_heap *h, size_t i, struct wgd_timer *t)
{
    h->v[i] = t;
    t->idx = i + 1;
}

static void sift_up(struct wgd_timer_heap *h, size_t i)
{
    struct wgd_timer *t = h->v[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->v[p]->when_ms <= t->when_ms)
            break;
        place(h, i, h->v[p]);
        i = p;
    }
    place(h, i, t);
}

static void sift_down(struct wgd_timer_heap *h, size_t i)
{
    struct wgd_timer *t = h->v[i];
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        uint64_t best = t->when_ms;
        if (l < h->n && h->v[l]->when_ms < best) {
            m = l;
            best = h->v[l]->when_ms;
        }
        if (l + 1 < h->n && h->v[l + 1]->when_ms < best)
            m = l + 1;
        if (m == i)
            break;
        place(h, i, h->v[m]);
        i = m;
    }
    place(h, i, t);
}

static void rearm(struct wgd_timer_heap *h)
{
    struct itimerspec its = {0};
    if (h->n) {
        uint64_t w = h->v[0]->when_ms;
        its.it_value.tv_sec = (time_t)(w / 1000);
        its.it_value.tv_nsec = (long)(w % 1000) * 1000000L;
        if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
            its.it_value.tv_nsec = 1;
    }
    timerfd_settime(h->fd, TFD_TIMER_ABSTIME, &its, NULL);
}

void wgd_timer_del(struct wgd_timer_heap *h, struct wgd_timer *t)
{
    if (!t->idx)
        return;
    size_t i = t->idx - 1;
    bool was_top = i == 0;
    t->idx = 0;
    h->n--;
    if (i != h->n) {
        struct wgd_timer *m = h->v[h->n];
        place(h, i, m);
        sift_up(h, i);
        sift_down(h, m->idx - 1);
    }
    if (was_top)
        rearm(h);
}

int wgd_timer_mod(struct wgd_timer_heap *h, struct wgd_timer *t, uint64_t ms)
{
    uint64_t when = wgd_now_ms() + ms;
    if (t->idx) {
        size_t i = t->idx - 1;
        t->when_ms = when;
        sift_up(h, i);
        sift_down(h, t->idx - 1);
    } else {
        if (h->n == h->cap) {
            size_t ncap = h->cap ? h->cap * 2 : 64;
            struct wgd_timer **nv = realloc(h->v, ncap * sizeof(*nv));
            if (!nv)
                return -ENOMEM;
            h->v = nv;
            h->cap = ncap;
        }
        t->when_ms = when;
        place(h, h->n++, t);
        sift_up(h, h->n - 1);
    }
    if (h->v[0] == t)
        rearm(h);
    return 0;
}

int wgd_timer_add_if_idle(struct wgd_timer_heap *h, struct wgd_timer *t, uint64_t ms)
{
    return t->idx ? 0 : wgd_timer_mod(h, t, ms);
}

void wgd_timer_heap_run(struct wgd_timer_heap *h)
{
    uint64_t exp;
    (void)!read(h->fd, &exp, sizeof(exp));
    /* bounded: each iteration removes one expired timer; a fn re-arming itself lands in the future */
    for (size_t budget = h->n + 1024; budget && h->n; budget--) {
        struct wgd_timer *t = h->v[0];
        if (t->when_ms > wgd_now_ms())
            break;
        wgd_timer_del(h, t);
        t->fn(t);
    }
    rearm(h);
}
