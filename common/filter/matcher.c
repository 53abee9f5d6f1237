/* Stateful matcher. Conntrack: a fixed array of slots, chained from a power-of-two bucket array
 * by index, with an LRU list; when full the least recently used flow is evicted. Keys are hashed
 * with a per-table random seed so a peer cannot aim collisions at one chain. Flow states: a slot
 * is free or live; a live slot expires after the protocol's idle timeout and is then reused. */
#include "common/filter/filter_limits.h"
#include "common/filter/matcher.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define NIL UINT32_MAX

struct ct_key {
    uint8_t family, proto;
    uint16_t lport, rport;
    uint8_t laddr[16], raddr[16];
};

struct ct_slot {
    struct ct_key k;
    uint64_t expires_ms;
    uint32_t chain;           /* next in bucket */
    uint32_t lru_prev, lru_next;
    bool live;
};

struct filter_matcher {
    const struct filter *filter; /* borrowed */
    struct ct_slot *slots;
    uint32_t *buckets;
    uint32_t cap, nbuckets, count, lru_head, lru_tail, free_head;
    uint64_t seed;
    struct filter_deny_count deny[FILTER_DENY_SLOTS];
    uint64_t deny_other;
};

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdULL;
    return h ^ (h >> 33);
}

static uint32_t key_hash(const struct filter_matcher *m, const struct ct_key *k)
{
    uint64_t h = m->seed, w;
    h = mix(h, (uint64_t)k->family << 40 | (uint64_t)k->proto << 32 | (uint64_t)k->lport << 16 |
                   k->rport);
    for (int i = 0; i < 32; i += 8) {
        memcpy(&w, (i < 16 ? k->laddr + i : k->raddr + i - 16), 8);
        h = mix(h, w);
    }
    return (uint32_t)(h ^ (h >> 32)) & (m->nbuckets - 1);
}

int filter_matcher_new(struct filter_matcher **out, size_t ct_capacity)
{
    struct filter_matcher *m;
    *out = NULL;
    if (ct_capacity == 0)
        ct_capacity = FILTER_CT_DEFAULT_CAP;
    if (ct_capacity > FILTER_CT_MAX_CAPACITY)
        return -E2BIG;
    m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->cap = (uint32_t)ct_capacity;
    m->nbuckets = 1;
    while (m->nbuckets < m->cap * 2)
        m->nbuckets <<= 1;
    m->slots = calloc(m->cap, sizeof(*m->slots));
    m->buckets = malloc(m->nbuckets * sizeof(*m->buckets));
    if (!m->slots || !m->buckets) {
        filter_matcher_free(m);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < m->nbuckets; i++)
        m->buckets[i] = NIL;
    for (uint32_t i = 0; i < m->cap; i++)
        m->slots[i].chain = i + 1 < m->cap ? i + 1 : NIL; /* free list reuses chain */
    m->free_head = 0;
    m->lru_head = m->lru_tail = NIL;
    if (getrandom(&m->seed, sizeof(m->seed), 0) != sizeof(m->seed))
        m->seed = (uint64_t)(uintptr_t)m ^ 0x5bd1e995ULL;
    *out = m;
    return 0;
}

void filter_matcher_free(struct filter_matcher *m)
{
    if (!m)
        return;
    free(m->slots);
    free(m->buckets);
    free(m);
}

void filter_matcher_set_filter(struct filter_matcher *m, const struct filter *f) { m->filter = f; }

size_t filter_matcher_ct_count(const struct filter_matcher *m) { return m->count; }

static void lru_unlink(struct filter_matcher *m, uint32_t i)
{
    struct ct_slot *s = &m->slots[i];
    if (s->lru_prev != NIL)
        m->slots[s->lru_prev].lru_next = s->lru_next;
    else
        m->lru_head = s->lru_next;
    if (s->lru_next != NIL)
        m->slots[s->lru_next].lru_prev = s->lru_prev;
    else
        m->lru_tail = s->lru_prev;
}

static void lru_push_front(struct filter_matcher *m, uint32_t i)
{
    struct ct_slot *s = &m->slots[i];
    s->lru_prev = NIL;
    s->lru_next = m->lru_head;
    if (m->lru_head != NIL)
        m->slots[m->lru_head].lru_prev = i;
    m->lru_head = i;
    if (m->lru_tail == NIL)
        m->lru_tail = i;
}

static void slot_remove(struct filter_matcher *m, uint32_t i)
{
    struct ct_slot *s = &m->slots[i];
    uint32_t *pp = &m->buckets[key_hash(m, &s->k)];
    while (*pp != NIL && *pp != i)
        pp = &m->slots[*pp].chain;
    if (*pp == i)
        *pp = s->chain;
    lru_unlink(m, i);
    s->live = false;
    s->chain = m->free_head;
    m->free_head = i;
    m->count--;
}

