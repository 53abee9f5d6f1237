/* Machines API (api_machines.c, api_machines_admin.c): the shared serializer. */
#ifndef ZTNA_SERVER_API_MACHINES_H
#define ZTNA_SERVER_API_MACHINES_H

#include <cjson/cJSON.h>

#include "server/api.h"
#include "server/db_machines.h"

/* The one serializer of a machine (new: free with cJSON_Delete). slug: the org's slug, for the
 * FQDN <name>.<slug>.<base-domain>. */
cJSON *machine_json(const struct server *srv, const struct machine_row *m, const char *slug);
void machine_fqdn(const struct server *srv, const struct machine_row *m, const char *slug,
                  char *out, size_t size);

#endif
