/* Internal helpers shared by the policy module's files (not part of its API). */
#ifndef ZTNA_POLICY_INT_H
#define ZTNA_POLICY_INT_H

#include "server/policy/hujson.h"
#include "server/policy/policy.h"

#include <stdarg.h>

/* Formats "line L, column C: <msg>" (or just msg when line is 0) into err; returns -EINVAL. */
int perr(struct policy_error *err, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int perr_at(struct policy_error *err, const struct hj_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Selectors: src/dst/approver names. dst=true allows autogroup:self. */
int sel_parse(const struct policy *p, const char *s, int line, int col, bool dst,
              struct policy_sel *out, struct policy_error *err);
int dst_parse(const struct policy *p, const char *s, int line, int col, struct policy_dst **out,
              size_t *n, struct policy_error *err);
int ports_parse(const char *s, uint16_t (*ranges)[2], size_t max, size_t *n);
void sel_clear(struct policy_sel *s);
uint64_t hj_hash(const struct hj_node *n, uint64_t h);
int time_parse(const char *s, int64_t *out);

/* Evaluation primitives shared by the compiler and explain (server/policy/eval.c). */
struct eval_ctx {
    const struct policy *p;
    const struct fleet *f;
    int64_t now;
    const void *geo;          /* struct policy_geo *, may be NULL */
};
const struct fleet_user *eval_user(const struct fleet *f, int64_t id);
bool eval_user_in_group(const struct policy *p, int group, const char *gname,
                        const struct fleet_user *u);
bool eval_machine_has_tag(const struct policy *p, const struct fleet *f,
                          const struct fleet_machine *m, int tag);
bool eval_machine_tagged(const struct policy *p, const struct fleet *f,
                         const struct fleet_machine *m);
bool eval_sel_matches(const struct eval_ctx *c, const struct policy_sel *s,
                      const struct fleet_machine *m);
bool eval_prefix_contains(uint8_t fam, const uint8_t *pfx, uint8_t plen, uint8_t afam,
                          const uint8_t *addr);
/* Conditions on a source machine (posture, geo). On failure, why gets the reason. */
bool eval_src_conditions(const struct eval_ctx *c, const struct policy_rule *r,
                         const struct fleet_machine *m, char *why, size_t whylen);
bool eval_schedule_active(const struct policy_schedule *s, int64_t t);
int64_t eval_schedule_next(const struct policy_schedule *s, int64_t now);
/* A grant lets src's owner reach dst through a requireJit rule whose dst spec covers [lo, hi]:
 * active at c->now, grant port inside [lo, hi] and equal to qport (any port for ICMP), grant
 * protocol 0 or the query's. */
bool eval_grant_covers(const struct fleet_grant *g, int64_t now, const struct fleet_machine *src,
                       const struct fleet_machine *dst, uint16_t lo, uint16_t hi, uint8_t rule_proto,
                       uint8_t qproto, uint16_t qport);
/* The protocol an entry compiled from grant g under a rule of rule_proto carries, or -1. */
int eval_grant_proto(const struct fleet_grant *g, uint8_t rule_proto);
bool eval_rule_has_conditions(const struct policy_rule *r);
const struct fleet_machine *eval_machine(const struct fleet *f, int64_t id);
bool eval_proto_ok(uint8_t rule_proto, uint8_t proto);

/* explain with posture and geo treated as passing when assume_compliant (policy tests). */
struct policy_query;
struct policy_verdict;
int eval_explain(const struct eval_ctx *c, bool assume_compliant, const struct policy_query *q,
                 struct policy_verdict *v);

#endif
