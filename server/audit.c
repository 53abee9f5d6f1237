/* audit_record(): validates and bounds an event, then stores it with the calling thread's
 * connection. Oversized free-text fields are truncated (at a UTF-8 boundary) rather than dropped:
 * an attacker must not be able to keep an event out of the log by sending a long name. */
#include "server/audit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "server/db.h"
#include "server/db_audit.h"
#include "server/metrics.h"
#include "server/realtime.h"
#include "server/server.h"

static const char *bounded(const char *s, char buf[static AUDIT_MAX_FIELD_BYTES])
{
    if (!s || strlen(s) < AUDIT_MAX_FIELD_BYTES)
        return s;
    size_t n = AUDIT_MAX_FIELD_BYTES - 1;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--; /* do not cut a multi-byte character */
    memcpy(buf, s, n);
    buf[n] = '\0';
    return buf;
}

/* The new entry on the org's admin-only "audit" channel (realtime.h), so an open audit page
 * refreshes. Source address and detail stay in the log. */
static void audit_publish(struct server *srv, const struct audit_event *e)
{
    cJSON *d;

    if (e->org_id <= 0 || !realtime_wants(srv, e->org_id, "audit"))
        return;
    d = cJSON_CreateObject();
    if (!d)
        return;
    cJSON_AddStringToObject(d, "event", "new");
    cJSON_AddStringToObject(d, "action", e->action);
    cJSON_AddStringToObject(d, "actor_type", e->actor_type);
    if (e->actor_name)
        cJSON_AddStringToObject(d, "actor", e->actor_name);
    else
        cJSON_AddNullToObject(d, "actor");
    if (e->target_type)
        cJSON_AddStringToObject(d, "target_type", e->target_type);
    if (e->target_id)
        cJSON_AddStringToObject(d, "target_id", e->target_id);
    realtime_publish(srv, e->org_id, "audit", d);
    cJSON_Delete(d);
}

int audit_record(struct server *srv, const struct audit_event *ev)
{
    char name[AUDIT_MAX_FIELD_BYTES], target[AUDIT_MAX_FIELD_BYTES], src[AUDIT_MAX_FIELD_BYTES];
    if (!srv || !ev || !ev->actor_type || !ev->action || !*ev->action)
        return -EINVAL;
    struct audit_event e = *ev;
    e.actor_name = bounded(ev->actor_name, name);
    e.target_id = bounded(ev->target_id, target);
    e.source_addr = bounded(ev->source_addr, src);
    if (e.detail_json && strlen(e.detail_json) > AUDIT_MAX_DETAIL_BYTES)
        e.detail_json = "{\"truncated\":true}";
    struct db_conn *c = db_conn_get(srv->db);
    int ret = c ? db_audit_insert(c, &e, server_now()) : -EIO;
    if (ret) {
        metrics_db_error(srv);
        log_error("audit", "cannot record %s: %d", e.action, ret);
    } else {
        audit_publish(srv, &e);
    }
    return ret;
}
