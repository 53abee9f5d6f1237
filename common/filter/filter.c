/* Filter index: per (family, protocol class) a sorted list of elementary source intervals; each
 * interval points at the merged, sorted destination port ranges allowed from it. Addresses are
 * compared as 128-bit integers (IPv4 in the low 32 bits). */
#include "common/filter/filter.h"
#include "common/filter/filter_limits.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct u128 {
    uint64_t hi, lo;
};

enum { PC_TCP, PC_UDP, PC_ICMP, PC_OTHER, PC_N };

struct ftable {
    size_t nb;           /* elementary intervals: [b[i], b[i+1]) ; b[0] == 0 */
    struct u128 *b;
    uint32_t *b4;        /* IPv4 tables: the same bounds as 32-bit integers (faster search) */
    uint32_t *off;       /* nb + 1 offsets into ports */
    uint16_t *ports;     /* pairs lo, hi */
};

struct filter {
    struct ftable t[2][PC_N];
    struct filter_entry *e;
    size_t n;
};

static int u128_cmp(struct u128 a, struct u128 b)
{
    if (a.hi != b.hi)
        return a.hi < b.hi ? -1 : 1;
    if (a.lo != b.lo)
        return a.lo < b.lo ? -1 : 1;
    return 0;
}

static struct u128 addr_to_u128(int family, const uint8_t *a)
{
    struct u128 v = {0, 0};
    if (family == 4) {
        v.lo = (uint64_t)a[0] << 24 | (uint64_t)a[1] << 16 | (uint64_t)a[2] << 8 | a[3];
        return v;
    }
    for (int i = 0; i < 8; i++)
        v.hi = v.hi << 8 | a[i];
    for (int i = 8; i < 16; i++)
        v.lo = v.lo << 8 | a[i];
    return v;
}

/* [lo, hi] of a prefix. */
static void prefix_range(const struct filter_entry *e, struct u128 *lo, struct u128 *hi)
{
    struct u128 v = addr_to_u128(e->family, e->addr);
    unsigned bits = e->family == 4 ? 32 : 128;
    unsigned host = bits - e->plen;
    struct u128 m = {0, 0}; /* host mask */
    if (host >= 64) {
        m.lo = ~0ULL;
        m.hi = host >= 128 ? ~0ULL : (host == 64 ? 0 : (~0ULL >> (128 - host)));
    } else if (host > 0) {
        m.lo = ~0ULL >> (64 - host);
    }
    if (e->family == 4)
        m.hi = 0;
    lo->hi = v.hi & ~m.hi;
    lo->lo = v.lo & ~m.lo;
    hi->hi = lo->hi | m.hi;
    hi->lo = lo->lo | m.lo;
}

static bool u128_inc(struct u128 *v, int family)
{
    if (family == 4) {
        if (v->lo == 0xffffffffULL)
            return false;
        v->lo++;
        return true;
    }
    if (++v->lo == 0 && ++v->hi == 0)
        return false;
    return true;
}

static int cmp_u128(const void *a, const void *b)
{
    return u128_cmp(*(const struct u128 *)a, *(const struct u128 *)b);
}

static int cmp_ports(const void *a, const void *b)
{
    const uint16_t *x = a, *y = b;
    return (int)x[0] - (int)y[0];
}

