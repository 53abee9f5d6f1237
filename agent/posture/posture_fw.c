/* firewall: are packet-filter rules loaded? Asks the tools rather than parsing netlink: `nft
 * list ruleset` (nftables, also where iptables-nft put its rules), else `iptables -S` and
 * `ip6tables -S` (legacy). Each run is bounded in time and output; a tool that is absent or
 * fails (not root: "Operation not permitted") tells nothing, so the answer is then "unknown". */
#include "agent/posture/posture_int.h"
#include "agent/kernel/nftfilter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

/* The tables the agent itself loads (agent/kernel/nftfilter.h): they filter only the tunnel, so
 * they must not pass for the device's firewall. */
static bool own_table(const char *l)
{
    static const char wg[] = "table inet " NFTF_TABLE_WG_PREFIX;
    return !strcmp(l, "table inet " NFTF_TABLE_DAEMON " {") || !strncmp(l, wg, sizeof(wg) - 1);
}

/* nft's listing: a rule is a line directly inside a chain block other than its "type ... hook
 * ...; policy ...;" header; a base chain with "policy drop" filters too. The agent's own tables
 * are skipped. */
static bool nft_active(char *text)
{
    enum { NONE, CHAIN, OTHER, OWN } stack[16];
    int depth = 0;
    char *save = NULL;

    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *l = trim(line);
        size_t n = strlen(l);

        if (!n || l[0] == '#')
            continue;
        if (l[n - 1] == '{') {
            if (depth < 16)
                stack[depth] = depth == 0 && own_table(l)           ? OWN
                               : depth > 0 && stack[depth - 1] == OWN ? OWN
                               : strncmp(l, "chain ", 6) == 0        ? CHAIN
                                                                     : OTHER;
            depth++;
            continue;
        }
        if (!strcmp(l, "}")) {
            depth -= depth > 0;
            continue;
        }
        if (depth < 1 || depth > 16 || stack[depth - 1] != CHAIN)
            continue;
        if (!strncmp(l, "type ", 5)) {
            if (strstr(l, "policy drop"))
                return true;
            continue;
        }
        if (!strncmp(l, "comment ", 8) || !strncmp(l, "devices ", 8))
            continue;
        return true;
    }
    return false;
}

/* `iptables -S`: "-P INPUT ACCEPT", "-N chain", "-A INPUT ... -j DROP". */
static bool ipt_active(const char *text)
{
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (!strncmp(l, "-A ", 3))
            return true;
        if (!strncmp(l, "-P ", 3)) {
            size_t n = strcspn(l, "\n");
            if ((n >= 5 && !strncmp(l + n - 5, " DROP", 5)) || (n >= 7 && !strncmp(l + n - 7, " REJECT", 7)))
                return true;
        }
    }
    return false;
}

enum tri posture_firewall(const struct roots *r)
{
    char tool[1024], *out = NULL;
    enum tri t = TRI_UNKNOWN;
    static const char *const ipt[] = {"iptables", "ip6tables"};

    if (posture_find_tool(r->path, "nft", tool, sizeof(tool))) {
        char *argv[] = {tool, "list", "ruleset", NULL};

        if (posture_run(argv, POSTURE_CMD_TIMEOUT_MS, &out) == 0)
            t = nft_active(out) ? TRI_TRUE : TRI_FALSE;
        free(out);
        if (t != TRI_UNKNOWN)
            return t;
    }
    for (size_t i = 0; i < 2 && t != TRI_TRUE; i++) {
        if (!posture_find_tool(r->path, ipt[i], tool, sizeof(tool)))
            continue;
        char *argv[] = {tool, "-S", NULL};

        if (posture_run(argv, POSTURE_CMD_TIMEOUT_MS, &out) == 0)
            t = ipt_active(out) ? TRI_TRUE : TRI_FALSE;
        free(out);
        out = NULL;
    }
    return t;
}
