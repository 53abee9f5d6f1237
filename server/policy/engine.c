/* Incremental engine: owns a copy of the fleet, the per-rule caches and every node's result.
 * A change computes the set of affected machine slots from the rule caches before and after,
 * recompiles those nodes, and records which results actually changed. */
#include "server/policy/engine_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* --- id map ------------------------------------------------------------------------------- */

static size_t idhash(int64_t id, size_t cap)
{
    uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ULL;
    return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

int idmap_get(const struct idmap *m, int64_t id)
{
    if (!m->cap)
        return -1;
    for (size_t i = idhash(id, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->vals[i] == -2)
            return -1;
        if (m->keys[i] == id)
            return m->vals[i];
    }
}

int idmap_put(struct idmap *m, int64_t id, int val)
{
    if ((m->used + 1) * 2 > m->cap) {
        struct idmap n = {.cap = m->cap ? m->cap * 2 : 64};
        n.keys = malloc(n.cap * sizeof(*n.keys));
        n.vals = malloc(n.cap * sizeof(*n.vals));
        if (!n.keys || !n.vals) {
            idmap_free(&n);
            return -ENOMEM;
        }
        for (size_t i = 0; i < n.cap; i++)
            n.vals[i] = -2; /* empty */
        for (size_t i = 0; i < m->cap; i++)
            if (m->vals[i] != -2)
                idmap_put(&n, m->keys[i], m->vals[i]);
        idmap_free(m);
        *m = n;
    }
    size_t i = idhash(id, m->cap);
    while (m->vals[i] != -2 && m->keys[i] != id)
        i = (i + 1) & (m->cap - 1);
    if (m->vals[i] == -2)
        m->used++;
    m->keys[i] = id;
    m->vals[i] = val;
    return 0;
}

void idmap_free(struct idmap *m)
{
    free(m->keys);
    free(m->vals);
    m->keys = NULL;
    m->vals = NULL;
}

/* --- copies of fleet records --------------------------------------------------------------- */

static char *dup0(const char *s) { return s ? strdup(s) : NULL; }

static void machine_strings_free(struct fleet_machine *v)
{
    for (size_t i = 0; i < v->ntags; i++)
        free((char *)v->tags[i]);
    free((void *)v->tags);
    free((char *)v->name);
    free((char *)v->country);
    free((char *)v->posture.os);
    free((char *)v->posture.os_version);
    free((char *)v->posture.agent_version);
}

static int machine_copy(struct fleet_machine *d, const struct fleet_machine *s)
{
    *d = *s;
    d->tags = calloc(s->ntags + 1, sizeof(char *));
    d->name = dup0(s->name ? s->name : "");
    d->country = dup0(s->country);
    d->posture.os = dup0(s->posture.os);
    d->posture.os_version = dup0(s->posture.os_version);
    d->posture.agent_version = dup0(s->posture.agent_version);
    if (!d->tags || !d->name)
        return -ENOMEM;
    for (size_t i = 0; i < s->ntags; i++)
        if (!(((char **)d->tags)[i] = strdup(s->tags[i])))
            return -ENOMEM;
    return 0;
}

static void user_strings_free(struct fleet_user *v)
{
    for (size_t i = 0; i < v->ngroups; i++)
        free((char *)v->groups[i]);
    free((void *)v->groups);
    free((char *)v->email);
}

static int user_copy(struct fleet_user *d, const struct fleet_user *s)
{
    *d = *s;
    d->email = strdup(s->email ? s->email : "");
    d->groups = calloc(s->ngroups + 1, sizeof(char *));
    if (!d->email || !d->groups)
        return -ENOMEM;
    for (size_t i = 0; i < s->ngroups; i++)
        if (!(((char **)d->groups)[i] = strdup(s->groups[i])))
            return -ENOMEM;
    return 0;
}

/* --- slots and capacity --------------------------------------------------------------------- */

static size_t tag_words(const struct policy_engine *e) { return (e->p->ntags + 63) / 64 + 1; }
static size_t group_words(const struct policy_engine *e) { return (e->p->ngroups + 63) / 64 + 1; }

static int rules_alloc(struct policy_engine *e, struct erule **out, size_t n)
{
    struct erule *r = calloc(n + 1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    *out = r;
    for (size_t i = 0; i < n; i++) {
        r[i].src = calloc(e->words ? e->words : 1, 8);
        r[i].dst = calloc(e->words ? e->words : 1, 8);
        r[i].dst_ns = calloc(e->words ? e->words : 1, 8);
        if (!r[i].src || !r[i].dst || !r[i].dst_ns)
            return -ENOMEM;
    }
    return 0;
}

static void rules_free(struct erule *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++) {
        free(r[i].src);
        free(r[i].dst);
        free(r[i].dst_ns);
    }
    free(r);
}

static int grow_bits(uint64_t **b, size_t old, size_t nw)
{
    uint64_t *n = realloc(*b, nw * 8);
    if (!n)
        return -ENOMEM;
    memset(n + old, 0, (nw - old) * 8);
    *b = n;
    return 0;
}

static int machine_slot_new(struct policy_engine *e, size_t *slot)
{
    for (size_t i = 0; i < e->nm; i++)
        if (!e->m[i].live && !e->m[i].node.entries && !e->m[i].v.tags) {
            *slot = i;
            return 0;
        }
    if (e->nm == e->capm) {
        size_t nc = e->capm ? e->capm * 2 : 64, nw = nc / 64, ow = e->words;
        struct emachine *nm = realloc(e->m, nc * sizeof(*nm));
        if (!nm)
            return -ENOMEM;
        e->m = nm;
        memset(e->m + e->capm, 0, (nc - e->capm) * sizeof(*nm));
        for (size_t r = 0; r < e->nr; r++)
            if (grow_bits(&e->r[r].src, ow, nw) || grow_bits(&e->r[r].dst, ow, nw) ||
                grow_bits(&e->r[r].dst_ns, ow, nw))
                return -ENOMEM;
        if (grow_bits(&e->affected, ow, nw) || grow_bits(&e->tmp, ow, nw) ||
            grow_bits(&e->tmp2, ow, nw))
            return -ENOMEM;
        e->capm = nc;
        e->words = nw;
    }
    *slot = e->nm++;
    return 0;
}

static int user_slot(struct policy_engine *e, const struct fleet_user *u, size_t *slot)
{
    int s = idmap_get(&e->uid, u->id);
    if (s >= 0) {
        user_strings_free(&e->u[s].v);
    } else {
        if (e->nu == e->capu) {
            size_t nc = e->capu ? e->capu * 2 : 64;
            struct euser *nu = realloc(e->u, nc * sizeof(*nu));
            if (!nu)
                return -ENOMEM;
            e->u = nu;
            memset(e->u + e->capu, 0, (nc - e->capu) * sizeof(*nu));
            e->capu = nc;
        }
        s = (int)e->nu++;
        e->u[s].gbits = calloc(group_words(e), 8);
        if (!e->u[s].gbits || idmap_put(&e->uid, u->id, s))
            return -ENOMEM;
    }
    e->u[s].live = true;
    *slot = (size_t)s;
    return user_copy(&e->u[s].v, u);
}

static int user_machine_link(struct policy_engine *e, size_t ms, bool add)
{
    int us = idmap_get(&e->uid, e->m[ms].v.owner);
    if (us < 0)
        return 0;
    struct euser *u = &e->u[us];
    for (size_t i = 0; i < u->nmachines; i++)
        if (u->machines[i] == (int)ms) {
            if (!add)
                u->machines[i] = u->machines[--u->nmachines];
            return 0;
        }
    if (!add)
        return 0;
    if (u->nmachines == u->capm) {
        size_t nc = u->capm ? u->capm * 2 : 4;
        int *n = realloc(u->machines, nc * sizeof(int));
        if (!n)
            return -ENOMEM;
        u->machines = n;
        u->capm = nc;
    }
    u->machines[u->nmachines++] = (int)ms;
    return 0;
}

/* --- change bookkeeping ------------------------------------------------------------------- */

static int id_push(int64_t **v, size_t *n, size_t *cap, int64_t id)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        int64_t *nv = realloc(*v, nc * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = id;
    return 0;
}

/* id's result changed; filter: its entries did (or it is new or gone) */
static int changed_add2(struct policy_engine *e, int64_t id, bool filter)
{
    int ret = id_push(&e->changed, &e->nchanged, &e->capchanged, id);
    if (!ret && filter)
        ret = id_push(&e->fchanged, &e->nfchanged, &e->capfchanged, id);
    return ret;
}

static int changed_add(struct policy_engine *e, int64_t id)
{
    return changed_add2(e, id, true);
}

static void changes_reset(struct policy_engine *e)
{
    e->nchanged = 0;
    e->nfchanged = 0;
    e->nlinks = 0;
    e->links_lost = false;
}

static void link_add(struct policy_engine *e, int64_t a, int64_t b)
{
    if (e->links_lost)
        return;
    if (e->nlinks == e->caplinks) {
        size_t nc = e->caplinks ? e->caplinks * 2 : 64;
        struct policy_link *n = nc <= POLICY_LINKS_MAX ? realloc(e->links, nc * sizeof(*n)) : NULL;
        if (!n) { /* the caller falls back to "every map" */
            e->links_lost = true;
            return;
        }
        e->links = n;
        e->caplinks = nc;
    }
    e->links[e->nlinks++] = a < b ? (struct policy_link){a, b} : (struct policy_link){b, a};
}

/* The peers of `id` that are in one sorted list and not the other (both ways). The lists mostly
 * differ in a peer or two out of thousands, so equal runs are skipped a block at a time. */
static void links_diff(struct policy_engine *e, int64_t id, const int64_t *x, size_t nx,
                       const int64_t *y, size_t ny)
{
    size_t i = 0, j = 0;
    while (i < nx && j < ny) {
        size_t k = 0, lim = nx - i < ny - j ? nx - i : ny - j;
        while (k + 16 <= lim && !memcmp(x + i + k, y + j + k, 16 * sizeof(*x)))
            k += 16;
        while (k < lim && x[i + k] == y[j + k])
            k++;
        i += k;
        j += k;
        if (i < nx && j < ny)
            link_add(e, id, x[i] < y[j] ? x[i++] : y[j++]);
    }
    while (i < nx)
        link_add(e, id, x[i++]);
    while (j < ny)
        link_add(e, id, y[j++]);
}

/* Recompiles every slot set in e->affected; records the ones whose result changed, and the peer
 * links each of those made or broke. */
static int recompile_affected(struct policy_engine *e)
{
    int ret = 0;
    for (size_t w = 0; w < e->words && !ret; w++)
        for (uint64_t bits = e->affected[w]; bits && !ret; bits &= bits - 1) {
            size_t s = w * 64 + (size_t)__builtin_ctzll(bits);
            if (s >= e->nm || !e->m[s].live)
                continue;
            struct policy_node *node = &e->m[s].node;
            bool fresh = !node->peers, changed = false, echanged = false;
            int64_t *op = NULL;
            size_t on = 0;
            /* on failure the old result stays */
            ret = engine_node_compute(e, s, &op, &on, &changed, &echanged);
            if (!ret && (fresh || changed)) {
                ret = changed_add2(e, e->m[s].v.id, fresh || echanged);
                if (op) /* a new node's links are the netmap's news of the node itself */
                    links_diff(e, e->m[s].v.id, op, on, node->peers, node->npeers);
            }
            if (op) {
                free(e->spare);
                e->spare = op;
            }
        }
    memset(e->affected, 0, e->words * 8);
    engine_boundary_update(e);
    return ret;
}

/* Marks everything a machine's membership in rule ri touches. */
static void affect_rule(struct policy_engine *e, size_t ri, bool src, bool dst)
{
    for (size_t w = 0; w < e->words; w++)
        e->affected[w] |= (src ? e->r[ri].dst[w] : 0) | (dst ? e->r[ri].src[w] : 0);
}

/* Re-derives a machine's rule bits. Other nodes depend on a machine only through those bits, its
 * addresses and its owner (autogroup:self, JIT grants): when moved is false (same addresses and
 * owner) a rule whose bits for it did not change touches nobody else. So a heartbeat that changes
 * nothing the policy looks at recompiles one node, not every peer of it. */
static void machine_refresh(struct policy_engine *e, size_t slot, bool moved)
{
    engine_machine_features(e, slot);
    for (size_t ri = 0; ri < e->nr; ri++) {
        bool os = bit_get(e->r[ri].src, slot), od = bit_get(e->r[ri].dst, slot), ns, nd, nn;
        bool on = bit_get(e->r[ri].dst_ns, slot);
        engine_rule_machine(e, ri, slot, &ns, &nd, &nn);
        (ns ? bit_set : bit_clr)(e->r[ri].src, slot);
        (nd ? bit_set : bit_clr)(e->r[ri].dst, slot);
        (nn ? bit_set : bit_clr)(e->r[ri].dst_ns, slot);
        affect_rule(e, ri, (os || ns) && (moved || os != ns),
                    (od || nd) && (moved || od != nd || on != nn));
    }
    bit_set(e->affected, slot);
}

static bool same_place(const struct fleet_machine *a, const struct fleet_machine *b)
{
    return a->owner == b->owner && a->has_ip4 == b->has_ip4 && a->has_ip6 == b->has_ip6 &&
           (!a->has_ip4 || !memcmp(a->ip4, b->ip4, 4)) && (!a->has_ip6 || !memcmp(a->ip6, b->ip6, 16));
}

static int full_recompile(struct policy_engine *e)
{
    for (size_t s = 0; s < e->nm; s++)
        if (e->m[s].live)
            engine_machine_features(e, s);
    for (size_t r = 0; r < e->nr; r++)
        engine_rule_eval(e, r);
    for (size_t s = 0; s < e->nm; s++)
        if (e->m[s].live)
            bit_set(e->affected, s);
    return recompile_affected(e);
}

/* --- API ---------------------------------------------------------------------------------- */

static int machine_put(struct policy_engine *e, const struct fleet_machine *m, size_t *slot_out)
{
    int s = idmap_get(&e->mid, m->id);
    size_t slot;
    int ret;
    if (s >= 0) {
        slot = (size_t)s;
        user_machine_link(e, slot, false);
        machine_strings_free(&e->m[slot].v);
    } else {
        if ((ret = machine_slot_new(e, &slot)) || (ret = idmap_put(&e->mid, m->id, (int)slot)))
            return ret;
        free(e->m[slot].tagbits);
        e->m[slot].tagbits = calloc(tag_words(e), 8);
        if (!e->m[slot].tagbits)
            return -ENOMEM;
    }
    if (!e->m[slot].live)
        e->order_stale = true;
    e->m[slot].live = true;
    if ((ret = machine_copy(&e->m[slot].v, m)) || (ret = user_machine_link(e, slot, true)))
        return ret;
    *slot_out = slot;
    return 0;
}

int policy_engine_new(struct policy_engine **out, const struct policy *p,
                      const struct policy_geo *geo, const struct fleet *f, int64_t now)
{
    struct policy_engine *e = calloc(1, sizeof(*e));
    int ret = -ENOMEM;
    size_t slot;
    *out = NULL;
    if (!e)
        return -ENOMEM;
    e->p = p;
    e->geo = geo;
    e->now = now;
    e->affected = calloc(1, 8);
    e->tmp = calloc(1, 8);
    e->tmp2 = calloc(1, 8);
    if (!e->affected || !e->tmp || !e->tmp2 || (ret = engine_policy_prepare(e)) ||
        (ret = rules_alloc(e, &e->r, p->nrules)))
        goto err;
    e->nr = p->nrules;
    for (size_t i = 0; i < f->nusers; i++)
        if ((ret = user_slot(e, &f->users[i], &slot)))
            goto err;
    for (size_t i = 0; i < f->nusers; i++)
        engine_user_features(e, i);
    for (size_t i = 0; i < f->nmachines; i++)
        if ((ret = machine_put(e, &f->machines[i], &slot)))
            goto err;
    for (size_t i = 0; i < f->ngrants; i++)
        if ((ret = policy_engine_grant_add(e, &f->grants[i])))
            goto err;
    changes_reset(e);
    if ((ret = full_recompile(e)))
        goto err;
    *out = e;
    return 0;
err:
    policy_engine_free(e);
    return ret;
}

static void gsorted_free(struct policy_engine *e, const struct policy *p)
{
    for (size_t g = 0; e->gsorted && g < p->ngroups; g++)
        free(e->gsorted[g]);
    free(e->gsorted);
    e->gsorted = NULL;
}

void policy_engine_free(struct policy_engine *e)
{
    if (!e)
        return;
    for (size_t s = 0; s < e->nm; s++) {
        if (e->m[s].v.tags)
            machine_strings_free(&e->m[s].v);
        free(e->m[s].tagbits);
        free(e->m[s].node.entries);
        free(e->m[s].node.peers);
    }
    for (size_t u = 0; u < e->nu; u++) {
        user_strings_free(&e->u[u].v);
        free(e->u[u].gbits);
        free(e->u[u].machines);
    }
    rules_free(e->r, e->nr);
    gsorted_free(e, e->p);
    idmap_free(&e->mid);
    idmap_free(&e->uid);
    free(e->m);
    free(e->u);
    free(e->g);
    free(e->changed);
    free(e->fchanged);
    free(e->links);
    free(e->affected);
    free(e->tmp);
    free(e->tmp2);
    free(e->ev);
    free(e->pscratch);
    free(e->spare);
    free(e->order);
    free(e->rank);
    free(e->fusers);
    free(e->fmachines);
    free(e);
}

int policy_engine_machine_upsert(struct policy_engine *e, const struct fleet_machine *m)
{
    size_t slot;
    int old = idmap_get(&e->mid, m->id);
    bool moved = old < 0 || !e->m[old].live || !same_place(&e->m[old].v, m);
    changes_reset(e);
    int ret = machine_put(e, m, &slot);
    if (ret)
        return ret;
    machine_refresh(e, slot, moved);
    return recompile_affected(e);
}

int policy_engine_machine_remove(struct policy_engine *e, int64_t id)
{
    int s = idmap_get(&e->mid, id);
    changes_reset(e);
    if (s < 0)
        return -ENOENT;
    struct emachine *m = &e->m[s];
    for (size_t ri = 0; ri < e->nr; ri++) {
        affect_rule(e, ri, bit_get(e->r[ri].src, (size_t)s), bit_get(e->r[ri].dst, (size_t)s));
        bit_clr(e->r[ri].src, (size_t)s);
        bit_clr(e->r[ri].dst, (size_t)s);
        bit_clr(e->r[ri].dst_ns, (size_t)s);
    }
    bit_clr(e->affected, (size_t)s);
    user_machine_link(e, (size_t)s, false);
    machine_strings_free(&m->v);
    free(m->node.entries);
    free(m->node.peers);
    memset(&m->v, 0, sizeof(m->v));
    memset(&m->node, 0, sizeof(m->node));
    m->live = false;
    e->order_stale = true;
    idmap_put(&e->mid, id, -1);
    int ret = changed_add(e, id);
    return ret ? ret : recompile_affected(e);
}

static bool same_user(const struct fleet_user *a, const struct fleet_user *b)
{
    if (strcmp(a->email ? a->email : "", b->email ? b->email : "") || a->ngroups != b->ngroups)
        return false;
    for (size_t i = 0; i < a->ngroups; i++)
        if (strcmp(a->groups[i], b->groups[i]))
            return false;
    return true;
}

int policy_engine_user_upsert(struct policy_engine *e, const struct fleet_user *u)
{
    size_t us;
    int old = idmap_get(&e->uid, u->id);
    changes_reset(e);
    if (old >= 0 && e->u[old].live && same_user(&e->u[old].v, u))
        return 0; /* nothing the policy reads changed (the server upserts on every heartbeat) */
    int ret = user_slot(e, u, &us);
    if (ret)
        return ret;
    engine_user_features(e, us);
    /* machines registered before their owner now link up */
    for (size_t s = 0; s < e->nm; s++)
        if (e->m[s].live && e->m[s].v.owner == u->id && (ret = user_machine_link(e, s, true)))
            return ret;
    for (size_t i = 0; i < e->u[us].nmachines; i++)
        machine_refresh(e, (size_t)e->u[us].machines[i], true);
    return recompile_affected(e);
}

static void grant_affect(struct policy_engine *e, const struct fleet_grant *g)
{
    int d = idmap_get(&e->mid, g->dst_machine), us = idmap_get(&e->uid, g->requester);
    if (d >= 0)
        bit_set(e->affected, (size_t)d);
    for (size_t i = 0; us >= 0 && i < e->u[us].nmachines; i++)
        bit_set(e->affected, (size_t)e->u[us].machines[i]);
}

int policy_engine_grant_add(struct policy_engine *e, const struct fleet_grant *g)
{
    changes_reset(e);
    if (e->ng == e->capg) {
        size_t nc = e->capg ? e->capg * 2 : 16;
        struct fleet_grant *n = realloc(e->g, nc * sizeof(*n));
        if (!n)
            return -ENOMEM;
        e->g = n;
        e->capg = nc;
    }
    e->g[e->ng++] = *g;
    grant_affect(e, g);
    return recompile_affected(e);
}

int policy_engine_grant_remove(struct policy_engine *e, int64_t grant_id)
{
    changes_reset(e);
    for (size_t k = 0; k < e->ng; k++)
        if (e->g[k].id == grant_id) {
            struct fleet_grant g = e->g[k];
            e->g[k] = e->g[--e->ng];
            grant_affect(e, &g);
            return recompile_affected(e);
        }
    return -ENOENT;
}

static bool stale(const struct posture_report *r, int64_t max_age, int64_t t)
{
    return r->present && t - r->reported_at > max_age;
}

/* Only what time can flip: rules whose schedule turned on or off, machines whose posture report
 * went stale (or fresh, when time moves back), grants that expired in between. */
int policy_engine_set_now(struct policy_engine *e, int64_t now)
{
    const struct policy *p = e->p;
    int64_t old = e->now;
    changes_reset(e);
    e->now = now;
    for (size_t ri = 0; ri < e->nr; ri++) {
        const struct policy_rule *r = &p->rules[ri];
        if (r->schedule < 0 ||
            eval_schedule_active(&p->schedules[r->schedule], now) == e->r[ri].active)
            continue;
        for (size_t w = 0; w < e->words; w++)
            e->affected[w] |= e->r[ri].src[w] | e->r[ri].dst[w];
        engine_rule_eval(e, ri);
        for (size_t w = 0; w < e->words; w++)
            e->affected[w] |= e->r[ri].src[w] | e->r[ri].dst[w];
    }
    for (size_t s = 0; s < e->nm; s++) {
        bool flip = false;
        for (size_t ps = 0; e->m[s].live && ps < p->npostures && !flip; ps++)
            flip = stale(&e->m[s].v.posture, p->postures[ps].max_age, old) !=
                   stale(&e->m[s].v.posture, p->postures[ps].max_age, now);
        if (flip)
            machine_refresh(e, s, false);
    }
    for (size_t k = 0; k < e->ng; k++)
        if ((e->g[k].expires_at > old) != (e->g[k].expires_at > now))
            grant_affect(e, &e->g[k]);
    return recompile_affected(e);
}

int policy_engine_set_policy(struct policy_engine *e, const struct policy *p)
{
    const struct policy *old = e->p;
    struct erule *nr = NULL;
    bool *used = calloc(old->nrules + 1, sizeof(bool));
    int ret = -ENOMEM;
    changes_reset(e);
    if (!used)
        return -ENOMEM;
    gsorted_free(e, old);
    e->p = p;
    if ((ret = engine_policy_prepare(e)) || (ret = rules_alloc(e, &nr, p->nrules)))
        goto out;
    if (old->defs_sig != p->defs_sig) {
        /* groups, tags, hosts, postures or schedules changed: everything may have */
        for (size_t u = 0; u < e->nu; u++) {
            free(e->u[u].gbits);
            if (!(e->u[u].gbits = calloc(group_words(e), 8)))
                goto out;
            engine_user_features(e, u);
        }
        for (size_t s = 0; s < e->nm; s++) {
            free(e->m[s].tagbits);
            if (!(e->m[s].tagbits = calloc(tag_words(e), 8)))
                goto out;
        }
        rules_free(e->r, e->nr);
        e->r = nr;
        e->nr = p->nrules;
        nr = NULL;
        ret = full_recompile(e);
        goto out;
    }
    /* same definitions: keep the caches of unchanged rules, recompute the rest */
    for (size_t i = 0; i < p->nrules; i++) {
        size_t j;
        for (j = 0; j < old->nrules; j++)
            if (!used[j] && old->rules[j].sig == p->rules[i].sig)
                break;
        if (j < old->nrules) {
            used[j] = true;
            memcpy(nr[i].src, e->r[j].src, e->words * 8);
            memcpy(nr[i].dst, e->r[j].dst, e->words * 8);
            memcpy(nr[i].dst_ns, e->r[j].dst_ns, e->words * 8);
            nr[i].active = e->r[j].active;
            nr[i].raw = e->r[j].raw;
            nr[i].simple = e->r[j].simple;
            continue;
        }
        struct erule *keep = e->r;
        e->r = nr;
        engine_rule_eval(e, i);
        e->r = keep;
        for (size_t w = 0; w < e->words; w++)
            e->affected[w] |= nr[i].src[w] | nr[i].dst[w];
    }
    for (size_t j = 0; j < old->nrules; j++)
        if (!used[j])
            for (size_t w = 0; w < e->words; w++)
                e->affected[w] |= e->r[j].src[w] | e->r[j].dst[w];
    rules_free(e->r, e->nr);
    e->r = nr;
    e->nr = p->nrules;
    nr = NULL;
    ret = recompile_affected(e);
out:
    rules_free(nr, p->nrules);
    free(used);
    return ret;
}

const int64_t *policy_engine_changed(const struct policy_engine *e, size_t *n)
{
    *n = e->nchanged;
    return e->changed;
}

const int64_t *policy_engine_filters_changed(const struct policy_engine *e, size_t *n)
{
    *n = e->nfchanged;
    return e->fchanged;
}

const struct policy_link *policy_engine_links(const struct policy_engine *e, size_t *n)
{
    static const struct policy_link none[1];
    *n = e->links_lost ? 0 : e->nlinks;
    return e->links_lost ? NULL : e->links ? e->links : none;
}

const struct policy_node *policy_engine_node(const struct policy_engine *e, int64_t machine_id)
{
    int s = idmap_get(&e->mid, machine_id);
    return s >= 0 && e->m[s].live ? &e->m[s].node : NULL;
}

const struct fleet_machine *policy_engine_machine(const struct policy_engine *e, int64_t machine_id)
{
    int s = idmap_get(&e->mid, machine_id);
    return s >= 0 && e->m[s].live ? &e->m[s].v : NULL;
}

int64_t policy_engine_next_boundary(const struct policy_engine *e) { return e->next_boundary; }

bool policy_node_has_peer(const struct policy_node *n, int64_t id)
{
    size_t lo = 0, hi = n ? n->npeers : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (n->peers[mid] == id)
            return true;
        if (n->peers[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

int policy_engine_seers(const struct policy_engine *e, int64_t id, int64_t **out, size_t *n)
{
    const struct policy_node *me = policy_engine_node(e, id);
    *out = NULL;
    *n = 0;
    if (!me)
        return -ENOENT;
    /* peers are "may reach or be reached by", so b is among a's peers exactly when a is among
     * b's (test_policy_compile checks it on random policies): no scan of every other node */
    int64_t *v = malloc((me->npeers + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    memcpy(v, me->peers, me->npeers * sizeof(*v));
    *out = v;
    *n = me->npeers;
    return 0;
}

const struct fleet *policy_engine_fleet(struct policy_engine *e)
{
    free(e->fusers);
    free(e->fmachines);
    e->fusers = calloc(e->nu + 1, sizeof(*e->fusers));
    e->fmachines = calloc(e->nm + 1, sizeof(*e->fmachines));
    if (!e->fusers || !e->fmachines)
        return NULL;
    size_t nu = 0, nm = 0;
    for (size_t i = 0; i < e->nu; i++)
        e->fusers[nu++] = e->u[i].v;
    for (size_t i = 0; i < e->nm; i++)
        if (e->m[i].live)
            e->fmachines[nm++] = e->m[i].v;
    e->fview = (struct fleet){.users = e->fusers, .nusers = nu, .machines = e->fmachines,
                              .nmachines = nm, .grants = e->g, .ngrants = e->ng};
    return &e->fview;
}
