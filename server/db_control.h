/* machine_control table (schema/004_control.sql): what machines report over the control
 * protocol. Rows go with their machine (ON DELETE CASCADE). */
#ifndef ZTNA_SERVER_DB_CONTROL_H
#define ZTNA_SERVER_DB_CONTROL_H

#include <stddef.h>
#include <stdint.h>

struct db_conn;

#define DB_CONTROL_ENDPOINTS_MAX 1024 /* JSON text of the endpoints array */
#define DB_CONTROL_DENIALS_MAX   8192 /* JSON text of the latest denials */
#define DB_CONTROL_STATS_MAX     4096 /* JSON text of the latest stats */

/* Sets listen_port and the endpoints (JSON array text) at now. 0 / -errno. */
int db_control_set_endpoints(struct db_conn *db, int64_t machine_id, int64_t listen_port,
                             const char *endpoints_json, int64_t now);
/* Stores the latest denials (JSON array text) and/or stats (JSON object text); NULL keeps. */
int db_control_set_report(struct db_conn *db, int64_t machine_id, const char *denials_json,
                          const char *stats_json, int64_t now);

struct control_row {
    int64_t listen_port, endpoints_at, reported_at;
    char endpoints[DB_CONTROL_ENDPOINTS_MAX];
    char denials[DB_CONTROL_DENIALS_MAX];
    char stats[DB_CONTROL_STATS_MAX];
};
/* Fills out (defaults "[]", "[]", "{}" and zeros when the machine never reported). */
int db_control_get(struct db_conn *db, int64_t machine_id, struct control_row *out);

#endif
