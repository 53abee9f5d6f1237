/* Shared parts of the control-plane load tool (ctl_load.c): simulated agents, registration,
 * signed map polls, N connections under one epoll, reply checks, /proc sampling. The policy
 * scenario (ctl_policy.c) uses them; map streams are in ctl_stream.c. Benchmark only. */
#ifndef ZTNA_BENCH_CTL_LOAD_H
#define ZTNA_BENCH_CTL_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ctl/map_batch.h"
#include "common/ctl/wsproto.h"
#include "common/strbuf.h"

/* Limits of the tool (the server's are in server/). */
#define STREAM_WAIT     55        /* a held poll's wait=, seconds */
#define WS_PING_AFTER   15.0      /* a stream silent this long pings (the server closes at 30 s) */
#define WS_OPEN_WINDOW  256       /* stream upgrades in flight at once */
#define WS_OPEN_BASE_S  30.0      /* opening N streams may take this + N / WS_OPEN_RATE s */
#define WS_OPEN_RATE    200.0
#define WS_PONG_WAIT_S  10.0      /* every stream's pong is in by then */
#define WS_MSG_MAX      (64u << 20) /* a longer server message is a protocol problem */

#define MAP_SIG_PREFIX  MAP_BATCH_MSG_TAG /* what a map signature (or batch leaf) covers first */

/* A connection's kind (agent.ws): plain HTTP, or a map stream's state (ctl_stream.c). */
enum ws_state { WS_NONE, WS_UPGRADING, WS_OPEN, WS_CLOSED };

struct agent {
    uint8_t pk[32], sk[64];
    int64_t id;
    int64_t version; /* of the last verified map reply */
    const char *key; /* pre-auth key to register with; NULL: the global one */
    int fd;
    char *in;                /* what the connection received (new; freed by no one: the tool exits) */
    size_t inlen, incap;
    /* A poll or /healthz: when the whole reply was in. A stream: when its first message since
     * the last agent_messages_drop() was. -1: closed before either. */
    double done_at;
    /* Map stream (ws != WS_NONE): in holds the upgrade's answer, then only what the parser has
     * not taken yet; kept: the msgs messages (map or error frames: pongs are counted, not kept)
     * since the last agent_messages_drop(), each a struct kept_msg and its bytes (ctl_stream.c);
     * sent_at: our last frame (for the pings). */
    enum ws_state ws;
    char accept[WS_ACCEPT_LEN + 1]; /* the Sec-WebSocket-Accept the upgrade must get */
    struct ws_parser parser;        /* its buffer freed by agent_conn_reset() */
    struct strbuf kept;
    int msgs, pongs, status; /* status: the upgrade's HTTP status */
    const char *err;         /* why the stream closed (a literal) */
    double sent_at;
};

/* What map_verify() read from a verified map payload. */
struct map_info {
    char type[16];
    int64_t version;
    bool has_filter; /* "filter" is an object */
    bool self;       /* "self" present */
    int upserts, removes;
};

extern const char *host;
extern int port;
extern const char *auth_key;
extern struct agent *agents;
extern int nagents;
extern int64_t org_version;
extern uint8_t server_pk[32];
extern bool use_streams; /* hold map streams (default), or polls (--poll) */

double now_s(void);
long rss_kib(int pid);
double cpu_s(int pid);
int dial(bool nonblock);
int write_all(int fd, const char *p, size_t n);
size_t response_complete(const char *buf, size_t len, int *status);
char *roundtrip(int fd, const char *req, size_t reqlen, int *status);
int64_t json_id(const char *resp, const char *key, char *spk_hex);
/* Registers agents[0..nagents) over a few keep-alive connections; returns the count that failed. */
int register_all(void);
int map_request(struct agent *a, int64_t since, int wait, char *out, size_t cap);
/* True when body is a map reply signed by the server for machine want_id (and, when must_list
 * is not 0, whose upsert lists that machine); fills *mi. */
bool map_verify(const char *body, int64_t want_id, struct map_info *mi, int64_t must_list);
/* The same checks on a payload whose signature the caller verified (n bytes, not NUL-ended). */
bool map_payload_check(const char *payload, size_t n, int64_t want_id, struct map_info *mi,
                       int64_t must_list);
/* How many messages a collection left on a (a poll's reply counts 1), and the check of the k-th:
 * map_verify() of a poll's 200 reply, stream_message_verify() of a stream's. *bytes: its size
 * (a poll's body, a frame's text); why: what failed. */
int agent_messages(const struct agent *a);
bool agent_message_check(const struct agent *a, int k, int64_t must_list, struct map_info *mi,
                         size_t *bytes, char *why, size_t whycap);
/* Forgets what a collection left on a stream (an incomplete frame stays); done_at 0. */
void agent_messages_drop(struct agent *a);
/* Agent 0 fetches its full map (prints its size), then follows deltas until a keepalive says
 * org_version is current. 0 or -1 (printed). */
int full_map_settle(void);

/* Collecting replies on the connections of agents (fd >= 0) with epoll. With quiet > 0 the
 * collection also ends quiet seconds after the last reply (and after extra's reply, when given:
 * the request that made the change) once the server is idle (under 10% of a core over 0.5 s),
 * and the server's CPU is sampled after replies (every 2 ms at most, less often when a sample is
 * costly), the sample kept being the first one taken at or after the last reply. */
struct collect {
    double quiet;
    int pid;
    struct agent *extra;
    int got;                   /* replies from agents */
    double last_at;            /* time of the last reply from an agent */
    double cpu_last, self_last; /* server / own CPU sampled at or after it (the caller sets
                                 * them to the values at the start) */
    double sample_at;          /* when */
    double cpu_before;         /* server CPU at the last sample before the last reply */
    int samples;
};
int fanout_collect(int ep, double deadline, struct collect *c);
/* Reads what is there on a's connection; true when its reply or first message is in now
 * (done_at set), or it closed before one (done_at -1). */
bool conn_read(int ep, struct agent *a);
int conns_open(int ep, int count);
void conns_reset(int ep);
void agent_conn_reset(int ep, struct agent *a);
/* Opens connections for agents[0..count) and has each hold a map stream (use_streams) or poll
 * at its own version (or version when that is 0; an agent at -1 holds nothing); waits for the
 * server to authenticate them; returns how many answered at once (they should not). *refused:
 * streams the server refused (a protocol problem). */
int streams_hold(int ep, int count, int64_t version, int *refused);
/* Peer: count concurrent GET /healthz on fresh connections; prints wall time and server CPU,
 * and returns them in ms (when out is not NULL: out[0] wall, out[1] CPU). */
void healthz_floor(int ep, int pid, int count, const char *label, double out[2]);
/* Prints p50 / p99 / all of the replies in since t0; returns "all" in ms (-1: none). */
double print_latency(const char *what, double t0);
/* One summary line "= <mode> <what>: <ms> ms, <count> agents (<ratio>x the peer's <peer> ms)"
 * (run.sh gathers them); ms < 0: none. */
void print_summary(const char *what, int count, double ms, double peer_ms);

int policy_main(int argc, char **argv);

#endif
