/* Entries -> disjoint set elements. The kernel's pipapo sets (concatenated ranges) refuse an
 * element that overlaps one already in the set, while compiled filters overlap freely (a /24
 * allowing 443 and a /32 inside it allowing 22-25). A sweep over the elementary source
 * intervals (cut at every entry's first address and one past its last) gives, per interval, the
 * union of the covering entries' port (or protocol) ranges, merged; a merged range that the
 * previous (adjacent) interval had too extends that interval's rectangle instead of starting one,
 * so a /10 allowing 443 stays one element however many hosts inside it allow more. Rectangles
 * stay disjoint: within one interval the merged ranges are. Cost: O(k log k + sum over intervals
 * of the covering entries), for prefixes (nested or disjoint) the nesting depth per interval. */
#include "agent/kernel/nftfilter_msg.h"
#include "common/filter/filter_limits.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct u128 {
    uint64_t hi, lo;
};

struct in_rect {
    struct u128 lo, hi;
    uint16_t vlo, vhi;
};

struct range {
    uint16_t lo, hi;
};

struct open_rect { /* a rectangle that reaches the previous interval's end */
    struct range r;
    size_t out; /* index in the output */
};

static int u128_cmp(struct u128 a, struct u128 b)
{
    if (a.hi != b.hi)
        return a.hi < b.hi ? -1 : 1;
    return a.lo < b.lo ? -1 : a.lo > b.lo;
}

static struct u128 u128_inc(struct u128 a)
{
    if (++a.lo == 0)
        a.hi++;
    return a;
}

static struct u128 u128_dec(struct u128 a)
{
    if (a.lo-- == 0)
        a.hi--;
    return a;
}

static uint64_t be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* IPv4 lives in the low 32 bits, so the family's last address is max_addr(family). */
static struct u128 max_addr(int family)
{
    return family == 4 ? (struct u128){0, 0xffffffffu} : (struct u128){UINT64_MAX, UINT64_MAX};
}

static void prefix_interval(const struct filter_entry *e, struct u128 *lo, struct u128 *hi)
{
    if (e->family == 4) {
        uint32_t a = (uint32_t)e->addr[0] << 24 | (uint32_t)e->addr[1] << 16 |
                     (uint32_t)e->addr[2] << 8 | e->addr[3];
        uint32_t mask = e->plen ? UINT32_MAX << (32 - e->plen) : 0;
        *lo = (struct u128){0, a & mask};
        *hi = (struct u128){0, (a & mask) | ~mask};
        return;
    }
    uint64_t ahi = be64_get(e->addr), alo = be64_get(e->addr + 8);
    uint64_t mhi = e->plen >= 64 ? UINT64_MAX : e->plen ? UINT64_MAX << (64 - e->plen) : 0;
    uint64_t mlo = e->plen <= 64 ? 0 : e->plen == 128 ? UINT64_MAX : UINT64_MAX << (128 - e->plen);
    *lo = (struct u128){ahi & mhi, alo & mlo};
    *hi = (struct u128){(ahi & mhi) | ~mhi, (alo & mlo) | ~mlo};
}

static void addr_put(uint8_t out[16], struct u128 v, int family)
{
    memset(out, 0, 16);
    if (family == 4) {
        uint32_t a = (uint32_t)v.lo;
        out[0] = (uint8_t)(a >> 24);
        out[1] = (uint8_t)(a >> 16);
        out[2] = (uint8_t)(a >> 8);
        out[3] = (uint8_t)a;
        return;
    }
    be64_put(out, v.hi);
    be64_put(out + 8, v.lo);
}

