/* The compiler proper: per-machine features (valid tags, owner's groups), per-rule source and
 * destination bitsets over machine slots, and one node's inbound filter and peer set from them.
 * Semantics match server/policy/eval.c (the naive evaluator the tests compare against). */
#include "server/policy/engine_int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool sorted_has(const char **arr, size_t n, const char *s)
{
    return n && bsearch(&s, arr, n, sizeof(*arr), cmp_str) != NULL;
}

static bool user_has_group(const struct fleet_user *u, const char *g)
{
    for (size_t i = 0; i < u->ngroups; i++)
        if (!strcmp(u->groups[i], g))
            return true;
    return false;
}

void engine_user_features(struct policy_engine *e, size_t us)
{
    struct euser *u = &e->u[us];
    size_t gw = (e->p->ngroups + 63) / 64;
    memset(u->gbits, 0, (gw ? gw : 1) * 8);
    for (size_t g = 0; g < e->p->ngroups; g++) {
        size_t n = e->p->groups[g].nmembers;
        bool in = sorted_has(e->gsorted[g], n, u->v.email);
        for (size_t k = 0; k < u->v.ngroups && !in; k++)
            in = sorted_has(e->gsorted[g], n, u->v.groups[k]);
        if (in)
            bit_set(u->gbits, g);
    }
}

static bool user_in(const struct policy_engine *e, const struct euser *u, const struct policy_sel *s)
{
    return s->idx >= 0 ? bit_get(u->gbits, (size_t)s->idx) : user_has_group(&u->v, s->name);
}

void engine_machine_features(struct policy_engine *e, size_t slot)
{
    struct emachine *m = &e->m[slot];
    size_t tw = (e->p->ntags + 63) / 64;
    memset(m->tagbits, 0, (tw ? tw : 1) * 8);
    m->tagged = false;
    m->uslot = idmap_get(&e->uid, m->v.owner);
    const struct euser *u = m->uslot >= 0 ? &e->u[m->uslot] : NULL;
    for (size_t i = 0; u && i < m->v.ntags; i++) {
        int t = policy_tag_find(e->p, m->v.tags[i]);
        if (t < 0)
            continue;
        const struct policy_tag *tag = &e->p->tags[t];
        for (size_t k = 0; k < tag->nowners; k++) {
            const struct policy_sel *o = &tag->owners[k];
            if (o->kind == SEL_USER ? !strcmp(o->name, u->v.email) : user_in(e, u, o)) {
                bit_set(m->tagbits, (size_t)t);
                m->tagged = true;
                break;
            }
        }
    }
}

static bool in_prefix(const struct policy_sel *s, const struct fleet_machine *m)
{
    return (m->has_ip4 && eval_prefix_contains(s->family, s->addr, s->plen, 4, m->ip4)) ||
           (m->has_ip6 && eval_prefix_contains(s->family, s->addr, s->plen, 6, m->ip6));
}

static bool sel_fast(const struct policy_engine *e, const struct policy_sel *s, size_t slot)
{
    const struct emachine *m = &e->m[slot];
    const struct euser *u = m->uslot >= 0 ? &e->u[m->uslot] : NULL;
    switch (s->kind) {
    case SEL_ANY: return true;
    case SEL_HOST:
    case SEL_CIDR: return in_prefix(s, &m->v);
    case SEL_TAG: return bit_get(m->tagbits, (size_t)s->idx);
    case SEL_USER: return u && !m->tagged && !strcmp(u->v.email, s->name);
    case SEL_GROUP: return u && !m->tagged && user_in(e, u, s);
    case SEL_MEMBER:
    case SEL_SELF: return u && !m->tagged;
    }
    return false;
}

void engine_rule_machine(struct policy_engine *e, size_t ri, size_t slot, bool *src, bool *dst,
                         bool *dst_ns)
{
    const struct policy_rule *r = &e->p->rules[ri];
    const struct erule *er = &e->r[ri];
    *src = *dst = *dst_ns = false;
    if (!e->m[slot].live)
        return;
    for (size_t i = 0; i < r->ndst && !*dst_ns; i++)
        if (sel_fast(e, &r->dst[i].sel, slot)) {
            *dst = true;
            *dst_ns = r->dst[i].sel.kind != SEL_SELF;
        }
    if (!er->active)
        return;
    for (size_t i = 0; i < r->nsrc && !*src; i++)
        *src = sel_fast(e, &r->src[i], slot);
    if (*src && eval_rule_has_conditions(r)) {
        char why[8];
        struct eval_ctx c = {.p = e->p, .now = e->now, .geo = e->geo};
        *src = eval_src_conditions(&c, r, &e->m[slot].v, why, sizeof(why));
    }
}

