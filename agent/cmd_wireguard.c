/* `ztna wireguard [-f] IFNAME`: our WireGuard as a drop-in for `wireguard-go -f IFNAME`.
 * Userspace backend (default): creates the TUN, serves the UAPI socket
 * (/var/run/wireguard/IFNAME.sock) so that `wg` configures it, and runs until SIGINT/SIGTERM
 * (which remove the socket). Kernel backend: creates a kernel `wireguard` interface, which `wg`
 * configures over netlink. `--backend auto` uses the kernel where the module exists and says
 * why not otherwise. Without -f it daemonizes. `--filter FILE` enforces a compiled filter: in the
 * userspace engine's packet hooks, or on the kernel backend as an nftables table (the process
 * then stays to log the denials and deletes the table when it stops).
 *
 * Post-quantum PSKs (docs/pq-exchange.md): `--pq` or ZTNA_WG_PQ=1; `--classical-peer KEY`
 * (repeatable) explicitly allows one peer without them; `--pq-endpoint KEY=HOST:PORT`
 * (repeatable) says where a peer's exchange runs when it is neither on its WireGuard port
 * (userspace peer) nor on that port + 1 (kernel peer), e.g. behind a port forward;
 * `ztna wireguard --pq-status IFNAME` prints the exchange's status per peer.
 *
 * Test-only environment (never set in production; documented in docs/ and tests/wg_device/):
 *   ZTNA_WG_TEST_REKEY_AFTER_SECONDS  overrides REKEY_AFTER_TIME (and scales REJECT_AFTER_TIME)
 *   ZTNA_PQX_TEST_ROTATE_MS           shortens the PQ rotation (agent/pq/agentpq_wgdev.h)
 *   ZTNA_WG_LOG_LEVEL                 debug|info|warn|error */
#include <errno.h>
#include <net/if.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "agent/commands.h"
#include "agent/kernel/wgkernel.h"
#include "agent/pq/agentpq_statsock.h"
#include "agent/pq/agentpq_wgdev.h"
#include "agent/pq/agentpq_wgkernel.h"
#include "agent/wg/device.h"
#include "agent/wg_filter_opt.h"
#include "common/log.h"

#define MAX_CLASSICAL 64 /* --classical-peer options */
#define MAX_PQ_EP 64     /* --pq-endpoint options */

enum backend { BACKEND_USERSPACE, BACKEND_KERNEL, BACKEND_AUTO };

struct opts {
    bool fg, pq;
    enum backend backend;
    const char *ifname;
    const char *filter_path; /* --filter FILE (agent/wg_filter_opt.c) */
    uint8_t classical[MAX_CLASSICAL][32];
    size_t n_classical;
    struct {
        uint8_t key[32];
        struct sockaddr_storage addr;
        socklen_t len;
    } pq_ep[MAX_PQ_EP];
    size_t n_pq_ep;
};

static struct wg_device *g_dev;     /* only for the signal handler; wg_device_stop is signal-safe */
static volatile sig_atomic_t g_stop; /* the kernel backend's loop */

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
    if (g_dev)
        wg_device_stop(g_dev);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: ztna wireguard [-f|--foreground] [--backend auto|kernel|userspace] [--pq]\n"
            "                      [--classical-peer PUBKEY]... [--filter FILE] IFNAME\n"
            "       ztna wireguard --pq-status IFNAME\n"
            "       (with --pq also: --pq-endpoint PUBKEY=HOST:PORT, repeatable)\n");
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

static int pq_status(const char *ifname)
{
    char *text = NULL;
    int ret = agentpq_status_query(ifname, &text);

    if (ret) {
        fprintf(stderr, "ztna wireguard: no post-quantum status for %s (%s/%s.pq): %s\n", ifname,
                AGENTPQ_STATUS_DIR, ifname, strerror(-ret));
        return 1;
    }
    fputs(text, stdout);
    free(text);
    return 0;
}

