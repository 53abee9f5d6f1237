/* `ztna daemon`: start-up, the tick, shutdown. See daemon.h for the threads and the lock. */
#include "agent/daemon/daemon_main.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "agent/daemon/api.h"
#include "agent/daemon/control.h"
#include "agent/daemon/daemon.h"
#include "agent/daemon/dnsio.h"
#include "agent/daemon/http.h"
#include "agent/daemon/kengine.h"
#include "agent/daemon/posture_async.h"
#include "agent/daemon/rtnl.h"
#include "agent/pq/agentpq_wgdev.h"
#include "agent/wg/device.h"
#include "common/log.h"

static struct wg_device *g_dev; /* only for the signal handler; wg_device_stop is signal-safe */
static enum agent_backend g_backend;

static void on_signal(int sig)
{
    (void)sig;
    if (g_dev)
        wg_device_stop(g_dev);
    kengine_stop();
}

static void usage(FILE *f)
{
    fprintf(f, "usage: ztna daemon [--state-dir DIR] [--socket PATH] [--tun NAME] [--listen-port N]\n"
               "                   [--backend auto|userspace|kernel]\n"
               "                   [--log-level debug|info|warn|error]\n\n"
               "Runs the agent: keys and state in DIR (default %s), the local API on PATH\n"
               "(default %s), the tunnel on interface NAME (default %s), WireGuard on UDP port N\n"
               "(default %d). --backend: kernel WireGuard (needs the module), the userspace engine\n"
               "over TUN, or auto (default): the kernel where the module exists.\n",
            AGENT_DEFAULT_STATE_DIR, AGENT_DEFAULT_SOCKET, AGENT_DEFAULT_TUN, AGENT_DEFAULT_PORT);
}

static int parse_args(struct agent *a, int argc, char **argv)
{
    snprintf(a->state_dir, sizeof(a->state_dir), "%s", AGENT_DEFAULT_STATE_DIR);
    snprintf(a->socket_path, sizeof(a->socket_path), "%s", AGENT_DEFAULT_SOCKET);
    snprintf(a->tun, sizeof(a->tun), "%s", AGENT_DEFAULT_TUN);
    a->listen_port = AGENT_DEFAULT_PORT;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            usage(stdout);
            return 1;
        }
        if (!v) {
            fprintf(stderr, "ztna daemon: %s needs a value (or unknown option)\n", o);
            return 2;
        }
        i++;
        if (!strcmp(o, "--state-dir") && strlen(v) < sizeof(a->state_dir))
            snprintf(a->state_dir, sizeof(a->state_dir), "%s", v);
        else if (!strcmp(o, "--socket") && strlen(v) < sizeof(a->socket_path))
            snprintf(a->socket_path, sizeof(a->socket_path), "%s", v);
        else if (!strcmp(o, "--tun") && strlen(v) > 0 && strlen(v) < sizeof(a->tun))
            snprintf(a->tun, sizeof(a->tun), "%s", v);
        else if (!strcmp(o, "--listen-port")) {
            char *end;
            unsigned long p = strtoul(v, &end, 10);
            if (*end || !p || p > 65535) {
                fprintf(stderr, "ztna daemon: --listen-port: expected 1..65535, got '%s'\n", v);
                return 2;
            }
            a->listen_port = (uint16_t)p;
        } else if (!strcmp(o, "--backend")) {
            if (!kengine_backend_parse(v, &g_backend)) {
                fprintf(stderr, "ztna daemon: --backend: expected auto|userspace|kernel, "
                                "got '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(o, "--log-level")) {
            enum log_level l;
            if (!log_level_parse(v, &l)) {
                fprintf(stderr, "ztna daemon: --log-level: expected debug|info|warn|error\n");
                return 2;
            }
            log_set_level(l);
        } else {
            fprintf(stderr, "ztna daemon: unknown option or bad value: %s %s\n", o, v);
            usage(stderr);
            return 2;
        }
    }
    return 0;
}

