/* The "rules" and "tests" sections, and policy_free(). */
#include "common/filter/filter.h"
#include "server/policy/policy_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int policy_parse_rules(struct policy *p, const struct hj_node *n, struct policy_error *err);
int policy_parse_tests(struct policy *p, const struct hj_node *n, struct policy_error *err);

static int fields_check(const struct hj_node *obj, const char *const *allowed, const char *ctx,
                        struct policy_error *err)
{
    if (obj->type != HJ_OBJECT)
        return perr_at(err, obj, "%s must be an object", ctx);
    for (size_t i = 0; i < obj->n; i++) {
        const struct hj_node *k = &obj->kids[i];
        bool ok = false;
        for (size_t j = 0; allowed[j]; j++)
            ok = ok || !strcmp(allowed[j], k->key);
        if (!ok)
            return perr(err, k->key_line, k->key_col, "unknown field \"%s\" in %s", k->key, ctx);
    }
    return 0;
}

static int strings(const struct hj_node *n, const char *what, struct policy_error *err)
{
    if (n->type != HJ_ARRAY)
        return perr_at(err, n, "%s must be an array of strings", what);
    for (size_t i = 0; i < n->n; i++)
        if (n->kids[i].type != HJ_STRING)
            return perr_at(err, &n->kids[i], "%s must be an array of strings", what);
    return 0;
}

static int proto_parse(const struct hj_node *v, uint8_t *proto, struct policy_error *err)
{
    if (v->type == HJ_STRING && !strcmp(v->str, "tcp"))
        *proto = FILTER_PROTO_TCP;
    else if (v->type == HJ_STRING && !strcmp(v->str, "udp"))
        *proto = FILTER_PROTO_UDP;
    else if (v->type == HJ_STRING && !strcmp(v->str, "icmp"))
        *proto = FILTER_PROTO_ICMP;
    else if (v->type == HJ_STRING && !strcmp(v->str, "*"))
        *proto = FILTER_PROTO_ANY;
    else
        return perr_at(err, v, "proto must be \"tcp\", \"udp\", \"icmp\" or \"*\"");
    return 0;
}

static int parse_geo(const struct policy *p, struct policy_rule *r, const struct hj_node *g,
                     struct policy_error *err)
{
    static const char *const gf[] = {"countries", "cidrs", NULL};
    int ret = fields_check(g, gf, "geo", err);
    if (ret)
        return ret;
    r->has_geo = true;
    const struct hj_node *c = hj_get(g, "countries"), *cidrs = hj_get(g, "cidrs");
    if (c) {
        if ((ret = strings(c, "geo.countries", err)))
            return ret;
        r->countries = calloc(c->n + 1, 3);
        if (!r->countries)
            return -ENOMEM;
        for (size_t i = 0; i < c->n; i++) {
            const char *s = c->kids[i].str;
            if (strlen(s) != 2 || !isalpha((unsigned char)s[0]) || !isalpha((unsigned char)s[1]))
                return perr_at(err, &c->kids[i], "bad country code \"%s\" (ISO 3166 alpha-2)", s);
            r->countries[i][0] = (char)toupper((unsigned char)s[0]);
            r->countries[i][1] = (char)toupper((unsigned char)s[1]);
            r->ncountries++;
        }
    }
    if (cidrs) {
        if ((ret = strings(cidrs, "geo.cidrs", err)))
            return ret;
        r->geo_cidrs = calloc(cidrs->n + 1, sizeof(*r->geo_cidrs));
        if (!r->geo_cidrs)
            return -ENOMEM;
        for (size_t i = 0; i < cidrs->n; i++) {
            const struct hj_node *k = &cidrs->kids[i];
            struct policy_sel *s = &r->geo_cidrs[r->ngeo_cidrs++];
            if ((ret = sel_parse(p, k->str, k->line, k->col, false, s, err)))
                return ret;
            if (s->kind != SEL_CIDR)
                return perr_at(err, k, "geo.cidrs entry \"%s\" is not a CIDR", k->str);
        }
    }
    if (!r->ncountries && !r->ngeo_cidrs)
        return perr_at(err, g, "geo needs countries or cidrs");
    return 0;
}

