/* The policy language: parsing and validation of one org's HuJSON policy document into a typed,
 * name-resolved `struct policy` (see docs/policy.md for the language). */
#ifndef ZTNA_POLICY_H
#define ZTNA_POLICY_H

#include "server/policy/fleet.h"
#include "server/policy/policy_limits.h"
#include "server/policy/tz.h"

enum policy_sel_kind { SEL_ANY, SEL_USER, SEL_GROUP, SEL_TAG, SEL_HOST, SEL_CIDR, SEL_MEMBER, SEL_SELF };

struct policy_sel {
    enum policy_sel_kind kind;
    int idx;                  /* SEL_GROUP / SEL_TAG / SEL_HOST: index in the policy's table */
    char *name;               /* as written */
    uint8_t family, plen, addr[16]; /* SEL_HOST / SEL_CIDR */
    int line, col;
};

struct policy_dst {
    struct policy_sel sel;
    uint16_t port_lo, port_hi;
};

struct policy_rule {
    int line, col;
    uint64_t sig;             /* hash of the rule's text, for incremental recompiles */
    struct policy_sel *src;
    size_t nsrc;
    struct policy_dst *dst;
    size_t ndst;
    uint8_t proto;            /* enum filter_proto */
    int *postures;            /* indices into policy.postures */
    size_t npostures;
    int schedule;             /* index into policy.schedules, or -1 */
    bool has_geo;
    char (*countries)[3];
    size_t ncountries;
    struct policy_sel *geo_cidrs; /* SEL_CIDR */
    size_t ngeo_cidrs;
    bool require_jit;
    struct policy_sel *approvers;
    size_t napprovers;
};

struct policy_group {
    char *name;               /* "group:eng" */
    int line, col;
    char **members;           /* flattened: emails and "group:oidc:..." names */
    size_t nmembers;
};

struct policy_tag {
    char *name;               /* "tag:prod" */
    int line, col;
    struct policy_sel *owners; /* SEL_USER / SEL_GROUP */
    size_t nowners;
};

struct policy_host {
    char *name;
    int line, col;
    uint8_t family, plen, addr[16];
};

struct policy_posture {
    char *name;               /* "posture:baseline" */
    int line, col;
    size_t nos;
    char (*os)[16];           /* allowed OS names; none: any */
    char (*os_min)[32];       /* minimum version per OS ("" none) */
    int8_t disk_encryption, firewall, screen_lock, antivirus; /* 1 required, 0 not checked */
    char agent_min[32];
    int64_t max_age;          /* seconds */
};

struct policy_schedule {
    char *name;
    int line, col;
    char tz[64];
    struct tz_info *tzi;
    uint8_t days;             /* bit 0 = Sunday .. bit 6 = Saturday */
    int from_min, to_min;     /* minutes of the local day, from < to <= 1440 */
};

struct policy_test {
    int line, col;
    char *src;
    int src_line, src_col;
    char *dst;                /* NULL: accept/deny entries are "dst:port" */
    uint8_t proto;
    bool has_at;
    int64_t at;
    char **accept, **deny;    /* with positions */
    int *accept_pos, *deny_pos; /* line * 65536 + column */
    size_t naccept, ndeny;
};

struct policy {
    uint64_t defs_sig;        /* hash of groups, tagOwners, hosts, postures, schedules */
    struct policy_group *groups;   size_t ngroups;
    struct policy_tag *tags;       size_t ntags;
    struct policy_host *hosts;     size_t nhosts;
    struct policy_posture *postures; size_t npostures;
    struct policy_schedule *schedules; size_t nschedules;
    struct policy_rule *rules;     size_t nrules;
    struct policy_test *tests;     size_t ntests;
};

struct policy_error {
    int line, col;            /* 0 when not tied to the text */
    char msg[POLICY_ERR_MAX]; /* "line 12, column 7: unknown field \"srcs\" in rule" */
};

/* Parses and validates. *out is new: free with policy_free(). 0, -EINVAL (err filled), -ENOMEM. */
int policy_parse(const char *text, size_t len, struct policy **out, struct policy_error *err);
void policy_free(struct policy *p);

/* Lookups by name; -1 when absent. */
int policy_group_find(const struct policy *p, const char *name);
int policy_tag_find(const struct policy *p, const char *name);

/* Checks the fleet against the policy: a machine carrying a tag its owner may not apply is an
 * error (reported at the tag's tagOwners entry, or as unknown tag). 0 or -EINVAL with err. */
int policy_fleet_check(const struct policy *p, const struct fleet *f, struct policy_error *err);

/* Runs the policy's embedded tests at `now` (a test's "at" overrides). 0, or -EINVAL with the
 * first failing test's position and reason in err. A policy version is accepted only if 0. */
int policy_tests_run(const struct policy *p, int64_t now, struct policy_error *err);

/* A time as the language writes it: RFC 3339 with "Z" or "+hh:mm" ("2026-11-23T09:30:00Z"), or
 * unix seconds. 0 or -EINVAL. */
int policy_time_parse(const char *s, int64_t *out);

#endif
