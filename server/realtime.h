/* Realtime updates for the dashboard: one WebSocket per tab at /api/ws, per-org channels.
 *
 * Protocol (JSON text frames, at most RT_MAX_MSG_BYTES each; realtime_msg.h parses them):
 *   client -> {"type":"auth","token":"<access token>"}     first, within RT_AUTH_TIMEOUT_S
 *             (or the token as ?token= on the upgrade request)
 *   server <- {"type":"ready","user_id":N,"expires_in":S}
 *   client -> {"type":"subscribe","org":N,"channels":["machines","jit",...]}
 *   server <- {"type":"subscribed","org":N,"channels":[...]}   (channels the role may see)
 *   server <- {"type":"event","org":N,"channel":"machines","data":{...}}
 *   server <- {"type":"reauth"}  the access token expired or was revoked (checked every
 *             RT_RECHECK_S): send a fresh "auth" (events pause, the socket closes
 *             RT_REAUTH_GRACE_S later without one)
 *   server <- {"type":"resync"}  events were dropped (slow client): reload what is shown
 *   client -> {"type":"ping"}  server <- {"type":"pong"}  (at least every 30 s, or civetweb's
 *             request timeout closes an idle socket)
 *   errors:   {"type":"error","code":"...","message":"..."}; auth errors close the socket.
 *
 * Channels and who may subscribe: machines, jit, policy, members (member); keys, audit (admin).
 * Data on "machines": {"event":"upsert","machine":{...}} | {"event":"delete","id":N} |
 * {"event":"offline","id":N}.
 * Data on "jit": {"event":"request"|"approved"|"denied"|"revoked"|"expired","id":N} (notices:
 * members may read only their own requests). On "policy": {"event":"update","id":version}.
 * On "members": {"event":"invited"|"joined"|"role"|"removed","id":user_id} (joined: a first SSO
 * login made them a member); the changed user's own
 * sockets first get a fresh "subscribed" (channels of the new role) or, when removed, an error
 * NOT_FOUND and no further events of the org. On "keys": {"event":"created"|"revoked","id":N}.
 * On "audit": {"event":"new","action","actor_type","actor","target_type","target_id"} for every
 * entry of the org (the channel is admin-only, enforced at subscribe and at every role change).
 *
 * Threads: civetweb gives each socket a worker thread; the HTTP pool has --max-websockets workers
 * on top of those for the API (server/http.c), and at most that many sockets are accepted, so
 * open tabs never take the API's workers; events are queued per client (at most
 * RT_QUEUE_MAX, then "resync") and written by one sender thread, so realtime_publish() never
 * blocks on a slow client. The sender's writes overlap the socket worker's reads: over the
 * server's own TLS the shim (server/tlsshim/shim.c) serialises OpenSSL calls per connection. */
#ifndef ZTNA_SERVER_REALTIME_H
#define ZTNA_SERVER_REALTIME_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "server/realtime_msg.h" /* RT_MAX_MSG_BYTES */

struct mg_context;
struct server;

#define RT_QUEUE_MAX        256
#define RT_AUTH_TIMEOUT_S   10
#define RT_REAUTH_GRACE_S   60
#define RT_RECHECK_S        5   /* tokens of open sockets re-validated this often */
#define RT_TICK_MS          1000

/* Module hooks (modules.c): the sender thread and the client registry (srv->realtime). */
int realtime_start(struct server *srv);
void realtime_stop(struct server *srv); /* after the HTTP listener stopped; accepts not started */

/* Registers the /api/ws WebSocket handlers (called by web_register()). */
void realtime_register(struct mg_context *ctx, struct server *srv);

/* Sends {"type":"event","org":org_id,"channel":channel,"data":data} to every socket
 * subscribed to that org and channel. data is borrowed (serialised here). Never blocks on a
 * client; thread-safe; a no-op when the module is not running. */
void realtime_publish(struct server *srv, int64_t org_id, const char *channel, const cJSON *data);

/* {"event":event,"id":id} on channel: a notice without details, for resources whose rows not
 * every subscriber may read (JIT requests: members see their own); the tab reloads through
 * the API, which applies the visibility rules. */
void realtime_notice(struct server *srv, int64_t org_id, const char *channel, const char *event,
                     int64_t id);

/* True if some socket listens to org_id's channel (skip building events nobody reads). */
bool realtime_wants(struct server *srv, int64_t org_id, const char *channel);

/* After a membership change of user_id in org_id (committed; db: the calling thread's
 * connection): re-grants that user's sockets from their role now, then publishes
 * {"event":event,"id":user_id} on "members". */
struct db_conn;
void realtime_member_changed(struct server *srv, struct db_conn *db, int64_t org_id,
                             int64_t user_id, const char *event);

/* For the machines module, on "machines": machine_changed re-reads the row through db (the
 * calling thread's connection, outside a transaction or inside one that wrote it) and sends
 * {"event":"upsert","machine":{...}}; machine_gone sends {"event":"delete"|"offline","id":N}. */
void realtime_machine_changed(struct server *srv, struct db_conn *db, int64_t org_id, int64_t id);
void realtime_machine_gone(struct server *srv, const char *event, int64_t org_id, int64_t id);

#endif