int engine_rule_eval(struct policy_engine *e, size_t ri)
{
    const struct policy_rule *r = &e->p->rules[ri];
    struct erule *er = &e->r[ri];
    er->active = r->schedule < 0 || eval_schedule_active(&e->p->schedules[r->schedule], e->now);
    er->raw = !eval_rule_has_conditions(r);
    er->simple = !r->require_jit;
    for (size_t i = 0; i < r->ndst; i++)
        if (r->dst[i].sel.kind == SEL_SELF)
            er->simple = false;
    memset(er->src, 0, e->words * 8);
    memset(er->dst, 0, e->words * 8);
    memset(er->dst_ns, 0, e->words * 8);
    for (size_t s = 0; s < e->nm; s++) {
        bool a, b, c;
        engine_rule_machine(e, ri, s, &a, &b, &c);
        if (a)
            bit_set(er->src, s);
        if (b)
            bit_set(er->dst, s);
        if (c)
            bit_set(er->dst_ns, s);
    }
    return 0;
}

/* --- one node ----------------------------------------------------------------------------- */

struct evec {
    struct filter_entry *e;
    size_t n, cap;
};

static int ev_add(struct evec *v, uint8_t fam, const uint8_t *a, uint8_t plen, uint8_t proto,
                  uint16_t lo, uint16_t hi)
{
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 64;
        struct filter_entry *ne = realloc(v->e, nc * sizeof(*ne));
        if (!ne)
            return -ENOMEM;
        v->e = ne;
        v->cap = nc;
    }
    struct filter_entry *x = &v->e[v->n++];
    memset(x, 0, sizeof(*x));
    x->family = fam;
    x->plen = plen;
    x->proto = proto;
    memcpy(x->addr, a, fam == 4 ? 4 : 16);
    if (proto == FILTER_PROTO_ICMP) {
        lo = 0;
        hi = 65535;
    }
    x->port_lo = lo;
    x->port_hi = hi;
    return 0;
}

static int ev_machine(struct evec *v, const struct fleet_machine *m, uint8_t proto, uint16_t lo,
                      uint16_t hi)
{
    int r = 0;
    if (m->has_ip4)
        r = ev_add(v, 4, m->ip4, 32, proto, lo, hi);
    if (!r && m->has_ip6)
        r = ev_add(v, 6, m->ip6, 128, proto, lo, hi);
    return r;
}

static int cmp_entry(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(struct filter_entry));
}

static int cmp_slot_id(const void *a, const void *b, void *engine)
{
    const struct emachine *m = ((const struct policy_engine *)engine)->m;
    int64_t x = m[*(const size_t *)a].v.id, y = m[*(const size_t *)b].v.id;
    return x < y ? -1 : x > y;
}

/* Brings order and rank up to date after slots became live or were freed: a scan when the live
 * slots are still in id order (the usual case: new machines have the largest ids and take new
 * slots), a sort of the live slots otherwise. */
static int order_refresh(struct policy_engine *e)
{
    int64_t last = INT64_MIN;
    bool in_order = true;
    for (size_t s = 0; s < e->nm && in_order; s++) {
        if (!e->m[s].live)
            continue;
        in_order = e->m[s].v.id > last;
        last = e->m[s].v.id;
    }
    e->order_is_slots = in_order;
    if (!in_order) {
        if (e->caporder < e->capm) {
            size_t *o = realloc(e->order, e->capm * sizeof(*o));
            uint32_t *r = o ? realloc(e->rank, e->capm * sizeof(*r)) : NULL;
            if (o)
                e->order = o;
            if (!r)
                return -ENOMEM;
            e->rank = r;
            e->caporder = e->capm;
        }
        size_t n = 0;
        for (size_t s = 0; s < e->nm; s++)
            if (e->m[s].live)
                e->order[n++] = s;
        qsort_r(e->order, n, sizeof(*e->order), cmp_slot_id, e);
        for (size_t i = 0; i < n; i++)
            e->rank[e->order[i]] = (uint32_t)i;
    }
    e->order_stale = false;
    return 0;
}

