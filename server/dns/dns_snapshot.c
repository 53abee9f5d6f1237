/* Building immutable answer snapshots: zones, address records, a name hash table and one
 * prebuilt response template per (name, kind of question). See dns_snapshot_int.h. */
#include "server/dns/dns_server.h"
#include "server/dns/dns_limits.h"
#include "server/dns/dns_snapshot_int.h"
#include "common/dns/dns_build.h"
#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ZONE_MAX_NS 8

struct pending_zone {
    struct dns_name apex;   /* lower case */
    uint32_t serial;
    struct dns_name ns[ZONE_MAX_NS];
    unsigned n_ns;
};

struct pending_rr {
    struct dns_name name;   /* lower case */
    uint16_t type;
    uint8_t rdlen;
    uint8_t rdata[16];
};

struct dns_snapshot_builder {
    struct pending_zone *zones;
    size_t n_zones, cap_zones;
    struct pending_rr *rrs;
    size_t n_rrs, cap_rrs;
};

/* Per-node build state, parallel to snapshot nodes. */
struct bnode {
    int64_t first_rr;   /* chain through rr_next, -1 = none */
    int64_t apex_zone;  /* zone index if this node is a zone apex, else -1 */
};

struct build {
    struct dns_snapshot *s;
    size_t arena_cap, nodes_cap;
    struct bnode *bn;
    int64_t *rr_next;
    uint8_t *scratch;   /* DNS_MSG_MAX bytes */
};

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 16;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, nc * elem);
    if (!np)
        return -ENOMEM;
    *p = np;
    *cap = nc;
    return 0;
}

struct dns_snapshot_builder *dns_snapshot_builder_new(void)
{
    return calloc(1, sizeof(struct dns_snapshot_builder));
}

void dns_snapshot_builder_free(struct dns_snapshot_builder *b)
{
    if (!b)
        return;
    free(b->zones);
    free(b->rrs);
    free(b);
}

int dns_snapshot_builder_add_zone(struct dns_snapshot_builder *b, const char *apex,
                                  uint32_t serial, const char *const *ns, size_t n_ns)
{
    struct pending_zone z = {.serial = serial};
    if (dns_name_from_text(&z.apex, apex) < 0 || z.apex.len <= 1 || n_ns > ZONE_MAX_NS)
        return -EINVAL;
    dns_name_lower(&z.apex);
    for (size_t i = 0; i < n_ns; i++) {
        if (dns_name_from_text(&z.ns[i], ns[i]) < 0 || z.ns[i].len <= 1)
            return -EINVAL;
        dns_name_lower(&z.ns[i]);
    }
    z.n_ns = (unsigned)n_ns;
    if (n_ns == 0) {
        if (z.apex.len + 3 > DNS_NAME_MAX)
            return -EINVAL;
        memcpy(z.ns[0].wire, "\2ns", 3);
        memcpy(z.ns[0].wire + 3, z.apex.wire, z.apex.len);
        z.ns[0].len = (uint8_t)(z.apex.len + 3);
        z.n_ns = 1;
    }
    if (b->n_zones >= DNS_SNAP_MAX_ZONES)
        return -E2BIG;
    if (grow((void **)&b->zones, &b->cap_zones, b->n_zones + 1, sizeof(*b->zones)) < 0)
        return -ENOMEM;
    b->zones[b->n_zones++] = z;
    return 0;
}

static int add_rr(struct dns_snapshot_builder *b, const char *name, uint16_t type,
                  const void *rdata, uint8_t rdlen)
{
    struct pending_rr r = {.type = type, .rdlen = rdlen};
    if (dns_name_from_text(&r.name, name) < 0 || r.name.len <= 1)
        return -EINVAL;
    dns_name_lower(&r.name);
    memcpy(r.rdata, rdata, rdlen);
    if (b->n_rrs >= DNS_SNAP_MAX_RECORDS)
        return -E2BIG;
    if (grow((void **)&b->rrs, &b->cap_rrs, b->n_rrs + 1, sizeof(*b->rrs)) < 0)
        return -ENOMEM;
    b->rrs[b->n_rrs++] = r;
    return 0;
}

int dns_snapshot_builder_add_a(struct dns_snapshot_builder *b, const char *name,
                               struct in_addr addr)
{
    return add_rr(b, name, DNS_TYPE_A, &addr.s_addr, 4);
}

int dns_snapshot_builder_add_aaaa(struct dns_snapshot_builder *b, const char *name,
                                  const struct in6_addr *addr)
{
    return add_rr(b, name, DNS_TYPE_AAAA, addr->s6_addr, 16);
}

void dns_snapshot_free(struct dns_snapshot *s)
{
    if (!s)
        return;
    free(s->arena);
    free(s->nodes);
    free(s->table);
    free(s->zones);
    free(s);
}

