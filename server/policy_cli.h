/* `ztna-server policy ...`: the policy API from the command line (policy_cli.c, libcurl).
 *
 *   ztna-server policy get                         print the policy in force (text on stdout)
 *   ztna-server policy set FILE                    save FILE as the next version
 *   ztna-server policy test FILE                   validate FILE and run its tests, save nothing
 *   ztna-server policy explain SRC DST PORT [--proto tcp|udp|icmp] [--at TIME]
 * Options: --server URL (ZTNA_SERVER, default http://127.0.0.1:8080), --token T (ZTNA_TOKEN, an
 * access token), --org ID (ZTNA_ORG; default: the caller's only org).
 * Exit status: 0 success (explain: accepted), 1 refused by the server (explain: denied),
 * 2 usage or connection error. */
#ifndef ZTNA_SERVER_POLICY_CLI_H
#define ZTNA_SERVER_POLICY_CLI_H

/* argv[0] is "policy". */
int policy_cli_main(int argc, char **argv);

#endif