/* The ids of the slots set in peers (live slots only), ascending; peers is cleared. */
static size_t peers_sorted(struct policy_engine *e, uint64_t *peers, int64_t *pl)
{
    size_t np = 0;
    if (!e->order_is_slots) { /* move each bit to its slot's rank: then rank order is id order */
        uint64_t *byrank = e->tmp2;
        for (size_t w = 0; w < e->words; w++) {
            for (uint64_t bits = peers[w]; bits; bits &= bits - 1) {
                size_t s = w * 64 + (size_t)__builtin_ctzll(bits);
                if (e->m[s].live) /* ranked; a freed slot is never a peer */
                    bit_set(byrank, e->rank[s]);
            }
            peers[w] = 0;
        }
        for (size_t w = 0; w < e->words; w++) {
            for (uint64_t bits = byrank[w]; bits; bits &= bits - 1)
                pl[np++] = e->m[e->order[w * 64 + (size_t)__builtin_ctzll(bits)]].v.id;
            byrank[w] = 0;
        }
        return np;
    }
    for (size_t w = 0; w < e->words; w++) {
        for (uint64_t bits = peers[w]; bits; bits &= bits - 1)
            pl[np++] = e->m[w * 64 + (size_t)__builtin_ctzll(bits)].v.id;
        peers[w] = 0;
    }
    return np;
}

/* May machine slot s reach x through rule r's dst spec d (s already qualifies as a source)? */
static bool pair_ok(const struct policy_engine *e, const struct policy_rule *r,
                    const struct policy_dst *d, size_t s, size_t x)
{
    const struct emachine *ms = &e->m[s], *mx = &e->m[x];
    if (!sel_fast(e, &d->sel, x))
        return false;
    if (d->sel.kind == SEL_SELF && (ms->v.owner != mx->v.owner || !sel_fast(e, &d->sel, s)))
        return false;
    if (!r->require_jit)
        return true;
    for (size_t k = 0; k < e->ng; k++) {
        const struct fleet_grant *g = &e->g[k];
        if (g->requester == ms->v.owner && g->dst_machine == mx->v.id && g->expires_at > e->now &&
            g->port >= d->port_lo && g->port <= d->port_hi && eval_grant_proto(g, r->proto) >= 0)
            return true;
    }
    return false;
}

static int node_inbound(struct policy_engine *e, size_t ri, size_t slot, struct evec *v, uint64_t *peers)
{
    const struct policy_rule *r = &e->p->rules[ri];
    const struct erule *er = &e->r[ri];
    const struct emachine *me = &e->m[slot];
    int ret = 0;
    for (size_t di = 0; di < r->ndst && !ret; di++) {
        const struct policy_dst *d = &r->dst[di];
        if (!sel_fast(e, &d->sel, slot))
            continue;
        if (r->require_jit) {
            for (size_t k = 0; k < e->ng && !ret; k++) {
                const struct fleet_grant *g = &e->g[k];
                int gp = eval_grant_proto(g, r->proto);
                int us = idmap_get(&e->uid, g->requester);
                if (g->dst_machine != me->v.id || g->expires_at <= e->now || gp < 0 ||
                    g->port < d->port_lo || g->port > d->port_hi || us < 0)
                    continue;
                const struct euser *u = &e->u[us];
                for (size_t j = 0; j < u->nmachines && !ret; j++) {
                    size_t s = (size_t)u->machines[j];
                    if (!bit_get(er->src, s) || !pair_ok(e, r, d, s, slot))
                        continue;
                    ret = ev_machine(v, &e->m[s].v, (uint8_t)gp, g->port, g->port);
                    bit_set(peers, s);
                }
            }
            continue;
        }
        if (d->sel.kind == SEL_SELF) {
            if (me->uslot < 0)
                continue;
            const struct euser *u = &e->u[me->uslot];
            for (size_t j = 0; j < u->nmachines && !ret; j++) {
                size_t s = (size_t)u->machines[j];
                if (!bit_get(er->src, s) || !sel_fast(e, &d->sel, s))
                    continue;
                ret = ev_machine(v, &e->m[s].v, r->proto, d->port_lo, d->port_hi);
                bit_set(peers, s);
            }
            continue;
        }
        if (er->raw && er->active) {
            static const uint8_t zero[16];
            for (size_t i = 0; i < r->nsrc && !ret; i++) {
                const struct policy_sel *s = &r->src[i];
                if (s->kind == SEL_ANY) {
                    ret = ev_add(v, 4, zero, 0, r->proto, d->port_lo, d->port_hi);
                    if (!ret)
                        ret = ev_add(v, 6, zero, 0, r->proto, d->port_lo, d->port_hi);
                } else if (s->kind == SEL_CIDR || s->kind == SEL_HOST) {
                    ret = ev_add(v, s->family, s->addr, s->plen, r->proto, d->port_lo, d->port_hi);
                }
            }
        }
        for (size_t w = 0; w < e->words && !ret; w++) {
            uint64_t bits = er->src[w];
            peers[w] |= bits;
            while (bits && !ret) {
                size_t s = w * 64 + (size_t)__builtin_ctzll(bits);
                bits &= bits - 1;
                ret = ev_machine(v, &e->m[s].v, r->proto, d->port_lo, d->port_hi);
            }
        }
    }
    return ret;
}

