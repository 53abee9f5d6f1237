/* The model of an org's fleet that the policy compiler takes. The server fills these from its
 * database; every string and array is borrowed by the compiler for the duration of a call
 * (the incremental engine copies what it keeps). */
#ifndef ZTNA_POLICY_FLEET_H
#define ZTNA_POLICY_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fleet_user {
    int64_t id;
    const char *email;          /* lower case */
    const char *const *groups;  /* from the identity provider: "group:oidc:<name>" */
    size_t ngroups;
};

/* What the agent last reported about its device. */
struct posture_report {
    bool present;
    const char *os;             /* "linux", "macos", "windows", ... */
    const char *os_version;     /* dotted numbers: "6.1.0" */
    bool disk_encryption, firewall, screen_lock, antivirus;
    const char *agent_version;  /* dotted numbers */
    int64_t reported_at;        /* unix seconds */
};

struct fleet_machine {
    int64_t id;
    const char *name;            /* hostname, for messages */
    int64_t owner;               /* fleet_user id */
    const char *const *tags;     /* "tag:prod"; a tag counts only if tagOwners lets the owner apply it */
    size_t ntags;
    bool has_ip4, has_ip6;
    uint8_t ip4[4], ip6[16];     /* tailnet addresses */
    struct posture_report posture;
    uint8_t seen_family;         /* 0 unknown, 4 or 6: source address the server sees */
    uint8_t seen_addr[16];
    const char *country;         /* ISO 3166 alpha-2 if known (else looked up in the geo db), or NULL */
};

/* An approved just-in-time grant: requester's devices may reach dst_machine on port/proto. */
struct fleet_grant {
    int64_t id;
    int64_t requester;           /* fleet_user id */
    int64_t dst_machine;
    uint16_t port;
    uint8_t proto;               /* enum filter_proto: 6, 17, or 0 for any */
    int64_t expires_at;          /* unix seconds; inactive from this time on */
};

struct fleet {
    const struct fleet_user *users;
    size_t nusers;
    const struct fleet_machine *machines;
    size_t nmachines;
    const struct fleet_grant *grants;
    size_t ngrants;
};

#endif
