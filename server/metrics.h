/* Prometheus metrics of ztna-server, served at GET /metrics (text exposition format 0.0.4):
 *   ztna_http_requests_total{route,status}            counter
 *   ztna_http_request_duration_seconds{route}         histogram
 *   ztna_machines_online                              gauge (read from the database at scrape)
 *   ztna_machines_total                               gauge
 *   ztna_db_errors_total                              counter
 *   ztna_netmap_wakeups_total{outcome}                counter: held map polls woken by a change,
 *                                                     with a message or with nothing to send

 * All functions are thread-safe and do nothing when the metrics module is not started. */
#ifndef ZTNA_SERVER_METRICS_H
#define ZTNA_SERVER_METRICS_H

#include <stddef.h>

struct server;

#define METRICS_MAX_SERIES 512 /* distinct (route, status) pairs; beyond: counted as "other" */

/* Module hooks (server/modules.c): allocate / free srv->metrics. */
int metrics_start(struct server *srv);
void metrics_stop(struct server *srv);

/* Called by the /api dispatcher once per request. route_pattern must be a string that lives for
 * the whole run (a route-table pattern or a literal). */
void metrics_observe_request(struct server *srv, const char *route_pattern, int status,
                             double seconds);
void metrics_db_error(struct server *srv);

/* The exposition text (new: free with free()), NULL on allocation failure. */
char *metrics_render(struct server *srv);
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
