/* Local API request parsing (see api_proto.h): one table of commands, one of fields. */
#include "agent/daemon/api_proto.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "agent/daemon/jfields.h"

struct req_in {
    char cmd[16];
    struct api_request r;
};

#define RF(name, type, member, cap, maxn, cnt)                                                     \
    {name, type, false, offsetof(struct req_in, member), cap, maxn, cnt, 1, 0}
static const struct jfield req_fields[] = {
    {"cmd", JF_STR, true, offsetof(struct req_in, cmd), 16, 0, 0, 1, 0},
    RF("server", JF_STR, r.server, AGENT_URL_MAX, 0, 0),
    RF("auth_key", JF_STR, r.auth_key, 256, 0, 0),
    RF("hostname", JF_STR, r.hostname, AGENT_NAME_MAX, 0, 0),
    RF("name", JF_STR, r.name, AGENT_FQDN_MAX, 0, 0),
    RF("tags", JF_STRARR, r.tags, AGENT_NAME_MAX, AGENT_MAX_TAGS, offsetof(struct req_in, r.n_tags)),
    RF("accept_dns", JF_BOOL, r.accept_dns, 0, 0, 0),
    RF("request_id", JF_STR, r.request_id, 33, 0, 0),
    RF("code", JF_STR, r.code, 129, 0, 0),
    RF("code_verifier", JF_STR, r.code_verifier, 129, 0, 0),
    {"port", JF_I64, false, offsetof(struct req_in, r.port), 0, 0, 0, 1, 65535},
    RF("proto", JF_STR, r.proto, 4, 0, 0),
    {"duration", JF_I64, false, offsetof(struct req_in, r.duration), 0, 0, 0, 1, API_JIT_MAX_DURATION},
    RF("reason", JF_STR, r.reason, API_JIT_MAX_REASON + 1, 0, 0),
    {"id", JF_I64, false, offsetof(struct req_in, r.id), 0, 0, 0, 1, (1LL << 53)},
    {"limit", JF_I64, false, offsetof(struct req_in, r.limit), 0, 0, 0, 1, API_JIT_LIST_MAX},
    {"cursor", JF_I64, false, offsetof(struct req_in, r.cursor), 0, 0, 0, 1, (1LL << 53)},
};
enum { BIT_SERVER = 1, BIT_KEY = 2, BIT_NAME = 4, BIT_TAGS = 5, BIT_REQ = 7, BIT_CODE = 8, BIT_VERIFIER = 9,
       BIT_PORT = 10, BIT_DURATION = 12, BIT_REASON = 13, BIT_ID = 14 };

static const struct {
    const char *name;
    enum api_cmd cmd;
    uint64_t needs; /* bit mask of required fields */
    const char *args; /* named when one is missing */
} cmds[] = {
    {"status", API_STATUS, 0, NULL},
    {"ip", API_IP, 0, NULL},
    {"up", API_UP, 0, NULL},
    {"down", API_DOWN, 0, NULL},
    {"logout", API_LOGOUT, 0, NULL},
    {"login", API_LOGIN, 1u << BIT_SERVER | 1u << BIT_KEY, "server and auth_key"},
    {"login-code", API_LOGIN_CODE, 1u << BIT_SERVER | 1u << BIT_REQ | 1u << BIT_CODE | 1u << BIT_VERIFIER,
     "server, request_id, code and code_verifier"},
    {"set", API_SET, 1u << BIT_TAGS, "tags"},
    {"resolve", API_RESOLVE, 1u << BIT_NAME, "name"},
    {"dns-query", API_DNS_QUERY, 1u << BIT_NAME, "name"},
    {"jit-request", API_JIT_REQUEST, 1u << BIT_NAME | 1u << BIT_PORT | 1u << BIT_DURATION | 1u << BIT_REASON,
     "name, port, duration and reason"},
    {"jit-list", API_JIT_LIST, 0, NULL},
    {"jit-revoke", API_JIT_REVOKE, 1u << BIT_ID, "id"},
};

static bool tag_valid(const char *t)
{
    if (strncmp(t, "tag:", 4) || !t[4])
        return false;
    for (const char *p = t + 4; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
              (*p >= 'A' && *p <= 'Z')))
            return false;
    return true;
}

int api_request_parse(const char *line, size_t len, struct api_request *out, char *why,
                      size_t why_len)
{
    struct req_in in;
    uint64_t seen = 0;
    int ret = -EINVAL;
    cJSON *root;

    memset(out, 0, sizeof(*out));
    if (len > AGENT_API_MAX_REQUEST) {
        snprintf(why, why_len, "request too long (max %d bytes)", AGENT_API_MAX_REQUEST);
        return -EINVAL;
    }
    root = cJSON_ParseWithLength(line, len);
    if (!root) {
        snprintf(why, why_len, "request is not JSON");
        return -EINVAL;
    }
    memset(&in, 0, sizeof(in));
    if (jfields_parse(root, req_fields, sizeof(req_fields) / sizeof(req_fields[0]), &in, &seen,
                      why, why_len))
        goto out;
    size_t i;
    for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (!strcmp(cmds[i].name, in.cmd))
            break;
    if (i == sizeof(cmds) / sizeof(cmds[0])) {
        snprintf(why, why_len, "unknown command \"%s\"", in.cmd);
        goto out;
    }
    if ((seen & cmds[i].needs) != cmds[i].needs) {
        snprintf(why, why_len, "%s: missing argument (%s)", in.cmd, cmds[i].args);
        goto out;
    }
    for (size_t t = 0; t < in.r.n_tags; t++) {
        if (!tag_valid(in.r.tags[t])) {
            snprintf(why, why_len, "tags: \"%.64s\" is not a tag (tag:name)", in.r.tags[t]);
            goto out;
        }
    }
    if ((cmds[i].cmd == API_LOGIN || cmds[i].cmd == API_LOGIN_CODE) && strncmp(in.r.server, "http://", 7) &&
        strncmp(in.r.server, "https://", 8)) {
        snprintf(why, why_len, "server: expected an http:// or https:// URL");
        goto out;
    }
    if (cmds[i].cmd == API_JIT_REQUEST && in.r.proto[0] && strcmp(in.r.proto, "tcp") &&
        strcmp(in.r.proto, "udp")) {
        snprintf(why, why_len, "proto: expected tcp or udp");
        goto out;
    }
    *out = in.r;
    out->cmd = cmds[i].cmd;
    out->has_tags = seen & (1u << BIT_TAGS);
    ret = 0;
out:
    cJSON_Delete(root);
    return ret;
}

int api_duration_parse(const char *s, int64_t *seconds)
{
    int64_t v = 0, unit = 1;
    const char *p = s;

    if (!s || *s < '0' || *s > '9')
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > API_JIT_MAX_DURATION) /* no overflow: the result is out of range anyway */
            return -ERANGE;
        v = v * 10 + (*p - '0');
    }
    switch (*p) {
    case 0: break;
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: return -EINVAL;
    }
    if (*p && p[1])
        return -EINVAL;
    if (v == 0 || v > API_JIT_MAX_DURATION / unit)
        return -ERANGE;
    *seconds = v * unit;
    return 0;
}
