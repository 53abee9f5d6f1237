/* Shared parts of the control-plane load tool (ctl_load.c): simulated agents, registration,
 * signed map polls, N connections under one epoll, reply checks, /proc sampling. The policy
 * scenario (ctl_policy.c) uses them. Benchmark only. */
#ifndef ZTNA_BENCH_CTL_LOAD_H
#define ZTNA_BENCH_CTL_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STREAM_WAIT 55

struct agent {
    uint8_t pk[32], sk[64];
    int64_t id;
    int64_t version; /* of the last verified map reply */
    const char *key; /* pre-auth key to register with; NULL: the global one */
    int fd;
    char *in;
    size_t inlen, incap;
    double done_at;
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
int conns_open(int ep, int count);
void conns_reset(int ep);
void agent_conn_reset(int ep, struct agent *a);
/* Opens connections for agents[0..count) and sends each a map poll at its own version (or
 * version when that is 0); waits for the server to authenticate them; returns how many
 * answered at once (they should not). */
int streams_hold(int ep, int count, int64_t version);
/* Peer: count concurrent GET /healthz on fresh connections; prints wall time and server CPU. */
void healthz_floor(int ep, int pid, int count, const char *label);
void print_latency(const char *what, double t0);

int policy_main(int argc, char **argv);

#endif