static void on_tick(void *ctx, struct wg_device *dev)
{
    struct agent *a = ctx;
    uint64_t now = agent_now_ms();
    (void)dev;
    ctl_tick(a, now);
    dnsio_tick(a, now);
}

static void reply(struct agent *a, uint64_t conn_id, cJSON *data, const char *error)
{
    api_reply(a, conn_id, data, error);
}

static void shutdown_all(struct agent *a)
{
    api_fini(a);
    posture_async_fini(a);
    http_free(a, a->http);
    ctl_fini(a);
    dnsio_fini(a);
    pktpath_fini(a);
    kengine_fini(a);
    loop_fini(a);
    wg_device_destroy(a->dev);
    g_dev = NULL;
    agentpq_wgdev_free(a->pq);
    netmap_free(a->nm);
    state_keys_wipe(&a->keys);
}

int daemon_main(int argc, char **argv)
{
    struct agent *a = calloc(1, sizeof(*a));
    struct sigaction sa;
    int ret;
    if (!a)
        return 1;
    a->epfd = -1;
    ret = parse_args(a, argc, argv);
    if (ret) {
        free(a);
        return ret == 1 ? 0 : 2;
    }
    if (g_backend != AGENT_BACKEND_USERSPACE) {
        char why[256] = "";
        a->kernel = kengine_available(why, sizeof(why));
        if (!a->kernel && g_backend == AGENT_BACKEND_KERNEL) {
            fprintf(stderr, "ztna daemon: --backend kernel: %s\n", why);
            free(a);
            return 2;
        }
        if (!a->kernel)
            log_info("daemon", "%s: the userspace engine runs the tunnels", why);
    }
    ret = state_keys_load(a->state_dir, &a->keys);
    if (ret) {
        fprintf(stderr, "ztna daemon: keys in %s: %s\n", a->state_dir, strerror(-ret));
        free(a);
        return 1;
    }
    if (state_load(a->state_dir, &a->st))
        memset(&a->st, 0, sizeof(a->st));
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "ztna daemon: libcurl initialisation failed\n");
        free(a);
        return 1;
    }
    ret = a->kernel ? 0 : wg_device_create(a->tun, &a->dev);
    if (ret) {
        fprintf(stderr, "ztna daemon: cannot create TUN device %s: %s%s\n", a->tun, strerror(-ret),
                ret == -EPERM || ret == -EACCES ? " (needs root or CAP_NET_ADMIN)" : "");
        state_keys_wipe(&a->keys);
        free(a);
        curl_global_cleanup();
        return 1;
    }
    g_dev = a->dev;
    if (!a->kernel && (ret = wg_device_uapi_listen(a->dev)))
        log_warn("daemon", "no UAPI socket for `wg show`: %s", strerror(-ret));
    const char *step = "event loop";
    if ((ret = loop_init(a)) || (step = "control session", ret = http_init(a, &a->http)) ||
        (ret = ctl_init(a, reply)) || (ret = posture_async_init(a, ctl_posture_ready)) || (step = "DNS stub", ret = dnsio_init(a, reply)) ||
        (step = "packet path", ret = pktpath_init(a)) ||
        (step = "WireGuard engine", ret = engine_init(a)) ||
        (step = "timer",
         ret = a->kernel ? 0 : wg_device_add_timer(a->dev, AGENT_TICK_MS, on_tick, a)) ||
        (step = "local API socket", ret = api_init(a))) {
        fprintf(stderr, "ztna daemon: %s: %s\n", step, strerror(-ret));
        shutdown_all(a);
        free(a);
        curl_global_cleanup();
        return 1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    log_info("daemon", "%s: %s WireGuard on UDP %u, local API on %s, %s", a->tun,
             engine_backend_name(a), a->listen_port, a->socket_path,
             state_registered(&a->st) ? a->st.server_url : "not logged in");
    ret = a->kernel ? kengine_run(a, on_tick) : wg_device_run(a->dev);
    log_info("daemon", "stopping");
    shutdown_all(a);
    free(a);
    curl_global_cleanup();
    return ret ? 1 : 0;
}
