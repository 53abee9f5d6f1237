/* The janitor thread (see janitor.h). It sleeps on a condition variable with a deadline, so stop
 * is immediate and every sleep is bounded. */
#include "server/janitor.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/log.h"
#include "server/audit.h"
#include "server/db.h"
#include "server/db_machines.h"
#include "server/metrics.h"
#include "server/netmap.h"
#include "server/realtime.h"
#include "server/policy_rt.h"
#include "server/server.h"

struct janitor {
    struct server *srv;
    pthread_t thread;
    pthread_mutex_t lock; /* protects stop */
    pthread_mutex_t write_lock; /* serialises the module's write transactions (janitor.h) */
    pthread_cond_t wake;
    bool stop;
};

void machines_write_lock(struct server *srv)
{
    if (srv->janitor)
        pthread_mutex_lock(&srv->janitor->write_lock);
}

void machines_write_unlock(struct server *srv)
{
    if (srv->janitor)
        pthread_mutex_unlock(&srv->janitor->write_lock);
}

int64_t janitor_offline_timeout(const struct server *srv)
{
    if (srv->set.offline_timeout)
        return srv->set.offline_timeout;
    return MACH_DEFAULT_OFFLINE_AFTER_BEATS * srv->set.heartbeat_interval;
}

struct stale_ctx {
    struct server *srv;
    struct db_conn *db;
    int deleted;
};

static int delete_stale(const struct machine_row *m, void *arg)
{
    struct stale_ctx *s = arg;
    char id[24], detail[128];
    /* Deleting inside the cursor loop is fine in SQLite for rows already visited; the row is
     * re-checked by (org, id) so a concurrent delete is simply -ENOENT. */
    int ret = db_machine_delete(s->db, m->org_id, m->id);
    if (ret == -ENOENT)
        return 0;
    if (ret)
        return ret;
    s->deleted++;
    snprintf(id, sizeof(id), "%" PRId64, m->id);
    snprintf(detail, sizeof(detail), "{\"reason\":\"ephemeral\",\"name\":\"%s\",\"ip\":\"%s\"}",
             m->name, m->tailnet_ip); /* name is a DNS label and ip a dotted quad: no escaping */
    struct audit_event ev = {.org_id = m->org_id, .actor_type = "system", .action = "machine.delete",
                             .target_type = "machine", .target_id = id, .detail_json = detail};
    audit_record(s->srv, &ev);
    policy_rt_machine_removed(s->srv, m->org_id, m->id);
    realtime_machine_gone(s->srv, "delete", m->org_id, m->id);
    return 0;
}

static int went_offline(int64_t org_id, int64_t id, void *arg)
{
    realtime_machine_gone(arg, "offline", org_id, id);
    return 0;
}

int janitor_run_once(struct server *srv, int64_t now)
{
    struct db_conn *db = db_conn_get(srv->db);
    if (!db)
        return -EIO;
    int64_t offline = janitor_offline_timeout(srv);
    int64_t eph = srv->set.ephemeral_timeout;
    struct stale_ctx s = {.srv = srv, .db = db};
    machines_write_lock(srv);
    int ret = db_machine_nonce_prune(db, now);
    if (ret >= 0)
        ret = db_machine_mark_offline_each(db, now - offline, went_offline, srv);
    if (ret >= 0)
        ret = db_machine_ephemeral_stale(db, now - eph, delete_stale, &s);
    machines_write_unlock(srv);
    if (s.deleted)
        log_info("janitor", "removed %d offline ephemeral machine(s)", s.deleted);
    if (ret < 0) {
        metrics_db_error(srv);
        log_warn("janitor", "pass failed: %d", ret);
    }
    db_conn_idle(db);
    /* Machines marked offline or deleted change the maps: the netmap applies them now rather
     * than at its next sweep (netmap.h). */
    netmap_sync(srv);
    return ret < 0 ? ret : 0;
}

static void *janitor_main(void *arg)
{
    struct janitor *j = arg;
    pthread_mutex_lock(&j->lock);
    while (!j->stop) {
        pthread_mutex_unlock(&j->lock);
        janitor_run_once(j->srv, server_now());
        pthread_mutex_lock(&j->lock);
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += MACH_JANITOR_TICK_MS / 1000;
        deadline.tv_nsec += (MACH_JANITOR_TICK_MS % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        while (!j->stop && pthread_cond_timedwait(&j->wake, &j->lock, &deadline) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

int janitor_start(struct server *srv)
{
    pthread_condattr_t ca;
    struct janitor *j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    j->srv = srv;
    pthread_mutex_init(&j->lock, NULL);
    pthread_mutex_init(&j->write_lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->wake, &ca);
    pthread_condattr_destroy(&ca);
    srv->janitor = j;
    int ret = -pthread_create(&j->thread, NULL, janitor_main, j);
    if (ret) {
        srv->janitor = NULL;
        pthread_cond_destroy(&j->wake);
        pthread_mutex_destroy(&j->write_lock);
        pthread_mutex_destroy(&j->lock);
        free(j);
        return ret;
    }
    log_info("janitor", "offline after %" PRId64 " s, ephemeral machines removed after %" PRId64 " s",
             janitor_offline_timeout(srv), srv->set.ephemeral_timeout);
    return 0;
}

void janitor_stop(struct server *srv)
{
    struct janitor *j = srv->janitor;
    if (!j)
        return;
    pthread_mutex_lock(&j->lock);
    j->stop = true;
    pthread_cond_signal(&j->wake);
    pthread_mutex_unlock(&j->lock);
    pthread_join(j->thread, NULL);
    srv->janitor = NULL;
    pthread_cond_destroy(&j->wake);
    pthread_mutex_destroy(&j->write_lock);
    pthread_mutex_destroy(&j->lock);
    free(j);
}
