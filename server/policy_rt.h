/* The policy runtime of ztna-server (policy_glue.c), module "policy": per org the policy version
 * in force and its incremental engine (server/policy/compile.h), built from the database on first
 * use and kept current by the events below; a timer thread that recompiles at schedule
 * boundaries and posture staleness and expires JIT grants (also those that ran out while the
 * server was down). After every change it calls netmap_policy_changed() with the machines whose
 * filter or peers changed. One mutex guards everything here; it is never held while calling the
 * netmap. Without the module (srv->policy NULL) every answer is "allow all". */
#ifndef ZTNA_SERVER_POLICY_RT_H
#define ZTNA_SERVER_POLICY_RT_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "server/policy/policy.h"

struct server;
struct db_conn;
struct jit_row;

#define POLICY_RT_TICK_MS 500 /* timer period: JIT expiry and time boundaries */

int policy_rt_start(struct server *srv); /* loads --geo-db; starts the timer */
void policy_rt_stop(struct server *srv);

/* Events, called after the change is committed; they never fail the caller. source_addr: the
 * address the request came from (geo), or NULL to keep the one recorded. */
void policy_rt_machine_changed(struct server *srv, int64_t org_id, int64_t machine_id,
                               const char *source_addr);
void policy_rt_machine_removed(struct server *srv, int64_t org_id, int64_t machine_id);
void policy_rt_policy_changed(struct server *srv, int64_t org_id);
/* The API saved version `version` of the org's policy, already parsed and checked as *p: put in
 * force from it (no second parse), taking *p (NULL after) when it does. A version older than the
 * one in force (two saves racing) changes nothing. p NULL: as policy_rt_policy_changed(). */
struct policy;
void policy_rt_policy_saved(struct server *srv, int64_t org_id, int64_t version,
                            struct policy **p);
/* The user's OIDC groups were replaced (SSO login): group:oidc:<name> membership follows. */
void policy_rt_user_changed(struct server *srv, int64_t org_id, int64_t user_id);
void policy_rt_grant_added(struct server *srv, const struct jit_row *grant);
void policy_rt_grant_removed(struct server *srv, int64_t org_id, int64_t grant_id);

/* A JIT event for the webhook (setting jit-webhook), if one is configured. */
void policy_rt_jit_event(struct server *srv, const char *event, const struct jit_row *r);

/* Checks a candidate document against the org's current fleet (tag owners) and runs its embedded
 * tests at now. 0, or -EINVAL with err (line and column), or -errno. */
int policy_rt_check(struct server *srv, struct db_conn *db, int64_t org_id, const struct policy *p,
                    int64_t now, struct policy_error *err);

/* Does the policy in force name user as an approver of a requireJit rule covering
 * machine_id port/proto? (Admins may decide regardless; the caller checks that.) */
bool policy_rt_may_approve(struct server *srv, struct db_conn *db, int64_t org_id, int64_t user_id,
                           int64_t machine_id, uint16_t port, uint8_t proto);

/* What the policy in force says about machine_id now, added to obj (the machines API):
 * "quarantine": {"quarantined": bool, "reason": string or null} and "posture_checks": one
 * {"name", "pass", "failed": string or null} per posture a rule needs. Without a policy (or a
 * module) not quarantined and no checks. */
void policy_rt_machine_status(struct server *srv, int64_t org_id, int64_t machine_id, cJSON *obj);

struct policy_explain_req {
    const char *src;   /* machine id, name or tailnet IP; user email; or an address */
    const char *dst;   /* machine id, name or tailnet IP */
    uint16_t port;
    uint8_t proto;     /* 6, 17, 1 */
    int64_t at;        /* unix seconds */
};
/* *out new: {accepted, reason, failed, rule, line, src, dst, at}. 0; -ENOENT with why filled
 * (unknown src or dst); -errno. */
int policy_rt_explain(struct server *srv, int64_t org_id, const struct policy_explain_req *q,
                      cJSON **out, char *why, size_t whylen);

#endif
