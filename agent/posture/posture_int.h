/* Internals of the posture collector: one file per check (posture.h has the contract). */
#ifndef ZTNA_AGENT_POSTURE_INT_H
#define ZTNA_AGENT_POSTURE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "agent/posture/posture.h"

enum tri { TRI_UNKNOWN = 0, TRI_FALSE, TRI_TRUE };

struct roots {
    const char *etc, *proc, *sys, *path;
};

/* Reads root/rel (at most size-1 bytes) NUL-terminated into buf: bytes read, or -errno. */
ssize_t posture_read(const char *root, const char *rel, char *buf, size_t size);

/* run.c: the first executable `name` in a colon-separated search list, into out. */
bool posture_find_tool(const char *path, const char *name, char *out, size_t size);
/* Runs argv (argv[0] a full path) with stdin and stderr on /dev/null; collects stdout into a new
 * NUL-terminated buffer (*out, free()) of at most POSTURE_CMD_MAX_OUTPUT bytes. Returns the exit
 * status (0..255) or -errno (-ETIMEDOUT: killed, by its pid, after timeout_ms). */
int posture_run(char *const argv[], int timeout_ms, char **out);

enum tri posture_disk_encryption(const struct roots *r);  /* posture_disk.c */
enum tri posture_firewall(const struct roots *r);         /* posture_fw.c */
/* posture_procs.c: one scan of /proc for both answers. */
void posture_procs(const struct roots *r, enum tri *antivirus, enum tri *screen_lock);

#endif
