/* Policy tests (identity-level: a hypothetical compliant device per identity) and the check of
 * a fleet's tags against tagOwners. */
#include "common/filter/filter.h"
#include "server/policy/compile.h"
#include "server/policy/policy_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A synthetic identity for one side of a test. */
struct ident {
    struct fleet_user user;
    const char *groups[1];
    struct fleet_machine m;
    const char *tags[1];
    bool bare;                 /* an address, no machine */
    uint8_t family, addr[16];
};

/* An email (or IdP group) that may apply tag t, so that the synthetic machine carries it. */
static void tag_owner(const struct policy *p, int t, struct ident *id)
{
    const struct policy_tag *tag = &p->tags[t];
    id->user.email = "nobody@invalid";
    for (size_t i = 0; i < tag->nowners; i++) {
        const struct policy_sel *o = &tag->owners[i];
        if (o->kind == SEL_USER) {
            id->user.email = o->name;
            return;
        }
        if (o->idx < 0) {
            id->groups[0] = o->name;
            id->user.groups = id->groups;
            id->user.ngroups = 1;
            return;
        }
        const struct policy_group *g = &p->groups[o->idx];
        for (size_t j = 0; j < g->nmembers; j++) {
            if (strchr(g->members[j], '@')) {
                id->user.email = g->members[j];
                return;
            }
            id->groups[0] = g->members[j];
            id->user.groups = id->groups;
            id->user.ngroups = 1;
            return;
        }
    }
}

static int ident_make(const struct policy *p, const char *name, int64_t uid, struct ident *id,
                      struct policy_error *err, int line, int col)
{
    struct policy_sel s;
    memset(id, 0, sizeof(*id));
    int ret = sel_parse(p, name, line, col, false, &s, err);
    if (ret) {
        sel_clear(&s);
        return ret;
    }
    id->user.id = uid;
    id->m.id = uid;
    id->m.owner = uid;
    id->m.name = "test";
    id->m.posture = (struct posture_report){.present = true};
    switch (s.kind) {
    case SEL_USER:
        id->user.email = name; /* sel_parse lower-cased its copy; names in tests are as written */
        break;
    case SEL_TAG:
        tag_owner(p, s.idx, id);
        id->tags[0] = p->tags[s.idx].name;
        id->m.tags = id->tags;
        id->m.ntags = 1;
        break;
    case SEL_GROUP:
        if (s.idx >= 0 && p->groups[s.idx].nmembers && strchr(p->groups[s.idx].members[0], '@')) {
            id->user.email = p->groups[s.idx].members[0];
        } else {
            id->user.email = "member@invalid";
            /* an IdP-group member (group:oidc:x), or a group whose first member is one */
            id->groups[0] = s.idx >= 0 && p->groups[s.idx].nmembers ? p->groups[s.idx].members[0]
                                                                    : name;
            id->user.groups = id->groups;
            id->user.ngroups = 1;
        }
        break;
    case SEL_HOST:
    case SEL_CIDR:
        id->bare = true;
        id->family = s.family;
        memcpy(id->addr, s.addr, 16);
        if (s.family == 4) {
            id->m.has_ip4 = true;
            memcpy(id->m.ip4, s.addr, 4);
        } else {
            id->m.has_ip6 = true;
            memcpy(id->m.ip6, s.addr, 16);
        }
        id->user.email = "nobody@invalid";
        break;
    default: /* *, autogroup:member: some member's device */
        id->user.email = "member@invalid";
        break;
    }
    sel_clear(&s);
    return 0;
}

