/* Start/stop hooks for server modules that run beside the HTTP API (janitor, metrics, DNS, ...).
 * The table lives in modules.c: add a row {name, start, stop} there (small edit, nothing else).
 * start runs after the database is open and before HTTP listens, in table order; stop runs in
 * reverse order at shutdown, only for modules whose start returned 0. */
#ifndef ZTNA_SERVER_MODULES_H
#define ZTNA_SERVER_MODULES_H

#include <stddef.h>

#include "server/server.h"

struct server_module {
    const char *name;
    int (*start)(struct server *srv); /* 0 / -errno; a failure aborts start-up */
    void (*stop)(struct server *srv); /* may be NULL */
};

/* Starts every module; on failure stops the ones already started and returns -errno. */
int server_modules_start(struct server *srv);
void server_modules_stop(struct server *srv);

#endif
