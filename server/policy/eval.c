/* Direct evaluation of the policy for one (source, destination): the primitives the compiler
 * shares (conditions) and the naive walk behind explain, policy tests and the fleet check. */
#include "server/policy/compile.h"
#include "server/policy/policy_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct fleet_user *eval_user(const struct fleet *f, int64_t id)
{
    for (size_t i = 0; i < f->nusers; i++)
        if (f->users[i].id == id)
            return &f->users[i];
    return NULL;
}

const struct fleet_machine *eval_machine(const struct fleet *f, int64_t id)
{
    for (size_t i = 0; i < f->nmachines; i++)
        if (f->machines[i].id == id)
            return &f->machines[i];
    return NULL;
}

static bool user_has_group(const struct fleet_user *u, const char *g)
{
    for (size_t i = 0; i < u->ngroups; i++)
        if (!strcmp(u->groups[i], g))
            return true;
    return false;
}

bool eval_user_in_group(const struct policy *p, int group, const char *gname,
                        const struct fleet_user *u)
{
    if (!u)
        return false;
    if (group < 0)
        return user_has_group(u, gname);
    const struct policy_group *g = &p->groups[group];
    for (size_t i = 0; i < g->nmembers; i++)
        if (!strcmp(g->members[i], u->email) || user_has_group(u, g->members[i]))
            return true;
    return false;
}

bool eval_machine_has_tag(const struct policy *p, const struct fleet *f,
                          const struct fleet_machine *m, int tag)
{
    const struct policy_tag *t = &p->tags[tag];
    bool carries = false;
    for (size_t i = 0; i < m->ntags && !carries; i++)
        carries = !strcmp(m->tags[i], t->name);
    if (!carries)
        return false;
    const struct fleet_user *u = eval_user(f, m->owner);
    for (size_t i = 0; u && i < t->nowners; i++) {
        const struct policy_sel *o = &t->owners[i];
        if (o->kind == SEL_USER ? !strcmp(o->name, u->email)
                                : eval_user_in_group(p, o->idx, o->name, u))
            return true;
    }
    return false;
}

bool eval_machine_tagged(const struct policy *p, const struct fleet *f,
                         const struct fleet_machine *m)
{
    for (size_t i = 0; i < p->ntags; i++)
        if (eval_machine_has_tag(p, f, m, (int)i))
            return true;
    return false;
}

bool eval_prefix_contains(uint8_t fam, const uint8_t *pfx, uint8_t plen, uint8_t afam,
                          const uint8_t *addr)
{
    if (fam != afam)
        return false;
    for (unsigned k = 0; k < plen; k++)
        if (((pfx[k / 8] ^ addr[k / 8]) >> (7 - k % 8)) & 1)
            return false;
    return true;
}

static bool machine_in_prefix(const struct policy_sel *s, const struct fleet_machine *m)
{
    return (m->has_ip4 && eval_prefix_contains(s->family, s->addr, s->plen, 4, m->ip4)) ||
           (m->has_ip6 && eval_prefix_contains(s->family, s->addr, s->plen, 6, m->ip6));
}

bool eval_sel_matches(const struct eval_ctx *c, const struct policy_sel *s,
                      const struct fleet_machine *m)
{
    const struct fleet_user *u;
    switch (s->kind) {
    case SEL_ANY:
        return true;
    case SEL_HOST:
    case SEL_CIDR:
        return machine_in_prefix(s, m);
    case SEL_TAG:
        return eval_machine_has_tag(c->p, c->f, m, s->idx);
    case SEL_USER:
        u = eval_user(c->f, m->owner);
        return u && !strcmp(u->email, s->name) && !eval_machine_tagged(c->p, c->f, m);
    case SEL_GROUP:
        return eval_user_in_group(c->p, s->idx, s->name, eval_user(c->f, m->owner)) &&
               !eval_machine_tagged(c->p, c->f, m);
    case SEL_MEMBER:
    case SEL_SELF:
        return eval_user(c->f, m->owner) && !eval_machine_tagged(c->p, c->f, m);
    }
    return false;
}

