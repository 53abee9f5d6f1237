/* Helpers shared by the CLI commands (agent/cmd_*.c): option parsing (every command takes --help
 * and --socket PATH, plus its own options with one value each and a number of positionals), the
 * call to the daemon, and reading fields of its replies. */
#ifndef ZTNA_AGENT_DAEMON_CLI_UTIL_H
#define ZTNA_AGENT_DAEMON_CLI_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#define CLI_MAX_OPTS 8
#define CLI_MAX_POS 4

struct cli_opt {
    const char *name;
    bool has_value; /* false: a flag, val[i] is "1" when given */
    const char *help;
};

struct cli_opts {
    const char *cmd;
    const char *socket;
    const char *val[CLI_MAX_OPTS]; /* by option index, NULL when absent; borrowed from argv */
    const char *pos[CLI_MAX_POS];
};

/* Returns -1 to go on, or the exit status to return now (0 after --help, 2 on a usage error,
 * which is printed). npos: exact number of positionals. */
int cli_parse(struct cli_opts *o, const char *cmd, const char *synopsis, const char *help,
              const struct cli_opt *opts, size_t n, int argc, char **argv, size_t npos);
/* Adds "a,b,c" to obj as an array of strings under key. false (printed) on an empty item. */
bool cli_add_list(cJSON *obj, const char *key, const char *csv);

/* A new local API request {"cmd": cmd} (api_proto.h), or NULL when out of memory. */
cJSON *cli_request(const char *cmd);
/* Sends req (taken, may be NULL: out of memory) to the daemon at o->socket, waiting up to
 * timeout_ms. Returns 0 with *data the reply's data (cJSON_Delete), or 1 after printing
 * "ztna CMD: <problem>" on stderr: the exit status of a failed command. */
int cli_call(const struct cli_opts *o, cJSON *req, int timeout_ms, cJSON **data);
/* Member k of o: its string (dflt if absent or not a string) / its number (0 if not a number). */
const char *cli_str(const cJSON *o, const char *k, const char *dflt);
double cli_num(const cJSON *o, const char *k);

#endif
