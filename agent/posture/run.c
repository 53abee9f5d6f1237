/* Running a short external tool (nft, iptables, resolvectl), bounded in time and output. */
#include "agent/posture/posture_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

extern char **environ;

bool posture_find_tool(const char *path, const char *name, char *out, size_t size)
{
    char cand[4096];

    for (const char *p = path; *p;) {
        size_t n = strcspn(p, ":");
        int len = snprintf(cand, sizeof(cand), "%.*s/%s", (int)n, p, name);

        if (n && len > 0 && (size_t)len < sizeof(cand) && (size_t)len < size &&
            access(cand, X_OK) == 0) {
            memcpy(out, cand, (size_t)len + 1);
            return true;
        }
        p += n;
        if (*p == ':')
            p++;
    }
    return false;
}

static int64_t now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int posture_run(char *const argv[], int timeout_ms, char **out)
{
    posix_spawn_file_actions_t fa;
    int pfd[2], status = 0, ret;
    size_t len = 0;
    pid_t pid;
    int64_t deadline = now_ms() + timeout_ms;
    char *buf = malloc(POSTURE_CMD_MAX_OUTPUT + 1);

    *out = NULL;
    if (!buf)
        return -ENOMEM;
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        free(buf);
        return -errno;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    ret = -posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    if (ret < 0) {
        close(pfd[0]);
        free(buf);
        return ret;
    }
    for (;;) {
        struct pollfd p = {.fd = pfd[0], .events = POLLIN};
        int64_t left = deadline - now_ms();
        ssize_t n;

        if (left <= 0) {
            ret = -ETIMEDOUT;
            break;
        }
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        n = read(pfd[0], buf + len, POSTURE_CMD_MAX_OUTPUT - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || (len += (size_t)n) == POSTURE_CMD_MAX_OUTPUT)
            break; /* EOF (or the output cap: we judge what we have) */
    }
    close(pfd[0]);
    if (ret == -ETIMEDOUT)
        kill(pid, SIGKILL); /* our own child, by pid */
    for (;;) {
        if (waitpid(pid, &status, 0) == pid)
            break;
        if (errno != EINTR) { /* e.g. SIGCHLD ignored by the caller: no status to trust */
            ret = ret ? ret : -ECHILD;
            break;
        }
    }
    if (ret == 0)
        ret = WIFEXITED(status) ? WEXITSTATUS(status) : -ECHILD;
    buf[len] = '\0';
    *out = buf;
    return ret;
}

