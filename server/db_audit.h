/* audit_log table (db_audit.c). */
#ifndef ZTNA_SERVER_DB_AUDIT_H
#define ZTNA_SERVER_DB_AUDIT_H

#include <stdint.h>

#include "server/audit.h"
#include "server/audit_export.h"

struct db_conn;

int db_audit_insert(struct db_conn *db, const struct audit_event *ev, int64_t ts);

/* Filters of GET /api/orgs/{org}/audit; NULL / 0 = no filter. */
struct audit_filter {
    const char *action;        /* exact, or a prefix when it ends in ".*" ("machine.*") */
    const char *actor;         /* actor_name, or actor id as decimal text */
    const char *actor_type;
    const char *target_type;
    const char *target_id;
    int64_t since, until;      /* ts >= since, ts < until (0 = open) */
    int64_t before_id;         /* cursor: only ids below this (0 = from the newest) */
    int64_t limit;
};
/* Rows of org_id matching f, newest first; cb gets borrowed rows. Stops on cb's non-zero value
 * and returns it. */
int db_audit_list(struct db_conn *db, int64_t org_id, const struct audit_filter *f,
                  int (*cb)(const struct audit_row *r, void *arg), void *arg);

#endif
