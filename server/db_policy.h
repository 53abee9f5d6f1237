/* policies table (db_policy.c): the versions of each org's policy document. */
#ifndef ZTNA_SERVER_DB_POLICY_H
#define ZTNA_SERVER_DB_POLICY_H

#include <stdint.h>

#include "server/limits.h"

struct db_conn;

struct policy_version {
    int64_t org_id;
    int64_t version;
    int64_t author_id;                     /* 0: unknown or deleted */
    char author_email[SRV_MAX_EMAIL_BYTES + 1];
    int64_t created_at;
    char *text;                            /* new (malloc), or NULL when not asked for */
};

/* The version in force (the highest). -ENOENT when the org has none. out->text is new: free(). */
int db_policy_current(struct db_conn *db, int64_t org_id, struct policy_version *out);
/* One version, with its text. -ENOENT. */
int db_policy_get(struct db_conn *db, int64_t org_id, int64_t version, struct policy_version *out);
/* Inserts v (org_id, version, author, created_at, text). -EEXIST when that version exists (a
 * concurrent writer got there first). */
int db_policy_insert(struct db_conn *db, const struct policy_version *v);
/* Calls cb for each version of the org, newest first, without text; stops on non-zero. */
int db_policy_history(struct db_conn *db, int64_t org_id,
                      int (*cb)(const struct policy_version *v, void *arg), void *arg);

#endif