size_t dns_snapshot_name_count(const struct dns_snapshot *s) { return s->n_nodes; }

static int arena_put(struct build *bd, const void *p, size_t n, uint32_t *off)
{
    struct dns_snapshot *s = bd->s;
    if (s->arena_len + n > UINT32_MAX)
        return -E2BIG;
    if (grow((void **)&s->arena, &bd->arena_cap, s->arena_len + n, 1) < 0)
        return -ENOMEM;
    memcpy(s->arena + s->arena_len, p, n);
    *off = (uint32_t)s->arena_len;
    s->arena_len += n;
    return 0;
}

/* Finds or adds the node for a lower-case name. The table is sized for every possible node
 * before the first insert, so it never fills up. */
static int node_get(struct build *bd, const uint8_t *w, size_t len, uint32_t zone, uint32_t *idx)
{
    struct dns_snapshot *s = bd->s;
    uint32_t h = dns_key_hash(w, len);
    const struct dns_node *found = dns_snapshot_find(s, w, len, h);
    if (found) {
        *idx = (uint32_t)(found - s->nodes);
        return 0;
    }
    if (grow((void **)&s->nodes, &bd->nodes_cap, s->n_nodes + 1, sizeof(*s->nodes)) < 0)
        return -ENOMEM;
    struct bnode *nb = realloc(bd->bn, bd->nodes_cap * sizeof(*bd->bn));
    if (!nb)
        return -ENOMEM;
    bd->bn = nb;
    struct dns_node *n = &s->nodes[s->n_nodes];
    memset(n, 0, sizeof(*n));
    int r = arena_put(bd, w, len, &n->key_off);
    if (r < 0)
        return r;
    n->key_len = (uint8_t)len;
    n->hash = h;
    n->zone = zone;
    bd->bn[s->n_nodes] = (struct bnode){.first_rr = -1, .apex_zone = -1};
    uint32_t i = h & s->mask;
    while (s->table[i])
        i = (i + 1) & s->mask;
    s->table[i] = s->n_nodes + 1;
    *idx = s->n_nodes++;
    return 0;
}

/* The zone whose apex is the longest suffix of name; -1 if none. */
static int64_t zone_of(struct build *bd, const struct dns_name *name)
{
    for (size_t i = 0; i < name->len && name->wire[i];) {
        size_t l = name->len - i;
        const struct dns_node *n =
            dns_snapshot_find(bd->s, name->wire + i, l, dns_key_hash(name->wire + i, l));
        if (n && bd->bn[n - bd->s->nodes].apex_zone >= 0)
            return bd->bn[n - bd->s->nodes].apex_zone;
        i += 1 + (size_t)name->wire[i];
    }
    return -1;
}

/* --- Templates ------------------------------------------------------------------------------ */

static void soa_rname(const struct pending_zone *pz, struct dns_name *rname)
{
    /* hostmaster.<apex>, or the bare apex if that would not fit */
    if (pz->apex.len + 11 <= DNS_NAME_MAX) {
        memcpy(rname->wire, "\12hostmaster", 11);
        memcpy(rname->wire + 11, pz->apex.wire, pz->apex.len);
        rname->len = (uint8_t)(pz->apex.len + 11);
    } else {
        *rname = pz->apex;
    }
}

static void soa_times(const struct pending_zone *pz, uint32_t t[static 5])
{
    t[0] = pz->serial;
    t[1] = 3600;   /* refresh */
    t[2] = 600;    /* retry */
    t[3] = 86400;  /* expire */
    t[4] = DNS_NEG_TTL;
}

/* The SOA RR for NXDOMAIN answers without its owner (added per packet as a pointer into the
 * question), and without compression so that it can be copied anywhere. */
static int zone_neg_build(struct build *bd, const struct dns_snapshot_builder *b, size_t z)
{
    const struct pending_zone *pz = &b->zones[z];
    struct dns_name rname;
    uint32_t t[5];
    struct dns_builder bl;

    soa_rname(pz, &rname);
    soa_times(pz, t);
    dns_builder_init(&bl, bd->scratch, DNS_MSG_MAX);
    dns_builder_u16(&bl, DNS_TYPE_SOA);
    dns_builder_u16(&bl, DNS_CLASS_IN);
    dns_builder_u32(&bl, DNS_NEG_TTL);
    dns_builder_u16(&bl, (uint16_t)(pz->ns[0].len + rname.len + 20));
    dns_builder_name(&bl, &pz->ns[0], false);
    dns_builder_name(&bl, &rname, false);
    for (int i = 0; i < 5; i++)
        dns_builder_u32(&bl, t[i]);
    if (!dns_builder_ok(&bl))
        return -E2BIG;
    bd->s->zones[z].neg_len = (uint16_t)bl.len;
    return arena_put(bd, bl.buf, bl.len, &bd->s->zones[z].neg_off);
}

