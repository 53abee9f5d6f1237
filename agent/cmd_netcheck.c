/* `ztna netcheck`: what this machine can learn about its own network, without the daemon.
 *
 *   ztna netcheck [--stun HOST:PORT] [--server URL] [--state-dir DIR] [--timeout MS] [--json]
 *                 [--socket PATH]
 *
 * The STUN server is, in order: --stun; the host of --server URL on port 3478; the host of the
 * server URL saved in DIR/state.json (the daemon's registration, default /var/lib/ztna) on port
 * 3478. It sends STUN Binding requests (retransmitted at most 4 times within --timeout, default
 * 2000 ms) and prints whether UDP works, the address:port the server saw (the mapped address),
 * our socket's local address:port, whether they differ (NAT), and the local interface addresses.
 * Exit 0 when UDP works, 1 when it does not (the error names why), 2 on a usage error.
 * It needs no daemon: --socket (which every CLI command takes) is accepted and not used. */
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>

#include <cjson/cJSON.h>

#include "agent/commands.h"
#include "common/stun/stun.h"

#define NETCHECK_STUN_PORT 3478
#define NETCHECK_DEFAULT_STATE_DIR "/var/lib/ztna"
#define NETCHECK_STATE_MAX (64 * 1024)

static int usage(FILE *f)
{
    fprintf(f, "usage: ztna netcheck [--stun HOST:PORT] [--server URL] [--state-dir DIR]\n"
               "                     [--timeout MS] [--json] [--socket PATH (unused)]\n"
               "Sends STUN Binding requests to the ztna-server's STUN responder and reports\n"
               "whether UDP works, the address the server saw, and the local interfaces.\n"
               "The STUN server: --stun, else the host of --server URL (port %d), else the\n"
               "host of the server URL saved by `ztna login` in DIR/state.json.\n",
            NETCHECK_STUN_PORT);
    return f == stdout ? 0 : 2;
}

/* The host of "scheme://[user@]host[:port][/...]" as "host" or "[v6]" into out. */
static bool url_host(const char *url, char *out, size_t size)
{
    const char *p = strstr(url, "://"), *end, *at;
    size_t n;

    p = p ? p + 3 : url;
    end = p + strcspn(p, "/?#");
    at = memchr(p, '@', (size_t)(end - p));
    if (at)
        p = at + 1;
    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (!close)
            return false;
        n = (size_t)(close + 1 - p);
    } else {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        n = (size_t)((colon ? colon : end) - p);
    }
    if (n == 0 || n >= size)
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

/* server_url from DIR/state.json into out; false (quietly) when there is none. */
static bool saved_server_url(const char *dir, char *out, size_t size)
{
    char path[4096], *text;
    FILE *f;
    size_t n;
    cJSON *o;
    const cJSON *u;
    bool ok = false;

    snprintf(path, sizeof(path), "%s/state.json", dir);
    f = fopen(path, "r");
    if (!f)
        return false;
    text = malloc(NETCHECK_STATE_MAX + 1);
    n = text ? fread(text, 1, NETCHECK_STATE_MAX, f) : 0;
    fclose(f);
    if (!text)
        return false;
    text[n] = '\0';
    o = cJSON_Parse(text);
    u = cJSON_GetObjectItemCaseSensitive(o, "server_url");
    if (cJSON_IsString(u) && strlen(u->valuestring) < size) {
        snprintf(out, size, "%s", u->valuestring);
        ok = true;
    }
    cJSON_Delete(o);
    free(text);
    return ok;
}

static void split(const struct sockaddr_storage *ss, char *ip, size_t size, int *port)
{
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, (socklen_t)size);
        *port = ntohs(s6->sin6_port);
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &s4->sin_addr, ip, (socklen_t)size);
        *port = ntohs(s4->sin_port);
    }
}

