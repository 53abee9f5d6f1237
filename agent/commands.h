/* Entry points of the `ztna` subcommands. Each takes argc/argv with argv[0] = command name and
 * returns the process exit status (0 ok, 1 failure, 2 usage error). */
#ifndef ZTNA_AGENT_COMMANDS_H
#define ZTNA_AGENT_COMMANDS_H

int cmd_debug(int argc, char **argv);     /* agent/cmd_debug.c */
int cmd_wireguard(int argc, char **argv); /* agent/cmd_wireguard.c */
int cmd_daemon(int argc, char **argv);    /* agent/cmd_cli.c: the agent (agent/daemon/) */
int cmd_login(int argc, char **argv);     /* agent/cmd_cli.c */
int cmd_logout(int argc, char **argv);
int cmd_up(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_ip(int argc, char **argv);
int cmd_set(int argc, char **argv);
int cmd_dns(int argc, char **argv);
int cmd_status(int argc, char **argv);    /* agent/cmd_status.c */
int cmd_ping(int argc, char **argv);      /* agent/cmd_ping.c */
int cmd_netcheck(int argc, char **argv);  /* agent/cmd_netcheck.c */
int cmd_jit(int argc, char **argv);       /* agent/cmd_jit.c */

#endif
