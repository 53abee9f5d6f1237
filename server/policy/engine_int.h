/* Internal state of the incremental compiler (server/policy/compile.c, engine.c). */
#ifndef ZTNA_POLICY_ENGINE_INT_H
#define ZTNA_POLICY_ENGINE_INT_H

#include "server/policy/compile.h"
#include "server/policy/policy_int.h"

struct idmap { /* int64 id -> slot, open addressing; removed ids map to -1 */
    int64_t *keys;
    int *vals;
    size_t cap, used;
};

struct emachine {
    bool live;
    struct fleet_machine v;    /* view with our own copies of the strings */
    int uslot;                 /* owner's user slot or -1 */
    bool tagged;
    uint64_t *tagbits;         /* valid tags (policy tag indices) */
    struct policy_node node;
};

struct euser {
    bool live;
    struct fleet_user v;
    uint64_t *gbits;           /* policy groups the user belongs to */
    int *machines;             /* slots of machines it owns */
    size_t nmachines, capm;
};

struct erule {
    uint64_t *src, *dst;       /* bit per machine slot */
    uint64_t *dst_ns;          /* matches a dst spec other than autogroup:self */
    bool active, raw;          /* schedule on; no conditions (prefix sources compile to prefixes) */
    bool simple;               /* no autogroup:self and no JIT: dst bits say it all */
};

struct policy_engine {
    const struct policy *p;
    const struct policy_geo *geo;
    int64_t now;
    struct emachine *m;
    size_t nm, capm, words;    /* slots, capacity (multiple of 64), capm / 64 */
    struct euser *u;
    size_t nu, capu;
    struct idmap mid, uid;
    struct fleet_grant *g;
    size_t ng, capg;
    struct erule *r;
    size_t nr;
    const char ***gsorted;     /* per policy group: sorted member pointers */
    int64_t *changed;
    size_t nchanged, capchanged;
    int64_t *fchanged;         /* those of changed whose entries changed */
    size_t nfchanged, capfchanged;
    struct policy_link *links; /* peer links made or broken by the last change */
    size_t nlinks, caplinks;
    bool links_lost;           /* too many (or ENOMEM): policy_engine_links() says so */
    uint64_t *affected, *tmp, *tmp2; /* scratch bitsets */
    /* Peer lists are sorted by machine id. Slots mostly follow ids, and while every live slot
     * does, a node's peers come out of its bitset in order. When they do not (a freed slot
     * reused, registrations committed out of id order), order lists the live slots by id and
     * rank gives each slot its place there, so a peer list is still made without sorting. */
    size_t *order;             /* live slots by machine id (valid when !order_stale) */
    uint32_t *rank;            /* per slot: its index in order */
    size_t caporder;
    bool order_stale;          /* a slot became live or was freed: order_refresh() first */
    bool order_is_slots;       /* live slots are in id order already: order and rank unused */
    struct filter_entry *ev;   /* engine_node_compute's scratch: entries, then peer ids */
    size_t evcap;
    int64_t *pscratch;
    size_t pcap;
    int64_t *spare;            /* a peer list's old array, reused for the next changed one */
    int64_t next_boundary;
    struct fleet fview;        /* for policy_engine_fleet() */
    struct fleet_user *fusers;
    struct fleet_machine *fmachines;
};

static inline bool bit_get(const uint64_t *b, size_t i) { return b[i / 64] >> (i % 64) & 1; }
static inline void bit_set(uint64_t *b, size_t i) { b[i / 64] |= 1ULL << (i % 64); }
static inline void bit_clr(uint64_t *b, size_t i) { b[i / 64] &= ~(1ULL << (i % 64)); }

int idmap_put(struct idmap *m, int64_t id, int val);
int idmap_get(const struct idmap *m, int64_t id);
void idmap_free(struct idmap *m);

/* compile.c */
int engine_rule_eval(struct policy_engine *e, size_t ri);       /* recompute a rule's bits */
void engine_rule_machine(struct policy_engine *e, size_t ri, size_t slot, bool *src, bool *dst,
                         bool *dst_ns);
/* Recomputes one node: *changed when its filter or peers differ from before, *echanged when
 * its filter does. When its peer list changed, *old (n *oldn) is the list it had, for the caller
 * to diff and then keep as e->spare. */
int engine_node_compute(struct policy_engine *e, size_t slot, int64_t **old, size_t *oldn,
                        bool *changed, bool *echanged);
void engine_machine_features(struct policy_engine *e, size_t slot);
void engine_user_features(struct policy_engine *e, size_t uslot);
int engine_policy_prepare(struct policy_engine *e);             /* gsorted, rule caches */
void engine_boundary_update(struct policy_engine *e);

#endif
