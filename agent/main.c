/* ztna: the device agent and its CLI in one binary (like tailscale / tailscaled).
 * `ztna daemon` runs the agent; every other command is a client or a standalone tool.
 * Commands live in one table; each is implemented in the module that owns it. */
#include "agent/commands.h"

#include <stdio.h>
#include <string.h>

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("ztna %s\n", ZTNA_VERSION);
    return 0;
}

static int cmd_help(int argc, char **argv);

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
    const char *summary;
} commands[] = {
    {"version", cmd_version, "print the version"},
    {"help", cmd_help, "list commands"},
    {"debug", cmd_debug, "developer tools (debug mlkem keygen|encaps|decaps)"},
    {"wireguard", cmd_wireguard, "run a userspace WireGuard interface (like wireguard-go)"},
    {"daemon", cmd_daemon, "run the agent (tunnel, control session, DNS stub, local API)"},
    {"login", cmd_login, "register this machine with a server (--server URL [--auth-key KEY]; no key: browser)"},
    {"logout", cmd_logout, "log out: the server deletes this machine"},
    {"up", cmd_up, "connect to the tailnet"},
    {"down", cmd_down, "disconnect from the tailnet (keeps the login)"},
    {"status", cmd_status, "show this machine, the peers and policy denials"},
    {"ip", cmd_ip, "print this machine's tailnet address"},
    {"ping", cmd_ping, "ping a peer by name through the tunnel"},
    {"dns", cmd_dns, "dns query NAME: resolve as the DNS stub does"},
    {"set", cmd_set, "change settings (--tags tag:a,tag:b)"},
    {"jit", cmd_jit, "just-in-time access for this machine's user (jit request|list|revoke)"},
    {"netcheck", cmd_netcheck, "STUN reachability of the server, UDP, mapped address, interfaces"},
};

static int cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("usage: ztna COMMAND [ARGS...]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        printf("  %-12s %s\n", commands[i].name, commands[i].summary);
    printf("\nRun 'ztna COMMAND --help' for a command's options.\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        cmd_help(0, NULL);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        return cmd_help(0, NULL);
    if (strcmp(name, "--version") == 0)
        return cmd_version(0, NULL);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(commands[i].name, name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "ztna: unknown command '%s' (try 'ztna help')\n", name);
    return 2;
}
