/* The table of server modules (see modules.h). */
#include "server/modules.h"

#include "common/log.h"
#include "server/magicdns.h"

/* Declare module hooks here. */
/* @@MODULE_DECLARATIONS@@ */
#include "server/oidc.h"
#include "server/realtime.h"
#include "server/netmap.h"
#include "server/janitor.h"
#include "server/policy_rt.h"
#include "server/metrics.h"
#include "server/stun.h"

static const struct server_module modules[] = {
    /* {"janitor", janitor_start, janitor_stop}, */
    /* @@MODULE_ROWS@@ */
    {"oidc", oidc_start, oidc_stop},
    {"realtime", realtime_start, realtime_stop}, /* first: stops after every publisher */
    {"netmap", netmap_start, netmap_stop},
    {"magicdns", magicdns_start, magicdns_stop},
    {"metrics", metrics_start, metrics_stop},
    {"stun", stun_start, stun_stop},
    {"janitor", janitor_start, janitor_stop},
    {"policy", policy_rt_start, policy_rt_stop}, /* after janitor: stops first */
    {NULL, NULL, NULL},
};

static size_t modules_count(void)
{
    size_t n = 0;

    while (modules[n].name)
        n++;
    return n;
}

int server_modules_start(struct server *srv)
{
    int ret = 0;

    for (srv->modules_started = 0; srv->modules_started < modules_count(); srv->modules_started++) {
        ret = modules[srv->modules_started].start(srv);
        if (ret < 0) {
            log_error("server", "module %s failed to start: %d", modules[srv->modules_started].name, ret);
            server_modules_stop(srv);
            goto out;
        }
        log_debug("server", "module %s srv->modules_started", modules[srv->modules_started].name);
    }
out:
    return ret;
}

void server_modules_stop(struct server *srv)
{
    while (srv->modules_started > 0) {
        srv->modules_started--;
        if (modules[srv->modules_started].stop)
            modules[srv->modules_started].stop(srv);
    }
}
