/* Machines API (api_machines.c, api_machines_admin.c): the shared serializer. */
#ifndef ZTNA_SERVER_API_MACHINES_H
#define ZTNA_SERVER_API_MACHINES_H

#include <cjson/cJSON.h>

#include "server/api.h"
#include "server/db_machines.h"

/* The one serializer of a machine (new: free with cJSON_Delete). slug: the org's slug, for the
 * FQDN <name>.<slug>.<base-domain>. */
cJSON *machine_json(struct server *srv, const struct machine_row *m, const char *slug);
void machine_fqdn(const struct server *srv, const struct machine_row *m, const char *slug,
                  char *out, size_t size);

struct auth_key_row;

/* What a machine asks for at registration (the fields of POST /api/register-machine). */
struct machine_register_req {
    const char *machine_key, *wg_public_key, *hostname, *os, *os_version; /* os* may be NULL */
    const struct json_strv *tags;
};

/* On whose authority it registers: a pre-auth key (key and key_hash set; the org and tags come
 * from the key), or a user (key NULL: the CLI browser login; may_tag if the user may ask for
 * tags, i.e. is an org admin). */
struct machine_register_via {
    int64_t org_id;
    int64_t user_id; /* owner; 0 = none */
    const struct auth_key_row *key;
    const uint8_t *key_hash;
    bool may_tag;
};

/* The one registration path: validates req, registers (or re-activates) the machine, audits it
 * and sets the reply of POST /api/register-machine (201 new, 200 re-registered) or an error
 * reply. Returns the machine id, or 0 after an error reply. */
int64_t machine_register_reply(struct api_ctx *ctx, const struct machine_register_req *req,
                               const struct machine_register_via *via);

#endif
