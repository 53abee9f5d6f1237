/* `ztna status [--json]`: this machine, the control session and every peer (name, tailnet IPs,
 * tags, online, last handshake, PQ state, path, bytes), whether the server quarantines this
 * machine and why, and recent policy denials. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "agent/cmd_status.h"
#include "agent/commands.h"
#include "agent/daemon/cli_util.h"

static void tags(const cJSON *o, char *out, size_t cap)
{
    const cJSON *t;
    size_t n = 0;
    out[0] = 0;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(o, "tags"))
    {
        if (cJSON_IsString(t) && n + strlen(t->valuestring) + 2 < cap)
            n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? "," : "", t->valuestring);
    }
    if (!n)
        snprintf(out, cap, "-");
}

static void ago(double t, char *out, size_t cap)
{
    double d = (double)time(NULL) - t;
    if (t <= 0)
        snprintf(out, cap, "never");
    else if (d < 120)
        snprintf(out, cap, "%.0fs ago", d < 0 ? 0 : d);
    else if (d < 7200)
        snprintf(out, cap, "%.0fm ago", d / 60);
    else
        snprintf(out, cap, "%.0fh ago", d / 3600);
}

static void bytes(double b, char *out, size_t cap)
{
    if (b < 1024)
        snprintf(out, cap, "%.0f B", b);
    else if (b < 1024 * 1024)
        snprintf(out, cap, "%.1f KiB", b / 1024);
    else
        snprintf(out, cap, "%.1f MiB", b / 1024 / 1024);
}

/* "100.64.0.5" or, with IPv6 on, "100.64.0.5 fd7a:115c:a1e0::6440:5". */
static void addrs(const cJSON *o, char *out, size_t cap)
{
    const char *v6 = cli_str(o, "tailnet_ip6", "");
    snprintf(out, cap, "%s%s%s", cli_str(o, "tailnet_ip", ""), v6[0] ? " " : "", v6);
}

void status_render(FILE *out, const cJSON *s)
{
    const cJSON *self = cJSON_GetObjectItemCaseSensitive(s, "self");
    const cJSON *ctl = cJSON_GetObjectItemCaseSensitive(s, "control");
    const cJSON *p, *d;
    char t[256], h[32], rx[32], tx[32], ip[64];
    int w = 15; /* the address column: as wide as its widest entry */
    if (!strcmp(cli_str(ctl, "state", ""), "logged-out")) {
        fprintf(out, "Logged out: run 'ztna login --server URL --auth-key KEY'.\n");
        return;
    }
    addrs(self, ip, sizeof(ip));
    w = (int)strlen(ip) > w ? (int)strlen(ip) : w;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(s, "peers"))
    {
        char pip[64];
        addrs(p, pip, sizeof(pip));
        w = (int)strlen(pip) > w ? (int)strlen(pip) : w;
    }
    tags(self, t, sizeof(t));
    fprintf(out, "%-*s %-20s %-32s %s (this machine)\n", w, ip, cli_str(self, "name", ""),
            cli_str(self, "fqdn", ""), t);
    fprintf(out, "control: %s %s", cli_str(ctl, "state", ""), cli_str(ctl, "server", ""));
    if (cli_str(ctl, "last_error", "")[0])
        fprintf(out, " (%s)", cli_str(ctl, "last_error", ""));
    fprintf(out, ", map version %.0f (%s), policy %s, backend %s\n", cli_num(ctl, "map_version"),
            cli_str(ctl, "map_transport", "poll"), cli_str(s, "filter", ""),
            cli_str(s, "backend", "userspace"));
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(self, "quarantine");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(q, "quarantined")))
        fprintf(out, "quarantined: %s\n",
                cli_str(q, "reason", "")[0] ? cli_str(q, "reason", "") : "(no reason given)");
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(s, "peers"))
    {
        const cJSON *pq = cJSON_GetObjectItemCaseSensitive(p, "pq");
        const cJSON *on = cJSON_GetObjectItemCaseSensitive(p, "online");
        tags(p, t, sizeof(t));
        ago(cli_num(p, "last_handshake"), h, sizeof(h));
        bytes(cli_num(p, "rx_bytes"), rx, sizeof(rx));
        bytes(cli_num(p, "tx_bytes"), tx, sizeof(tx));
        addrs(p, ip, sizeof(ip));
        fprintf(out, "%-*s %-20s %-32s %s %s, %s, handshake %s, pq %s%s, rx %s, tx %s\n", w, ip,
                cli_str(p, "name", ""), cli_str(p, "fqdn", ""), t,
                cJSON_IsTrue(on) ? "online" : "offline", cli_str(p, "path", ""), h,
                cli_str(pq, "psk", ""),
                cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pq, "blocked")) ? " (blocked)" : "",
                rx, tx);
    }
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(s, "denials"))
    {
        ago(cli_num(d, "last"), h, sizeof(h));
        fprintf(out, "denied by policy: from %s to %s port %.0f: %.0f packets, last %s\n",
                cli_str(d, "src", ""), cli_str(d, "proto", ""), cli_num(d, "dport"),
                cli_num(d, "count"), h);
    }
}

int cmd_status(int argc, char **argv)
{
    static const struct cli_opt opts[] = {{"--json", false, "print the full status as JSON"}};
    struct cli_opts o;
    cJSON *data = NULL;
    int ret = cli_parse(&o, "status", "[--json]",
                        "Shows this machine, the control session, the peers and recent policy denials.",
                        opts, 1, argc, argv, 0);
    if (ret >= 0)
        return ret;
    if (cli_call(&o, cli_request("status"), 10000, &data))
        return 1;
    if (o.val[0]) {
        char *txt = cJSON_Print(data);
        printf("%s\n", txt ? txt : "{}");
        cJSON_free(txt);
    } else {
        status_render(stdout, data);
    }
    cJSON_Delete(data);
    return 0;
}
