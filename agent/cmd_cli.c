/* The CLI commands that talk to `ztna daemon` over its local API (agent/daemon/api_proto.h):
 * login, logout, up, down, status, ip, dns, set; and `ztna daemon` itself. Each takes --help
 * and --socket PATH. Errors name the problem and exit 1; usage errors exit 2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <cjson/cJSON.h>

#include "agent/cmd_login_browser.h"
#include "agent/commands.h"
#include "agent/daemon/agent_limits.h"
#include "agent/daemon/daemon_main.h"
#include "agent/daemon/cli_util.h"

int cmd_daemon(int argc, char **argv)
{
    return daemon_main(argc, argv);
}

/* The login reply: "Logged in to SERVER as NAME (IP)". */
static int logged_in(const char *server, cJSON *data)
{
    const cJSON *ip = cJSON_GetObjectItemCaseSensitive(data, "tailnet_ip");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(data, "name");
    printf("Logged in to %s as %s (%s)\n", server, cJSON_IsString(name) ? name->valuestring : "?",
           cJSON_IsString(ip) ? ip->valuestring : "?");
    cJSON_Delete(data);
    return 0;
}

int cmd_login(int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"--server", true, "URL of ztna-server (https://..., or http:// on a trusted network)"},
        {"--auth-key", true, "pre-auth key from the dashboard (without it: log in through the browser)"},
        {"--hostname", true, "name of this machine in the tailnet (default: the host name)"},
        {"--advertise-tags", true, "tags to request, comma separated (tag:a,tag:b)"},
        {"--timeout", true, "browser login: seconds to wait for the approval (default 300)"},
    };
    struct cli_opts o;
    cJSON *data = NULL;
    int ret = cli_parse(&o, "login", "--server URL [--auth-key KEY] [--hostname H] "
                        "[--advertise-tags tag:a,tag:b] [--timeout S]",
                        "Registers this machine with the server and brings the tunnel up. Without\n"
                        "--auth-key, prints a URL to open (and opens it under a desktop session): a\n"
                        "user of the server approves there, and the machine is theirs.", opts,
                        5, argc, argv, 0);
    if (ret >= 0)
        return ret;
    if (!o.val[0]) {
        fprintf(stderr, "ztna login: --server is required (see ztna login --help)\n");
        return 2;
    }
    if (strncmp(o.val[0], "http://", 7) && strncmp(o.val[0], "https://", 8)) {
        fprintf(stderr, "ztna login: --server: expected an http:// or https:// URL\n");
        return 2;
    }
    char *end = NULL;
    long timeout = o.val[4] ? strtol(o.val[4], &end, 10) : 300;
    if (o.val[4] && (*end || timeout < 1 || timeout > 3600)) {
        fprintf(stderr, "ztna login: --timeout: expected seconds, 1..3600\n");
        return 2;
    }
    cJSON *r = cli_request(o.val[1] ? "login" : "login-code");
    if (o.val[3] && !cli_add_list(r, "tags", o.val[3])) {
        cJSON_Delete(r);
        return 2;
    }
    char server[AGENT_URL_MAX];
    snprintf(server, sizeof(server), "%s", o.val[0]);
    for (size_t n = strlen(server); n && server[n - 1] == '/';)
        server[--n] = 0;
    cJSON_AddStringToObject(r, "server", server);
    char host[AGENT_NAME_MAX] = "";
    if (o.val[2])
        snprintf(host, sizeof(host), "%s", o.val[2]);
    else if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
        snprintf(host, sizeof(host), "linux");
    if (o.val[2] || !o.val[1]) /* with a key and no --hostname the daemon picks its host name */
        cJSON_AddStringToObject(r, "hostname", host);
    if (o.val[1]) {
        cJSON_AddStringToObject(r, "auth_key", o.val[1]);
    } else {
        /* the daemon first: no point in having the user approve in the browser for nothing */
        if (cli_call(&o, cli_request("status"), 10000, &data)) {
            cJSON_Delete(r);
            return 1;
        }
        cJSON_Delete(data);
        data = NULL;
        struct browser_login bl;
        if (browser_login_wait(server, host, (int)timeout, &bl)) {
            cJSON_Delete(r);
            return 1;
        }
        cJSON_AddStringToObject(r, "request_id", bl.request_id);
        cJSON_AddStringToObject(r, "code", bl.code);
        cJSON_AddStringToObject(r, "code_verifier", bl.verifier);
        sodium_memzero(&bl, sizeof(bl));
    }
    if (cli_call(&o, r, 30000, &data))
        return 1;
    return logged_in(server, data);
}

static int simple(int argc, char **argv, const char *cmd, const char *help, const char *done)
{
    struct cli_opts o;
    cJSON *data = NULL;
    int ret = cli_parse(&o, cmd, "", help, NULL, 0, argc, argv, 0);
    if (ret >= 0)
        return ret;
    if (cli_call(&o, cli_request(cmd), 30000, &data))
        return 1;
    cJSON_Delete(data);
    if (done)
        printf("%s\n", done);
    return 0;
}