int nftf_entries_check(const struct filter_entry *e, size_t n)
{
    if (n && !e)
        return -EINVAL;
    if (n > FILTER_MAX_ENTRIES)
        return -E2BIG;
    for (size_t i = 0; i < n; i++) {
        if ((e[i].family != 4 && e[i].family != 6) || e[i].plen > (e[i].family == 4 ? 32 : 128) ||
            (e[i].proto != FILTER_PROTO_ANY && e[i].proto != FILTER_PROTO_ICMP &&
             e[i].proto != FILTER_PROTO_TCP && e[i].proto != FILTER_PROTO_UDP))
            return -EINVAL;
        bool ports = e[i].proto != FILTER_PROTO_ICMP;
        if (ports && e[i].port_lo > e[i].port_hi)
            return -EINVAL;
    }
    return 0;
}

/* The (value ranges) entry i contributes to kind; returns how many (0..3). Mirrors
 * filter_allows: proto any covers TCP/UDP within its ports and every other protocol whole. */
static size_t entry_ranges(const struct filter_entry *e, int family, enum nftf_kind kind,
                           struct range r[3])
{
    if (e->family != family)
        return 0;
    switch (kind) {
    case NFTF_TCP:
    case NFTF_UDP: {
        uint8_t want = kind == NFTF_TCP ? FILTER_PROTO_TCP : FILTER_PROTO_UDP;
        if (e->proto != want && e->proto != FILTER_PROTO_ANY)
            return 0;
        r[0] = (struct range){e->port_lo, e->port_hi};
        return 1;
    }
    case NFTF_PROTO:
        if (e->proto == FILTER_PROTO_ICMP) {
            uint16_t p = family == 4 ? 1 : 58;
            r[0] = (struct range){p, p};
            return 1;
        }
        if (e->proto != FILTER_PROTO_ANY)
            return 0;
        r[0] = (struct range){0, 5};
        r[1] = (struct range){7, 16};
        r[2] = (struct range){18, 255};
        return 3;
    default:
        return 0;
    }
}

static int pt_cmp(const void *a, const void *b)
{
    return u128_cmp(*(const struct u128 *)a, *(const struct u128 *)b);
}

static int rect_lo_cmp(const void *a, const void *b)
{
    return u128_cmp(((const struct in_rect *)a)->lo, ((const struct in_rect *)b)->lo);
}

static int range_cmp(const void *a, const void *b)
{
    const struct range *x = a, *y = b;
    return x->lo != y->lo ? (x->lo < y->lo ? -1 : 1) : (x->hi > y->hi) - (x->hi < y->hi);
}

/* Sorts and merges r[0..n) (overlapping or adjacent ranges join); returns the new count. */
static size_t ranges_merge(struct range *r, size_t n)
{
    size_t m = 0;
    qsort(r, n, sizeof(*r), range_cmp);
    for (size_t i = 0; i < n; i++) {
        if (m && (uint32_t)r[m - 1].hi + 1 >= r[i].lo) {
            if (r[i].hi > r[m - 1].hi)
                r[m - 1].hi = r[i].hi;
        } else {
            r[m++] = r[i];
        }
    }
    return m;
}

static int out_cmp(const void *a, const void *b)
{
    const struct nftf_rect *x = a, *y = b;
    int c = memcmp(x->lo, y->lo, sizeof(x->lo));
    return c ? c : (x->vlo > y->vlo) - (x->vlo < y->vlo);
}

int nftf_rects_build(const struct filter_entry *e, size_t n, int family, enum nftf_kind kind,
                     struct nftf_rect **out, size_t *nout)
{
    struct in_rect *in = NULL;
    struct u128 *pts = NULL;
    size_t *active = NULL;
    struct range *cur = NULL;
    struct open_rect *prev = NULL, *next_open = NULL;
    struct nftf_rect *o = NULL;
    size_t m = 0, k = 0, na = 0, no = 0, ocap = 0, nprev = 0;
    int ret = -ENOMEM;
    const struct u128 top = max_addr(family);

