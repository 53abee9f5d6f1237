/* Default policy glue: no policy engine wired yet, so every org is "allow all" (see policy_glue.h).
 * The policy integration replaces these bodies. */
#include "server/policy_glue.h"

cJSON *policy_glue_node_filter(struct server *srv, int64_t org_id, int64_t machine_id)
{
    (void)srv;
    (void)org_id;
    (void)machine_id;
    return NULL;
}

bool policy_glue_visible(struct server *srv, int64_t org_id, int64_t a, int64_t b)
{
    (void)srv;
    (void)org_id;
    (void)a;
    (void)b;
    return true;
}
