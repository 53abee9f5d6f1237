/* Open-loop HTTP/1.1 load at a fixed rate, for latency at a given request rate (what wrk2 does;
 * Debian 12 does not package wrk2).
 *
 *   ztna-bench-fixedrate HOST PORT PATH RATE SECONDS CONNS ["Header: value" ...]
 *
 * CONNS keep-alive connections, each a thread sending GET PATH on its own schedule of RATE/CONNS
 * requests per second. A request's latency runs from the time it was SCHEDULED, not from when it
 * could be sent, so a stalled server is charged for the requests that queued behind it (no
 * coordinated omission). Prints achieved rate, errors and latency percentiles. Never fails on time. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS   256
#define MAX_REQUEST 4096
#define MAX_REPLY   (4u << 20)

struct conn {
    pthread_t thread;
    int fd;
    double interval;  /* seconds between this connection's requests */
    double offset;    /* phase, so connections do not fire together */
    size_t n_sched;   /* requests this connection must send */
    double *lat;      /* seconds, one per completed request */
    size_t n_done, n_err;
};

static struct sockaddr_in g_addr;
static char g_request[MAX_REQUEST];
static size_t g_request_len;
static double g_start;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
    double d = t - now_s();
    if (d <= 0)
        return;
    struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
    nanosleep(&ts, NULL);
}

static int conn_open(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&g_addr, sizeof(g_addr)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads one response (headers + Content-Length body). 0 on a 2xx reply, -1 otherwise. */
static int read_reply(int fd, char *buf)
{
    size_t have = 0, need = 0;
    char *body = NULL;
    for (;;) {
        if (have >= MAX_REPLY)
            return -1;
        ssize_t r = recv(fd, buf + have, MAX_REPLY - have, 0);
        if (r <= 0)
            return -1;
        have += (size_t)r;
        if (!body) {
            char *end = memmem(buf, have, "\r\n\r\n", 4);
            if (!end)
                continue;
            body = end + 4;
            *end = '\0';
            char *cl = strcasestr(buf, "\r\ncontent-length:");
            if (!cl)
                return -1;
            need = (size_t)(body - buf) + strtoul(cl + 17, NULL, 10);
        }
        if (have >= need)
            return have == need && !strncmp(buf, "HTTP/1.1 2", 10) ? 0 : -1;
    }
}

static void *conn_run(void *arg)
{
    struct conn *c = arg;
    char *buf = malloc(MAX_REPLY);
    if (!buf)
        return NULL;
    c->fd = conn_open();
    for (size_t i = 0; i < c->n_sched; i++) {
        double sched = g_start + c->offset + (double)i * c->interval;
        sleep_until(sched);
        if (c->fd < 0 && (c->fd = conn_open()) < 0) {
            c->n_err++;
            continue;
        }
        if (send(c->fd, g_request, g_request_len, MSG_NOSIGNAL) != (ssize_t)g_request_len ||
            read_reply(c->fd, buf) < 0) {
            c->n_err++;
            close(c->fd);
            c->fd = -1;
            continue;
        }
        c->lat[c->n_done++] = now_s() - sched;
    }
    if (c->fd >= 0)
        close(c->fd);
    free(buf);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: %s HOST PORT PATH RATE SECONDS CONNS [\"Header: value\" ...]\n", argv[0]);
        return 2;
    }
    double rate = atof(argv[4]), secs = atof(argv[5]);
    int nconn = atoi(argv[6]);
    if (rate <= 0 || secs <= 0 || nconn < 1 || nconn > MAX_CONNS ||
        inet_pton(AF_INET, argv[1], &g_addr.sin_addr) != 1) {
        fprintf(stderr, "%s: bad HOST (IPv4), RATE, SECONDS or CONNS (1..%d)\n", argv[0], MAX_CONNS);
        return 2;
    }
    g_addr.sin_family = AF_INET;
    g_addr.sin_port = htons((uint16_t)atoi(argv[2]));
    int n = snprintf(g_request, sizeof(g_request), "GET %s HTTP/1.1\r\nHost: %s:%s\r\n", argv[3],
                     argv[1], argv[2]);
    for (int i = 7; i < argc && n > 0 && (size_t)n < sizeof(g_request); i++)
        n += snprintf(g_request + n, sizeof(g_request) - (size_t)n, "%s\r\n", argv[i]);
    if (n > 0 && (size_t)n < sizeof(g_request))
        n += snprintf(g_request + n, sizeof(g_request) - (size_t)n, "\r\n");
    if (n <= 0 || (size_t)n >= sizeof(g_request)) {
        fprintf(stderr, "%s: request too long\n", argv[0]);
        return 2;
    }
    g_request_len = (size_t)n;

    static struct conn conns[MAX_CONNS];
    size_t total = (size_t)(rate * secs);
    double per_conn_rate = rate / nconn;
    g_start = now_s() + 0.2;
    for (int i = 0; i < nconn; i++) {
        struct conn *c = &conns[i];
        c->interval = 1.0 / per_conn_rate;
        c->offset = c->interval * i / nconn;
        c->n_sched = total / (size_t)nconn + ((size_t)i < total % (size_t)nconn);
        c->lat = calloc(c->n_sched + 1, sizeof(double));
        if (!c->lat || pthread_create(&c->thread, NULL, conn_run, c)) {
            fprintf(stderr, "%s: out of memory or threads\n", argv[0]);
            return 1;
        }
    }
    size_t done = 0, err = 0;
    for (int i = 0; i < nconn; i++)
        pthread_join(conns[i].thread, NULL);
    double elapsed = now_s() - g_start;
    double *all = calloc(total + 1, sizeof(double));
    if (!all)
        return 1;
    for (int i = 0; i < nconn; i++) {
        memcpy(all + done, conns[i].lat, conns[i].n_done * sizeof(double));
        done += conns[i].n_done;
        err += conns[i].n_err;
        free(conns[i].lat);
    }
    qsort(all, done, sizeof(double), cmp_double);
#define PCT(p) (done ? all[(size_t)((double)(done - 1) * (p))] * 1e3 : 0.0)
    printf("target %.0f req/s for %.0f s over %d connections: %zu ok, %zu errors, achieved %.0f req/s; "
           "latency ms p50 %.2f p90 %.2f p99 %.2f p99.9 %.2f max %.2f\n",
           rate, secs, nconn, done, err, (double)done / elapsed, PCT(0.50), PCT(0.90), PCT(0.99),
           PCT(0.999), PCT(1.0));
    free(all);
    return 0;
}