static void tmpl_begin(struct build *bd, struct dns_builder *bl, const struct dns_name *qn,
                       uint16_t qtype)
{
    struct dns_header h = {.flags = DNS_FLAG_QR | DNS_FLAG_AA, .qdcount = 1};
    dns_builder_init(bl, bd->scratch, DNS_MSG_MAX);
    dns_builder_header(bl, &h);
    dns_builder_question(bl, qn, qtype, DNS_CLASS_IN);
}

static int tmpl_end(struct build *bd, struct dns_builder *bl, uint16_t an, uint16_t ns,
                    uint16_t ar, struct dns_tmpl *t)
{
    dns_builder_set_count(bl, 1, an);
    dns_builder_set_count(bl, 2, ns);
    dns_builder_set_count(bl, 3, ar);
    if (!dns_builder_ok(bl))
        return -E2BIG;
    t->len = (uint32_t)bl->len;
    return arena_put(bd, bl->buf, bl->len, &t->off);
}

static unsigned rrset_put(struct build *bd, const struct dns_snapshot_builder *b,
                          struct dns_builder *bl, uint32_t node, const struct dns_name *owner,
                          uint16_t type)
{
    unsigned n = 0;
    for (int64_t r = bd->bn[node].first_rr; r >= 0; r = bd->rr_next[r]) {
        if (b->rrs[r].type != type)
            continue;
        dns_builder_rr(bl, owner, type, DNS_TTL, b->rrs[r].rdata, b->rrs[r].rdlen);
        n++;
    }
    return n;
}

static int node_templates_build(struct build *bd, const struct dns_snapshot_builder *b,
                                uint32_t i)
{
    struct dns_snapshot *s = bd->s;
    struct dns_node *n = &s->nodes[i];
    const struct pending_zone *pz = &b->zones[n->zone];
    bool apex = bd->bn[i].apex_zone >= 0;
    struct dns_name qn, rname;
    struct dns_builder bl;
    uint32_t times[5];
    unsigned cnt;
    int r;

    qn.len = n->key_len;
    memcpy(qn.wire, s->arena + n->key_off, n->key_len);
    soa_rname(pz, &rname);
    soa_times(pz, times);

    /* NODATA (RFC 2308 2.2): NOERROR, empty answer, the zone's SOA in authority. */
    tmpl_begin(bd, &bl, &qn, DNS_TYPE_A);
    dns_builder_rr_soa(&bl, &pz->apex, DNS_NEG_TTL, &pz->ns[0], &rname, times);
    if ((r = tmpl_end(bd, &bl, 0, 1, 0, &n->t[TK_NODATA])) < 0)
        return r;
    for (int k = 0; k < TK_COUNT; k++)
        n->t[k] = n->t[TK_NODATA];

    tmpl_begin(bd, &bl, &qn, DNS_TYPE_A);
    if ((cnt = rrset_put(bd, b, &bl, i, &qn, DNS_TYPE_A)) &&
        (r = tmpl_end(bd, &bl, (uint16_t)cnt, 0, 0, &n->t[TK_A])) < 0)
        return r;
    tmpl_begin(bd, &bl, &qn, DNS_TYPE_AAAA);
    if ((cnt = rrset_put(bd, b, &bl, i, &qn, DNS_TYPE_AAAA)) &&
        (r = tmpl_end(bd, &bl, (uint16_t)cnt, 0, 0, &n->t[TK_AAAA])) < 0)
        return r;

    if (apex) {
        tmpl_begin(bd, &bl, &qn, DNS_TYPE_SOA);
        dns_builder_rr_soa(&bl, &qn, DNS_NEG_TTL, &pz->ns[0], &rname, times);
        if ((r = tmpl_end(bd, &bl, 1, 0, 0, &n->t[TK_SOA])) < 0)
            return r;
        tmpl_begin(bd, &bl, &qn, DNS_TYPE_NS);
        for (unsigned k = 0; k < pz->n_ns; k++)
            dns_builder_rr_name(&bl, &qn, DNS_TYPE_NS, DNS_TTL, &pz->ns[k]);
        /* Glue for name servers inside the snapshot. */
        unsigned glue = 0;
        for (unsigned k = 0; k < pz->n_ns; k++) {
            const struct dns_name *nn = &pz->ns[k];
            const struct dns_node *g =
                dns_snapshot_find(s, nn->wire, nn->len, dns_key_hash(nn->wire, nn->len));
            if (!g)
                continue;
            glue += rrset_put(bd, b, &bl, (uint32_t)(g - s->nodes), nn, DNS_TYPE_A);
            glue += rrset_put(bd, b, &bl, (uint32_t)(g - s->nodes), nn, DNS_TYPE_AAAA);
        }
        if ((r = tmpl_end(bd, &bl, (uint16_t)pz->n_ns, 0, (uint16_t)glue, &n->t[TK_NS])) < 0)
            return r;
    }

    /* ANY (RFC 8482 4.1): one RRset, not all of them. The question type is patched per
     * packet, so sharing another kind's template is fine. */
    if (n->t[TK_A].off != n->t[TK_NODATA].off)
        n->t[TK_ANY] = n->t[TK_A];
    else if (n->t[TK_AAAA].off != n->t[TK_NODATA].off)
        n->t[TK_ANY] = n->t[TK_AAAA];
    else if (apex)
        n->t[TK_ANY] = n->t[TK_SOA];
    return 0;
}