static void node_outbound(struct policy_engine *e, size_t ri, size_t slot, uint64_t *peers)
{
    const struct policy_rule *r = &e->p->rules[ri];
    const struct erule *er = &e->r[ri];
    const struct emachine *me = &e->m[slot];
    if (r->require_jit) { /* only where a grant of this machine's owner points */
        for (size_t k = 0; k < e->ng; k++) {
            const struct fleet_grant *g = &e->g[k];
            int x = g->requester == me->v.owner ? idmap_get(&e->mid, g->dst_machine) : -1;
            if (x < 0 || !bit_get(er->dst, (size_t)x))
                continue;
            for (size_t di = 0; di < r->ndst; di++)
                if (pair_ok(e, r, &r->dst[di], slot, (size_t)x)) {
                    bit_set(peers, (size_t)x);
                    break;
                }
        }
        return;
    }
    for (size_t w = 0; w < e->words; w++)
        peers[w] |= er->dst_ns[w];
    if (er->simple || me->uslot < 0)
        return;
    /* autogroup:self: the owner's other devices */
    const struct euser *u = &e->u[me->uslot];
    for (size_t j = 0; j < u->nmachines; j++) {
        size_t x = (size_t)u->machines[j];
        if (!bit_get(er->dst, x))
            continue;
        for (size_t di = 0; di < r->ndst; di++)
            if (r->dst[di].sel.kind == SEL_SELF && pair_ok(e, r, &r->dst[di], slot, x)) {
                bit_set(peers, x);
                break;
            }
    }
}

/* A node's list is kept when it did not change; a changed filter is resized in place where the
 * allocator can, and a changed peer list takes the engine's spare (the previous node's old list:
 * the caller diffs the old one, then makes it the spare). A retag recompiles thousands of nodes
 * whose lists differ by one peer: freeing each list and allocating the next from the requesting
 * thread's own arena grew that arena by ~100 MB per change, page by page. */
static bool list_same(const void *old, size_t oldn, const void *src, size_t n, size_t sz)
{
    return oldn == n && (!n || !memcmp(old, src, n * sz));
}

static void *list_copy(void *old, const void *src, size_t n, size_t sz) /* NULL: ENOMEM */
{
    void *d = realloc(old, (n ? n : 1) * sz);
    if (d)
        memcpy(d, src, n * sz);
    return d;
}

