/* machines and machine_nonces tables (db_machines.c, db_machines_list.c). Every query is scoped
 * by org except lookups by machine key (globally unique) made by machine authentication. */
#ifndef ZTNA_SERVER_DB_MACHINES_H
#define ZTNA_SERVER_DB_MACHINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/ipalloc.h"
#include "server/limits.h"

struct db_conn;

struct machine_row {
    int64_t id;
    int64_t org_id;
    int64_t user_id;     /* 0 = none */
    int64_t auth_key_id; /* 0 = none */
    uint8_t machine_key[32];
    uint8_t wg_public_key[32];
    char hostname[MACH_HOSTNAME_MAX + 1];
    char name[MACH_LABEL_MAX + 1];
    uint32_t ip_num;
    char tailnet_ip[IPALLOC_TEXT_MAX];
    char os[MACH_OS_MAX + 1];
    char os_version[MACH_OS_MAX + 1];
    char tags[MACH_TAGS_JSON_MAX]; /* JSON array text */
    bool ephemeral;
    int64_t created_at;
    int64_t last_seen;  /* 0 = never */
    bool online;
    int64_t expired_at; /* 0 = not expired */
    char posture[MACH_POSTURE_MAX_BYTES]; /* JSON object text */
    int64_t posture_at;
    /* PQ counters of the latest heartbeat's stats (agent engine_stats()); -1 = not reported. */
    struct machine_pq {
        int64_t peers, peers_pq, classical, failing;
        int64_t reported_at; /* 0 = never */
    } pq;
};

/* Turns a reported hostname into a DNS label: lower case, [a-z0-9-], runs of anything else
 * become one '-', no leading/trailing '-', at most MACH_LABEL_BASE_MAX bytes; "machine" if
 * nothing is left. out must hold MACH_LABEL_MAX + 1 bytes. */
void machine_label_sanitize(const char *hostname, char out[static MACH_LABEL_MAX + 1]);

/* Registers m in m->org_id, in ONE transaction: consumes one use of auth_key_id (if non-zero;
 * -EACCES when it is no longer usable), picks a unique name from m->name (adding -2, -3, ...),
 * allocates the next free tailnet IP and inserts. Fills id, name, ip_num, tailnet_ip.
 * If the machine key is already registered in this org, the existing machine is re-activated
 * (new WireGuard key, os, expiry cleared; same id, name and IP) and *reactivated is set.
 * -EEXIST when the machine key belongs to another org; -ENOSPC when the org is out of IPs.
 * before_commit (may be NULL) runs inside the transaction once the row is final, so that the
 * audit rows of the registration commit with it (one write transaction per registration). */
int db_machine_register(struct db_conn *db, struct machine_row *m, int64_t auth_key_id,
                        int64_t now, bool *reactivated,
                        void (*before_commit)(const struct machine_row *m, bool reactivated,
                                              void *arg),
                        void *arg);

int db_machine_get(struct db_conn *db, int64_t org_id, int64_t id, struct machine_row *out);
int db_machine_find_key(struct db_conn *db, const uint8_t key[static 32], struct machine_row *out);

struct machine_filter {
    const char *q;    /* substring of name or hostname, or NULL */
    const char *tag;  /* exact tag, or NULL */
    int online;       /* -1 any, 0 offline, 1 online */
    int64_t limit, offset;
};
/* Newest last (by id). *total receives the count matching the filter (before paging). */
int db_machine_list(struct db_conn *db, int64_t org_id, const struct machine_filter *f,
                    int (*cb)(const struct machine_row *m, void *arg), void *arg, int64_t *total);

/* Renames (new_label may be NULL: keep; the label is made unique like at registration) and/or
 * sets tags (tags_json NULL: keep). Fills out with the updated row. -ENOENT. */
int db_machine_update(struct db_conn *db, int64_t org_id, int64_t id, const char *new_label,
                      const char *tags_json, struct machine_row *out);
int db_machine_delete(struct db_conn *db, int64_t org_id, int64_t id);
int db_machine_expire(struct db_conn *db, int64_t org_id, int64_t id, int64_t now);
/* Heartbeat: last_seen, online, posture (may be NULL: keep), os_version (may be NULL: keep). */
int db_machine_heartbeat(struct db_conn *db, int64_t id, int64_t now, const char *posture_json,
                         const char *os_version);

/* Records an accepted request nonce; -EEXIST if it was seen before (a replay). */
int db_machine_nonce_insert(struct db_conn *db, int64_t machine_id,
                            const uint8_t nonce[static 16], int64_t expires_at);
int db_machine_nonce_prune(struct db_conn *db, int64_t now); /* deletes expired; count or -errno */

/* Janitor: marks machines not seen since cutoff offline (count or -errno); lists ephemeral
 * machines not seen since cutoff (cb per row; the caller deletes them). */
int db_machine_mark_offline(struct db_conn *db, int64_t cutoff);
/* The same, calling cb(org_id, id) for each machine marked (for realtime updates). */
int db_machine_mark_offline_each(struct db_conn *db, int64_t cutoff,
                                 int (*cb)(int64_t org_id, int64_t id, void *arg), void *arg);
int db_machine_ephemeral_stale(struct db_conn *db, int64_t cutoff,
                               int (*cb)(const struct machine_row *m, void *arg), void *arg);
int64_t db_machine_count_online(struct db_conn *db); /* >= 0 or -errno */
/* The org's slug into out (for machine FQDNs); -ENOENT. */
int db_machine_org_slug(struct db_conn *db, int64_t org_id, char *out, size_t size);

#endif