/* Compares dotted versions numerically: <0, 0, >0. */
static int version_cmp(const char *a, const char *b)
{
    while (*a || *b) {
        char *ea, *eb;
        unsigned long x = strtoul(a, &ea, 10), y = strtoul(b, &eb, 10);
        if (x != y)
            return x < y ? -1 : 1;
        a = *ea == '.' ? ea + 1 : ea;
        b = *eb == '.' ? eb + 1 : eb;
        if (ea == a && eb == b && !*a && !*b)
            break;
    }
    return 0;
}

enum policy_posture_result policy_posture_check(const struct policy_posture *ps,
                                                const struct posture_report *r, int64_t now,
                                                char *why, size_t wl)
{
    if (!r->present) {
        snprintf(why, wl, "no posture report");
        return POLICY_POSTURE_NO_REPORT;
    }
    if (now - r->reported_at > ps->max_age) {
        snprintf(why, wl, "quarantined, report is %llds old (max %llds)",
                 (long long)(now - r->reported_at), (long long)ps->max_age);
        return POLICY_POSTURE_STALE;
    }
    if (ps->nos) {
        size_t i;
        for (i = 0; i < ps->nos; i++)
            if (r->os && !strcmp(ps->os[i], r->os))
                break;
        if (i == ps->nos) {
            snprintf(why, wl, "os %s not allowed", r->os ? r->os : "unknown");
            return POLICY_POSTURE_OS;
        }
        if (ps->os_min[i][0] && (!r->os_version || version_cmp(r->os_version, ps->os_min[i]) < 0)) {
            snprintf(why, wl, "os_version %s < %s", r->os_version ? r->os_version : "unknown",
                     ps->os_min[i]);
            return POLICY_POSTURE_VERSION;
        }
    }
    const char *miss = ps->disk_encryption && !r->disk_encryption ? "disk_encryption"
                       : ps->firewall && !r->firewall           ? "firewall"
                       : ps->screen_lock && !r->screen_lock     ? "screen_lock"
                       : ps->antivirus && !r->antivirus         ? "antivirus"
                                                                : NULL;
    if (miss) {
        snprintf(why, wl, "%s", miss);
        return POLICY_POSTURE_CHECK;
    }
    if (ps->agent_min[0] && (!r->agent_version || version_cmp(r->agent_version, ps->agent_min) < 0)) {
        snprintf(why, wl, "agent_version %s < %s", r->agent_version ? r->agent_version : "unknown",
                 ps->agent_min);
        return POLICY_POSTURE_VERSION;
    }
    return POLICY_POSTURE_PASS;
}

static bool posture_ok(const struct policy_posture *ps, const struct posture_report *r, int64_t now,
                       char *why, size_t wl)
{
    char d[POLICY_ERR_MAX];
    if (policy_posture_check(ps, r, now, d, sizeof(d)) == POLICY_POSTURE_PASS)
        return true;
    snprintf(why, wl, "posture \"%s\" failed: %s", ps->name, d);
    return false;
}

bool eval_src_conditions(const struct eval_ctx *c, const struct policy_rule *r,
                         const struct fleet_machine *m, char *why, size_t wl)
{
    for (size_t i = 0; i < r->npostures; i++)
        if (!posture_ok(&c->p->postures[r->postures[i]], &m->posture, c->now, why, wl))
            return false;
    if (!r->has_geo)
        return true;
    if (m->seen_family) {
        for (size_t i = 0; i < r->ngeo_cidrs; i++) {
            const struct policy_sel *g = &r->geo_cidrs[i];
            if (eval_prefix_contains(g->family, g->addr, g->plen, m->seen_family, m->seen_addr))
                return true;
        }
    }
    const char *cc = m->country && m->country[0] ? m->country
                     : m->seen_family ? policy_geo_lookup(c->geo, m->seen_family, m->seen_addr)
                                      : NULL;
    for (size_t i = 0; cc && i < r->ncountries; i++)
        if (!strncasecmp(cc, r->countries[i], 2) && strlen(cc) == 2)
            return true;
    snprintf(why, wl, "geo: source %s%s not allowed", cc ? "country " : "location unknown",
             cc ? cc : "");
    return false;
}