/* Index of the interval holding v: largest i with b[i] <= v. */
static size_t interval_find(const struct ftable *t, struct u128 v)
{
    size_t lo = 0, hi = t->nb; /* b[0] == 0 <= v always */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (u128_cmp(t->b[mid], v) <= 0)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static bool entry_in_class(const struct filter_entry *e, int pc)
{
    if (e->proto == FILTER_PROTO_ANY)
        return true;
    return (pc == PC_TCP && e->proto == FILTER_PROTO_TCP) ||
           (pc == PC_UDP && e->proto == FILTER_PROTO_UDP) ||
           (pc == PC_ICMP && e->proto == FILTER_PROTO_ICMP);
}

static int table_build(struct ftable *t, const struct filter_entry *e, size_t n, int family, int pc)
{
    size_t m = 0, cap = 1;
    int ret = -ENOMEM;
    uint32_t *cnt = NULL, *fill = NULL;
    for (size_t i = 0; i < n; i++)
        if (e[i].family == family && entry_in_class(&e[i], pc))
            cap += 2;
    if (cap == 1)
        return 0;
    t->b = malloc(cap * sizeof(*t->b));
    if (!t->b)
        goto out;
    t->b[m++] = (struct u128){0, 0};
    for (size_t i = 0; i < n; i++) {
        struct u128 lo, hi;
        if (e[i].family != family || !entry_in_class(&e[i], pc))
            continue;
        prefix_range(&e[i], &lo, &hi);
        t->b[m++] = lo;
        if (u128_inc(&hi, family))
            t->b[m++] = hi;
    }
    qsort(t->b, m, sizeof(*t->b), cmp_u128);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (u == 0 || u128_cmp(t->b[u - 1], t->b[i]) != 0)
            t->b[u++] = t->b[i];
    t->nb = u;
    if (family == 4) {
        t->b4 = malloc(u * sizeof(*t->b4));
        if (!t->b4)
            goto out;
        for (size_t i = 0; i < u; i++)
            t->b4[i] = (uint32_t)t->b[i].lo;
    }
    cnt = calloc(u + 1, sizeof(*cnt));
    if (!cnt)
        goto out;
    /* two passes: count port ranges per interval, then fill */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            struct u128 lo, hi;
            if (e[i].family != family || !entry_in_class(&e[i], pc))
                continue;
            prefix_range(&e[i], &lo, &hi);
            size_t a = interval_find(t, lo), z = interval_find(t, hi);
            bool noport = pc == PC_ICMP || pc == PC_OTHER;
            uint16_t plo = noport ? 0 : e[i].port_lo, phi = noport ? 65535 : e[i].port_hi;
            for (size_t k = a; k <= z; k++) {
                if (pass == 0) {
                    cnt[k]++;
                } else {
                    t->ports[2 * fill[k]] = plo;
                    t->ports[2 * fill[k] + 1] = phi;
                    fill[k]++;
                }
            }
        }
        if (pass == 0) {
            size_t total = 0;
            t->off = malloc((u + 1) * sizeof(*t->off));
            fill = malloc((u + 1) * sizeof(*fill));
            if (!t->off || !fill)
                goto out;
            for (size_t k = 0; k < u; k++) {
                if (total > UINT32_MAX / 2) {
                    ret = -E2BIG;
                    goto out;
                }
                t->off[k] = (uint32_t)total;
                fill[k] = (uint32_t)total;
                total += cnt[k];
            }
            t->off[u] = (uint32_t)total;
            t->ports = malloc((total ? total : 1) * 2 * sizeof(uint16_t));
            if (!t->ports)
                goto out;
        }
    }
    /* sort and merge each interval's port ranges in place, then compact */
    uint32_t w = 0;
    for (size_t k = 0; k < u; k++) {
        uint32_t s = t->off[k], z = k + 1 < u ? t->off[k + 1] : t->off[u];
        uint16_t *p = t->ports + 2 * s;
        qsort(p, z - s, 2 * sizeof(uint16_t), cmp_ports);
        t->off[k] = w;
        for (uint32_t j = s; j < z; j++) {
            uint16_t lo = t->ports[2 * j], hi = t->ports[2 * j + 1];
            if (w > t->off[k] && (uint32_t)lo <= (uint32_t)t->ports[2 * (w - 1) + 1] + 1) {
                if (hi > t->ports[2 * (w - 1) + 1])
                    t->ports[2 * (w - 1) + 1] = hi;
            } else {
                t->ports[2 * w] = lo;
                t->ports[2 * w + 1] = hi;
                w++;
            }
        }
    }
    t->off[u] = w;
    ret = 0;
out:
    free(cnt);
    free(fill);
    return ret;
}

