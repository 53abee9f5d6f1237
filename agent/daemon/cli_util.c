/* Helpers shared by the CLI commands (see cli_util.h). */
#include "agent/daemon/cli_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/daemon/agent_limits.h"
#include "agent/daemon/client.h"

static void usage(FILE *f, const char *cmd, const char *synopsis, const char *help,
                  const struct cli_opt *opts, size_t n)
{
    fprintf(f, "usage: ztna %s %s%s[--socket PATH]\n\n%s\n\noptions:\n", cmd, synopsis,
            synopsis[0] ? " " : "", help);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "  %-18s %s\n", opts[i].name, opts[i].help);
    fprintf(f, "  %-18s %s\n", "--socket PATH", "the daemon's socket (default " AGENT_DEFAULT_SOCKET ")");
    fprintf(f, "  %-18s %s\n", "--help", "this text");
}

int cli_parse(struct cli_opts *o, const char *cmd, const char *synopsis, const char *help,
              const struct cli_opt *opts, size_t n, int argc, char **argv, size_t npos)
{
    size_t np = 0;
    memset(o, 0, sizeof(*o));
    o->cmd = cmd;
    o->socket = getenv("ZTNA_SOCKET") ? getenv("ZTNA_SOCKET") : AGENT_DEFAULT_SOCKET;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout, cmd, synopsis, help, opts, n);
            return 0;
        }
        if (!strcmp(a, "--socket")) {
            if (i + 1 >= argc)
                goto missing;
            o->socket = argv[++i];
            continue;
        }
        if (a[0] == '-' && a[1]) {
            size_t k;
            for (k = 0; k < n; k++)
                if (!strcmp(a, opts[k].name))
                    break;
            if (k == n) {
                fprintf(stderr, "ztna %s: unknown option %s (see ztna %s --help)\n", cmd, a, cmd);
                return 2;
            }
            if (!opts[k].has_value) {
                o->val[k] = "1";
                continue;
            }
            if (i + 1 >= argc)
                goto missing;
            o->val[k] = argv[++i];
            continue;
        }
        if (np >= npos || np >= CLI_MAX_POS) {
            fprintf(stderr, "ztna %s: unexpected argument '%s' (see ztna %s --help)\n", cmd, a, cmd);
            return 2;
        }
        o->pos[np++] = a;
    }
    if (np != npos) {
        fprintf(stderr, "usage: ztna %s %s\n", cmd, synopsis);
        return 2;
    }
    return -1;
missing:
    fprintf(stderr, "ztna %s: %s needs a value\n", cmd, argv[argc - 1]);
    return 2;
}

bool cli_add_list(cJSON *obj, const char *key, const char *csv)
{
    cJSON *arr = cJSON_AddArrayToObject(obj, key);
    const char *p = csv;
    if (!arr)
        return false;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        char item[AGENT_NAME_MAX];
        if (!l || l >= sizeof(item)) {
            fprintf(stderr, "ztna: %s: empty or too long item in '%s'\n", key, csv);
            return false;
        }
        memcpy(item, p, l);
        item[l] = 0;
        cJSON_AddItemToArray(arr, cJSON_CreateString(item));
        p += l + (e ? 1 : 0);
    }
    return true;
}

cJSON *cli_request(const char *cmd)
{
    cJSON *r = cJSON_CreateObject();
    if (r && !cJSON_AddStringToObject(r, "cmd", cmd)) {
        cJSON_Delete(r);
        r = NULL;
    }
    return r;
}

int cli_call(const struct cli_opts *o, cJSON *req, int timeout_ms, cJSON **data)
{
    char err[1200];
    int ret = req ? client_call(o->socket, req, timeout_ms, data, err, sizeof(err)) : -1;
    if (!req)
        snprintf(err, sizeof(err), "out of memory");
    cJSON_Delete(req);
    if (ret) {
        fprintf(stderr, "ztna %s: %s\n", o->cmd, err);
        return 1;
    }
    return 0;
}

const char *cli_str(const cJSON *o, const char *k, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

double cli_num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}
