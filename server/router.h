/* Path splitting and route-pattern matching for /api (no civetweb; fuzzed by fuzz_router.c).
 * Patterns are literal segments and {name} captures: "/api/orgs/{org}/users/{user}". */
#ifndef ZTNA_SERVER_ROUTER_H
#define ZTNA_SERVER_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "server/limits.h"

struct path_segs {
    size_t n;
    char seg[SRV_MAX_PATH_SEGMENTS][SRV_MAX_PARAM_BYTES]; /* percent-decoded */
};

struct route_params {
    size_t n;
    struct {
        char name[32];
        char value[SRV_MAX_PARAM_BYTES];
    } p[SRV_MAX_ROUTE_PARAMS];
};

/* Splits a raw (still percent-encoded) absolute path, without query string, into decoded
 * segments. Rejects (-EINVAL) a path that is not absolute, is too long or deep, has an empty
 * segment (except one trailing '/'), a "." or ".." segment (before or after decoding), a bad
 * %XX escape, or decodes to a '/', '\\', NUL or control byte inside a segment. */
int router_path_split(const char *raw, struct path_segs *out);

/* True if the pattern matches; params (may be NULL) receives the captures in order. */
bool router_match(const char *pattern, const struct path_segs *segs, struct route_params *params);

/* The capture called name, or NULL (borrowed from params). */
const char *router_param(const struct route_params *params, const char *name);

#endif
