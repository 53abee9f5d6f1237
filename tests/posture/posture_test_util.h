/* Fake /etc, /proc, /sys trees for the posture and sysdns tests. */
#ifndef ZTNA_TESTS_POSTURE_UTIL_H
#define ZTNA_TESTS_POSTURE_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p of the directory part of root/rel, then writes content (mode 0755 when exec). */
static inline void tree_put(const char *root, const char *rel, const char *content, int exec)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
    fputs(content, f);
    fclose(f);
    if (exec)
        chmod(path, 0755);
}

static inline char *tree_new(void)
{
    char tmpl[] = "/tmp/ztna-posture-XXXXXX";
    char *d = mkdtemp(tmpl);

    if (!d) {
        perror("mkdtemp");
        exit(1);
    }
    return strdup(d);
}

static inline void tree_free(char *root)
{
    char cmd[4200];

    if (strncmp(root, "/tmp/ztna-posture-", 18) == 0) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", root);
    }
    free(root);
}

#endif