static int prefix_len(const struct sockaddr *mask)
{
    const uint8_t *b;
    size_t n;
    int bits = 0;

    if (!mask)
        return -1;
    if (mask->sa_family == AF_INET) {
        b = (const uint8_t *)&((const struct sockaddr_in *)mask)->sin_addr;
        n = 4;
    } else {
        b = ((const struct sockaddr_in6 *)mask)->sin6_addr.s6_addr;
        n = 16;
    }
    for (size_t i = 0; i < n; i++)
        bits += __builtin_popcount(b[i]);
    return bits;
}

/* {"lo": ["127.0.0.1/8", ...], ...} as an array of {name, addresses}; NULL on failure. */
static cJSON *interfaces(void)
{
    struct ifaddrs *ifa = NULL;
    cJSON *arr = cJSON_CreateArray();

    if (!arr || getifaddrs(&ifa) < 0)
        return arr;
    for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
        char ip[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + 16];
        cJSON *entry = NULL, *it, *addrs;

        if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
            continue;
        if (i->ifa_addr->sa_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, ip, sizeof(ip));
        else
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, ip, sizeof(ip));
        snprintf(text, sizeof(text), "%s/%d", ip, prefix_len(i->ifa_netmask));
        cJSON_ArrayForEach(it, arr)
        {
            if (!strcmp(cJSON_GetObjectItem(it, "name")->valuestring, i->ifa_name))
                entry = it;
        }
        if (!entry) {
            entry = cJSON_CreateObject();
            cJSON_AddStringToObject(entry, "name", i->ifa_name);
            cJSON_AddBoolToObject(entry, "up", (i->ifa_flags & IFF_UP) != 0);
            cJSON_AddArrayToObject(entry, "addresses");
            cJSON_AddItemToArray(arr, entry);
        }
        addrs = cJSON_GetObjectItem(entry, "addresses");
        cJSON_AddItemToArray(addrs, cJSON_CreateString(text));
    }
    freeifaddrs(ifa);
    return arr;
}

static void print_text(const cJSON *o)
{
    const cJSON *ifs = cJSON_GetObjectItem(o, "interfaces"), *i, *a;
    const cJSON *err = cJSON_GetObjectItem(o, "error");

    printf("STUN server:    %s (from %s)\n", cJSON_GetObjectItem(o, "stun_server")->valuestring,
           cJSON_GetObjectItem(o, "source")->valuestring);
    if (cJSON_IsTrue(cJSON_GetObjectItem(o, "udp"))) {
        printf("UDP:            works (answer in %.1f ms)\n",
               cJSON_GetObjectItem(o, "rtt_ms")->valuedouble);
        printf("mapped address: %s (what the server saw)\n",
               cJSON_GetObjectItem(o, "mapped")->valuestring);
        printf("local socket:   %s\n", cJSON_GetObjectItem(o, "local")->valuestring);
        printf("NAT:            %s\n", cJSON_IsTrue(cJSON_GetObjectItem(o, "behind_nat"))
                                           ? "yes (the mapped address differs from ours)"
                                           : "none seen (mapped address is ours)");
    } else {
        printf("UDP:            FAILED: %s\n", cJSON_IsString(err) ? err->valuestring : "?");
    }
    printf("interfaces:\n");
    cJSON_ArrayForEach(i, ifs)
    {
        printf("  %-12s%s", cJSON_GetObjectItem(i, "name")->valuestring,
               cJSON_IsTrue(cJSON_GetObjectItem(i, "up")) ? "" : " (down)");
        cJSON_ArrayForEach(a, cJSON_GetObjectItem(i, "addresses"))
            printf(" %s", a->valuestring);
        printf("\n");
    }
}

