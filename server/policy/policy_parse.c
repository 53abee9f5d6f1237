/* Policy document -> struct policy: field tables per section, name resolution in dependency
 * order (hosts, groups, tagOwners, postures, schedules, rules, tests), every error positioned. */
#include "common/filter/filter.h"
#include "server/policy/policy_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_fields(const struct hj_node *obj, const char *const *allowed, const char *ctx,
                        struct policy_error *err)
{
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

static int want(const struct hj_node *n, enum hj_type t, const char *what, struct policy_error *err)
{
    if (n->type != t)
        return perr_at(err, n, "%s must be %s %s, not %s", what, t == HJ_ARRAY || t == HJ_OBJECT ? "an" : "a",
                       hj_type_name(t), hj_type_name(n->type));
    return 0;
}

static int want_strings(const struct hj_node *n, const char *what, struct policy_error *err)
{
    int r = want(n, HJ_ARRAY, what, err);
    for (size_t i = 0; !r && i < n->n; i++)
        r = want(&n->kids[i], HJ_STRING, what, err);
    return r;
}

static int parse_hosts(struct policy *p, const struct hj_node *n, struct policy_error *err)
{
    int r = want(n, HJ_OBJECT, "hosts", err);
    if (r)
        return r;
    p->hosts = calloc(n->n + 1, sizeof(*p->hosts));
    if (!p->hosts)
        return -ENOMEM;
    for (size_t i = 0; i < n->n; i++) {
        const struct hj_node *k = &n->kids[i];
        struct policy_host *h = &p->hosts[p->nhosts++];
        h->name = strdup(k->key);
        h->line = k->key_line;
        h->col = k->key_col;
        if (!h->name)
            return -ENOMEM;
        if (!*k->key || strchr(k->key, ':') || strchr(k->key, '@') || strchr(k->key, '/') ||
            !strcmp(k->key, "*"))
            return perr(err, k->key_line, k->key_col, "bad host name \"%s\"", k->key);
        if ((r = want(k, HJ_STRING, "a host address", err)))
            return r;
        if (filter_prefix_parse(k->str, &h->family, h->addr, &h->plen))
            return perr_at(err, k, "bad address or prefix \"%s\" for host \"%s\"", k->str, k->key);
    }
    return 0;
}

/* Group flattening with cycle detection: state 0 new, 1 on the stack, 2 done. */
static int group_flatten(struct policy *p, const struct hj_node *groups, size_t gi, int *state,
                         int depth, struct policy_error *err)
{
    struct policy_group *g = &p->groups[gi];
    const struct hj_node *def = &groups->kids[gi];
    if (state[gi] == 2)
        return 0;
    state[gi] = 1;
    for (size_t i = 0; i < def->n; i++) {
        const struct hj_node *m = &def->kids[i];
        const char *s = m->str;
        size_t add_n = 1;
        char **add = (char **)&s;
        if (!strncmp(s, "group:", 6) && strncmp(s, "group:oidc:", 11)) {
            int sub = policy_group_find(p, s);
            if (sub < 0)
                return perr_at(err, m, "unknown group \"%s\" in %s", s, g->name);
            if (state[sub] == 1)
                return perr_at(err, m, "group cycle: %s includes %s, which includes %s", g->name, s,
                               g->name);
            if (depth >= POLICY_MAX_GROUP_DEPTH)
                return perr_at(err, m, "groups nested deeper than %d", POLICY_MAX_GROUP_DEPTH);
            int r = group_flatten(p, groups, (size_t)sub, state, depth + 1, err);
            if (r)
                return r;
            add = p->groups[sub].members;
            add_n = p->groups[sub].nmembers;
        } else if (strncmp(s, "group:oidc:", 11) && !strchr(s, '@')) {
            return perr_at(err, m, "group member \"%s\" is neither an email nor a group", s);
        }
        for (size_t j = 0; j < add_n; j++) {
            bool dup = false;
            for (size_t k = 0; k < g->nmembers && !dup; k++)
                dup = !strcmp(g->members[k], add[j]);
            if (dup)
                continue;
            char **nm = realloc(g->members, (g->nmembers + 1) * sizeof(*nm));
            if (!nm)
                return -ENOMEM;
            g->members = nm;
            if (!(nm[g->nmembers] = strdup(add[j])))
                return -ENOMEM;
            for (char *c = nm[g->nmembers]; *c && strchr(nm[g->nmembers], '@'); c++)
                *c = (char)tolower((unsigned char)*c);
            g->nmembers++;
        }
    }
    state[gi] = 2;
    return 0;
}

static int parse_groups(struct policy *p, const struct hj_node *n, struct policy_error *err)
{
    int r = want(n, HJ_OBJECT, "groups", err);
    if (r)
        return r;
    p->groups = calloc(n->n + 1, sizeof(*p->groups));
    int *state = calloc(n->n + 1, sizeof(int));
    if (!p->groups || !state) {
        free(state);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n->n && !r; i++) {
        const struct hj_node *k = &n->kids[i];
        struct policy_group *g = &p->groups[p->ngroups++];
        g->line = k->key_line;
        g->col = k->key_col;
        if (!(g->name = strdup(k->key)))
            r = -ENOMEM;
        else if (strncmp(k->key, "group:", 6) || !k->key[6] || !strncmp(k->key, "group:oidc:", 11))
            r = perr(err, k->key_line, k->key_col,
                     "group name \"%s\" must start with \"group:\" (group:oidc: is reserved)", k->key);
        else
            r = want_strings(k, "a group's members", err);
    }
    for (size_t i = 0; i < n->n && !r; i++)
        r = group_flatten(p, n, i, state, 0, err);
    free(state);
    return r;
}

static int parse_tag_owners(struct policy *p, const struct hj_node *n, struct policy_error *err)
{
    int r = want(n, HJ_OBJECT, "tagOwners", err);
    if (r)
        return r;
    p->tags = calloc(n->n + 1, sizeof(*p->tags));
    if (!p->tags)
        return -ENOMEM;
    for (size_t i = 0; i < n->n; i++) {
        const struct hj_node *k = &n->kids[i];
        struct policy_tag *t = &p->tags[p->ntags++];
        t->line = k->key_line;
        t->col = k->key_col;
        if (!(t->name = strdup(k->key)))
            return -ENOMEM;
        if (strncmp(k->key, "tag:", 4) || !k->key[4])
            return perr(err, k->key_line, k->key_col, "tag name \"%s\" must start with \"tag:\"", k->key);
        if ((r = want_strings(k, "a tag's owners", err)))
            return r;
        t->owners = calloc(k->n + 1, sizeof(*t->owners));
        if (!t->owners)
            return -ENOMEM;
        for (size_t j = 0; j < k->n; j++) {
            const struct hj_node *o = &k->kids[j];
            r = sel_parse(p, o->str, o->line, o->col, false, &t->owners[t->nowners++], err);
            if (r)
                return r;
            if (t->owners[t->nowners - 1].kind != SEL_USER && t->owners[t->nowners - 1].kind != SEL_GROUP)
                return perr_at(err, o, "tag owner \"%s\" must be a user or a group", o->str);
        }
    }
    return 0;
}

static int duration_parse(const struct hj_node *n, int64_t *out)
{
    if (n->type == HJ_NUMBER) {
        if (n->num < 0 || n->num > 1e9)
            return -EINVAL;
        *out = (int64_t)n->num;
        return 0;
    }
    if (n->type != HJ_STRING)
        return -EINVAL;
    char *end;
    long long v = strtoll(n->str, &end, 10);
    int64_t mul = !strcmp(end, "s") ? 1 : !strcmp(end, "m") ? 60 : !strcmp(end, "h") ? 3600
                  : !strcmp(end, "d") ? 86400 : 0;
    if (end == n->str || v < 0 || v > 100000000 || !mul)
        return -EINVAL;
    *out = v * mul;
    return 0;
}

static bool version_ok(const char *s)
{
    if (strlen(s) >= 32)
        return false;
    for (const char *c = s; *c; c++)
        if (!isdigit((unsigned char)*c) && *c != '.')
            return false;
    return true;
}

static int parse_posture(struct policy_posture *ps, const struct hj_node *k, struct policy_error *err)
{
    static const char *const fields[] = {"os", "diskEncryption", "firewall", "screenLock",
                                         "antivirus", "agentVersion", "maxReportAge", NULL};
    int r = want(k, HJ_OBJECT, "a posture", err);
    if (r || (r = check_fields(k, fields, "posture", err)))
        return r;
    ps->max_age = POLICY_DEFAULT_MAX_AGE;
    for (size_t i = 0; i < k->n; i++) {
        const struct hj_node *v = &k->kids[i];
        int8_t *flag = !strcmp(v->key, "diskEncryption") ? &ps->disk_encryption
                       : !strcmp(v->key, "firewall")     ? &ps->firewall
                       : !strcmp(v->key, "screenLock")   ? &ps->screen_lock
                       : !strcmp(v->key, "antivirus")    ? &ps->antivirus
                                                         : NULL;
        if (flag) {
            if ((r = want(v, HJ_BOOL, v->key, err)))
                return r;
            *flag = v->b;
        } else if (!strcmp(v->key, "os")) {
            if ((r = want(v, HJ_OBJECT, "os", err)))
                return r;
            ps->os = calloc(v->n + 1, sizeof(*ps->os));
            ps->os_min = calloc(v->n + 1, sizeof(*ps->os_min));
            if (!ps->os || !ps->os_min)
                return -ENOMEM;
            for (size_t j = 0; j < v->n; j++) {
                const struct hj_node *o = &v->kids[j];
                if (strlen(o->key) == 0 || strlen(o->key) >= 16)
                    return perr(err, o->key_line, o->key_col, "bad OS name \"%s\"", o->key);
                if ((r = want(o, HJ_STRING, "a minimum OS version", err)))
                    return r;
                if (!version_ok(o->str))
                    return perr_at(err, o, "bad version \"%s\" (digits and dots)", o->str);
                snprintf(ps->os[j], sizeof(ps->os[j]), "%s", o->key);
                snprintf(ps->os_min[j], sizeof(ps->os_min[j]), "%s", o->str);
                ps->nos++;
            }
        } else if (!strcmp(v->key, "agentVersion")) {
            if ((r = want(v, HJ_STRING, "agentVersion", err)))
                return r;
            if (!version_ok(v->str))
                return perr_at(err, v, "bad version \"%s\" (digits and dots)", v->str);
            snprintf(ps->agent_min, sizeof(ps->agent_min), "%s", v->str);
        } else if (duration_parse(v, &ps->max_age)) {
            return perr_at(err, v, "bad duration for maxReportAge (seconds, or \"30m\", \"24h\", \"7d\")");
        }
    }
    return 0;
}

static int parse_postures(struct policy *p, const struct hj_node *n, struct policy_error *err)
{
    int r = want(n, HJ_OBJECT, "postures", err);
    if (r)
        return r;
    p->postures = calloc(n->n + 1, sizeof(*p->postures));
    if (!p->postures)
        return -ENOMEM;
    for (size_t i = 0; i < n->n; i++) {
        const struct hj_node *k = &n->kids[i];
        struct policy_posture *ps = &p->postures[p->npostures++];
        ps->line = k->key_line;
        ps->col = k->key_col;
        if (!(ps->name = strdup(k->key)))
            return -ENOMEM;
        if (strncmp(k->key, "posture:", 8) || !k->key[8])
            return perr(err, k->key_line, k->key_col, "posture name \"%s\" must start with \"posture:\"", k->key);
        if ((r = parse_posture(ps, k, err)))
            return r;
    }
    return 0;
}

static int parse_schedule(struct policy_schedule *s, const struct hj_node *k, struct policy_error *err)
{
    static const char *const fields[] = {"timezone", "days", "hours", NULL};
    static const char *const dn[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
    int r = want(k, HJ_OBJECT, "a schedule", err);
    if (r || (r = check_fields(k, fields, "schedule", err)))
        return r;
    const struct hj_node *tz = hj_get(k, "timezone"), *days = hj_get(k, "days"), *h = hj_get(k, "hours");
    if (!tz || !days || !h)
        return perr_at(err, k, "schedule \"%s\" needs timezone, days and hours", s->name);
    if ((r = want(tz, HJ_STRING, "timezone", err)) || (r = want_strings(days, "days", err)) ||
        (r = want(h, HJ_STRING, "hours", err)))
        return r;
    snprintf(s->tz, sizeof(s->tz), "%s", tz->str);
    if (tz_load(tz->str, &s->tzi))
        return perr_at(err, tz, "unknown time zone \"%s\"", tz->str);
    for (size_t i = 0; i < days->n; i++) {
        const char *d = days->kids[i].str;
        int bit = -1;
        for (int j = 0; j < 7; j++)
            if (!strcmp(d, dn[j]))
                bit = j;
        if (!strcmp(d, "weekdays"))
            s->days |= 0x3e;
        else if (!strcmp(d, "weekend"))
            s->days |= 0x41;
        else if (!strcmp(d, "*"))
            s->days |= 0x7f;
        else if (bit >= 0)
            s->days |= (uint8_t)(1u << bit);
        else
            return perr_at(err, &days->kids[i], "unknown day \"%s\" (sun..sat, weekdays, weekend, *)", d);
    }
    int h1, m1, h2, m2, used = 0;
    if (sscanf(h->str, "%2d:%2d-%2d:%2d%n", &h1, &m1, &h2, &m2, &used) != 4 || h->str[used] ||
        h1 > 23 || m1 > 59 || h2 > 24 || m2 > 59 || (h2 == 24 && m2) || h1 < 0 || m1 < 0 || h2 < 0 || m2 < 0)
        return perr_at(err, h, "bad hours \"%s\" (HH:MM-HH:MM)", h->str);
    s->from_min = h1 * 60 + m1;
    s->to_min = h2 * 60 + m2;
    if (s->from_min >= s->to_min)
        return perr_at(err, h, "hours \"%s\": start must be before end", h->str);
    return 0;
}

static int parse_schedules(struct policy *p, const struct hj_node *n, struct policy_error *err)
{
    int r = want(n, HJ_OBJECT, "schedules", err);
    if (r)
        return r;
    p->schedules = calloc(n->n + 1, sizeof(*p->schedules));
    if (!p->schedules)
        return -ENOMEM;
    for (size_t i = 0; i < n->n; i++) {
        const struct hj_node *k = &n->kids[i];
        struct policy_schedule *s = &p->schedules[p->nschedules++];
        s->line = k->key_line;
        s->col = k->key_col;
        if (!(s->name = strdup(k->key)))
            return -ENOMEM;
        if ((r = parse_schedule(s, k, err)))
            return r;
    }
    return 0;
}

int policy_parse_rules(struct policy *p, const struct hj_node *n, struct policy_error *err);
int policy_parse_tests(struct policy *p, const struct hj_node *n, struct policy_error *err);

int policy_parse(const char *text, size_t len, struct policy **out, struct policy_error *err)
{
    static const char *const top[] = {"groups", "tagOwners", "hosts", "postures", "schedules",
                                       "rules", "tests", NULL};
    static const char *const defs[] = {"groups", "tagOwners", "hosts", "postures", "schedules"};
    struct hj_node *root = NULL;
    struct hj_error he;
    struct policy *p = NULL;
    int ret = -EINVAL;
    memset(err, 0, sizeof(*err));
    *out = NULL;
    if (!hj_parse(text, len, &root, &he)) {
        ret = perr(err, he.line, he.col, "%s", he.msg);
        goto out;
    }
    if ((ret = want(root, HJ_OBJECT, "the policy", err)) || (ret = check_fields(root, top, "policy", err)))
        goto out;
    p = calloc(1, sizeof(*p));
    if (!p) {
        ret = -ENOMEM;
        goto out;
    }
    p->defs_sig = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < 5; i++) {
        const struct hj_node *d = hj_get(root, defs[i]);
        p->defs_sig = d ? hj_hash(d, p->defs_sig) : p->defs_sig * 31 + i;
    }
    const struct hj_node *s;
    if ((s = hj_get(root, "hosts")) && (ret = parse_hosts(p, s, err)))
        goto out;
    if ((s = hj_get(root, "groups")) && (ret = parse_groups(p, s, err)))
        goto out;
    if ((s = hj_get(root, "tagOwners")) && (ret = parse_tag_owners(p, s, err)))
        goto out;
    if ((s = hj_get(root, "postures")) && (ret = parse_postures(p, s, err)))
        goto out;
    if ((s = hj_get(root, "schedules")) && (ret = parse_schedules(p, s, err)))
        goto out;
    if ((s = hj_get(root, "rules")) && (ret = policy_parse_rules(p, s, err)))
        goto out;
    if ((s = hj_get(root, "tests")) && (ret = policy_parse_tests(p, s, err)))
        goto out;
    *out = p;
    p = NULL;
    ret = 0;
out:
    if (ret == -ENOMEM)
        perr(err, 0, 0, "out of memory");
    policy_free(p);
    hj_free(root);
    return ret;
}
