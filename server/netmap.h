/* The netmap: per-org in-memory state of what every machine's map shows, kept incrementally, and
 * the long-poll that delivers it (docs/control-protocol.md, "Incremental computation").
 *
 * Per org: a monotonic version; one entry per machine (live or tombstone) holding its rendered
 * peer and self objects and the version at which it last changed, in a list ordered by that
 * version; tombstones for deleted machines (the oldest are pruned past NM_MAX_TOMBSTONES, which
 * raises the org's floor: older polls get a full map).
 *
 * Source of changes: the table netmap_changes (schema/004_control.sql), filled by triggers on
 * machines, machine_control and orgs, whoever writes them. netmap_sync() applies the rows after
 * the last one applied: one version bump per org per batch, one entry replaced per changed
 * machine, and a broadcast to the waiting polls of that org only. It runs after every successful
 * API write (dispatch.c), after every janitor pass (janitor.c), and from the module's thread every
 * NM_SWEEP_MS (for any other writer outside the API). A poll never queries SQLite for the map.
 *
 * Versions start, at load, at the server's clock in microseconds, so that they keep growing
 * across restarts (as long as the clock does) and an agent's "older than what I hold" check does
 * not refuse the maps of a new server run; a poll from before the restart (since < the load
 * version) gets a full map.
 *
 * Threads: every function is thread-safe. A poll waits on its org's condition variable; at most
 * srv->set.max_streams polls wait at once (beyond: -EBUSY), see server/http.c for the worker
 * pool that this bounds. */
#ifndef ZTNA_SERVER_NETMAP_H
#define ZTNA_SERVER_NETMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/server.h"

#define NM_MAX_TOMBSTONES   4096 /* per org; beyond, the oldest go and the org's floor rises */
#define NM_SWEEP_MS         100  /* the module thread looks for changes from outside the API */
#define NM_SYNC_BATCH       256  /* change rows read at once */
#define NM_WAIT_MIN         1    /* long-poll bounds, seconds (wait=) */
#define NM_WAIT_MAX         55
#define NM_WAIT_DEFAULT     25
#define NM_MAX_ENDPOINTS    16   /* endpoints a machine may report */
#define NM_ENDPOINT_MAX     54   /* "[" v6 "]:" port, NUL included */

/* Module hooks (server/modules.c): load every org's state from SQLite; free it. */
int netmap_start(struct server *srv);
void netmap_stop(struct server *srv);

/* Applies pending rows of netmap_changes now (no-op when the module is not started). */
void netmap_sync(struct server *srv);

/* An API request (server/http.c) holds the wake-up of the polls its writes release until its
 * own reply is written, then releases it (see netmap.c). Per thread; release without a hold, or
 * with nothing held, is a no-op. */
/* Held polls woken (and streams looked at) by a change so far: [0] with a message to send, [1]
 * with nothing for that machine; [2] the map streams open now (zeros without the module). */
void netmap_wake_counts(struct server *srv, uint64_t out[3]);

void netmap_wakes_hold(void);
void netmap_wakes_release(struct server *srv);

/* Shutdown: every waiting poll answers at once (a keepalive) and no new poll waits. */
void netmap_streams_release(struct server *srv);

struct netmap_poll {
    int64_t org_id, machine_id; /* the authenticated recipient */
    int64_t since;              /* 0: full map */
    int wait;                   /* seconds, NM_WAIT_MIN..NM_WAIT_MAX */
};

/* Authenticates a signed map poll (Authorization header value, method, signed target, body)
 * from memory, without SQLite: the machine key of a live machine in the map, the signature and
 * window of ctl_auth_verify(), and a replay cache of this run's nonces. 0 fills *org_id and
 * *machine_id; -EEXIST: a replayed nonce; -EAGAIN: not decidable here (unknown or expired key,
 * bad signature or window, a timestamp from before this run): the caller authenticates through
 * SQLite (machine_auth.h), which also gives the precise error. */
int netmap_auth(struct server *srv, const char *header, const char *method, const char *target,
                const uint8_t *body, size_t body_len, int64_t *org_id, int64_t *machine_id);

/* Answers one poll: waits until the org changed after p->since (or p->wait runs out, or
 * shutdown), then fills *msg with the message (new: free with free(); the bytes are
 * NETMAP_SIG_PREFIX followed by the JSON payload, *len counts both). Returns 0, -ENOENT when
 * the machine is not (or no longer) in the map, -EBUSY when max_streams polls already wait,
 * -ENOMEM. */
int netmap_poll(struct server *srv, const struct netmap_poll *p, char **msg, size_t *len);

/* Registers the map stream (GET /api/machine/map/stream, a WebSocket; netmap_stream.c). */
struct mg_context;
void netmap_stream_register(struct mg_context *ctx, struct server *srv);

#define NETMAP_SIG_PREFIX "ZTNA-NETMAP-V1\n"

#endif