bool eval_schedule_active(const struct policy_schedule *s, int64_t t)
{
    int wday, minute;
    tz_local(s->tzi, t, &wday, &minute);
    return (s->days >> wday & 1) && minute >= s->from_min && minute < s->to_min;
}

int64_t eval_schedule_next(const struct policy_schedule *s, int64_t now)
{
    bool cur = eval_schedule_active(s, now);
    int64_t t = now - (now % 60 + 60) % 60 + 60; /* next whole minute */
    for (; t <= now + POLICY_SCHEDULE_HORIZON; t += 60)
        if (eval_schedule_active(s, t) != cur)
            return t;
    return INT64_MAX;
}

bool eval_proto_ok(uint8_t rule_proto, uint8_t proto)
{
    return rule_proto == 0 || rule_proto == proto;
}

int eval_grant_proto(const struct fleet_grant *g, uint8_t rule_proto)
{
    if (g->proto == 0)
        return rule_proto;
    return rule_proto == 0 || rule_proto == g->proto ? g->proto : -1;
}

bool eval_grant_covers(const struct fleet_grant *g, int64_t now, const struct fleet_machine *src,
                       const struct fleet_machine *dst, uint16_t lo, uint16_t hi, uint8_t rule_proto,
                       uint8_t qproto, uint16_t qport)
{
    int gp = eval_grant_proto(g, rule_proto);
    return g->requester == src->owner && g->dst_machine == dst->id && g->expires_at > now &&
           g->port >= lo && g->port <= hi && gp >= 0 && (gp == 0 || gp == qproto) &&
           (qproto == 1 || g->port == qport);
}

bool eval_rule_has_conditions(const struct policy_rule *r)
{
    return r->npostures || r->has_geo || r->require_jit;
}

static bool addr_in_sel(const struct policy_sel *s, uint8_t fam, const uint8_t *a)
{
    if (s->kind == SEL_ANY)
        return true;
    return (s->kind == SEL_CIDR || s->kind == SEL_HOST) &&
           eval_prefix_contains(s->family, s->addr, s->plen, fam, a);
}

static void verdict_fail(struct policy_verdict *v, int ri, const struct policy_rule *r, const char *why)
{
    if (v->rule >= 0)
        return;
    v->rule = ri;
    v->line = r->line;
    snprintf(v->reason, sizeof(v->reason), "rule %d (line %d): %.200s", ri, r->line, why);
}

int eval_explain(const struct eval_ctx *cx, bool assume_compliant, const struct policy_query *q,
                 struct policy_verdict *v)
{
    const struct eval_ctx c = *cx;
    const struct policy *p = c.p;
    const struct fleet *f = c.f;
    int64_t now = c.now;
    const struct fleet_machine *dst = eval_machine(f, q->dst_machine);
    const struct fleet_machine *src = q->src_machine ? eval_machine(f, q->src_machine) : NULL;
    memset(v, 0, sizeof(*v));
    v->rule = -1;
    if (!dst || (q->src_machine && !src)) {
        snprintf(v->reason, sizeof(v->reason), "unknown machine");
        return -ENOENT;
    }
    for (size_t ri = 0; ri < p->nrules; ri++) {
        const struct policy_rule *r = &p->rules[ri];
        char why[POLICY_ERR_MAX];
        if (!eval_proto_ok(r->proto, q->proto))
            continue;
        bool smatch = false;
        for (size_t i = 0; i < r->nsrc && !smatch; i++)
            smatch = src ? eval_sel_matches(&c, &r->src[i], src)
                         : addr_in_sel(&r->src[i], q->src_family, q->src_addr);
        if (!smatch)
            continue;
        const struct policy_dst *hit = NULL;
        bool granted = false;
        for (size_t i = 0; i < r->ndst && !granted; i++) {
            const struct policy_dst *d = &r->dst[i];
            if (q->proto != 1 && (q->port < d->port_lo || q->port > d->port_hi))
                continue;
            if (!eval_sel_matches(&c, &d->sel, dst))
                continue;
            if (d->sel.kind == SEL_SELF &&
                (!src || src->owner != dst->owner || !eval_sel_matches(&c, &d->sel, src)))
                continue;
            if (!hit)
                hit = d;
            if (!r->require_jit || !src)
                break;
            for (size_t k = 0; k < f->ngrants && !granted; k++)
                granted = eval_grant_covers(&f->grants[k], now, src, dst, d->port_lo, d->port_hi,
                                            r->proto, q->proto, q->port);
        }
        if (!hit)
            continue;
        if (r->schedule >= 0 && !eval_schedule_active(&p->schedules[r->schedule], now)) {
            snprintf(why, sizeof(why), "outside schedule \"%s\"", p->schedules[r->schedule].name);
            verdict_fail(v, (int)ri, r, why);
            continue;
        }
        if (!src && eval_rule_has_conditions(r)) {
            verdict_fail(v, (int)ri, r, "source is not a machine (the rule has conditions)");
            continue;
        }
        if (src && !assume_compliant && !eval_src_conditions(&c, r, src, why, sizeof(why))) {
            verdict_fail(v, (int)ri, r, why);
            continue;
        }
        if (r->require_jit && !granted) {
            verdict_fail(v, (int)ri, r, "requires JIT access (no active grant)");
            continue;
        }
        v->accept = true;
        v->rule = (int)ri;
        v->line = r->line;
        snprintf(v->reason, sizeof(v->reason), "accepted by rule %zu (line %d)", ri, r->line);
        return 0;
    }
    if (v->rule < 0)
        snprintf(v->reason, sizeof(v->reason), "no rule matches");
    return 0;
}