/* Returns 0, or the exit status of a usage error (message printed). */
static int parse(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    o->pq = agentpq_env_enabled();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        size_t len = 0;

        if (!strcmp(a, "-f") || !strcmp(a, "--foreground")) {
            o->fg = true;
        } else if (!strcmp(a, "--pq")) {
            o->pq = true;
        } else if (!strcmp(a, "--backend") && v) {
            i++;
            if (!strcmp(v, "auto"))
                o->backend = BACKEND_AUTO;
            else if (!strcmp(v, "kernel"))
                o->backend = BACKEND_KERNEL;
            else if (!strcmp(v, "userspace"))
                o->backend = BACKEND_USERSPACE;
            else {
                fprintf(stderr, "ztna wireguard: --backend: '%s' is not auto, kernel or userspace\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--filter") && v) {
            i++;
            o->filter_path = v;
        } else if (!strcmp(a, "--pq-endpoint") && v) {
            i++;
            if (o->n_pq_ep == MAX_PQ_EP) {
                fprintf(stderr, "ztna wireguard: more than %d --pq-endpoint options\n", MAX_PQ_EP);
                return 2;
            }
            if (agentpq_pq_endpoint_option(v, o->pq_ep[o->n_pq_ep].key, &o->pq_ep[o->n_pq_ep].addr,
                                           &o->pq_ep[o->n_pq_ep].len) != 0) {
                fprintf(stderr, "ztna wireguard: --pq-endpoint: '%s' is not BASE64KEY=IPV4:PORT or "
                                "BASE64KEY=[IPV6]:PORT\n", v);
                return 2;
            }
            o->n_pq_ep++;
        } else if (!strcmp(a, "--classical-peer") && v) {
            i++;
            if (o->n_classical == MAX_CLASSICAL) {
                fprintf(stderr, "ztna wireguard: more than %d --classical-peer options\n", MAX_CLASSICAL);
                return 2;
            }
            if (sodium_base642bin(o->classical[o->n_classical], 32, v, strlen(v), NULL, &len, NULL,
                                  sodium_base64_VARIANT_ORIGINAL) != 0 || len != 32) {
                fprintf(stderr, "ztna wireguard: --classical-peer: '%s' is not a base64 public key\n", v);
                return 2;
            }
            o->n_classical++;
        } else if (a[0] == '-' || o->ifname) {
            usage();
            return 2;
        } else {
            o->ifname = a;
        }
    }
    if (!o->ifname) {
        usage();
        return 2;
    }
    if (o->n_classical && !o->pq) {
        fprintf(stderr, "ztna wireguard: --classical-peer needs the post-quantum exchange (--pq)\n");
        return 2;
    }
    if (o->n_pq_ep && !o->pq) {
        fprintf(stderr, "ztna wireguard: --pq-endpoint needs the post-quantum exchange (--pq)\n");
        return 2;
    }
    return 0;
}

static void pq_endpoints_set(const struct opts *o, struct agentpq *pq)
{
    for (size_t i = 0; i < o->n_pq_ep; i++)
        agentpq_pq_endpoint_set(pq, o->pq_ep[i].key, (const struct sockaddr *)&o->pq_ep[i].addr,
                                o->pq_ep[i].len);
}

