/* server/metrics.c against a real database: counters by (route, status), the cumulative
 * histogram, the machines gauges, label escaping, and the "other" overflow beyond
 * METRICS_MAX_SERIES. Complements tests/server/test_metrics.py, which scrapes GET /metrics. */
#include "server/db.h"
#include "server/metrics.h"
#include "server/server.h"
#include "tests/check.h"

#include <stdlib.h>
#include <unistd.h>

static double value(const char *text, const char *series)
{
    const char *p = text;
    size_t n = strlen(series);
    while ((p = strstr(p, series))) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return atof(p + n + 1);
        p += n;
    }
    return -1;
}

int main(void)
{
    char dir[] = "/tmp/ztna-metrics-XXXXXX", path[256];
    struct server srv = {0};
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof(path), "%s/ztna.db", dir);
    CHECK(db_open(&srv.db, path) == 0);
    /* Not started: observing is a no-op, rendering still works. */
    metrics_observe_request(&srv, "/api/x", 200, 0.001);
    CHECK(metrics_start(&srv) == 0);
    metrics_observe_request(&srv, "/api/orgs/{org}/machines", 200, 0.0004);
    metrics_observe_request(&srv, "/api/orgs/{org}/machines", 200, 0.003);
    metrics_observe_request(&srv, "/api/orgs/{org}/machines", 404, 7.0);
    metrics_observe_request(&srv, "/api/q\"uote\\", 500, 0.02);
    metrics_db_error(&srv);
    char *t = metrics_render(&srv);
    CHECK(t != NULL);
    CHECK(value(t, "ztna_http_requests_total{route=\"/api/orgs/{org}/machines\",status=\"200\"}") == 2);
    CHECK(value(t, "ztna_http_requests_total{route=\"/api/orgs/{org}/machines\",status=\"404\"}") == 1);
    CHECK(value(t, "ztna_http_requests_total{route=\"/api/q\\\"uote\\\\\",status=\"500\"}") == 1);
    const char *h = "ztna_http_request_duration_seconds_bucket{route=\"/api/orgs/{org}/machines\",le=";
    char s[256];
    snprintf(s, sizeof(s), "%s\"0.0005\"}", h);
    CHECK(value(t, s) == 1);
    snprintf(s, sizeof(s), "%s\"0.005\"}", h);
    CHECK(value(t, s) == 2);
    snprintf(s, sizeof(s), "%s\"2.5\"}", h);
    CHECK(value(t, s) == 2); /* 7 s is only in +Inf */
    snprintf(s, sizeof(s), "%s\"+Inf\"}", h);
    CHECK(value(t, s) == 3);
    CHECK(value(t, "ztna_http_request_duration_seconds_count{route=\"/api/orgs/{org}/machines\"}") == 3);
    double sum = value(t, "ztna_http_request_duration_seconds_sum{route=\"/api/orgs/{org}/machines\"}");
    CHECK(sum > 7.003 && sum < 7.004);
    CHECK(value(t, "ztna_machines_online") == 0 && value(t, "ztna_machines_total") == 0);
    CHECK(value(t, "ztna_db_errors_total") == 1);
    CHECK(strstr(t, "# TYPE ztna_http_request_duration_seconds histogram\n") != NULL);
    free(t);
    /* A machine online moves the gauges. */
    sqlite3 *h2;
    CHECK(sqlite3_open(path, &h2) == SQLITE_OK);
    CHECK(sqlite3_exec(h2, "INSERT INTO orgs (id, name, slug, created_at) VALUES (1, 'a', 'a', 0);"
                           "INSERT INTO machines (org_id, machine_key, wg_public_key, hostname, name,"
                           " ip_num, tailnet_ip, created_at, online) VALUES (1, zeroblob(32),"
                           " zeroblob(32), 'h', 'h', 1, '100.64.0.1', 0, 1);",
                       NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(h2);
    t = metrics_render(&srv);
    CHECK(t && value(t, "ztna_machines_online") == 1 && value(t, "ztna_machines_total") == 1);
    free(t);
    /* The series table is bounded; routes beyond it are dropped, not allocated. */
    static char names[METRICS_MAX_SERIES + 10][16];
    for (int i = 0; i < METRICS_MAX_SERIES + 10; i++) {
        snprintf(names[i], sizeof(names[i]), "/r%d", i);
        metrics_observe_request(&srv, names[i], 200, 0.001);
    }
    t = metrics_render(&srv);
    CHECK(t && value(t, "ztna_http_requests_total{route=\"/r0\",status=\"200\"}") == 1);
    CHECK(value(t, "ztna_http_requests_total{route=\"/r520\",status=\"200\"}") == -1);
    free(t);
    metrics_stop(&srv);
    metrics_stop(&srv); /* idempotent */
    db_close(srv.db);
    snprintf(path, sizeof(path), "rm -rf '%s'", dir);
    CHECK(system(path) == 0);
    return check_finish("test_metrics_render");
}