int policy_explain(const struct policy *p, const struct fleet *f, const struct policy_geo *geo,
                   int64_t now, const struct policy_query *q, struct policy_verdict *v)
{
    const struct eval_ctx c = {.p = p, .f = f, .now = now, .geo = geo};
    if (!q->src_user || q->src_machine)
        return eval_explain(&c, false, q, v);
    /* a user: accepted if any of the user's machines is; else the first machine's reason */
    struct policy_verdict first = {.rule = -1};
    bool any = false;
    snprintf(first.reason, sizeof(first.reason), "user has no machines");
    for (size_t i = 0; i < f->nmachines; i++) {
        if (f->machines[i].owner != q->src_user || f->machines[i].id == q->dst_machine)
            continue;
        struct policy_query one = *q;
        one.src_machine = f->machines[i].id;
        int ret = eval_explain(&c, false, &one, v);
        if (ret)
            return ret;
        if (v->accept)
            return 0;
        if (!any) {
            first = *v;
            snprintf(first.reason, sizeof(first.reason), "from %.40s: %.200s",
                     f->machines[i].name ? f->machines[i].name : "?", v->reason);
        }
        any = true;
    }
    *v = first;
    return 0;
}

bool policy_jit_approver(const struct policy *p, const struct fleet *f, int64_t user,
                         int64_t dst_machine, uint16_t port, uint8_t proto)
{
    const struct eval_ctx c = {.p = p, .f = f};
    const struct fleet_user *u = eval_user(f, user);
    const struct fleet_machine *dst = eval_machine(f, dst_machine);
    if (!u || !dst)
        return false;
    for (size_t ri = 0; ri < p->nrules; ri++) {
        const struct policy_rule *r = &p->rules[ri];
        bool covers = false, named = false;
        if (!r->require_jit || (proto && !eval_proto_ok(r->proto, proto)))
            continue;
        for (size_t i = 0; i < r->ndst && !covers; i++)
            covers = r->dst[i].sel.kind != SEL_SELF && port >= r->dst[i].port_lo &&
                     port <= r->dst[i].port_hi && eval_sel_matches(&c, &r->dst[i].sel, dst);
        for (size_t i = 0; covers && i < r->napprovers && !named; i++) {
            const struct policy_sel *a = &r->approvers[i];
            named = a->kind == SEL_USER ? !strcmp(a->name, u->email)
                                        : a->kind == SEL_GROUP &&
                                              eval_user_in_group(p, a->idx, a->name, u);
        }
        if (named)
            return true;
    }
    return false;
}