int cmd_netcheck(int argc, char **argv)
{
    const char *stun = NULL, *server = NULL, *state_dir = NETCHECK_DEFAULT_STATE_DIR;
    const char *source;
    char target[600], saved[1024], host[512], err[300];
    struct sockaddr_storage ss;
    socklen_t sl;
    struct stun_probe_result res;
    bool json = false;
    long timeout_ms = 2000;
    int r, ret = 1;
    cJSON *o;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;

        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return usage(stdout);
        if (!strcmp(a, "--json")) {
            json = true;
        } else if (!strcmp(a, "--stun") && has_val) {
            stun = argv[++i];
        } else if (!strcmp(a, "--server") && has_val) {
            server = argv[++i];
        } else if (!strcmp(a, "--socket") && has_val) {
            i++; /* the daemon is not needed here */
        } else if (!strcmp(a, "--state-dir") && has_val) {
            state_dir = argv[++i];
        } else if (!strcmp(a, "--timeout") && has_val) {
            char *end;
            timeout_ms = strtol(argv[++i], &end, 10);
            if (*end || timeout_ms < 100 || timeout_ms > 60000) {
                fprintf(stderr, "ztna netcheck: --timeout wants milliseconds in 100..60000\n");
                return 2;
            }
        } else {
            fprintf(stderr, "ztna netcheck: unknown or incomplete option '%s'\n", a);
            return usage(stderr);
        }
    }
    if (stun) {
        snprintf(target, sizeof(target), "%s", stun);
        source = "--stun";
    } else if (server || saved_server_url(state_dir, saved, sizeof(saved))) {
        const char *url = server ? server : saved;

        if (!url_host(url, host, sizeof(host))) {
            fprintf(stderr, "ztna netcheck: cannot find a host in server URL '%s'\n", url);
            return server ? 2 : 1;
        }
        snprintf(target, sizeof(target), "%s:%d", host, NETCHECK_STUN_PORT);
        source = server ? "--server" : "saved server URL";
    } else {
        fprintf(stderr, "ztna netcheck: no STUN server known: pass --stun HOST:PORT or "
                        "--server URL, or log in first (no server URL in %s/state.json)\n",
                state_dir);
        return 2;
    }
    r = stun_hostport_resolve(target, NETCHECK_STUN_PORT, &ss, &sl, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "ztna netcheck: %s\n", err);
        return r == -EINVAL ? 2 : 1;
    }
    r = stun_probe((struct sockaddr *)&ss, sl, (int)timeout_ms, &res, err, sizeof(err));

    o = cJSON_CreateObject();
    if (!o) {
        fprintf(stderr, "ztna netcheck: out of memory\n");
        return 1;
    }
    {
        char ip[INET6_ADDRSTRLEN], text[80];
        int port;

        cJSON_AddStringToObject(o, "stun_server", stun_addr_format((struct sockaddr *)&ss, text, sizeof(text)));
        cJSON_AddStringToObject(o, "source", source);
        cJSON_AddBoolToObject(o, "udp", r == 0);
        cJSON_AddNumberToObject(o, "requests", res.requests);
        if (r == 0) {
            bool nat;

            split(&res.mapped, ip, sizeof(ip), &port);
            cJSON_AddStringToObject(o, "mapped", stun_addr_format((struct sockaddr *)&res.mapped, text, sizeof(text)));
            cJSON_AddStringToObject(o, "mapped_address", ip);
            cJSON_AddNumberToObject(o, "mapped_port", port);
            split(&res.local, ip, sizeof(ip), &port);
            cJSON_AddStringToObject(o, "local", stun_addr_format((struct sockaddr *)&res.local, text, sizeof(text)));
            cJSON_AddStringToObject(o, "local_address", ip);
            cJSON_AddNumberToObject(o, "local_port", port);
            nat = strcmp(cJSON_GetObjectItem(o, "mapped")->valuestring,
                         cJSON_GetObjectItem(o, "local")->valuestring) != 0;
            cJSON_AddBoolToObject(o, "behind_nat", nat);
            cJSON_AddNumberToObject(o, "rtt_ms", res.rtt_us / 1000.0);
            cJSON_AddNullToObject(o, "error");
            ret = 0;
        } else {
            cJSON_AddStringToObject(o, "error", err);
        }
        cJSON_AddItemToObject(o, "interfaces", interfaces());
    }
    if (json) {
        char *s = cJSON_Print(o);

        if (s)
            printf("%s\n", s);
        free(s);
    } else {
        print_text(o);
    }
    if (ret)
        fprintf(stderr, "ztna netcheck: %s\n", err);
    cJSON_Delete(o);
    return ret;
}
