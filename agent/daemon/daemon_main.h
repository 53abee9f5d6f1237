/* Entry points of agent/daemon for the `ztna` commands (agent/cmd_*.c). */
#ifndef ZTNA_AGENT_DAEMON_MAIN_H
#define ZTNA_AGENT_DAEMON_MAIN_H

/* `ztna daemon [options]`: argv[0] is "daemon". Returns the exit status. */
int daemon_main(int argc, char **argv);

#endif
