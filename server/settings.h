/* The settings of ztna-server from ONE static table (settings.c): every setting has a flag
 * (--name), an environment variable (ZTNA_NAME) and a config-file key (name = value).
 * Precedence, lowest first: built-in default < config file (--config FILE or ZTNA_CONFIG) <
 * environment < command line. */
#ifndef ZTNA_SERVER_SETTINGS_H
#define ZTNA_SERVER_SETTINGS_H

#include <stdio.h>

#include "server/server.h"

/* Fills set from defaults, config file, environment and argv[first..argc). Positional arguments
 * (not starting with "--") are collected into pos[0..*npos) (borrowed from argv), at most maxpos.
 * Returns 0, 1 if --help was printed, or -EINVAL after printing a message naming the problem. */
int settings_load(struct server_settings *set, int argc, char **argv, const char **pos,
                  int maxpos, int *npos);
void settings_usage(FILE *f);
/* Host part of an ADDR:PORT is a loopback address (127.0.0.0/8, ::1, localhost). */
bool settings_addr_is_loopback(const char *addr_port);

#endif
