/* Map streams of the control-plane load tool (ctl_stream.c): GET /api/machine/map/stream, a
 * WebSocket per agent (docs/control-protocol.md, "Map streams"). Benchmark only. */
#ifndef ZTNA_BENCH_CTL_STREAM_H
#define ZTNA_BENCH_CTL_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl_load.h"

/* The stream mode of streams_hold(): opens streams for agents[0..count) at most WS_OPEN_WINDOW
 * upgrades at a time, within WS_OPEN_BASE_S + count / WS_OPEN_RATE s, and prints how it went.
 * Returns how many streams had a message at once (they should not); *refused: upgrades the
 * server refused or answered with an error frame (a protocol problem). */
int streams_open(int ep, int count, int64_t version, int *refused);
/* conn_read() of a stream, after it read what was there into a->in (closed: the socket ended):
 * the 101, then whole frames. True when done_at was set now (see conn_read()). */
bool stream_input(int ep, struct agent *a, bool closed);
/* Pings (a masked {"type":"ping"}) every open stream that sent nothing for older_than s. */
void streams_keepalive(double older_than);
/* Pings every open stream and waits for their pongs until deadline; returns how many answered
 * and, in *open, how many were pinged. */
int streams_ping(int ep, double deadline, int *open);
/* The k-th message a stream received since the last stream_messages_drop(): a map frame whose
 * payload's batch path leads to a root the server signed, and map_payload_check(). */
bool stream_message_verify(const struct agent *a, int k, int64_t must_list, struct map_info *mi,
                           size_t *bytes, char *why, size_t whycap);
void stream_messages_drop(struct agent *a);
/* Messages verified so far and the Ed25519 checks they took (one per distinct batch root). */
void stream_verify_stats(long *messages, long *signatures);

#endif