static void signals_install(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

static int run_userspace(const struct opts *o)
{
    struct agentpq_wgdev *pq = NULL;
    struct wg_filter_opt *wf = NULL;
    int ret = o->filter_path ? wg_filter_opt_load(o->filter_path, &wf) : 0;

    if (ret)
        return 1; /* the message names the problem */
    ret = wg_device_create(o->ifname, &g_dev);

    if (ret) {
        fprintf(stderr, "ztna wireguard: cannot create %s: %s\n", o->ifname, strerror(-ret));
        wg_filter_opt_free(wf);
        return 1;
    }
    if (wf && (ret = wg_filter_opt_attach(wf, g_dev)) < 0) {
        fprintf(stderr, "ztna wireguard: --filter on %s: %s\n", o->ifname, strerror(-ret));
        goto out;
    }
    ret = wg_device_uapi_listen(g_dev);
    if (ret) {
        fprintf(stderr, "ztna wireguard: UAPI socket for %s: %s\n", o->ifname, strerror(-ret));
        goto out;
    }
    if (o->pq) {
        struct pqx_config pqcfg;
        agentpq_config_from_env(&pqcfg);
        if ((ret = agentpq_wgdev_attach(g_dev, &pqcfg, &pq)) < 0 ||
            (ret = agentpq_wgdev_status_listen(pq, o->ifname)) < 0) {
            fprintf(stderr, "ztna wireguard: post-quantum exchange on %s: %s\n", o->ifname,
                    strerror(-ret));
            goto out;
        }
        for (size_t i = 0; i < o->n_classical; i++)
            agentpq_classical_set(agentpq_wgdev_pq(pq), o->classical[i], true, agentpq_now_ms());
        pq_endpoints_set(o, agentpq_wgdev_pq(pq));
    }
    if (!o->fg && (ret = daemonize()) < 0)
        goto out;
    signals_install();
    log_info("wireguard", "%s: up (userspace%s)", o->ifname, o->pq ? ", post-quantum PSKs" : "");
    if (wf)
        log_info("wireguard", "%s: inbound filter %s: %lu entries, stateful", o->ifname,
                 o->filter_path, wg_filter_opt_entries(wf));
    ret = wg_device_run(g_dev);
out:
    wg_device_destroy(g_dev);
    wg_filter_opt_free(wf); /* after the device: its hooks point into wf */
    agentpq_wgdev_free(pq);
    g_dev = NULL;
    return ret ? 1 : 0;
}

/* The kernel interface exists; with the exchange, run it until a signal. */
static int run_kernel(const struct opts *o)
{
    struct agentpq_wgkernel *k = NULL;
    struct wg_filter_opt *wf = NULL;
    struct pqx_config pqcfg;
    int ret = o->filter_path ? wg_filter_opt_load(o->filter_path, &wf) : 0, sfd = -1;

    if (ret)
        return 1; /* the message names the problem */
    ret = wg_kernel_link_create(o->ifname);
    if (ret && ret != -EEXIST) {
        fprintf(stderr, "ztna wireguard: cannot create kernel interface %s: %s\n", o->ifname,
                strerror(-ret));
        wg_filter_opt_free(wf);
        return 1;
    }
    /* the filter as an nftables table (agent/wg_filter_opt.c); this process logs its denials */
    if (wf && wg_filter_opt_kernel_attach(wf, o->ifname) < 0) {
        if (!ret)
            wg_kernel_link_delete(o->ifname); /* ours: nothing left behind */
        wg_filter_opt_free(wf);
        return 1;
    }
    if (!o->pq && !o->fg && !wf)
        return 0; /* like `ip link add ... type wireguard`: the kernel runs it from here */
    if (o->pq) {
        agentpq_config_from_env(&pqcfg);
        if ((ret = agentpq_wgkernel_new(o->ifname, &pqcfg, NULL, &k)) ||
            (sfd = agentpq_status_listen(o->ifname)) < 0) {
            fprintf(stderr, "ztna wireguard: post-quantum exchange on %s: %s\n", o->ifname,
                    strerror(-(ret ? ret : sfd)));
            ret = 1;
            goto out;
        }
        for (size_t i = 0; i < o->n_classical; i++)
            agentpq_classical_set(agentpq_wgkernel_pq(k), o->classical[i], true, agentpq_now_ms());
        pq_endpoints_set(o, agentpq_wgkernel_pq(k));
    }
    if (!o->fg && (ret = daemonize()) < 0)
        goto out;
    signals_install();
    log_info("wireguard", "%s: up (kernel%s)", o->ifname, o->pq ? ", post-quantum PSKs" : "");
    if (wf)
        log_info("wireguard", "%s: inbound filter %s: %lu entries, stateful (nftables)", o->ifname,
                 o->filter_path, wg_filter_opt_entries(wf));
    while (!g_stop) {
        struct pollfd p[3] = {{.fd = k ? agentpq_wgkernel_fd(k) : -1, .events = POLLIN},
                              {.fd = sfd, .events = POLLIN},
                              {.fd = wf ? wg_filter_opt_kernel_fd(wf) : -1, .events = POLLIN}};
        poll(p, 3, AGENTPQ_TICK_MS);
        if (wf)
            wg_filter_opt_kernel_tick(wf);
        if (!k && !if_nametoindex(o->ifname))
            break; /* the interface was deleted */
        if (!k)
            continue;
        if (p[0].revents & POLLIN)
            agentpq_wgkernel_receive(k);
        if (p[1].revents & POLLIN)
            agentpq_status_serve(agentpq_wgkernel_pq(k), sfd, agentpq_now_ms());
        if ((ret = agentpq_wgkernel_tick(k)) == -ENODEV || ret == -ENOENT)
            break; /* the interface was deleted */
    }
    ret = 0;
    if (o->fg)
        wg_kernel_link_delete(o->ifname);
out:
    wg_filter_opt_free(wf); /* deletes the table */
    agentpq_wgkernel_free(k);
    if (sfd >= 0) {
        close(sfd);
        agentpq_status_unlink(o->ifname);
    }
    return ret ? 1 : 0;
}

int cmd_wireguard(int argc, char **argv)
{
    const char *lvl = getenv("ZTNA_WG_LOG_LEVEL");
    enum log_level level;
    struct opts o;
    char why[256];
    int ret;

    if (argc == 3 && !strcmp(argv[1], "--pq-status"))
        return pq_status(argv[2]);
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage();
        return 0;
    }
    if ((ret = parse(argc, argv, &o)) != 0)
        return ret;
    if (lvl && log_level_parse(lvl, &level))
        log_set_level(level);
    if (o.backend != BACKEND_USERSPACE) {
        if (wg_kernel_probe(why, sizeof(why))) {
            o.backend = BACKEND_KERNEL;
        } else if (o.backend == BACKEND_KERNEL) {
            char *tail = strstr(why, "; using");
            if (tail)
                *tail = '\0'; /* we do not fall back when the kernel was asked for */
            fprintf(stderr, "ztna wireguard: --backend kernel: %s\n", why);
            return 1;
        } else {
            fprintf(stderr, "ztna wireguard: %s\n", why); /* says it uses the userspace engine */
            o.backend = BACKEND_USERSPACE;
        }
    }
    return o.backend == BACKEND_KERNEL ? run_kernel(&o) : run_userspace(&o);
}
