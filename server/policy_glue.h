/* The seam between the netmap (server/netmap*.c) and the policy (server/api_policy.c, server/policy/).
 *
 * The netmap asks the policy two questions while it builds or updates one machine's map, and the
 * policy tells the netmap which machines' maps it must recompute after a policy change, a schedule
 * boundary, a posture change or a JIT grant.
 *
 * With no policy document stored for an org the answer is Tailscale's default: every machine sees
 * every other one and the filter is NULL (allow all). Thread-safe: called from HTTP worker threads. */
#ifndef ZTNA_SERVER_POLICY_GLUE_H
#define ZTNA_SERVER_POLICY_GLUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct policy_link; /* server/policy/compile.h */

struct server;

/* The compiled filter of traffic allowed INTO machine `machine_id`, as the compact JSON text the
 * agent parses with filter_json_parse() ({"entries":["tcp 100.64.0.1/32 22-22",...]},
 * filter_json_write()) in *out (new, free()), or *out = NULL for "allow all" (no policy). 0, or
 * -ENOMEM, or -EIO when the org's policy state
 * cannot be loaded from the database (tried again at the next call), with *out = NULL: never read
 * that as "allow all", and never cache it (the map reply fails; the agent keeps what it has and
 * polls again). */
int policy_glue_node_filter(struct server *srv, int64_t org_id, int64_t machine_id, char **out);

/* May `a` appear in `b`'s netmap (a may reach b or b may reach a)? true when the org has no policy. */
bool policy_glue_visible(struct server *srv, int64_t org_id, int64_t a, int64_t b);
/* The same for many at once (one lock): out[i] = may ids[i] appear in viewer's map. */
void policy_glue_visible_many(struct server *srv, int64_t org_id, int64_t viewer,
                              const int64_t *ids, size_t n, bool *out);

/* The machines that may see `id` in their maps (or that it may see), sorted: *out (malloc, or
 * NULL when none) and *n. 0; 1 when every machine of the org may (no policy); -ENOMEM. */
int policy_glue_seers(struct server *srv, int64_t org_id, int64_t id, int64_t **out, size_t *n);

/* The "quarantine" object of machine_id's own map entry, as compact JSON (new string, free()):
 * {"quarantined": bool, "reason": string or null} (docs/control-protocol.md). NULL on ENOMEM. */
char *policy_glue_quarantine(struct server *srv, int64_t org_id, int64_t machine_id);

/* Called by the policy side after a change: ids are the machines whose filter, peers or
 * quarantine changed (their next map says so), links the pairs of machines that may have come
 * to see each other or ceased to (each side re-decides the other). n == 0 and ids == NULL: every
 * machine of the org may have changed (everyone gets a full map). Implemented by the netmap. */
void netmap_policy_changed(struct server *srv, int64_t org_id, const int64_t *ids, size_t n,
                           const struct policy_link *links, size_t nlinks);

#endif