    *out = NULL;
    *nout = 0;
    if (n > SIZE_MAX / 3 / sizeof(*in))
        return -E2BIG;
    in = malloc((3 * n + 1) * sizeof(*in));
    pts = malloc((2 * n + 1) * sizeof(*pts)); /* each entry's first address and one past its last */
    if (!in || !pts)
        goto out;
    for (size_t i = 0; i < n; i++) {
        struct range r[3];
        size_t c = entry_ranges(&e[i], family, kind, r);
        struct u128 lo, hi;
        if (!c)
            continue;
        prefix_interval(&e[i], &lo, &hi);
        for (size_t j = 0; j < c; j++)
            in[m++] = (struct in_rect){lo, hi, r[j].lo, r[j].hi};
        pts[k++] = lo;
        if (u128_cmp(hi, top) != 0)
            pts[k++] = u128_inc(hi);
    }
    if (m == 0) {
        ret = 0;
        goto out;
    }
    qsort(pts, k, sizeof(*pts), pt_cmp);
    size_t u = 0;
    for (size_t i = 0; i < k; i++)
        if (u == 0 || u128_cmp(pts[u - 1], pts[i]) != 0)
            pts[u++] = pts[i];
    k = u;
    qsort(in, m, sizeof(*in), rect_lo_cmp);
    active = malloc(m * sizeof(*active));
    cur = malloc(m * sizeof(*cur));
    prev = malloc(m * sizeof(*prev));
    next_open = malloc(m * sizeof(*next_open));
    if (!active || !cur || !prev || !next_open)
        goto out;

    size_t next = 0; /* next rectangle (by lo) to enter the sweep */
    for (size_t j = 0; j < k; j++) {
        struct u128 start = pts[j], end = j + 1 < k ? u128_dec(pts[j + 1]) : top;
        size_t keep = 0;
        for (size_t a = 0; a < na; a++)
            if (u128_cmp(in[active[a]].hi, start) >= 0)
                active[keep++] = active[a];
        na = keep;
        while (next < m && u128_cmp(in[next].lo, start) <= 0)
            active[na++] = next++;
        if (na == 0) {
            nprev = 0; /* a gap: nothing continues */
            continue;
        }
        for (size_t a = 0; a < na; a++)
            cur[a] = (struct range){in[active[a]].vlo, in[active[a]].vhi};
        size_t nc = ranges_merge(cur, na), fresh = 0, p = 0;
        for (size_t c = 0; c < nc; c++) { /* both lists sorted: find cur[c] among prev */
            while (p < nprev && prev[p].r.lo < cur[c].lo)
                p++;
            if (p < nprev && prev[p].r.lo == cur[c].lo && prev[p].r.hi == cur[c].hi) {
                addr_put(o[prev[p].out].hi, end, family);
                next_open[c] = prev[p];
            } else {
                next_open[c] = (struct open_rect){cur[c], SIZE_MAX};
                fresh++;
            }
        }
        if (no + fresh > NFTF_MAX_ELEMS) {
            ret = -E2BIG;
            goto out;
        }
        if (no + fresh > ocap) {
            size_t ncap = ocap ? ocap * 2 : 64;
            while (ncap < no + fresh)
                ncap *= 2;
            struct nftf_rect *t = realloc(o, ncap * sizeof(*o));
            if (!t)
                goto out;
            o = t;
            ocap = ncap;
        }
        for (size_t c = 0; c < nc; c++) {
            if (next_open[c].out != SIZE_MAX)
                continue;
            addr_put(o[no].lo, start, family);
            addr_put(o[no].hi, end, family);
            o[no].vlo = cur[c].lo;
            o[no].vhi = cur[c].hi;
            next_open[c].out = no++;
        }
        struct open_rect *t = prev;
        prev = next_open;
        next_open = t;
        nprev = nc;
    }
    if (no)
        qsort(o, no, sizeof(*o), out_cmp);
    *out = o;
    *nout = no;
    o = NULL;
    ret = 0;
out:
    free(in);
    free(pts);
    free(active);
    free(cur);
    free(prev);
    free(next_open);
    free(o);
    return ret;
}
