/* The audit log: every write, login, key use and machine event, with actor, org, target, time and
 * source address. audit_record() is called from any thread (it uses the calling thread's database
 * connection); it never fails the caller's request, but returns -errno for callers that care. */
#ifndef ZTNA_SERVER_AUDIT_H
#define ZTNA_SERVER_AUDIT_H

#include <stdint.h>

struct server;

struct audit_event {
    int64_t org_id;          /* 0 when none (e.g. failed login for an unknown email) */
    const char *actor_type;  /* "user", "machine", "system", "anonymous" */
    int64_t actor_id;        /* 0 if none */
    const char *actor_name;  /* email or hostname, may be NULL */
    const char *action;      /* dotted: "auth.login.success", "auth.login.failure", "org.update",
                                "auth_key.create", "machine.register", ... */
    const char *target_type; /* "user", "org", "auth_key", "machine", ... or NULL */
    const char *target_id;   /* may be NULL */
    const char *source_addr; /* client address as the server sees it */
    const char *detail_json; /* small JSON object text, or NULL */
};

#define AUDIT_MAX_FIELD_BYTES  256  /* actor_name, target_id, source_addr: longer is truncated */
#define AUDIT_MAX_DETAIL_BYTES 4096 /* detail_json longer than this is replaced by {"truncated":true} */

/* 0 / -EINVAL (missing actor_type or action) / -errno from the database. */
int audit_record(struct server *srv, const struct audit_event *ev);

#endif
