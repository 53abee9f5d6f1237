/* What the policy in force says about one machine: its status for the machines API and its own
 * map entry (quarantine, why), and explain (policy_rt.h). */
#include "server/policy_glue_int.h"


#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/policy_glue.h"
#include "server/policy_rt.h"

/* --- machine status (machines API, the machine's own map entry) ----------------------------- */

static void quarantine_json(cJSON *q, bool quarantined, const char *reason)
{
    cJSON_AddBoolToObject(q, "quarantined", quarantined);
    if (quarantined)
        cJSON_AddStringToObject(q, "reason", reason);
    else
        cJSON_AddNullToObject(q, "reason");
}

/* Under rt->lock: the machine as the engine of the policy in force holds it, or NULL (no policy,
 * the policy failed to load, or the engine does not know the machine). */
static const struct fleet_machine *status_machine(struct policy_rt *rt, int64_t org_id,
                                                  int64_t machine_id, struct porg **po)
{
    bool fresh;
    *po = pg_porg_get(rt, org_id, &fresh);
    if (!*po || !(*po)->has_policy || !(*po)->e || !(*po)->p)
        return NULL;
    return policy_engine_machine((*po)->e, machine_id);
}

void policy_rt_machine_status(struct server *srv, int64_t org_id, int64_t machine_id, cJSON *obj)
{
    struct policy_rt *rt = srv->policy;
    cJSON *q = cJSON_AddObjectToObject(obj, "quarantine");
    cJSON *checks = cJSON_AddArrayToObject(obj, "posture_checks");
    char reason[160] = "", why[POLICY_ERR_MAX], text[POLICY_ERR_MAX + 32];
    bool quarantined = false;
    struct porg *po = NULL;
    int64_t now = server_now();
    if (!q || !checks)
        return;
    if (rt)
        pthread_rwlock_wrlock(&rt->lock);
    const struct fleet_machine *m = rt ? status_machine(rt, org_id, machine_id, &po) : NULL;
    if (m) {
        quarantined = pg_quarantine_of(po->p, m, now, reason, sizeof(reason));
        for (size_t ps = 0; ps < po->p->npostures; ps++) {
            if (!pg_posture_used(po->p, ps))
                continue;
            enum policy_posture_result res =
                policy_posture_check(&po->p->postures[ps], &m->posture, now, why, sizeof(why));
            cJSON *c = cJSON_CreateObject();
            if (!c || !cJSON_AddItemToArray(checks, c)) {
                cJSON_Delete(c);
                break;
            }
            cJSON_AddStringToObject(c, "name", po->p->postures[ps].name);
            cJSON_AddBoolToObject(c, "pass", res == POLICY_POSTURE_PASS);
            if (res == POLICY_POSTURE_CHECK)
                snprintf(text, sizeof(text), "%s is false, needs true", why);
            else
                snprintf(text, sizeof(text), "%s", why);
            if (res == POLICY_POSTURE_PASS)
                cJSON_AddNullToObject(c, "failed");
            else
                cJSON_AddStringToObject(c, "failed", text);
        }
    }
    if (rt)
        pthread_rwlock_unlock(&rt->lock);
    quarantine_json(q, quarantined, reason);
}

char *policy_glue_quarantine(struct server *srv, int64_t org_id, int64_t machine_id)
{
    struct policy_rt *rt = srv->policy;
    char reason[160] = "";
    bool quarantined = false;
    struct porg *po = NULL;
    cJSON *q = cJSON_CreateObject();
    if (!q)
        return NULL;
    if (rt) {
        po = pg_porg_read(rt, org_id);
        const struct fleet_machine *m = po && po->has_policy && po->e && po->p
                                            ? policy_engine_machine(po->e, machine_id) : NULL;
        if (m)
            quarantined = pg_quarantine_of(po->p, m, server_now(), reason, sizeof(reason));
        pthread_rwlock_unlock(&rt->lock);
    }
    quarantine_json(q, quarantined, reason);
    char *text = cJSON_PrintUnformatted(q);
    cJSON_Delete(q);
    return text;
}

/* --- explain -------------------------------------------------------------------------------- */

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* "web" or its MagicDNS name "web.acme.zt.net" */
static bool name_matches(const char *name, const char *s)
{
    size_t n = strlen(name);
    return !strncasecmp(name, s, n) && (s[n] == 0 || s[n] == '.');
}

static const struct fleet_machine *machine_resolve(const struct fleet *f, const char *s)
{
    uint8_t a4[4], a6[16];
    bool num = all_digits(s), ip = inet_pton(AF_INET, s, a4) == 1;
    bool ip6 = !ip && inet_pton(AF_INET6, s, a6) == 1;
    for (size_t i = 0; i < f->nmachines; i++) {
        const struct fleet_machine *m = &f->machines[i];
        if ((num && m->id == strtoll(s, NULL, 10)) || (ip && m->has_ip4 && !memcmp(m->ip4, a4, 4)) ||
            (ip6 && m->has_ip6 && !memcmp(m->ip6, a6, 16)) ||
            (!num && !ip && !ip6 && m->name && name_matches(m->name, s)))
            return m;
    }
    return NULL;
}

