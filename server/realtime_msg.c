/* Client frames of the realtime socket: parsed once, here, into struct rt_msg. */
#include "server/realtime_msg.h"

#include <errno.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "server/api.h"

const struct rt_channel rt_channels[] = {
    {"machines", ROLE_MEMBER}, {"jit", ROLE_MEMBER},  {"policy", ROLE_MEMBER},
    {"members", ROLE_MEMBER},  {"keys", ROLE_ADMIN},  {"audit", ROLE_ADMIN},
};
const size_t rt_channels_count = sizeof(rt_channels) / sizeof(rt_channels[0]);

int rt_channel_find(const char *name)
{
    for (size_t i = 0; i < rt_channels_count; i++)
        if (strcmp(rt_channels[i].name, name) == 0)
            return (int)i;
    return -1;
}

static bool token_ok(const char *t)
{
    if (strlen(t) != SRV_TOKEN_TEXT_BYTES - 1)
        return false;
    for (const char *p = t; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

static int parse_tree(const cJSON *root, struct rt_msg *out, const char **why)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");

    if (!cJSON_IsObject(root)) {
        *why = "a frame must be a JSON object";
        return -EINVAL;
    }
    if (!cJSON_IsString(type)) {
        *why = "missing \"type\"";
        return -EINVAL;
    }
    if (strcmp(type->valuestring, "ping") == 0) {
        out->type = RT_MSG_PING;
        return 0;
    }
    if (strcmp(type->valuestring, "auth") == 0) {
        const cJSON *tok = cJSON_GetObjectItemCaseSensitive(root, "token");

        if (!cJSON_IsString(tok) || !token_ok(tok->valuestring)) {
            *why = "\"token\" must be an access token (64 hex digits)";
            return -EINVAL;
        }
        out->type = RT_MSG_AUTH;
        memcpy(out->token, tok->valuestring, SRV_TOKEN_TEXT_BYTES);
        return 0;
    }
    if (strcmp(type->valuestring, "subscribe") == 0) {
        const cJSON *org = cJSON_GetObjectItemCaseSensitive(root, "org");
        const cJSON *chs = cJSON_GetObjectItemCaseSensitive(root, "channels");
        const cJSON *c;

        if (!cJSON_IsNumber(org) || org->valuedouble < 1 || org->valuedouble > 9007199254740991.0 ||
            org->valuedouble != (double)(int64_t)org->valuedouble) {
            *why = "\"org\" must be a positive integer id";
            return -EINVAL;
        }
        if (!cJSON_IsArray(chs) || cJSON_GetArraySize(chs) > RT_CHANNELS_MAX) {
            *why = "\"channels\" must be an array of at most 8 channel names";
            return -EINVAL;
        }
        out->type = RT_MSG_SUBSCRIBE;
        out->org = (int64_t)org->valuedouble;
        out->channels = 0;
        cJSON_ArrayForEach(c, chs)
        {
            int i = cJSON_IsString(c) ? rt_channel_find(c->valuestring) : -1;

            if (i < 0) {
                *why = "unknown channel (machines, jit, policy, members, keys, audit)";
                return -EINVAL;
            }
            out->channels |= 1u << i;
        }
        return 0;
    }
    *why = "unknown \"type\" (auth, subscribe, ping)";
    return -EINVAL;
}

int rt_msg_parse(const char *data, size_t len, struct rt_msg *out, const char **why)
{
    cJSON *root;
    int ret;

    memset(out, 0, sizeof(*out));
    *why = "";
    if (len == 0 || len > RT_MAX_MSG_BYTES) {
        *why = "frame empty or larger than 4096 bytes";
        return -EINVAL;
    }
    root = cJSON_ParseWithLength(data, len);
    if (!root) {
        *why = "frame is not JSON";
        return -EINVAL;
    }
    ret = parse_tree(root, out, why);
    cJSON_Delete(root);
    return ret;
}
