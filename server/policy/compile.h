/* Policy compiler and explain. The compiler turns (policy, fleet, now) into, for every machine,
 * the filter of traffic allowed INTO it and the set of peers it may reach or be reached by. The
 * engine keeps the result and recompiles only what a change affects. */
#ifndef ZTNA_POLICY_COMPILE_H
#define ZTNA_POLICY_COMPILE_H

#include "common/filter/filter.h"
#include "server/policy/geo.h"
#include "server/policy/policy.h"

/* "May this source reach dst_machine on port/proto at `now`?" The source is a machine
 * (src_machine != 0), a user (src_user != 0: any of the user's machines), or a bare address
 * (src_family/src_addr) that is no machine. */
struct policy_query {
    int64_t src_machine;
    int64_t src_user;
    uint8_t src_family, src_addr[16];
    int64_t dst_machine;
    uint16_t port;
    uint8_t proto; /* enum filter_proto: 6, 17, 1 */
};

struct policy_verdict {
    bool accept;
    int rule;       /* deciding rule index (accepted, or the first that matched but failed), -1 */
    int line;       /* that rule's line, 0 */
    char reason[POLICY_ERR_MAX]; /* "accepted by rule 2 (line 30)", "rule 1 (line 20): posture
                                    \"posture:baseline\" failed: disk_encryption", "no rule matches" */
};

/* The naive evaluator: walks the rules for one query. 0, -ENOENT (unknown machine). */
int policy_explain(const struct policy *p, const struct fleet *f, const struct policy_geo *geo,
                   int64_t now, const struct policy_query *q, struct policy_verdict *v);

/* One posture against one report at now. Not PASS: why gets what failed, as explain words it
 * after "failed: " ("firewall", "os_version 5.10 < 6.1", "quarantined, report is 312s old (max
 * 180s)", "no posture report"). */
enum policy_posture_result {
    POLICY_POSTURE_PASS,
    POLICY_POSTURE_NO_REPORT,
    POLICY_POSTURE_STALE,   /* report older than the posture's maxReportAge: quarantined */
    POLICY_POSTURE_OS,      /* OS not allowed */
    POLICY_POSTURE_VERSION, /* os_version or agent_version below the minimum */
    POLICY_POSTURE_CHECK,   /* a required boolean (why names it) is false */
};
enum policy_posture_result policy_posture_check(const struct policy_posture *ps,
                                                const struct posture_report *r, int64_t now,
                                                char *why, size_t wl);

/* May `user` decide a JIT request for dst_machine port/proto (proto 0: any)? True when a
 * requireJit rule whose destination covers it names the user in "approvers" (directly or through
 * a group). */
bool policy_jit_approver(const struct policy *p, const struct fleet *f, int64_t user,
                         int64_t dst_machine, uint16_t port, uint8_t proto);

struct policy_node {
    int64_t machine_id;
    struct filter_entry *entries; /* sorted, unique */
    size_t nentries;
    int64_t *peers;               /* machine ids, sorted */
    size_t npeers;
};

/* Not thread-safe: one thread applies changes (the server serializes them) and publishes the
 * results as an immutable snapshot. */
struct policy_engine;

/* p and geo are borrowed until replaced / freed. The fleet is copied in. *out new:
 * policy_engine_free(). */
int policy_engine_new(struct policy_engine **out, const struct policy *p,
                      const struct policy_geo *geo, const struct fleet *f, int64_t now);
void policy_engine_free(struct policy_engine *e);

/* Changes. Each recompiles only the affected nodes; policy_engine_changed() then lists the
 * machine ids whose filter or peers changed (or that were removed). 0 / -errno; after -ENOMEM
 * the engine's results are incomplete: free it and build a new one. */
int policy_engine_machine_upsert(struct policy_engine *e, const struct fleet_machine *m);
int policy_engine_machine_remove(struct policy_engine *e, int64_t id);
int policy_engine_user_upsert(struct policy_engine *e, const struct fleet_user *u);
int policy_engine_grant_add(struct policy_engine *e, const struct fleet_grant *g);
int policy_engine_grant_remove(struct policy_engine *e, int64_t grant_id);
int policy_engine_set_policy(struct policy_engine *e, const struct policy *p);
/* Re-evaluates time conditions (schedules, posture age, grant expiry) at now: all nodes. */
int policy_engine_set_now(struct policy_engine *e, int64_t now);

const int64_t *policy_engine_changed(const struct policy_engine *e, size_t *n);
/* Those of them whose filter changed (or that are new or removed): the rest changed peers only. */
const int64_t *policy_engine_filters_changed(const struct policy_engine *e, size_t *n);
/* The peer links the last change made or broke: pairs (a < b) where b entered or left a's peers
 * or a entered or left b's (a pair may be listed twice). Only between machines that were in the
 * engine before the change and are still in it (a machine added or removed is news of its own).
 * NULL when the engine could not list them all (more than POLICY_LINKS_MAX, or out of memory):
 * then any map may have changed. */
struct policy_link {
    int64_t a, b;
};
#define POLICY_LINKS_MAX (1u << 20)
const struct policy_link *policy_engine_links(const struct policy_engine *e, size_t *n);
/* Borrowed, valid until the next change; NULL for an unknown machine. */
const struct policy_node *policy_engine_node(const struct policy_engine *e, int64_t machine_id);
/* The engine's copy of one machine (posture report included); borrowed, valid until the next
 * change; NULL for an unknown machine. */
const struct fleet_machine *policy_engine_machine(const struct policy_engine *e, int64_t machine_id);
/* Earliest future time at which a time condition flips (schedule boundary, report staleness,
 * grant expiry): recompile then. INT64_MAX when none. */
int64_t policy_engine_next_boundary(const struct policy_engine *e);
/* Is id among n's peers? (false for a NULL n) */
bool policy_node_has_peer(const struct policy_node *n, int64_t id);
/* The machines that have id among their peers, which are its own peers (the relation is
 * symmetric: who may see it in a map), sorted: *out new (free()), *n. 0, -ENOENT (unknown
 * machine), -ENOMEM. Reads only. */
int policy_engine_seers(const struct policy_engine *e, int64_t id, int64_t **out, size_t *n);
/* The engine's current fleet (for explain); borrowed, valid until the next change. Not a read:
 * it rebuilds the view. */
const struct fleet *policy_engine_fleet(struct policy_engine *e);

#endif
