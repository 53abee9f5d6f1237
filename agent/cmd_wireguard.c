/* `ztna wireguard [-f] IFNAME`: our userspace WireGuard as a drop-in for `wireguard-go -f IFNAME`.
 * Creates the TUN, serves the UAPI socket (/var/run/wireguard/IFNAME.sock) so that `wg` configures
 * it, and runs until SIGINT/SIGTERM (which remove the socket). Without -f it daemonizes.
 *
 * Test-only environment (never set in production; documented in docs/ and tests/wg_device/):
 *   ZTNA_WG_TEST_REKEY_AFTER_SECONDS  overrides REKEY_AFTER_TIME (and scales REJECT_AFTER_TIME)
 *   ZTNA_WG_LOG_LEVEL                 debug|info|warn|error */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/commands.h"
#include "agent/pq/agentpq_wgdev.h"
#include "agent/wg/device.h"
#include "common/log.h"

static struct wg_device *g_dev; /* only for the signal handler; wg_device_stop is signal-safe */

static void on_signal(int sig)
{
    (void)sig;
    if (g_dev)
        wg_device_stop(g_dev);
}

static void usage(void)
{
    fprintf(stderr, "usage: ztna wireguard [-f|--foreground] IFNAME\n");
}

/* Forks: the parent exits 0 once the child is running; the child detaches from the terminal. */
static int daemonize(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid > 0)
        _exit(0);
    if (setsid() < 0)
        return -errno;
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
    return 0;
}

int cmd_wireguard(int argc, char **argv)
{
    bool fg = false;
    const char *ifname = NULL;
    const char *lvl = getenv("ZTNA_WG_LOG_LEVEL");
    enum log_level level;
    struct sigaction sa;
    struct agentpq_wgdev *pq = NULL; /* post-quantum PSKs, with ZTNA_WG_PQ=1 */
    int ret;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--foreground"))
            fg = true;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage();
            return 0;
        } else if (argv[i][0] == '-' || ifname) {
            usage();
            return 2;
        } else
            ifname = argv[i];
    }
    if (!ifname) {
        usage();
        return 2;
    }
    if (lvl && log_level_parse(lvl, &level))
        log_set_level(level);
    ret = wg_device_create(ifname, &g_dev);
    if (ret) {
        fprintf(stderr, "ztna wireguard: cannot create %s: %s\n", ifname, strerror(-ret));
        return 1;
    }
    ret = wg_device_uapi_listen(g_dev);
    if (ret) {
        fprintf(stderr, "ztna wireguard: UAPI socket for %s: %s\n", ifname, strerror(-ret));
        goto out;
    }
    if (!fg && (ret = daemonize()) < 0)
        goto out;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    if (agentpq_env_enabled()) {
        struct pqx_config pqcfg;
        agentpq_config_from_env(&pqcfg);
        if ((ret = agentpq_wgdev_attach(g_dev, &pqcfg, &pq)) < 0)
            goto out;
    }
    log_info("wireguard", "%s: up", ifname);
    ret = wg_device_run(g_dev);
out:
    wg_device_destroy(g_dev);
    agentpq_wgdev_free(pq);
    g_dev = NULL;
    return ret ? 1 : 0;
}
