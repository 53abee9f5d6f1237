/* The device: creation, the epoll loop, configuration (UAPI "set"/"get" semantics) and the
 * extension points for the PQ exchange and the daemon. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "agent/wg/tun.h"
#include "agent/wg/wgdev.h"
#include "common/log.h"

uint64_t wgd_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * WG_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static int watch(struct wg_device *dev, struct wgd_source *src)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = src};
    return epoll_ctl(dev->epfd, EPOLL_CTL_ADD, src->fd, &ev) < 0 ? -errno : 0;
}

static void on_timer(struct wg_device *dev, struct wgd_source *src, uint32_t events)
{
    (void)src;
    (void)events;
    wgd_timer_heap_run(&dev->timers);
}

static void on_stop(struct wg_device *dev, struct wgd_source *src, uint32_t events)
{
    (void)src;
    (void)events;
    /* the eventfd stays readable: the data threads poll it too */
    __atomic_store_n(&dev->stopping, true, __ATOMIC_RELAXED);
}

/* Test-only override of REKEY_AFTER_TIME (see cmd_wireguard.c): lets a test see a rekey in
 * seconds instead of minutes. */
static void protocol_times_init(struct wg_device *dev)
{
    const char *s = getenv("ZTNA_WG_TEST_REKEY_AFTER_SECONDS");
    dev->rekey_after_ns = WG_REKEY_AFTER_TIME * WG_NSEC_PER_SEC;
    dev->reject_after_ns = WG_REJECT_AFTER_TIME * WG_NSEC_PER_SEC;
    if (s && *s) {
        long v = strtol(s, NULL, 10);
        if (v >= 1 && v < WG_REKEY_AFTER_TIME) {
            dev->rekey_after_ns = (uint64_t)v * WG_NSEC_PER_SEC;
            log_warn("wg", "TEST ONLY: REKEY_AFTER_TIME overridden to %ld s", v);
        }
    }
}

int wgd_udp_rebind(struct wg_device *dev, uint16_t port)
{
    int fd4, fd6, ret = wgd_udp_open(&port, dev->fwmark, &fd4, &fd6);
    if (ret)
        return ret;
    struct wgd_source *s[2] = {&dev->udp4_src, &dev->udp6_src};
    int fds[2] = {fd4, fd6};
    for (int i = 0; i < 2; i++) {
        if (s[i]->fd >= 0)
            close(s[i]->fd);
        s[i]->fd = fds[i];
    }
    dev->sock_gen++; /* the RX/TX threads switch to the new sockets */
    uint64_t one = 1;
    if (dev->wake_fd >= 0)
        (void)!write(dev->wake_fd, &one, sizeof(one));
    dev->listen_port = port;
    return 0;
}

int wg_device_create(const char *ifname, struct wg_device **out)
{
    struct wg_device *dev;
    int ret;

    *out = NULL;
    if (!ifname || !*ifname || strlen(ifname) >= WG_IFNAME_MAX)
        return -EINVAL;
    if (sodium_init() < 0)
        return -EIO;
    dev = calloc(1, sizeof(*dev));
    if (!dev)
        return -ENOMEM;
    pthread_mutex_init(&dev->lock, NULL);
    strcpy(dev->ifname, ifname);
    dev->mtu = WGDEV_MTU_DEFAULT;
    dev->epfd = dev->stop_fd = dev->wake_fd = -1;
    dev->tun_src.fd = dev->udp4_src.fd = dev->udp6_src.fd = dev->uapi_src.fd = -1;
    dev->timers.fd = -1;
    wg_allowedips_init(&dev->aips);
    protocol_times_init(dev);
    ret = wgd_io_init(dev);
    if (ret)
        goto err;
    dev->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (dev->epfd < 0) {
        ret = -errno;
        goto err;
    }
    ret = wgd_timer_heap_init(&dev->timers);
    if (ret)
        goto err;
    dev->timer_src.fd = dev->timers.fd;
    dev->timer_src.fn = on_timer;
    dev->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (dev->stop_fd < 0) {
        ret = -errno;
        goto err;
    }
    dev->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (dev->wake_fd < 0) {
        ret = -errno;
        goto err;
    }
    dev->stop_src.fd = dev->stop_fd;
    dev->stop_src.fn = on_stop;
    ret = wgd_tun_open(ifname, dev->mtu);
    if (ret < 0)
        goto err;
    dev->tun_src.fd = ret;
    if ((ret = watch(dev, &dev->timer_src)) || (ret = watch(dev, &dev->stop_src)))
        goto err;
    /* like a kernel interface that is up: a random port until one is configured */
    ret = wgd_udp_rebind(dev, 0);
    if (ret)
        goto err;
    *out = dev;
    return 0;
err:
    wg_device_destroy(dev);
    return ret;
}

void wg_device_destroy(struct wg_device *dev)
{
    if (!dev)
        return;
    if (dev->io)
        wgd_data_threads_join(dev);
    while (dev->peers_head)
        wgd_peer_remove(dev->peers_head);
    for (size_t i = 0; i < dev->n_ext_timers; i++) {
        wgd_timer_del(&dev->timers, &dev->ext_timers[i]->t);
        free(dev->ext_timers[i]);
    }
    for (size_t i = 0; i < dev->n_ext_fds; i++)
        free(dev->ext_fds[i]);
    if (dev->uapi_src.fd >= 0) {
        close(dev->uapi_src.fd);
        unlink(dev->uapi_path);
    }
    int fds[] = {dev->tun_src.fd, dev->udp4_src.fd, dev->udp6_src.fd, dev->stop_fd, dev->wake_fd,
                 dev->epfd};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
        if (fds[i] >= 0)
            close(fds[i]);
    wgd_timer_heap_fini(&dev->timers);
    wg_allowedips_free(&dev->aips);
    wgd_io_free(dev);
    wg_noise_identity_clear(&dev->identity);
    pthread_mutex_destroy(&dev->lock);
    sodium_memzero(dev, sizeof(*dev));
    free(dev);
}

int wg_device_run(struct wg_device *dev)
{
    struct epoll_event evs[16];
    int ret = wgd_data_threads_start(dev);
    if (ret)
        return ret;
    while (!__atomic_load_n(&dev->stopping, __ATOMIC_RELAXED)) {
        int n = epoll_wait(dev->epfd, evs, 16, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            ret = -errno;
            break;
        }
        pthread_mutex_lock(&dev->lock);
        for (int i = 0; i < n && !__atomic_load_n(&dev->stopping, __ATOMIC_RELAXED); i++) {
            struct wgd_source *src = evs[i].data.ptr;
            src->fn(dev, src, evs[i].events);
        }
        pthread_mutex_unlock(&dev->lock);
    }
    wgd_data_threads_join(dev);
    return ret;
}

void wg_device_stop(struct wg_device *dev)
{
    uint64_t one = 1;
    (void)!write(dev->stop_fd, &one, sizeof(one));
}
