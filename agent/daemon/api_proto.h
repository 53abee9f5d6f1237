/* The local API protocol between the CLI and `ztna daemon` (docs/agent.md): over the Unix
 * socket, one request line of JSON, one reply line, then the daemon closes.
 *   request  {"cmd": "status" | "ip" | "up" | "down" | "logout" | "login" | "login-code" | "set" | "resolve"
 *                    | "dns-query", ...arguments}
 *   reply    {"ok": true, "data": {...}}  or  {"ok": false, "error": "what went wrong"}
 * This file parses requests (untrusted: any local user who can open the socket). */
#ifndef ZTNA_AGENT_DAEMON_API_PROTO_H
#define ZTNA_AGENT_DAEMON_API_PROTO_H

#include <stdbool.h>
#include <stddef.h>

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
};

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
};

/* Parses one request (len bytes, need not be NUL-terminated). 0, or -EINVAL with why naming the
 * problem. */
int api_request_parse(const char *line, size_t len, struct api_request *out, char *why,
                      size_t why_len);

#endif
