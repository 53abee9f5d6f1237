/* MagicDNS glue (see magicdns.h). Without the DNS module (ztna_dnsd) it compiles to no-ops. */
#include "server/magicdns.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include "common/log.h"
#include "server/db.h"
#include "server/ip6.h"

#ifdef ZTNA_HAVE_DNSD
#include "server/dns/dns_server.h"

struct magicdns {
    pthread_t thread;
    pthread_mutex_t lock; /* serialises rebuilds and guards stop */
    pthread_cond_t wake;
    bool stop;
};

static const char SQL_ZONES[] = "SELECT id, slug FROM orgs ORDER BY id";
static const char SQL_HAS_MACHINES[] =
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'machines'";
static const char SQL_MACHINES[] =
    "SELECT m.name, o.slug, m.tailnet_ip FROM machines m JOIN orgs o ON o.id = m.org_id "
    "WHERE m.expired_at IS NULL ORDER BY m.id";
static const char SQL_DATA_VERSION[] = "PRAGMA data_version";
static const char SQL_DNS_GEN[] = "SELECT gen FROM dns_gen WHERE id = 1"; /* schema/006 */

static int snapshot_build(struct server *srv, struct db_conn *c, struct dns_snapshot **out)
{
    struct dns_snapshot_builder *b = dns_snapshot_builder_new();
    uint32_t serial = (uint32_t)server_now();
    sqlite3_stmt *st;
    char name[1200];
    int ret = 0;

    if (!b)
        return -ENOMEM;
    st = db_stmt(c, SQL_ZONES);
    if (!st) {
        ret = -EIO;
        goto out;
    }
    while (ret == 0 && sqlite3_step(st) == SQLITE_ROW) {
        snprintf(name, sizeof(name), "%s.%s", (const char *)sqlite3_column_text(st, 1),
                 srv->set.base_domain);
        ret = dns_snapshot_builder_add_zone(b, name, serial, NULL, 0);
        if (ret == -EEXIST || ret == -EINVAL)
            ret = 0; /* a slug that is not a DNS label: no zone for it */
    }
    sqlite3_reset(st);
    st = db_stmt(c, SQL_HAS_MACHINES);
    if (ret < 0 || !st || sqlite3_step(st) != SQLITE_ROW)
        goto out;
    sqlite3_reset(st);
    st = db_stmt(c, SQL_MACHINES);
    while (ret == 0 && st && sqlite3_step(st) == SQLITE_ROW) {
        struct in_addr a;

        snprintf(name, sizeof(name), "%s.%s.%s", (const char *)sqlite3_column_text(st, 0),
                 (const char *)sqlite3_column_text(st, 1), srv->set.base_domain);
        if (inet_pton(AF_INET, (const char *)sqlite3_column_text(st, 2), &a) != 1)
            continue;
        ret = dns_snapshot_builder_add_a(b, name, a);
        if (ret == 0 && srv->set.ip6.on) { /* the derived IPv6 address (server/ip6.h) */
            struct in6_addr a6;

            ip6_tailnet_addr(&srv->set.ip6, ntohl(a.s_addr), a6.s6_addr);
            ret = dns_snapshot_builder_add_aaaa(b, name, &a6);
        }
        if (ret == -EINVAL)
            ret = 0;
    }
out:
    db_conn_idle(c);
    if (ret < 0) {
        dns_snapshot_builder_free(b);
        return ret;
    }
    return dns_snapshot_builder_finish(b, out);
}

int magicdns_refresh(struct server *srv)
{
    struct magicdns *m = srv->ext[0];
    struct dns_snapshot *snap = NULL;
    struct db_conn *c;
    int ret;

    if (!m || !srv->dns)
        return 0;
    c = db_conn_get(srv->db);
    if (!c)
        return -EIO;
    pthread_mutex_lock(&m->lock);
    ret = snapshot_build(srv, c, &snap);
    if (ret == 0)
        dns_server_swap(srv->dns, snap);
    pthread_mutex_unlock(&m->lock);
    if (ret < 0)
        log_warn("magicdns", "snapshot rebuild failed: %d", ret);
    return ret;
}

