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
};
enum { BIT_SERVER = 1, BIT_KEY = 2, BIT_NAME = 4, BIT_TAGS = 5, BIT_REQ = 7, BIT_CODE = 8, BIT_VERIFIER = 9 };

static const struct {
    const char *name;
    enum api_cmd cmd;
    uint64_t needs; /* bit mask of required fields */
} cmds[] = {
    {"status", API_STATUS, 0},
    {"ip", API_IP, 0},
    {"up", API_UP, 0},
    {"down", API_DOWN, 0},
    {"logout", API_LOGOUT, 0},
    {"login", API_LOGIN, 1u << BIT_SERVER | 1u << BIT_KEY},
    {"login-code", API_LOGIN_CODE, 1u << BIT_SERVER | 1u << BIT_REQ | 1u << BIT_CODE | 1u << BIT_VERIFIER},
    {"set", API_SET, 1u << BIT_TAGS},
    {"resolve", API_RESOLVE, 1u << BIT_NAME},
    {"dns-query", API_DNS_QUERY, 1u << BIT_NAME},
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
        snprintf(why, why_len, "%s: missing argument (%s)", in.cmd,
                 cmds[i].needs & (1u << BIT_TAGS) ? "tags"
                 : cmds[i].needs & (1u << BIT_NAME) ? "name"
                 : cmds[i].needs & (1u << BIT_CODE) ? "server, request_id, code and code_verifier"
                                                     : "server and auth_key");
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
    *out = in.r;
    out->cmd = cmds[i].cmd;
    out->has_tags = seen & (1u << BIT_TAGS);
    ret = 0;
out:
    cJSON_Delete(root);
    return ret;
}
