/* Parser of the client frames of the realtime socket (realtime.h); pure, fuzzed by
 * tests/web/fuzz_realtime_msg.c. */
#ifndef ZTNA_SERVER_REALTIME_MSG_H
#define ZTNA_SERVER_REALTIME_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "server/limits.h"

enum rt_msg_type { RT_MSG_AUTH, RT_MSG_SUBSCRIBE, RT_MSG_PING };

#define RT_CHANNELS_MAX 8
#define RT_MAX_MSG_BYTES 4096 /* one client frame */

struct rt_msg {
    enum rt_msg_type type;
    char token[SRV_TOKEN_TEXT_BYTES]; /* auth: 64 lower-case hex digits */
    int64_t org;                      /* subscribe: > 0 */
    uint32_t channels;                /* subscribe: bit i = rt_channels[i] */
};

struct rt_channel {
    const char *name;
    int min_role; /* enum org_role */
};
extern const struct rt_channel rt_channels[];
extern const size_t rt_channels_count;

/* Index of a channel name, or -1. */
int rt_channel_find(const char *name);

/* Parses one text frame. Returns 0, or -EINVAL with *why (static text) naming the problem:
 * not JSON, not an object, unknown type, a missing or malformed field, an unknown channel. */
int rt_msg_parse(const char *data, size_t len, struct rt_msg *out, const char **why);

#endif