int dns_snapshot_builder_finish(struct dns_snapshot_builder *b, struct dns_snapshot **out)
{
    struct build bd = {0};
    size_t outside = 0, dup_zones = 0;
    int r = -ENOMEM;
    *out = NULL;
    bd.s = calloc(1, sizeof(*bd.s));
    bd.scratch = malloc(DNS_MSG_MAX);
    bd.rr_next = malloc((b->n_rrs + 1) * sizeof(*bd.rr_next));
    if (!bd.s || !bd.scratch || !bd.rr_next)
        goto out;
    struct dns_snapshot *s = bd.s;

    /* Upper bound of nodes: each zone apex, each record name and its empty non-terminals. */
    size_t max_nodes = b->n_zones + 1;
    for (size_t i = 0; i < b->n_rrs; i++)
        max_nodes += dns_name_label_count(&b->rrs[i].name);
    size_t tsize = 64;
    while (tsize < 2 * max_nodes)
        tsize *= 2;
    s->table = calloc(tsize, sizeof(*s->table));
    s->mask = (uint32_t)(tsize - 1);
    s->zones = calloc(b->n_zones ? b->n_zones : 1, sizeof(*s->zones));
    if (!s->table || !s->zones)
        goto out;

    for (size_t z = 0; z < b->n_zones; z++) {
        uint32_t idx, before = s->n_nodes;
        r = node_get(&bd, b->zones[z].apex.wire, b->zones[z].apex.len, (uint32_t)z, &idx);
        if (r < 0)
            goto out;
        if (idx < before && bd.bn[idx].apex_zone >= 0) {   /* duplicate: the first one wins */
            dup_zones++;
            continue;
        }
        bd.bn[idx].apex_zone = (int64_t)z;
        s->nodes[idx].zone = (uint32_t)z;
        s->zones[z].apex_off = s->nodes[idx].key_off;
        s->zones[z].apex_len = s->nodes[idx].key_len;
    }
    s->n_zones = (uint32_t)b->n_zones;

    /* Backwards, so that each name's chain lists its records in the order they were added. */
    for (size_t i = b->n_rrs; i-- > 0;) {
        const struct dns_name *nm = &b->rrs[i].name;
        int64_t z = zone_of(&bd, nm);
        if (z < 0) {   /* e.g. a machine whose org got no zone: skip it, keep the rest */
            bd.rr_next[i] = -1;
            outside++;
            continue;
        }
        /* The name and every ancestor below the apex exist (empty non-terminals: NODATA). */
        uint32_t idx = 0;
        for (size_t k = 0; nm->len - k > b->zones[z].apex.len; k += 1 + (size_t)nm->wire[k]) {
            uint32_t ni;
            r = node_get(&bd, nm->wire + k, nm->len - k, (uint32_t)z, &ni);
            if (r < 0)
                goto out;
            if (k == 0)
                idx = ni;
        }
        if (nm->len == b->zones[z].apex.len)
            idx = (uint32_t)(dns_snapshot_find(s, nm->wire, nm->len,
                                               dns_key_hash(nm->wire, nm->len)) - s->nodes);
        bd.rr_next[i] = bd.bn[idx].first_rr;
        bd.bn[idx].first_rr = (int64_t)i;
    }

    if (outside || dup_zones)
        log_warn("dns", "%zu record(s) outside every zone and %zu duplicate zone(s) ignored",
                 outside, dup_zones);
    for (size_t z = 0; z < b->n_zones; z++) {
        r = zone_neg_build(&bd, b, z);
        if (r < 0)
            goto out;
    }
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        r = node_templates_build(&bd, b, i);
        if (r < 0)
            goto out;
    }
    *out = s;
    bd.s = NULL;
    r = 0;
out:
    dns_snapshot_free(bd.s);
    free(bd.bn);
    free(bd.rr_next);
    free(bd.scratch);
    dns_snapshot_builder_free(b);
    return r;
}