int cmd_up(int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"--accept-dns", false, "point the system resolver at the stub for the tailnet domain "
                                "('ztna down' restores it)"},
    };
    struct cli_opts o;
    cJSON *data = NULL;
    int ret = cli_parse(&o, "up", "[--accept-dns]", "Connects to the tailnet (again after 'ztna down').",
                        opts, 1, argc, argv, 0);
    if (ret >= 0)
        return ret;
    cJSON *r = cli_request("up");
    cJSON_AddBoolToObject(r, "accept_dns", o.val[0] != NULL);
    if (cli_call(&o, r, 30000, &data))
        return 1;
    cJSON_Delete(data);
    return 0;
}

int cmd_down(int argc, char **argv)
{
    return simple(argc, argv, "down",
                  "Disconnects from the tailnet: no peers, no control session (the login is kept).",
                  NULL);
}

int cmd_logout(int argc, char **argv)
{
    return simple(argc, argv, "logout",
                  "Logs out: the server deletes this machine and frees its address.", "Logged out.");
}

int cmd_ip(int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"-4", false, "only the IPv4 address"},
        {"-6", false, "only the IPv6 address"},
    };
    struct cli_opts o;
    cJSON *data = NULL;
    int ret = cli_parse(&o, "ip", "[-4 | -6]",
                        "Prints this machine's tailnet addresses, IPv4 then IPv6 (one a line; no\n"
                        "IPv6 line when the server has IPv6 off).", opts, 2, argc, argv, 0);
    if (ret >= 0)
        return ret;
    if (o.val[0] && o.val[1]) {
        fprintf(stderr, "ztna ip: -4 and -6 are mutually exclusive\n");
        return 2;
    }
    if (cli_call(&o, cli_request("ip"), 10000, &data))
        return 1;
    const cJSON *ip4 = cJSON_GetObjectItemCaseSensitive(data, "ipv4");
    const cJSON *ip6 = cJSON_GetObjectItemCaseSensitive(data, "ipv6");
    ret = 0;
    if (o.val[1] && !cJSON_IsString(ip6)) {
        fprintf(stderr, "ztna ip: this machine has no tailnet IPv6 address (IPv6 is off on the server)\n");
        ret = 1;
    }
    if (!o.val[1])
        printf("%s\n", cJSON_IsString(ip4) ? ip4->valuestring : "");
    if (!o.val[0] && cJSON_IsString(ip6))
        printf("%s\n", ip6->valuestring);
    cJSON_Delete(data);
    return ret;
}

int cmd_set(int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"--tags", true, "the machine's tags, comma separated (tag:a,tag:b)"},
    };
    struct cli_opts o;
    cJSON *data = NULL;
    int ret = cli_parse(&o, "set", "--tags tag:a,tag:b", "Changes this machine's settings on the server.\n"
                        "--tags: only tags the machine's user may apply under the policy's\n"
                        "tagOwners; --tags '' removes every tag.",
                        opts, 1, argc, argv, 0);
    if (ret >= 0)
        return ret;
    if (!o.val[0]) {
        fprintf(stderr, "ztna set: nothing to set (see ztna set --help)\n");
        return 2;
    }
    cJSON *r = cli_request("set");
    if (!cli_add_list(r, "tags", o.val[0])) {
        cJSON_Delete(r);
        return 2;
    }
    if (cli_call(&o, r, 30000, &data))
        return 1;
    const cJSON *t, *tags = cJSON_GetObjectItemCaseSensitive(data, "tags");
    printf("Tags set:%s", cJSON_GetArraySize(tags) ? "" : " (none)");
    cJSON_ArrayForEach(t, tags)
        printf(" %s", cJSON_IsString(t) ? t->valuestring : "?");
    printf("\n");
    cJSON_Delete(data);
    return 0;
}

int cmd_dns(int argc, char **argv)
{
    struct cli_opts o;
    cJSON *data = NULL;
    int ret = cli_parse(&o, "dns", "query NAME",
                        "Resolves NAME as the DNS stub at " AGENT_DNS_IP " does: tailnet names\n"
                        "(full or short) from the netmap, anything else from the upstream resolver.",
                        NULL, 0, argc, argv, 2);
    if (ret >= 0)
        return ret;
    if (strcmp(o.pos[0], "query") != 0) {
        fprintf(stderr, "ztna dns: unknown subcommand '%s' (try: ztna dns query NAME)\n", o.pos[0]);
        return 2;
    }
    cJSON *r = cli_request("dns-query");
    cJSON_AddStringToObject(r, "name", o.pos[1]);
    if (cli_call(&o, r, 10000, &data))
        return 1;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(data, "name"), *ip;
    cJSON_ArrayForEach(ip, cJSON_GetObjectItemCaseSensitive(data, "addresses"))
        printf("%s (%s)\n", cJSON_IsString(ip) ? ip->valuestring : "?",
               cJSON_IsString(name) ? name->valuestring : o.pos[1]);
    cJSON_Delete(data);
    return 0;
}
