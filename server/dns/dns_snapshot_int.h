/* Layout of an immutable answer snapshot, shared by dns_snapshot.c (builds it) and dns_answer.c
 * (reads it). Everything lives in a few arrays; nothing is modified after the build. */
#ifndef ZTNA_SERVER_DNS_SNAPSHOT_INT_H
#define ZTNA_SERVER_DNS_SNAPSHOT_INT_H

#include <stddef.h>
#include <stdint.h>

/* Prebuilt answers per name, one per kind of question. A template is a whole response: header
 * (id 0, QR|AA, counts), the question with the name in lower case and the type of the kind, then
 * the sections, compressed against the question name. Per packet the answerer copies it and
 * patches the id, RD, the question's name (0x20 case echoed) and type/class. */
enum dns_tmpl_kind { TK_A, TK_AAAA, TK_SOA, TK_NS, TK_ANY, TK_NODATA, TK_COUNT };

struct dns_tmpl {
    uint32_t off;   /* into arena */
    uint32_t len;
};

struct dns_node {
    uint32_t key_off;   /* lower-case wire name in arena */
    uint32_t hash;
    uint32_t zone;
    uint8_t key_len;
    struct dns_tmpl t[TK_COUNT];
};

struct dns_zone {
    uint32_t apex_off;  /* lower-case wire name in arena */
    uint32_t neg_off;   /* type..rdata of the SOA RR for negative answers (owner added per packet) */
    uint16_t neg_len;
    uint8_t apex_len;
};

struct dns_snapshot {
    uint8_t *arena;
    size_t arena_len;
    struct dns_node *nodes;
    uint32_t n_nodes;
    uint32_t *table;    /* node index + 1; 0 = empty; open addressing, linear probing */
    uint32_t mask;
    struct dns_zone *zones;
    uint32_t n_zones;
};

static inline uint32_t dns_key_hash(const uint8_t *w, size_t len)
{
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ w[i]) * 16777619u;
    return h;
}

/* Exact lookup of a lower-case wire name; NULL if absent. */
static inline const struct dns_node *dns_snapshot_find(const struct dns_snapshot *s,
                                                       const uint8_t *key, size_t len,
                                                       uint32_t hash)
{
    for (uint32_t i = hash & s->mask;; i = (i + 1) & s->mask) {
        uint32_t v = s->table[i];
        if (v == 0)
            return NULL;
        const struct dns_node *n = &s->nodes[v - 1];
        if (n->hash == hash && n->key_len == len &&
            __builtin_memcmp(s->arena + n->key_off, key, len) == 0)
            return n;
    }
}

#endif
