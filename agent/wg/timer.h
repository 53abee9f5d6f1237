/* A binary min-heap of timers, driven by one timerfd in the device's epoll loop. Timers are
 * embedded in their owner (a peer, an extension) and never allocated by the heap. Loop thread only. */
#ifndef ZTNA_AGENT_WG_TIMER_H
#define ZTNA_AGENT_WG_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wgd_timer {
    uint64_t when_ms;          /* CLOCK_MONOTONIC milliseconds */
    size_t idx;                /* position in the heap + 1; 0 = not armed */
    void (*fn)(struct wgd_timer *t);
};

struct wgd_timer_heap {
    struct wgd_timer **v;       /* owned array of borrowed timers */
    size_t n, cap;
    int fd;                    /* timerfd */
};

int wgd_timer_heap_init(struct wgd_timer_heap *h);
void wgd_timer_heap_fini(struct wgd_timer_heap *h);
uint64_t wgd_now_ms(void);
/* Arms (or re-arms) t to fire at now + ms. Returns 0 or -ENOMEM. */
int wgd_timer_mod(struct wgd_timer_heap *h, struct wgd_timer *t, uint64_t ms);
/* Arms t only if it is not armed already. */
int wgd_timer_add_if_idle(struct wgd_timer_heap *h, struct wgd_timer *t, uint64_t ms);
void wgd_timer_del(struct wgd_timer_heap *h, struct wgd_timer *t);
static inline bool wgd_timer_pending(const struct wgd_timer *t) { return t->idx != 0; }
/* Runs every expired timer (each is disarmed before its fn runs) and re-arms the timerfd. */
void wgd_timer_heap_run(struct wgd_timer_heap *h);

#endif
