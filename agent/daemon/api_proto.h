/* The local API protocol between the CLI and `ztna daemon` (docs/agent.md): over the Unix
 * socket, one request line of JSON, one reply line, then the daemon closes.
 *   request  {"cmd": "status" | "ip" | "up" | "down" | "logout" | "login" | "login-code" | "set" | "resolve"
 *                    | "dns-query" | "jit-request" | "jit-list" | "jit-revoke", ...arguments}
 *   reply    {"ok": true, "data": {...}}  or  {"ok": false, "error": "what went wrong"}
 * This file parses requests (untrusted: any local user who can open the socket). */
#ifndef ZTNA_AGENT_DAEMON_API_PROTO_H
#define ZTNA_AGENT_DAEMON_API_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/daemon/agent_limits.h"

enum api_cmd {
    API_STATUS,
    API_IP,
    API_UP,        /* accept_dns? */
    API_DOWN,
    API_LOGOUT,
    API_LOGIN,     /* server, auth_key, hostname?, tags? */
    API_SET,       /* tags */
    API_LOGIN_CODE, /* server, request_id, code, code_verifier, hostname?, tags?: the browser
                     * login's exchange (docs/control-protocol.md, CLI browser login) */
    API_RESOLVE,   /* name: a peer by short name, full name or tailnet IP (for `ztna ping`) */
    API_DNS_QUERY, /* name */
    API_JIT_REQUEST, /* name (the destination: machine name, MagicDNS name or tailnet IP), port,
                      * proto? (tcp | udp), duration (seconds), reason: for the machine's owner */
    API_JIT_LIST,    /* limit?, cursor? (a page, as GET /api/machine/jit-requests takes them) */
    API_JIT_REVOKE,  /* id */
};

#define API_JIT_MAX_DURATION (7 * 86400) /* seconds, as the server's JIT_MAX_DURATION */
#define API_JIT_MAX_REASON 200           /* bytes */
#define API_JIT_LIST_MAX 1000            /* requests per page, as the server's JIT_LIST_MAX */

struct api_request {
    enum api_cmd cmd;
    char server[AGENT_URL_MAX];
    char auth_key[256];
    char request_id[33], code[129], code_verifier[129];
    char hostname[AGENT_NAME_MAX];
    char name[AGENT_FQDN_MAX];
    char tags[AGENT_MAX_TAGS][AGENT_NAME_MAX];
    size_t n_tags;
    bool has_tags;
    bool accept_dns; /* up: point the system resolver at the stub */
    int64_t port, duration, id;          /* jit-request, jit-revoke */
    int64_t limit, cursor;               /* jit-list; 0: the server's default / the newest */
    char proto[4];                       /* jit-request: "tcp" (default) or "udp" */
    char reason[API_JIT_MAX_REASON + 1]; /* jit-request */
};

/* Parses one request (len bytes, need not be NUL-terminated). 0, or -EINVAL with why naming the
 * problem. */
int api_request_parse(const char *line, size_t len, struct api_request *out, char *why,
                      size_t why_len);

/* A duration as `ztna jit request --for` takes it: a positive number with a unit s, m, h or d
 * ("90s", "30m", "1h", "2d"), or plain seconds ("600"); at most API_JIT_MAX_DURATION. 0, or
 * -EINVAL (bad text) / -ERANGE (zero or too long). */
int api_duration_parse(const char *s, int64_t *seconds);

#endif
