/* Prometheus counters and histograms (see metrics.h). One mutex guards the series table: the
 * critical section is a linear probe over at most METRICS_MAX_SERIES pointers and a few adds,
 * far below the cost of the request being counted. */
#include "server/metrics.h"
#include "server/netmap.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/db.h"
#include "server/db_machines.h"
#include "server/server.h"

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,   0.25,   0.5,   1,    2.5};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct series {
    const char *route; /* borrowed, static lifetime */
    int status;
    uint64_t count;
};

struct histo {
    const char *route;
    uint64_t le[NBUCKETS]; /* non-cumulative; summed when rendered */
    uint64_t count;
    double sum;
};

struct metrics {
    pthread_mutex_t lock; /* protects series, nseries, histos, nhistos */
    struct series series[METRICS_MAX_SERIES];
    size_t nseries;
    struct histo histos[METRICS_MAX_SERIES];
    size_t nhistos;
    atomic_uint_fast64_t db_errors;
};

int metrics_start(struct server *srv)
{
    struct metrics *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    pthread_mutex_init(&m->lock, NULL);
    atomic_init(&m->db_errors, 0);
    srv->metrics = m;
    return 0;
}

void metrics_stop(struct server *srv)
{
    struct metrics *m = srv->metrics;
    if (!m)
        return;
    srv->metrics = NULL;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void metrics_observe_request(struct server *srv, const char *route_pattern, int status,
                             double seconds)
{
    struct metrics *m = srv ? srv->metrics : NULL;
    if (!m)
        return;
    const char *route = route_pattern ? route_pattern : "other";
    pthread_mutex_lock(&m->lock);
    size_t i;
    for (i = 0; i < m->nseries; i++)
        if (m->series[i].status == status && strcmp(m->series[i].route, route) == 0)
            break;
    if (i == m->nseries && m->nseries < METRICS_MAX_SERIES)
        m->series[m->nseries++] = (struct series){.route = route, .status = status};
    if (i < m->nseries)
        m->series[i].count++;
    for (i = 0; i < m->nhistos; i++)
        if (strcmp(m->histos[i].route, route) == 0)
            break;
    if (i == m->nhistos && m->nhistos < METRICS_MAX_SERIES)
        m->histos[m->nhistos++] = (struct histo){.route = route};
    if (i < m->nhistos) {
        struct histo *h = &m->histos[i];
        for (size_t b = 0; b < NBUCKETS; b++)
            if (seconds <= buckets[b]) {
                h->le[b]++;
                break;
            }
        h->count++;
        h->sum += seconds;
    }
    pthread_mutex_unlock(&m->lock);
}

void metrics_db_error(struct server *srv)
{
    if (srv && srv->metrics)
        atomic_fetch_add(&srv->metrics->db_errors, 1);
}

/* Label values escape \, " and newline (exposition format). */
static void label(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fprintf(f, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

static const char *const SQL_MACHINES_TOTAL = "SELECT count(*) FROM machines";

static int64_t machines_total(struct db_conn *c)
{
    sqlite3_stmt *st = db_stmt(c, SQL_MACHINES_TOTAL);
    if (!st)
        return -EIO;
    int rc = sqlite3_step(st);
    int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : db_rc_errno(rc);
    sqlite3_reset(st);
    return n;
}

/* Zeros until the netmap module links in (its strong definition replaces this): a program that
 * links the metrics alone does not pull the netmap with it. */
__attribute__((weak)) void netmap_wake_counts(struct server *srv, uint64_t out[3])
{
    (void)srv;
    out[0] = out[1] = out[2] = 0;
}

char *metrics_render(struct server *srv)
{
    struct metrics *m = srv->metrics;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    struct db_conn *c = db_conn_get(srv->db);
    int64_t online = c ? db_machine_count_online(c) : -EIO;
    int64_t total = c ? machines_total(c) : -EIO;
    if ((online < 0 || total < 0))
        metrics_db_error(srv);
    fputs("# HELP ztna_http_requests_total API requests by route pattern and HTTP status.\n"
          "# TYPE ztna_http_requests_total counter\n", f);
    if (m) {
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->nseries; i++) {
            fputs("ztna_http_requests_total{route=\"", f);
            label(f, m->series[i].route);
            fprintf(f, "\",status=\"%d\"} %" PRIu64 "\n", m->series[i].status, m->series[i].count);
        }
        fputs("# HELP ztna_http_request_duration_seconds API request latency by route pattern.\n"
              "# TYPE ztna_http_request_duration_seconds histogram\n", f);
        for (size_t i = 0; i < m->nhistos; i++) {
            const struct histo *h = &m->histos[i];
            uint64_t cum = 0;
            for (size_t b = 0; b <= NBUCKETS; b++) {
                fputs("ztna_http_request_duration_seconds_bucket{route=\"", f);
                label(f, h->route);
                if (b < NBUCKETS) {
                    cum += h->le[b];
                    fprintf(f, "\",le=\"%g\"} %" PRIu64 "\n", buckets[b], cum);
                } else {
                    fprintf(f, "\",le=\"+Inf\"} %" PRIu64 "\n", h->count);
                }
            }
            fputs("ztna_http_request_duration_seconds_sum{route=\"", f);
            label(f, h->route);
            fprintf(f, "\"} %.9f\n", h->sum);
            fputs("ztna_http_request_duration_seconds_count{route=\"", f);
            label(f, h->route);
            fprintf(f, "\"} %" PRIu64 "\n", h->count);
        }
        pthread_mutex_unlock(&m->lock);
    }
    fputs("# HELP ztna_machines_online Machines that sent a heartbeat recently.\n"
          "# TYPE ztna_machines_online gauge\n", f);
    fprintf(f, "ztna_machines_online %" PRId64 "\n", online < 0 ? 0 : online);
    fputs("# HELP ztna_machines_total Registered machines.\n# TYPE ztna_machines_total gauge\n", f);
    fprintf(f, "ztna_machines_total %" PRId64 "\n", total < 0 ? 0 : total);
    fputs("# HELP ztna_db_errors_total Database errors seen by the server.\n"
          "# TYPE ztna_db_errors_total counter\n", f);
    fprintf(f, "ztna_db_errors_total %" PRIu64 "\n",
            m ? (uint64_t)atomic_load(&m->db_errors) : (uint64_t)0);
    uint64_t wk[3];
    netmap_wake_counts(srv, wk);
    fputs("# HELP ztna_netmap_wakeups_total Held map polls woken, and map streams looked at, by a "
          "change: with a message to send, or with nothing for that machine.\n"
          "# TYPE ztna_netmap_wakeups_total counter\n", f);
    fprintf(f, "ztna_netmap_wakeups_total{outcome=\"message\"} %" PRIu64 "\n", wk[0]);
    fprintf(f, "ztna_netmap_wakeups_total{outcome=\"nothing\"} %" PRIu64 "\n", wk[1]);
    fputs("# HELP ztna_netmap_streams Map streams open now (GET /api/machine/map/stream).\n"
          "# TYPE ztna_netmap_streams gauge\n", f);
    fprintf(f, "ztna_netmap_streams %" PRIu64 "\n", wk[2]);
    if (c)
        db_conn_idle(c);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
