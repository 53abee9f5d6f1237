/* Just-in-time access (jit_db.c: the jit_requests table; jit_api.c: the API). A member asks for
 * access to one machine's port for a duration with a reason; an admin approves or denies; an
 * approved request is a grant from approval until expires_at, compiled into the filters for rules
 * with "requireJit"; the requester or an admin may revoke it; the policy module's timer marks it
 * expired (policy_rt.h). States: pending -> approved -> expired | revoked; pending -> denied |
 * revoked. Every step is audited (jit.request, jit.approve, jit.deny, jit.revoke, jit.expire). */
#ifndef ZTNA_SERVER_JIT_H
#define ZTNA_SERVER_JIT_H

#include <stdbool.h>
#include <stdint.h>

#include "server/limits.h"

struct db_conn;
struct api_ctx;
struct cJSON;

#define JIT_MAX_DURATION   (7 * 86400) /* seconds */
#define JIT_MAX_REASON     200         /* bytes */

struct jit_row {
    int64_t id, org_id, requester_id, machine_id;
    uint16_t port;
    uint8_t proto;                      /* 6, 17, 0 any */
    int64_t duration;                   /* seconds */
    char reason[JIT_MAX_REASON + 1];
    char state[16];                     /* pending, approved, denied, revoked, expired */
    int64_t created_at, decided_by, decided_at, expires_at, ended_at; /* 0: not set */
    char requester_email[SRV_MAX_EMAIL_BYTES + 1];
    char machine_name[64];
};

/* A request's body (jit_request_body in jit_api.c): POST .../jit-requests, and the machine-signed
 * POST /api/machine/jit-requests (api_control_jit.c). */
struct jit_request_in {
    const char *dst, *proto, *reason;
    int64_t port, duration;
};

/* jit_api.c, shared by the user routes and the machine-signed ones (the machine acts for its
 * owner). In ctx->auth.org_id:
 * jit_request_create: validates b (proto, minimum duration, reason text), resolves dst (id, name,
 *   MagicDNS name, hostname or tailnet IP), inserts a pending request of requester_id, replies
 *   201 with it, audits jit.request, sends the realtime notice and the webhook event; on a bad
 *   input the 4xx reply is set. */
void jit_request_create(struct api_ctx *ctx, int64_t requester_id, const struct jit_request_in *b);
/* jit_reply_list: 200 {"requests": [...], "next_cursor": id or null}, newest first; requester
 *   0: everyone's. Paged as the audit list: query limit (1..JIT_LIST_MAX, default
 *   JIT_LIST_DEFAULT) and cursor (the previous page's next_cursor: older requests); a bad one is
 *   400 INVALID_QUERY. next_cursor is set when the page is full. */
void jit_reply_list(struct api_ctx *ctx, int64_t requester);
/* jit_request_revoke: r (loaded by the caller, who checked the right to) pending or approved ->
 * revoked by user `by`; replies 200 with it (409 when it is neither), audits jit.revoke, drops
 * the grant, notices, webhook. */
void jit_request_revoke(struct api_ctx *ctx, struct jit_row *r, int64_t by);

/* The one serializer of a JIT request (jit_api.c), new (cJSON_Delete), NULL on no memory.
 * JIT_JSON_API: every field, unset times and decided_by null (the API's replies);
 * JIT_JSON_WEBHOOK: without requester_id, created_at, decided_at, decided_by, ended_at (the
 * webhook's "request", docs/policy.md). */
enum jit_json_view { JIT_JSON_API, JIT_JSON_WEBHOOK };
struct cJSON *jit_row_json(const struct jit_row *r, enum jit_json_view view);

/* A machine of the org by id, name, hostname, tailnet IP or full MagicDNS name
 * (name.<org-slug>.<base_domain>, case-insensitive, trailing dot allowed). -ENOENT. */
int jit_db_machine_resolve(struct db_conn *db, int64_t org_id, const char *base_domain,
                           const char *text, int64_t *id);
int jit_db_insert(struct db_conn *db, struct jit_row *r);  /* sets r->id; state "pending" */
int jit_db_get(struct db_conn *db, int64_t org_id, int64_t id, struct jit_row *out); /* -ENOENT */
/* At most limit requests of the org (requester 0: everyone's) with an id below before_id (0: no
 * bound), newest first; stops on cb's non-zero. */
int jit_db_list(struct db_conn *db, int64_t org_id, int64_t requester, int64_t before_id,
                int64_t limit, int (*cb)(const struct jit_row *r, void *arg), void *arg);
/* Moves request id from state `from` to `to`, setting decided_by/at (approve, deny), expires_at
 * (approve: now + duration) or ended_at (revoke, expire). -ENOENT: no such request;
 * -EALREADY: it is no longer in state `from`. */
int jit_db_transition(struct db_conn *db, int64_t org_id, int64_t id, const char *from,
                      const char *to, int64_t by, int64_t now);
/* Approved grants in force at now (expires_at > now). */
int jit_db_active(struct db_conn *db, int64_t org_id, int64_t now,
                  int (*cb)(const struct jit_row *r, void *arg), void *arg);
/* Approved grants whose time is up (expires_at <= now), every org. */
int jit_db_due(struct db_conn *db, int64_t now, int (*cb)(const struct jit_row *r, void *arg),
               void *arg);

/* jit_webhook.c: notifications to the admin's webhook (setting jit-webhook). */
#define JIT_WEBHOOK_MAX_URL 512
struct jit_webhook;
/* url "" or NULL: none (*out NULL, 0). *out new: jit_webhook_stop(). 0, -EINVAL, -ENOMEM. */
int jit_webhook_start(const char *url, struct jit_webhook **out);
void jit_webhook_stop(struct jit_webhook *w); /* sends what is queued, then frees; accepts NULL */
/* Queues {"event", "org_id", "time", "request": {...}}; never blocks on the network. */
void jit_webhook_event(struct jit_webhook *w, const char *event, const struct jit_row *r,
                       int64_t now);

#endif
