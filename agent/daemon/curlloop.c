/* libcurl multi plumbing in the daemon's inner loop (see curlloop.h). */
#include "agent/daemon/curlloop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "agent/daemon/daemon.h"

struct curlloop {
    struct loop_src timer; /* timerfd for curl's timeouts */
    struct agent *a;
    CURLM *multi;
    curlloop_done_fn done;
};

struct curl_sock {
    struct loop_src src; /* first: freed through loop_release */
    struct curlloop *cl;
    curl_socket_t s;
};

static void drain_done(struct agent *a, struct curlloop *cl)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(cl->multi, &left))) {
        if (msg->msg == CURLMSG_DONE)
            cl->done(a, msg->easy_handle, msg->data.result);
    }
}

static void sock_ready(struct agent *a, struct loop_src *src, uint32_t events)
{
    struct curl_sock *cs = (struct curl_sock *)src;
    struct curlloop *cl = cs->cl;
    int mask = 0, running;
    if (events & EPOLLIN)
        mask |= CURL_CSELECT_IN;
    if (events & EPOLLOUT)
        mask |= CURL_CSELECT_OUT;
    if (events & (EPOLLERR | EPOLLHUP))
        mask |= CURL_CSELECT_ERR;
    curl_multi_socket_action(cl->multi, cs->s, mask, &running);
    drain_done(a, cl);
}

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct curlloop *cl = userp;
    struct agent *a = cl->a;
    struct curl_sock *cs = socketp;
    uint32_t ev = 0;
    (void)e;
    if (what == CURL_POLL_REMOVE) {
        if (cs) {
            epoll_ctl(a->epfd, EPOLL_CTL_DEL, s, NULL);
            cs->src.fd = -1; /* curl closes its own socket */
            loop_release(a, &cs->src);
            curl_multi_assign(cl->multi, s, NULL);
        }
        return 0;
    }
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        ev |= EPOLLIN;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        ev |= EPOLLOUT;
    if (!cs) {
        cs = calloc(1, sizeof(*cs));
        if (!cs)
            return -1;
        cs->src.fd = s;
        cs->src.fn = sock_ready;
        cs->cl = cl;
        cs->s = s;
        if (loop_add(a, &cs->src, ev) < 0) {
            free(cs);
            return -1;
        }
        curl_multi_assign(cl->multi, s, cs);
        return 0;
    }
    return loop_mod(a, &cs->src, ev) < 0 ? -1 : 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
    struct curlloop *cl = userp;
    struct itimerspec its;
    (void)m;
    memset(&its, 0, sizeof(its));
    if (timeout_ms == 0)
        its.it_value.tv_nsec = 1; /* as soon as possible, from the loop (never recurse) */
    else if (timeout_ms > 0) {
        its.it_value.tv_sec = timeout_ms / 1000;
        its.it_value.tv_nsec = (timeout_ms % 1000) * 1000000L;
    }
    timerfd_settime(cl->timer.fd, 0, &its, NULL);
    return 0;
}

static void timer_ready(struct agent *a, struct loop_src *src, uint32_t events)
{
    struct curlloop *cl = (struct curlloop *)src;
    uint64_t v;
    int running;
    (void)events;
    (void)!read(src->fd, &v, sizeof(v));
    curl_multi_socket_action(cl->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain_done(a, cl);
}

int curlloop_new(struct agent *a, curlloop_done_fn done, struct curlloop **out)
{
    struct curlloop *cl = calloc(1, sizeof(*cl));
    int ret = -ENOMEM;
    if (!cl)
        return -ENOMEM;
    cl->a = a;
    cl->done = done;
    cl->timer.fn = timer_ready;
    cl->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    cl->multi = curl_multi_init();
    if (cl->timer.fd < 0 || !cl->multi)
        goto err;
    curl_multi_setopt(cl->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(cl->multi, CURLMOPT_SOCKETDATA, cl);
    curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl);
    ret = loop_add(a, &cl->timer, EPOLLIN);
    if (ret)
        goto err;
    *out = cl;
    return 0;
err:
    if (cl->timer.fd >= 0)
        close(cl->timer.fd);
    if (cl->multi)
        curl_multi_cleanup(cl->multi);
    free(cl);
    return ret;
}

void curlloop_free(struct agent *a, struct curlloop *cl)
{
    if (!cl)
        return;
    /* curl_multi_cleanup still calls on_socket (CURL_POLL_REMOVE) for the sockets it closes */
    curl_multi_cleanup(cl->multi);
    /* the timer goes through the loop: an event for it may still be pending in this dispatch */
    loop_release(a, &cl->timer);
}

CURLM *curlloop_multi(const struct curlloop *cl)
{
    return cl->multi;
}