static int parse_rule(struct policy *p, struct policy_rule *r, const struct hj_node *n,
                      struct policy_error *err)
{
    static const char *const rf[] = {"action", "src", "dst", "proto", "posture", "schedule",
                                     "geo", "requireJit", "approvers", NULL};
    int ret = fields_check(n, rf, "rule", err);
    if (ret)
        return ret;
    r->line = n->line;
    r->col = n->col;
    r->schedule = -1;
    r->sig = hj_hash(n, 0xcbf29ce484222325ULL);
    const struct hj_node *a = hj_get(n, "action"), *src = hj_get(n, "src"), *dst = hj_get(n, "dst");
    if (!a || !src || !dst)
        return perr_at(err, n, "rule needs action, src and dst");
    if (a->type != HJ_STRING || strcmp(a->str, "accept"))
        return perr_at(err, a, "action must be \"accept\" (everything else is denied by default)");
    if ((ret = strings(src, "src", err)) || (ret = strings(dst, "dst", err)))
        return ret;
    if (!src->n || !dst->n)
        return perr_at(err, !src->n ? src : dst, "%s must not be empty", !src->n ? "src" : "dst");
    r->src = calloc(src->n, sizeof(*r->src));
    if (!r->src)
        return -ENOMEM;
    for (size_t i = 0; i < src->n; i++) {
        const struct hj_node *k = &src->kids[i];
        if ((ret = sel_parse(p, k->str, k->line, k->col, false, &r->src[r->nsrc++], err)))
            return ret;
    }
    for (size_t i = 0; i < dst->n; i++) {
        const struct hj_node *k = &dst->kids[i];
        if ((ret = dst_parse(p, k->str, k->line, k->col, &r->dst, &r->ndst, err)))
            return ret;
    }
    const struct hj_node *v;
    r->proto = FILTER_PROTO_ANY;
    if ((v = hj_get(n, "proto")) && (ret = proto_parse(v, &r->proto, err)))
        return ret;
    if ((v = hj_get(n, "posture"))) {
        if ((ret = strings(v, "posture", err)))
            return ret;
        r->postures = calloc(v->n + 1, sizeof(int));
        if (!r->postures)
            return -ENOMEM;
        for (size_t i = 0; i < v->n; i++) {
            int idx = -1;
            for (size_t j = 0; j < p->npostures; j++)
                if (!strcmp(p->postures[j].name, v->kids[i].str))
                    idx = (int)j;
            if (idx < 0)
                return perr_at(err, &v->kids[i], "unknown posture \"%s\"", v->kids[i].str);
            r->postures[r->npostures++] = idx;
        }
    }
    if ((v = hj_get(n, "schedule"))) {
        if (v->type != HJ_STRING)
            return perr_at(err, v, "schedule must be a string");
        for (size_t j = 0; j < p->nschedules; j++)
            if (!strcmp(p->schedules[j].name, v->str))
                r->schedule = (int)j;
        if (r->schedule < 0)
            return perr_at(err, v, "unknown schedule \"%s\"", v->str);
    }
    if ((v = hj_get(n, "geo")) && (ret = parse_geo(p, r, v, err)))
        return ret;
    if ((v = hj_get(n, "requireJit"))) {
        if (v->type != HJ_BOOL)
            return perr_at(err, v, "requireJit must be a boolean");
        r->require_jit = v->b;
    }
    if ((v = hj_get(n, "approvers"))) {
        if (!r->require_jit)
            return perr_at(err, v, "approvers only make sense with \"requireJit\": true");
        if ((ret = strings(v, "approvers", err)))
            return ret;
        r->approvers = calloc(v->n + 1, sizeof(*r->approvers));
        if (!r->approvers)
            return -ENOMEM;
        for (size_t i = 0; i < v->n; i++) {
            const struct hj_node *k = &v->kids[i];
            struct policy_sel *s = &r->approvers[r->napprovers++];
            if ((ret = sel_parse(p, k->str, k->line, k->col, false, s, err)))
                return ret;
            if (s->kind != SEL_USER && s->kind != SEL_GROUP)
                return perr_at(err, k, "approver \"%s\" must be a user or a group", k->str);
        }
    }
    return 0;
}

int policy_parse_rules(struct policy *p, const struct hj_node *n, struct policy_error *err)
{
    if (n->type != HJ_ARRAY)
        return perr_at(err, n, "rules must be an array");
    p->rules = calloc(n->n + 1, sizeof(*p->rules));
    if (!p->rules)
        return -ENOMEM;
    for (size_t i = 0; i < n->n; i++) {
        int ret = parse_rule(p, &p->rules[p->nrules++], &n->kids[i], err);
        if (ret)
            return ret;
    }
    return 0;
}

static int test_list(const struct policy *p, struct policy_test *t, const struct hj_node *v,
                     char ***out, int **pos, size_t *n, struct policy_error *err)
{
    int ret = strings(v, v->key, err);
    if (ret)
        return ret;
    *out = calloc(v->n + 1, sizeof(char *));
    *pos = calloc(v->n + 1, sizeof(int));
    if (!*out || !*pos)
        return -ENOMEM;
    for (size_t i = 0; i < v->n; i++) {
        const struct hj_node *k = &v->kids[i];
        uint16_t r[64][2];
        size_t nr;
        if (t->dst) {
            if (ports_parse(k->str, r, 64, &nr))
                return perr_at(err, k, "bad port \"%s\"", k->str);
        } else {
            struct policy_dst *d = NULL;
            size_t nd = 0;
            ret = dst_parse(p, k->str, k->line, k->col, &d, &nd, err);
            for (size_t j = 0; j < nd; j++)
                sel_clear(&d[j].sel);
            free(d);
            if (ret)
                return ret;
        }
        if (!((*out)[i] = strdup(k->str)))
            return -ENOMEM;
        (*pos)[i] = k->line * 65536 + k->col;
        (*n)++;
    }
    return 0;
}

