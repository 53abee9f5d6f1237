/* The civetweb listener: /api (the dispatcher), /healthz, and a JSON 404 for everything else
 * until the dashboard is served. */
#ifndef ZTNA_SERVER_HTTP_H
#define ZTNA_SERVER_HTTP_H

#include "server/server.h"

struct mg_context;

/* Starts listening on srv->set.listen (with TLS if tls_cert is set). *out is new: stop with
 * http_stop(). */
int http_start(struct server *srv, struct mg_context **out);
void http_stop(struct mg_context *ctx); /* accepts NULL */

#endif