int engine_node_compute(struct policy_engine *e, size_t slot, int64_t **old, size_t *oldn,
                        bool *changed, bool *echanged)
{
    struct emachine *m = &e->m[slot];
    struct evec v = {.e = e->ev, .cap = e->evcap}; /* scratch kept by the engine */
    uint64_t *peers = e->tmp;
    int ret = 0;
    if (e->order_stale && (ret = order_refresh(e)))
        return ret;
    if (e->pcap < e->nm) {
        int64_t *np = realloc(e->pscratch, e->capm * sizeof(*np));
        if (!np)
            return -ENOMEM;
        e->pscratch = np;
        e->pcap = e->capm;
    }
    memset(peers, 0, e->words * 8);
    for (size_t ri = 0; ri < e->nr && !ret; ri++) {
        if (bit_get(e->r[ri].dst, slot))
            ret = node_inbound(e, ri, slot, &v, peers);
        if (!ret && bit_get(e->r[ri].src, slot))
            node_outbound(e, ri, slot, peers);
    }
    e->ev = v.e;
    e->evcap = v.cap;
    if (ret)
        return ret;
    bit_clr(peers, slot);
    if (v.n)
        qsort(v.e, v.n, sizeof(*v.e), cmp_entry);
    size_t u = 0;
    for (size_t i = 0; i < v.n; i++)
        if (!u || memcmp(&v.e[u - 1], &v.e[i], sizeof(*v.e)))
            v.e[u++] = v.e[i];
    /* sorted without a sort: sorting thousands of peers for each of the thousands of nodes a
     * retag recompiles was 40% of the change's CPU */
    int64_t *pl = e->pscratch;
    size_t np = peers_sorted(e, peers, pl);
    struct policy_node *n = &m->node;
    *echanged = !list_same(n->entries, n->nentries, v.e, u, sizeof(*v.e));
    *changed = *echanged;
    if (*echanged) {
        struct filter_entry *ne = u ? list_copy(n->entries, v.e, u, sizeof(*v.e)) : NULL;
        if (u && !ne)
            return -ENOMEM;
        if (!u)
            free(n->entries);
        n->entries = ne;
        n->nentries = u;
    }
    *old = NULL;
    *oldn = 0;
    if (!n->peers || !list_same(n->peers, n->npeers, pl, np, sizeof(*pl))) { /* never NULL */
        *changed = true;
        int64_t *npl = list_copy(e->spare, pl, np, sizeof(*pl));
        if (!npl)
            return -ENOMEM;
        e->spare = NULL;
        *old = n->peers;
        *oldn = n->npeers;
        n->peers = npl;
        n->npeers = np;
    }
    n->machine_id = m->v.id;
    return 0;
}

int engine_policy_prepare(struct policy_engine *e)
{
    const struct policy *p = e->p;
    e->gsorted = calloc(p->ngroups + 1, sizeof(*e->gsorted));
    if (!e->gsorted)
        return -ENOMEM;
    for (size_t g = 0; g < p->ngroups; g++) {
        e->gsorted[g] = malloc((p->groups[g].nmembers + 1) * sizeof(char *));
        if (!e->gsorted[g])
            return -ENOMEM;
        memcpy(e->gsorted[g], p->groups[g].members, p->groups[g].nmembers * sizeof(char *));
        qsort(e->gsorted[g], p->groups[g].nmembers, sizeof(char *), cmp_str);
    }
    return 0;
}

void engine_boundary_update(struct policy_engine *e)
{
    const struct policy *p = e->p;
    int64_t nb = INT64_MAX;
    for (size_t s = 0; s < p->nschedules; s++) {
        bool used = false;
        for (size_t r = 0; r < p->nrules && !used; r++)
            used = p->rules[r].schedule == (int)s;
        if (used) {
            int64_t t = eval_schedule_next(&p->schedules[s], e->now);
            nb = t < nb ? t : nb;
        }
    }
    for (size_t k = 0; k < e->ng; k++)
        if (e->g[k].expires_at > e->now && e->g[k].expires_at < nb)
            nb = e->g[k].expires_at;
    for (size_t ps = 0; ps < p->npostures; ps++) {
        bool used = false;
        for (size_t r = 0; r < p->nrules && !used; r++)
            for (size_t i = 0; i < p->rules[r].npostures && !used; i++)
                used = p->rules[r].postures[i] == (int)ps;
        for (size_t s = 0; used && s < e->nm; s++) {
            const struct posture_report *rep = &e->m[s].v.posture;
            int64_t t = rep->reported_at + p->postures[ps].max_age + 1;
            if (e->m[s].live && rep->present && t > e->now && t < nb)
                nb = t;
        }
    }
    e->next_boundary = nb;
}