static uint32_t slot_find(struct filter_matcher *m, const struct ct_key *k, uint64_t now_ms)
{
    uint32_t i = m->buckets[key_hash(m, k)];
    while (i != NIL) {
        struct ct_slot *s = &m->slots[i];
        if (!memcmp(&s->k, k, sizeof(*k))) {
            if (s->expires_ms <= now_ms) {
                slot_remove(m, i);
                return NIL;
            }
            return i;
        }
        i = s->chain;
    }
    return NIL;
}

static uint64_t timeout_ms(uint8_t proto)
{
    return proto == 6 ? FILTER_CT_TCP_TIMEOUT_MS
           : proto == 17 ? FILTER_CT_UDP_TIMEOUT_MS
                         : FILTER_CT_ICMP_TIMEOUT_MS;
}

static void key_fill(struct ct_key *k, const struct filter_pkt *p, bool outbound)
{
    memset(k, 0, sizeof(*k));
    k->family = p->family;
    k->proto = p->proto;
    memcpy(k->laddr, outbound ? p->src : p->dst, 16);
    memcpy(k->raddr, outbound ? p->dst : p->src, 16);
    if (p->proto == 1 || p->proto == 58) {
        k->lport = p->sport; /* echo identifier */
        return;
    }
    k->lport = outbound ? p->sport : p->dport;
    k->rport = outbound ? p->dport : p->sport;
}

void filter_matcher_outbound(struct filter_matcher *m, const uint8_t *pkt, size_t len,
                             uint64_t now_ms)
{
    struct filter_pkt p;
    struct ct_key k;
    if (!filter_packet_parse(pkt, len, &p))
        return;
    bool icmp = p.proto == 1 || p.proto == 58;
    if (icmp ? !p.is_echo_req : !p.has_ports)
        return; /* only flows whose replies can be recognized */
    key_fill(&k, &p, true);
    uint32_t i = slot_find(m, &k, now_ms);
    if (i == NIL) {
        if (m->free_head == NIL)
            slot_remove(m, m->lru_tail); /* evict least recently used */
        i = m->free_head;
        m->free_head = m->slots[i].chain;
        struct ct_slot *s = &m->slots[i];
        s->k = k;
        s->live = true;
        uint32_t b = key_hash(m, &k);
        s->chain = m->buckets[b];
        m->buckets[b] = i;
        m->count++;
    } else {
        lru_unlink(m, i);
    }
    lru_push_front(m, i);
    m->slots[i].expires_ms = now_ms + timeout_ms(p.proto);
}

static void deny_count(struct filter_matcher *m, const struct filter_pkt *p)
{
    uint64_t h = mix(m->seed, (uint64_t)p->proto << 16 | p->dport);
    uint64_t w;
    for (int i = 0; i < 16; i += 8) {
        memcpy(&w, p->src + i, 8);
        h = mix(h, w);
    }
    for (unsigned probe = 0; probe < 8; probe++) {
        struct filter_deny_count *d = &m->deny[(h + probe) % FILTER_DENY_SLOTS];
        if (d->packets == 0) {
            d->family = p->family;
            d->proto = p->proto;
            memcpy(d->src, p->src, 16);
            d->dport = p->has_ports ? p->dport : 0;
        } else if (d->family != p->family || d->proto != p->proto ||
                   d->dport != (p->has_ports ? p->dport : 0) || memcmp(d->src, p->src, 16)) {
            continue;
        }
        d->packets++;
        return;
    }
    m->deny_other++;
}

enum filter_verdict filter_matcher_inbound(struct filter_matcher *m, const uint8_t *pkt, size_t len,
                                           uint64_t now_ms)
{
    struct filter_pkt p;
    struct ct_key k;
    if (!filter_packet_parse(pkt, len, &p)) {
        m->deny_other++;
        return FILTER_DENY;
    }
    bool icmp = p.proto == 1 || p.proto == 58;
    if (m->count && (icmp ? p.is_echo_reply : p.has_ports)) {
        key_fill(&k, &p, false);
        uint32_t i = slot_find(m, &k, now_ms);
        if (i != NIL) {
            m->slots[i].expires_ms = now_ms + timeout_ms(p.proto);
            lru_unlink(m, i);
            lru_push_front(m, i);
            return FILTER_ACCEPT_REPLY;
        }
    }
    if (filter_allows(m->filter, p.family, p.src, p.proto, p.dport))
        return FILTER_ACCEPT_RULE;
    deny_count(m, &p);
    return FILTER_DENY;
}

size_t filter_matcher_denied(struct filter_matcher *m, struct filter_deny_count *out, size_t max,
                             uint64_t *other, bool reset)
{
    size_t n = 0;
    for (size_t i = 0; i < FILTER_DENY_SLOTS; i++) {
        if (!m->deny[i].packets)
            continue;
        if (n < max)
            out[n] = m->deny[i];
        n++;
    }
    if (other)
        *other = m->deny_other;
    if (reset) {
        memset(m->deny, 0, sizeof(m->deny));
        m->deny_other = 0;
    }
    return n;
}