static const char *failed_kind(const struct policy_verdict *v)
{
    if (v->accept)
        return NULL;
    if (strstr(v->reason, "): posture \""))
        return "posture";
    if (strstr(v->reason, "): outside schedule"))
        return "schedule";
    if (strstr(v->reason, "): geo:"))
        return "geo";
    if (strstr(v->reason, "): requires JIT"))
        return "jit";
    if (strstr(v->reason, "): source is not a machine"))
        return "source";
    if (strstr(v->reason, "user has no machines"))
        return "no_machines";
    return "no_rule";
}

static cJSON *machine_ref(const struct fleet_machine *m)
{
    cJSON *o = cJSON_CreateObject();
    char ip[INET_ADDRSTRLEN] = "", ip6[INET6_ADDRSTRLEN];
    if (m->has_ip4)
        inet_ntop(AF_INET, m->ip4, ip, sizeof(ip));
    cJSON_AddNumberToObject(o, "machine_id", (double)m->id);
    cJSON_AddStringToObject(o, "name", m->name ? m->name : "");
    cJSON_AddStringToObject(o, "tailnet_ip", ip);
    if (m->has_ip6 && inet_ntop(AF_INET6, m->ip6, ip6, sizeof(ip6)))
        cJSON_AddStringToObject(o, "tailnet_ip6", ip6);
    else
        cJSON_AddNullToObject(o, "tailnet_ip6"); /* --ipv6-prefix off */
    return o;
}

static int explain_locked(struct policy_rt *rt, struct porg *po, const struct policy_explain_req *q,
                          cJSON *d, char *why, size_t whylen)
{
    struct policy_query pq = {.port = q->port, .proto = q->proto};
    struct policy_verdict v;
    const struct fleet *f = policy_engine_fleet(po->e);
    if (!f)
        return -ENOMEM;
    const struct fleet_machine *dst = machine_resolve(f, q->dst), *src = machine_resolve(f, q->src);
    if (!dst) {
        snprintf(why, whylen, "dst: no machine \"%.64s\" in this org", q->dst);
        return -ENOENT;
    }
    pq.dst_machine = dst->id;
    if (src) {
        pq.src_machine = src->id;
        cJSON_AddItemToObject(d, "src", machine_ref(src));
    } else if (strchr(q->src, '@')) {
        for (size_t i = 0; i < f->nusers && !pq.src_user; i++)
            if (!strcasecmp(f->users[i].email, q->src))
                pq.src_user = f->users[i].id;
        if (!pq.src_user) {
            snprintf(why, whylen, "src: no user \"%.64s\" in this org", q->src);
            return -ENOENT;
        }
        cJSON *s = cJSON_AddObjectToObject(d, "src");
        cJSON_AddNumberToObject(s, "user_id", (double)pq.src_user);
        cJSON_AddStringToObject(s, "email", q->src);
    } else if (inet_pton(AF_INET, q->src, pq.src_addr) == 1 ||
               inet_pton(AF_INET6, q->src, pq.src_addr) == 1) {
        pq.src_family = strchr(q->src, ':') ? 6 : 4;
        cJSON_AddStringToObject(cJSON_AddObjectToObject(d, "src"), "address", q->src);
    } else {
        snprintf(why, whylen, "src: no machine, user or address \"%.64s\" in this org", q->src);
        return -ENOENT;
    }
    int ret = policy_explain(po->p, f, rt->geo, q->at, &pq, &v);
    if (ret)
        return ret;
    cJSON_AddItemToObject(d, "dst", machine_ref(dst));
    cJSON_AddBoolToObject(d, "accepted", v.accept);
    cJSON_AddStringToObject(d, "reason", v.reason);
    const char *fk = failed_kind(&v);
    if (fk)
        cJSON_AddStringToObject(d, "failed", fk);
    else
        cJSON_AddNullToObject(d, "failed");
    if (v.rule >= 0) {
        cJSON_AddNumberToObject(d, "rule", v.rule);
        cJSON_AddNumberToObject(d, "line", v.line);
    } else {
        cJSON_AddNullToObject(d, "rule");
        cJSON_AddNullToObject(d, "line");
    }
    cJSON_AddNumberToObject(d, "version", (double)po->version);
    return 0;
}

int policy_rt_explain(struct server *srv, int64_t org_id, const struct policy_explain_req *q,
                      cJSON **out, char *why, size_t whylen)
{
    struct policy_rt *rt = srv->policy;
    bool fresh;
    int ret;
    cJSON *d = cJSON_CreateObject();
    *out = NULL;
    if (!rt || !d) {
        cJSON_Delete(d);
        return rt ? -ENOMEM : -ENOTSUP;
    }
    cJSON_AddNumberToObject(d, "at", (double)q->at);
    pthread_rwlock_wrlock(&rt->lock);
    struct porg *po = pg_porg_get(rt, org_id, &fresh);
    if (!po) {
        ret = -EIO;
    } else if (!po->has_policy) {
        cJSON_AddBoolToObject(d, "accepted", true);
        cJSON_AddStringToObject(d, "reason", "no policy: every machine may reach every other");
        cJSON_AddNullToObject(d, "failed");
        cJSON_AddNumberToObject(d, "version", 0);
        ret = 0;
    } else if (!po->e) {
        snprintf(why, whylen, "the policy in force could not be loaded (see the server log)");
        ret = -EIO;
    } else {
        ret = explain_locked(rt, po, q, d, why, whylen);
    }
    pthread_rwlock_unlock(&rt->lock);
    if (ret)
        cJSON_Delete(d);
    else
        *out = d;
    return ret;
}
