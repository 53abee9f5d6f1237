/* The map stream (docs/control-protocol.md, "Map streams"): GET /api/machine/map/stream?since=V
 * as a WebSocket, signed like a poll, over which the server pushes each map message as it
 * happens. This file is the client: connect (libcurl, TLS included), upgrade, frames, the
 * pinger and the silence timer, all in the daemon's loop without blocking, and the one way back
 * it takes by itself: opening the stream again soon after the server went away (a restart).
 * What a map message means, and what to do when the stream ends, is control.c's business. */
#ifndef ZTNA_AGENT_DAEMON_MAPSTREAM_H
#define ZTNA_AGENT_DAEMON_MAPSTREAM_H

#include <stddef.h>
#include <stdint.h>

struct agent;
struct mapstream;

enum mapstream_state {
    MAPSTREAM_IDLE,
    MAPSTREAM_CONNECTING, /* connecting, or waiting for the answer to the upgrade */
    MAPSTREAM_OPEN,       /* upgraded: frames flow */
    MAPSTREAM_REOPENING,  /* the server went away (close 1001): opened again by itself soon */
};

enum mapstream_end {
    MAPSTREAM_REFUSED,      /* the server would not stream: not a 101, or an error frame */
    MAPSTREAM_UNREACHABLE,  /* never upgraded: no connection, or no answer in time */
    MAPSTREAM_BROKEN,       /* it was open and ended: a close, a reset, the protocol broken
                             * (a close 1001 only once reopening gave up) */
    MAPSTREAM_SILENT,       /* nothing arrived for AGENT_STREAM_SILENCE_S */
    MAPSTREAM_MACHINE_GONE, /* error MACHINE_UNKNOWN or MACHINE_EXPIRED (code says which) */
};

/* Events, named after what happened. Each may call mapstream_stop() or mapstream_start(),
 * except reopening. */
struct mapstream_ops {
    void (*opened)(struct agent *a);
    /* One {"type":"map",...} frame as JSON text (borrowed for the call; not NUL-terminated). */
    void (*map_received)(struct agent *a, const char *msg, size_t len);
    /* The answer to our ping. */
    void (*pong_received)(struct agent *a);
    /* The stream ended by itself (never after mapstream_stop()); it is idle again. After an
     * error frame, code is the server's code and why its message; else code is "" and why a
     * sentence saying what happened, for the log and the status. */
    void (*ended)(struct agent *a, enum mapstream_end how, const char *code, const char *why);
    /* The stream opens again by itself after the server went away (no ended event came):
     * returns the version to ask from, as mapstream_start()'s since. Must not stop or start
     * the stream. */
    int64_t (*reopening)(struct agent *a);
};

/* A new idle stream client (free with mapstream_free()) in a's loop. 0 or -errno. */
int mapstream_new(struct agent *a, const struct mapstream_ops *ops, struct mapstream **out);
void mapstream_free(struct agent *a, struct mapstream *ms);
/* Opens the stream to base_url (the server URL, as for http_start()) asking for what is newer
 * than since, signed with a->keys; a stream in progress is stopped first. 0, or -errno with
 * nothing started (no event follows). */
int mapstream_start(struct agent *a, struct mapstream *ms, const char *base_url, int64_t since);
/* Closes the stream (a close frame when it is open); no event follows. */
void mapstream_stop(struct agent *a, struct mapstream *ms);
/* Pings, the silence and handshake deadlines, the reopening after the server went away,
 * reading left over by the per-wake-up budget; call every tick. now is agent_now_ms(). */
void mapstream_tick(struct agent *a, struct mapstream *ms, uint64_t now);
enum mapstream_state mapstream_state(const struct mapstream *ms);

#endif