/* The one integer sql answers, or -1. PRAGMA data_version moves at any commit by another
 * connection; the dns_gen counter (schema/006_dns_gen.sql) when a name, an address, an expiry or
 * an org changed (-1 when it cannot be read: the caller rebuilds). */
static int64_t scalar(struct db_conn *c, const char *sql)
{
    sqlite3_stmt *st = db_stmt(c, sql);
    int64_t v = -1;

    if (st && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    if (st)
        sqlite3_reset(st);
    db_conn_idle(c);
    return v;
}

static void *watcher(void *arg)
{
    struct server *srv = arg;
    struct magicdns *m = srv->ext[0];
    struct db_conn *c = db_conn_get(srv->db);
    /* Unknown at first: the first look rebuilds once, so a change between magicdns_start()'s
     * snapshot and this thread is not missed. */
    int64_t seen = -1, gen = -1;

    pthread_mutex_lock(&m->lock);
    while (!m->stop && c) {
        struct timespec until;
        int64_t v;

        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&m->wake, &m->lock, &until);
        if (m->stop)
            break;
        pthread_mutex_unlock(&m->lock);
        v = scalar(c, SQL_DATA_VERSION);
        if (v != seen) {
            /* Any commit moves data_version; only some change the zone. The counter is read
             * before the rebuild reads the machines: a change in between moves it again. */
            int64_t g = scalar(c, SQL_DNS_GEN);

            seen = v;
            if (g < 0 || g != gen) {
                gen = g;
                magicdns_refresh(srv);
            }
        }
        pthread_mutex_lock(&m->lock);
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

int magicdns_start(struct server *srv)
{
    struct dns_snapshot *snap = NULL;
    struct magicdns *m;
    struct db_conn *c = db_conn_get(srv->db);
    int ret;

    if (!c)
        return -EIO;
    ret = snapshot_build(srv, c, &snap);
    if (ret < 0)
        return ret;
    ret = dns_server_start(srv->set.dns_listen, NULL, snap, &srv->dns);
    if (ret < 0) {
        log_error("magicdns", "cannot listen on %s: %s", srv->set.dns_listen, strerror(-ret));
        return ret;
    }
    m = calloc(1, sizeof(*m));
    if (!m) {
        dns_server_stop(srv->dns);
        srv->dns = NULL;
        return -ENOMEM;
    }
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->wake, NULL);
    srv->ext[0] = m; /* ext[0]: owned by magicdns.c */
    ret = -pthread_create(&m->thread, NULL, watcher, srv);
    if (ret < 0) {
        srv->ext[0] = NULL;
        free(m);
        dns_server_stop(srv->dns);
        srv->dns = NULL;
        return ret;
    }
    log_info("magicdns", "answering for *.%s on %s (UDP+TCP)", srv->set.base_domain,
             srv->set.dns_listen);
    return 0;
}

void magicdns_stop(struct server *srv)
{
    struct magicdns *m = srv->ext[0];

    if (m) {
        pthread_mutex_lock(&m->lock);
        m->stop = true;
        pthread_cond_signal(&m->wake);
        pthread_mutex_unlock(&m->lock);
        pthread_join(m->thread, NULL);
        pthread_cond_destroy(&m->wake);
        pthread_mutex_destroy(&m->lock);
        free(m);
        srv->ext[0] = NULL;
    }
    dns_server_stop(srv->dns);
    srv->dns = NULL;
}

#else /* no DNS module in this build */

int magicdns_start(struct server *srv)
{
    log_warn("magicdns", "built without the DNS module; --dns-listen %s ignored",
             srv->set.dns_listen);
    return 0;
}

void magicdns_stop(struct server *srv)
{
    (void)srv;
}

int magicdns_refresh(struct server *srv)
{
    (void)srv;
    return 0;
}

#endif