static int test_one(const struct policy *p, const struct policy_test *t, int64_t now,
                    const char *dst, uint16_t port, bool want, int pos, struct policy_error *err)
{
    struct ident *a = calloc(2, sizeof(*a)), *b = a + 1;
    int ret;
    if (!a)
        return -ENOMEM;
    if ((ret = ident_make(p, t->src, 1, a, err, t->src_line, t->src_col)) ||
        (ret = ident_make(p, dst, 2, b, err, pos / 65536, pos % 65536)))
        goto out;
    struct fleet_user users[2] = {a->user, b->user};
    struct fleet_machine ms[2] = {a->m, b->m};
    ms[0].tags = a->tags;
    ms[1].tags = b->tags;
    users[0].groups = a->user.ngroups ? a->groups : NULL;
    users[1].groups = b->user.ngroups ? b->groups : NULL;
    struct fleet f = {.users = users, .nusers = 2, .machines = ms, .nmachines = 2};
    struct eval_ctx c = {.p = p, .f = &f, .now = t->has_at ? t->at : now};
    struct policy_query q = {.src_machine = a->bare ? 0 : 1, .src_family = a->family,
                             .dst_machine = 2, .port = port, .proto = t->proto};
    memcpy(q.src_addr, a->addr, 16);
    struct policy_verdict v;
    eval_explain(&c, true, &q, &v);
    if (v.accept != want)
        ret = perr(err, pos / 65536, pos % 65536, "test failed: %s -> %s port %u: expected %s, got %s (%s)",
                   t->src, dst, port, want ? "accept" : "deny", v.accept ? "accept" : "deny", v.reason);
out:
    free(a);
    return ret;
}

static int test_entries(const struct policy *p, const struct policy_test *t, int64_t now,
                        char **list, const int *pos, size_t n, bool want, struct policy_error *err)
{
    for (size_t i = 0; i < n; i++) {
        uint16_t r[64][2];
        size_t nr;
        char dst[POLICY_MAX_NAME];
        const char *ports = list[i];
        if (t->dst) {
            snprintf(dst, sizeof(dst), "%s", t->dst);
        } else {
            const char *colon = strrchr(list[i], ':');
            snprintf(dst, sizeof(dst), "%.*s", (int)(colon - list[i]), list[i]);
            ports = colon + 1;
            size_t l = strlen(dst);
            if (l > 2 && dst[0] == '[' && dst[l - 1] == ']') {
                memmove(dst, dst + 1, l - 2);
                dst[l - 2] = '\0';
            }
        }
        if (ports_parse(ports, r, 64, &nr))
            return perr(err, pos[i] / 65536, pos[i] % 65536, "bad port");
        for (size_t k = 0; k < nr; k++) {
            int ret = test_one(p, t, now, dst, r[k][0], want, pos[i], err);
            if (!ret && r[k][1] != r[k][0])
                ret = test_one(p, t, now, dst, r[k][1], want, pos[i], err);
            if (ret)
                return ret;
        }
    }
    return 0;
}

int policy_tests_run(const struct policy *p, int64_t now, struct policy_error *err)
{
    memset(err, 0, sizeof(*err));
    for (size_t i = 0; i < p->ntests; i++) {
        const struct policy_test *t = &p->tests[i];
        int ret = test_entries(p, t, now, t->accept, t->accept_pos, t->naccept, true, err);
        if (!ret)
            ret = test_entries(p, t, now, t->deny, t->deny_pos, t->ndeny, false, err);
        if (ret)
            return ret;
    }
    return 0;
}

int policy_fleet_check(const struct policy *p, const struct fleet *f, struct policy_error *err)
{
    memset(err, 0, sizeof(*err));
    for (size_t i = 0; i < f->nmachines; i++) {
        const struct fleet_machine *m = &f->machines[i];
        for (size_t j = 0; j < m->ntags; j++) {
            int t = policy_tag_find(p, m->tags[j]);
            if (t < 0)
                return perr(err, 0, 0, "machine \"%s\" carries unknown tag \"%s\" (not in tagOwners)",
                            m->name, m->tags[j]);
            if (!eval_machine_has_tag(p, f, m, t)) {
                const struct fleet_user *u = eval_user(f, m->owner);
                return perr(err, p->tags[t].line, p->tags[t].col,
                            "machine \"%s\" carries %s, but its owner %s may not apply it",
                            m->name, p->tags[t].name, u ? u->email : "(unknown user)");
            }
        }
    }
    return 0;
}
