/* `ztna jit`: just-in-time access for the user who owns this machine, through the daemon, which
 * signs the call with the machine key (docs/agent.md, docs/control-protocol.md):
 *   ztna jit request --to NAME --port P [--proto tcp|udp] --for DURATION --reason TEXT
 *   ztna jit list [--limit N] [--cursor ID]   (a page, newest first; the server's default is 100)
 *   ztna jit revoke ID
 * Errors name the problem and exit 1; usage errors exit 2. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "agent/commands.h"
#include "agent/daemon/api_proto.h"
#include "agent/daemon/cli_util.h"

#define JIT_CALL_TIMEOUT_MS 30000

/* 90 -> "1m30s", 3600 -> "1h", 93600 -> "1d2h" */
static void fmt_duration(int64_t s, char out[static 24])
{
    static const struct {
        int64_t secs;
        char unit;
    } units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < 4 && s > 0; i++) {
        if (s >= units[i].secs) {
            o += (size_t)snprintf(out + o, 24 - o, "%" PRId64 "%c", s / units[i].secs, units[i].unit);
            s %= units[i].secs;
        }
    }
    if (!out[0])
        snprintf(out, 24, "0s");
}

static void fmt_time(double t, char out[static 32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t <= 0 || !gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, 32, "-");
}

static const char *state_text(const cJSON *r)
{
    const char *s = cli_str(r, "state", "?");
    return !strcmp(s, "pending") ? "pending approval by an org admin or an approver the policy names"
           : !strcmp(s, "approved") ? "approved"
                                    : s;
}

static int jit_request(int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"--to", true, "the machine: its name, MagicDNS name or tailnet IP"},
        {"--port", true, "the port, 1..65535"},
        {"--proto", true, "tcp (default) or udp"},
        {"--for", true, "how long once approved: 90s, 30m, 1h, 2d (at most 7d)"},
        {"--reason", true, "why (shown to the approvers, kept in the audit log)"},
    };
    struct cli_opts o;
    cJSON *data = NULL;
    int64_t secs = 0;
    char *end = NULL;
    int ret = cli_parse(&o, "jit request", "--to NAME --port P [--proto tcp|udp] --for DURATION "
                        "--reason TEXT",
                        "Asks for just-in-time access to a port of a machine, for the user who owns\n"
                        "this machine. An admin, or an approver the policy names, approves it; the\n"
                        "access then runs for DURATION.", opts, 5, argc, argv, 0);
    if (ret >= 0)
        return ret;
    for (size_t i = 0; i < 5; i++) {
        if (i != 2 && !o.val[i]) {
            fprintf(stderr, "ztna jit request: %s is required (see ztna jit request --help)\n",
                    opts[i].name);
            return 2;
        }
    }
    long port = strtol(o.val[1], &end, 10);
    if (!o.val[1][0] || *end || port < 1 || port > 65535) {
        fprintf(stderr, "ztna jit request: --port: expected a port number 1..65535, not '%s'\n",
                o.val[1]);
        return 2;
    }
    if (o.val[2] && strcmp(o.val[2], "tcp") && strcmp(o.val[2], "udp")) {
        fprintf(stderr, "ztna jit request: --proto: expected tcp or udp, not '%s'\n", o.val[2]);
        return 2;
    }
    ret = api_duration_parse(o.val[3], &secs);
    if (ret) {
        fprintf(stderr, "ztna jit request: --for: %s, not '%s'\n",
                ret == -ERANGE ? "expected a duration from 1s up to 7d"
                               : "expected a duration like 90s, 30m, 1h or 2d",
                o.val[3]);
        return 2;
    }
    if (!o.val[4][0] || strlen(o.val[4]) > API_JIT_MAX_REASON) {
        fprintf(stderr, "ztna jit request: --reason: give 1..%d bytes of text\n", API_JIT_MAX_REASON);
        return 2;
    }
    cJSON *r = cli_request("jit-request");
    if (r) {
        cJSON_AddStringToObject(r, "name", o.val[0]);
        cJSON_AddNumberToObject(r, "port", (double)port);
        cJSON_AddStringToObject(r, "proto", o.val[2] ? o.val[2] : "tcp");
        cJSON_AddNumberToObject(r, "duration", (double)secs);
        cJSON_AddStringToObject(r, "reason", o.val[4]);
    }
    if (cli_call(&o, r, JIT_CALL_TIMEOUT_MS, &data))
        return 1;
    char dur[24];
    fmt_duration((int64_t)cli_num(data, "duration"), dur);
    printf("JIT request %.0f: %s port %.0f/%s for %s: %s\n", cli_num(data, "id"),
           cli_str(data, "machine_name", "?"), cli_num(data, "port"), cli_str(data, "proto", "?"),
           dur, state_text(data));
    cJSON_Delete(data);
    return 0;
}

