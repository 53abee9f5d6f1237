/* Internal to db_machines*.c: the column list every machine SELECT uses and its reader. */
#ifndef ZTNA_SERVER_DB_MACHINES_ROW_H
#define ZTNA_SERVER_DB_MACHINES_ROW_H

#include <sqlite3.h>

#include "server/db_machines.h"

#define MACHINE_COLS                                                                            \
    "id, org_id, coalesce(user_id, 0), coalesce(auth_key_id, 0), machine_key, wg_public_key, "  \
    "hostname, name, ip_num, tailnet_ip, os, os_version, tags, ephemeral, created_at, "         \
    "coalesce(last_seen, 0), online, coalesce(expired_at, 0), posture, coalesce(posture_at, 0), " \
    MACHINE_PQ_COL("peers") ", " MACHINE_PQ_COL("peers_pq") ", "                                \
    MACHINE_PQ_COL("peers_classical") ", " MACHINE_PQ_COL("peers_failing") ", "                 \
    "(SELECT reported_at FROM machine_control c WHERE c.machine_id = machines.id)"
/* One counter of the latest heartbeat's stats (schema/004_control.sql), NULL when not reported. */
#define MACHINE_PQ_COL(key)                                                                     \
    "(SELECT json_extract(c.stats, '$." key "') FROM machine_control c "                        \
    "WHERE c.machine_id = machines.id)"

void machine_row_read(sqlite3_stmt *st, struct machine_row *m);

#endif
