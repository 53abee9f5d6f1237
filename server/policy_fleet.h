/* The policy compiler's fleet model (server/policy/fleet.h) filled from the database: the org's
 * users (members and machine owners), its machines (not expired) with tags, tailnet addresses
 * (IPv4, and IPv6 derived from it when the store's prefix is on), owner
 * (the machine's user, else the admin whose pre-auth key registered it),
 * posture from the latest heartbeat and the source address the server last saw, and the JIT
 * grants in force. Posture keys read from the heartbeat's object: os, os_version,
 * disk_encryption, firewall, screen_lock, antivirus (booleans), agent_version. Each user's
 * identity-provider groups in the org (oidc_user_groups, replaced at every SSO login) are
 * "group:oidc:<name>" members, so a policy may name them without defining them. */
#ifndef ZTNA_SERVER_POLICY_FLEET_H
#define ZTNA_SERVER_POLICY_FLEET_H

#include <stdbool.h>
#include <stdint.h>

#include "server/ip6.h"
#include "server/policy/fleet.h"

struct db_conn;

/* Where the server last saw a machine connect from (kept in memory by policy_glue.c). */
typedef bool (*pfleet_seen_fn)(void *arg, int64_t machine_id, uint8_t *family, uint8_t addr[16]);

struct fleet_store {
    /* Set by the caller before loading: machines get their IPv6 tailnet address derived under
     * it (server/ip6.h); NULL or off: IPv4 only. Borrowed. */
    const struct ip6_prefix *ip6;
    struct fleet f;                 /* points into the arrays below */
    struct fleet_user *users;
    struct fleet_machine *machines;
    struct fleet_grant *grants;
    size_t capu, capm, capg;
    void **owned;                   /* every string and array the views point to */
    size_t nowned, capowned;
    char *arena;                    /* the free end of the last chunk in owned (policy_fleet.c) */
    size_t arena_left;
};

/* The whole org. s must be zeroed; free with pfleet_free() in any case. 0 / -errno. */
int pfleet_load(struct db_conn *db, int64_t org_id, int64_t now, pfleet_seen_fn seen, void *arg,
                struct fleet_store *s);
/* One machine and its owner (f.nmachines 0 when it is gone or expired). */
int pfleet_machine(struct db_conn *db, int64_t org_id, int64_t machine_id, pfleet_seen_fn seen,
                   void *arg, struct fleet_store *s);
/* One user (f.nusers 0 when there is none) with their OIDC groups in org_id. */
int pfleet_user(struct db_conn *db, int64_t org_id, int64_t user_id, struct fleet_store *s);
/* The org's grants in force only. */
int pfleet_grants(struct db_conn *db, int64_t org_id, int64_t now, struct fleet_store *s);
void pfleet_free(struct fleet_store *s);

#endif
