/* Control-protocol calls of machines (api_control.c) and the control data the admin machine view
 * and the heartbeat share. Handlers are declared in routes.c. */
#ifndef ZTNA_SERVER_API_CONTROL_H
#define ZTNA_SERVER_API_CONTROL_H

#include <cjson/cJSON.h>

#include "server/api.h"

/* Checks a heartbeat's optional denials (array) and stats (object), either may be NULL, and
 * prints them compact into new strings (free()). -EINVAL with *why set, or -ENOMEM. */
int control_report_check(const cJSON *denials, const cJSON *stats, char **denials_json,
                         char **stats_json, const char **why);

/* Adds "endpoints", "denials", "stats" and "reported_at" of machine_id to obj. 0 / -errno. */
int control_json_add(struct db_conn *db, int64_t machine_id, cJSON *obj);

#endif