int policy_parse_tests(struct policy *p, const struct hj_node *n, struct policy_error *err)
{
    static const char *const tf[] = {"src", "dst", "proto", "at", "accept", "deny", NULL};
    int ret;
    if (n->type != HJ_ARRAY)
        return perr_at(err, n, "tests must be an array");
    p->tests = calloc(n->n + 1, sizeof(*p->tests));
    if (!p->tests)
        return -ENOMEM;
    for (size_t i = 0; i < n->n; i++) {
        const struct hj_node *k = &n->kids[i];
        struct policy_test *t = &p->tests[p->ntests++];
        if ((ret = fields_check(k, tf, "test", err)))
            return ret;
        t->line = k->line;
        t->col = k->col;
        t->proto = FILTER_PROTO_TCP;
        const struct hj_node *src = hj_get(k, "src"), *v;
        if (!src || src->type != HJ_STRING)
            return perr_at(err, src ? src : k, "test needs \"src\": a user, tag or address");
        struct policy_sel s;
        ret = sel_parse(p, src->str, src->line, src->col, false, &s, err);
        enum policy_sel_kind kind = s.kind;
        sel_clear(&s);
        if (ret)
            return ret;
        if (kind != SEL_USER && kind != SEL_TAG && !(kind == SEL_CIDR && s.plen == (s.family == 4 ? 32 : 128)))
            return perr_at(err, src, "test src \"%s\" must be a user, a tag or one address", src->str);
        if (!(t->src = strdup(src->str)))
            return -ENOMEM;
        t->src_line = src->line;
        t->src_col = src->col;
        if ((v = hj_get(k, "dst"))) {
            if (v->type != HJ_STRING)
                return perr_at(err, v, "test dst must be a string");
            ret = sel_parse(p, v->str, v->line, v->col, false, &s, err);
            sel_clear(&s);
            if (ret)
                return ret;
            if (!(t->dst = strdup(v->str)))
                return -ENOMEM;
        }
        if ((v = hj_get(k, "proto")) && (ret = proto_parse(v, &t->proto, err)))
            return ret;
        if ((v = hj_get(k, "at"))) {
            if (v->type != HJ_STRING || time_parse(v->str, &t->at))
                return perr_at(err, v, "at must be a time like \"2026-11-23T09:30:00Z\"");
            t->has_at = true;
        }
        if ((v = hj_get(k, "accept")) &&
            (ret = test_list(p, t, v, &t->accept, &t->accept_pos, &t->naccept, err)))
            return ret;
        if ((v = hj_get(k, "deny")) && (ret = test_list(p, t, v, &t->deny, &t->deny_pos, &t->ndeny, err)))
            return ret;
    }
    return 0;
}

static void sels_free(struct policy_sel *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sel_clear(&s[i]);
    free(s);
}

void policy_free(struct policy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->ngroups; i++) {
        for (size_t j = 0; j < p->groups[i].nmembers; j++)
            free(p->groups[i].members[j]);
        free(p->groups[i].members);
        free(p->groups[i].name);
    }
    for (size_t i = 0; i < p->ntags; i++) {
        sels_free(p->tags[i].owners, p->tags[i].nowners);
        free(p->tags[i].name);
    }
    for (size_t i = 0; i < p->nhosts; i++)
        free(p->hosts[i].name);
    for (size_t i = 0; i < p->npostures; i++) {
        free(p->postures[i].name);
        free(p->postures[i].os);
        free(p->postures[i].os_min);
    }
    for (size_t i = 0; i < p->nschedules; i++) {
        free(p->schedules[i].name);
        tz_free(p->schedules[i].tzi);
    }
    for (size_t i = 0; i < p->nrules; i++) {
        struct policy_rule *r = &p->rules[i];
        sels_free(r->src, r->nsrc);
        for (size_t j = 0; j < r->ndst; j++)
            sel_clear(&r->dst[j].sel);
        free(r->dst);
        free(r->postures);
        free(r->countries);
        sels_free(r->geo_cidrs, r->ngeo_cidrs);
        sels_free(r->approvers, r->napprovers);
    }
    for (size_t i = 0; i < p->ntests; i++) {
        struct policy_test *t = &p->tests[i];
        for (size_t j = 0; j < t->naccept; j++)
            free(t->accept[j]);
        for (size_t j = 0; j < t->ndeny; j++)
            free(t->deny[j]);
        free(t->accept);
        free(t->deny);
        free(t->accept_pos);
        free(t->deny_pos);
        free(t->src);
        free(t->dst);
    }
    free(p->groups);
    free(p->tags);
    free(p->hosts);
    free(p->postures);
    free(p->schedules);
    free(p->rules);
    free(p->tests);
    free(p);
}
