/* Posture in a worker thread (see posture_async.h). */
#include "agent/daemon/posture_async.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent/daemon/daemon.h"
#ifdef ZTNA_HAVE_POSTURE
#include "agent/posture/posture.h"
#endif

struct posture_async {
    struct loop_src done; /* eventfd written by the worker */
    posture_ready_fn ready;
    pthread_t th;
    bool running;
    pthread_mutex_t mu; /* protects result */
    cJSON *result;
};

void posture_os_release(char *out, size_t cap)
{
    FILE *f = fopen("/etc/os-release", "re");
    char line[256];
    snprintf(out, cap, "unknown");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "PRETTY_NAME=", 12))
            continue;
        char *v = line + 12, *e;
        if (*v == '"')
            v++;
        if ((e = strpbrk(v, "\"\n")))
            *e = 0;
        size_t n = strlen(v) < cap - 1 ? strlen(v) : cap - 1;
        memcpy(out, v, n);
        out[n] = 0;
    }
    fclose(f);
}

cJSON *posture_minimal(void)
{
    cJSON *o = cJSON_CreateObject();
    struct utsname u;
    char osv[128];
    if (!o)
        return NULL;
    posture_os_release(osv, sizeof(osv));
    cJSON_AddStringToObject(o, "os", "linux");
    cJSON_AddStringToObject(o, "os_version", osv);
    if (uname(&u) == 0)
        cJSON_AddStringToObject(o, "kernel", u.release);
    return o;
}

static void *worker(void *arg)
{
    struct posture_async *pa = arg;
    cJSON *p = NULL;
    uint64_t one = 1;
#ifdef ZTNA_HAVE_POSTURE
    p = posture_collect_json();
#endif
    if (!p)
        p = posture_minimal();
    pthread_mutex_lock(&pa->mu);
    pa->result = p;
    pthread_mutex_unlock(&pa->mu);
    (void)!write(pa->done.fd, &one, sizeof(one));
    return NULL;
}

static void done_ready(struct agent *a, struct loop_src *src, uint32_t events)
{
    struct posture_async *pa = (struct posture_async *)src;
    uint64_t v;
    cJSON *p;
    (void)events;
    if (read(src->fd, &v, sizeof(v)) != sizeof(v))
        return;
    pthread_join(pa->th, NULL);
    pa->running = false;
    pthread_mutex_lock(&pa->mu);
    p = pa->result;
    pa->result = NULL;
    pthread_mutex_unlock(&pa->mu);
    pa->ready(a, p);
}

int posture_async_init(struct agent *a, posture_ready_fn ready)
{
    struct posture_async *pa = calloc(1, sizeof(*pa));
    if (!pa)
        return -ENOMEM;
    pa->ready = ready;
    pa->done.fn = done_ready;
    pthread_mutex_init(&pa->mu, NULL);
    pa->done.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    a->posture = pa;
    if (pa->done.fd < 0)
        return -errno;
    return loop_add(a, &pa->done, EPOLLIN);
}

int posture_async_start(struct agent *a)
{
    struct posture_async *pa = a->posture;
    if (pa->running)
        return -EBUSY;
    int ret = pthread_create(&pa->th, NULL, worker, pa);
    if (ret)
        return -ret;
    pa->running = true;
    return 0;
}

void posture_async_fini(struct agent *a)
{
    struct posture_async *pa = a->posture;
    if (!pa)
        return;
    if (pa->running)
        pthread_join(pa->th, NULL);
    cJSON_Delete(pa->result);
    if (pa->done.fd >= 0)
        close(pa->done.fd);
    pthread_mutex_destroy(&pa->mu);
    free(pa);
    a->posture = NULL;
}