/* A decimal option value in [1, hi] into *out (0 when absent); false after a usage message. */
static bool opt_num(const char *name, const char *v, long long hi, long long *out)
{
    char *end = NULL;
    *out = 0;
    if (!v)
        return true;
    *out = strtoll(v, &end, 10);
    if (!v[0] || *end || *out < 1 || *out > hi) {
        fprintf(stderr, "ztna jit list: %s must be a number in 1..%lld, not '%s'\n", name, hi, v);
        return false;
    }
    return true;
}

static int jit_list(int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"--limit", true, "requests per page, 1..1000 (default 100)"},
        {"--cursor", true, "the page after this request id (the 'more' line of the previous page)"},
    };
    struct cli_opts o;
    cJSON *data = NULL;
    const cJSON *e;
    long long limit, cursor;
    int ret = cli_parse(&o, "jit list", "[--limit N] [--cursor ID]", "Lists the JIT requests of "
                        "the user who owns this machine, newest first, a page at a time.", opts, 2,
                        argc, argv, 0);
    if (ret >= 0)
        return ret;
    if (!opt_num("--limit", o.val[0], API_JIT_LIST_MAX, &limit) ||
        !opt_num("--cursor", o.val[1], 1LL << 53, &cursor))
        return 2;
    cJSON *r = cli_request("jit-list");
    if (r && limit)
        cJSON_AddNumberToObject(r, "limit", (double)limit);
    if (r && cursor)
        cJSON_AddNumberToObject(r, "cursor", (double)cursor);
    if (cli_call(&o, r, JIT_CALL_TIMEOUT_MS, &data))
        return 1;
    const cJSON *reqs = cJSON_GetObjectItemCaseSensitive(data, "requests");
    if (cJSON_GetArraySize(reqs) == 0)
        printf("No JIT requests.\n");
    else
        printf("%-6s %-9s %-24s %-10s %-8s %-21s %s\n", "ID", "STATE", "MACHINE", "PORT", "FOR",
               "EXPIRES", "REASON");
    cJSON_ArrayForEach(e, reqs)
    {
        char port[16], dur[24], exp[32];
        snprintf(port, sizeof(port), "%.0f/%s", cli_num(e, "port"), cli_str(e, "proto", "?"));
        fmt_duration((int64_t)cli_num(e, "duration"), dur);
        fmt_time(cli_num(e, "expires_at"), exp);
        printf("%-6.0f %-9s %-24s %-10s %-8s %-21s %s\n", cli_num(e, "id"),
               cli_str(e, "state", "?"), cli_str(e, "machine_name", "?"), port, dur, exp,
               cli_str(e, "reason", "?"));
    }
    /* a full page: older requests may follow */
    if (cli_num(data, "next_cursor") > 0 && cJSON_GetArraySize(reqs) > 0)
        printf("more: ztna jit list%s%s --cursor %.0f\n", o.val[0] ? " --limit " : "",
               o.val[0] ? o.val[0] : "", cli_num(data, "next_cursor"));
    cJSON_Delete(data);
    return 0;
}

static int jit_revoke(int argc, char **argv)
{
    struct cli_opts o;
    cJSON *data = NULL;
    char *end = NULL;
    int ret = cli_parse(&o, "jit revoke", "ID", "Withdraws a pending JIT request, or ends an "
                        "approved one now.", NULL, 0, argc, argv, 1);
    if (ret >= 0)
        return ret;
    long long id = strtoll(o.pos[0], &end, 10);
    if (!o.pos[0][0] || *end || id < 1) {
        fprintf(stderr, "ztna jit revoke: expected a request id (a number), not '%s'\n", o.pos[0]);
        return 2;
    }
    cJSON *r = cli_request("jit-revoke");
    if (r)
        cJSON_AddNumberToObject(r, "id", (double)id);
    if (cli_call(&o, r, JIT_CALL_TIMEOUT_MS, &data))
        return 1;
    printf("JIT request %lld: %s\n", id, cli_str(data, "state", "?"));
    cJSON_Delete(data);
    return 0;
}

int cmd_jit(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } subs[] = {{"request", jit_request}, {"list", jit_list}, {"revoke", jit_revoke}};
    const char *usage = "usage: ztna jit request --to NAME --port P [--proto tcp|udp] --for DURATION "
                        "--reason TEXT\n       ztna jit list [--limit N] [--cursor ID]\n       ztna jit revoke ID\n";
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
        if (!strcmp(argv[1], subs[i].name))
            return subs[i].run(argc - 1, argv + 1);
    fprintf(stderr, "ztna jit: unknown subcommand '%s'\n%s", argv[1], usage);
    return 2;
}