static void normalize(struct filter_entry *e)
{
    unsigned bits = e->family == 4 ? 32 : 128;
    for (unsigned i = 0; i < 16; i++) {
        unsigned first = i * 8;
        if (first >= bits || first >= e->plen) {
            e->addr[i] = 0;
        } else if (first + 8 > e->plen) {
            e->addr[i] &= (uint8_t)(0xff << (8 - (e->plen - first)));
        }
    }
    if (e->proto != FILTER_PROTO_TCP && e->proto != FILTER_PROTO_UDP &&
        e->proto != FILTER_PROTO_ANY) {
        e->port_lo = 0;
        e->port_hi = 65535;
    }
}

int filter_build(struct filter **out, const struct filter_entry *e, size_t n)
{
    int ret;
    struct filter *f;
    *out = NULL;
    if (n > FILTER_MAX_ENTRIES)
        return -E2BIG;
    for (size_t i = 0; i < n; i++) {
        if ((e[i].family != 4 && e[i].family != 6) || e[i].plen > (e[i].family == 4 ? 32 : 128) ||
            e[i].port_lo > e[i].port_hi ||
            (e[i].proto != FILTER_PROTO_ANY && e[i].proto != FILTER_PROTO_ICMP &&
             e[i].proto != FILTER_PROTO_TCP && e[i].proto != FILTER_PROTO_UDP))
            return -EINVAL;
    }
    f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    f->e = malloc((n ? n : 1) * sizeof(*f->e));
    if (!f->e) {
        ret = -ENOMEM;
        goto out;
    }
    if (n)
        memcpy(f->e, e, n * sizeof(*e));
    f->n = n;
    for (size_t i = 0; i < n; i++)
        normalize(&f->e[i]);
    for (int fam = 0; fam < 2; fam++)
        for (int pc = 0; pc < PC_N; pc++) {
            ret = table_build(&f->t[fam][pc], f->e, n, fam ? 6 : 4, pc);
            if (ret)
                goto out;
        }
    *out = f;
    f = NULL;
    ret = 0;
out:
    filter_free(f);
    return ret;
}

void filter_free(struct filter *f)
{
    if (!f)
        return;
    for (int fam = 0; fam < 2; fam++)
        for (int pc = 0; pc < PC_N; pc++) {
            free(f->t[fam][pc].b);
            free(f->t[fam][pc].b4);
            free(f->t[fam][pc].off);
            free(f->t[fam][pc].ports);
        }
    free(f->e);
    free(f);
}

const struct filter_entry *filter_entries(const struct filter *f, size_t *n)
{
    *n = f ? f->n : 0;
    return f ? f->e : NULL;
}

bool filter_allows(const struct filter *f, int family, const uint8_t addr[16], uint8_t ipproto,
                   uint16_t dport)
{
    if (!f || (family != 4 && family != 6))
        return false;
    int pc;
    switch (ipproto) {
    case 6: pc = PC_TCP; break;
    case 17: pc = PC_UDP; break;
    case 1: pc = family == 4 ? PC_ICMP : PC_OTHER; break;
    case 58: pc = family == 6 ? PC_ICMP : PC_OTHER; break;
    default: pc = PC_OTHER; break;
    }
    const struct ftable *t = &f->t[family == 6][pc];
    if (t->nb == 0)
        return false;
    size_t k;
    if (family == 4) { /* branch-free binary search: largest k with b4[k] <= v */
        uint32_t v = (uint32_t)addr[0] << 24 | (uint32_t)addr[1] << 16 | (uint32_t)addr[2] << 8 | addr[3];
        const uint32_t *base = t->b4;
        size_t n = t->nb;
        while (n > 1) {
            size_t half = n / 2;
            base = base[half] <= v ? base + half : base;
            n -= half;
        }
        k = (size_t)(base - t->b4);
    } else {
        k = interval_find(t, addr_to_u128(family, addr));
    }
    uint32_t lo = t->off[k], hi = t->off[k + 1];
    if (pc == PC_ICMP || pc == PC_OTHER)
        return hi > lo;
    while (lo < hi) { /* first range with port_hi >= dport */
        uint32_t mid = lo + (hi - lo) / 2;
        if (t->ports[2 * mid + 1] < dport)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < t->off[k + 1] && t->ports[2 * lo] <= dport;
}
