#include "server/machine_tags.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/db_policy.h"
#include "server/policy/policy.h"
#include "server/policy_fleet.h"

bool machine_tag_valid(const char *t)
{
    if (!t || strncmp(t, "tag:", 4) != 0)
        return false;
    size_t n = 0;
    for (const char *p = t + 4; *p; p++, n++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return n >= 1 && n <= MACH_TAG_MAX_BYTES - 4;
}

int machine_tags_to_json(const struct json_strv *tags, char out[static MACH_TAGS_JSON_MAX],
                         const char **bad)
{
    size_t o = 0;
    out[o++] = '[';
    for (size_t i = 0; tags && i < tags->n; i++) {
        if (!machine_tag_valid(tags->v[i])) {
            if (bad)
                *bad = tags->v[i];
            return -EINVAL;
        }
        bool dup = false;
        for (size_t k = 0; k < i && !dup; k++)
            dup = strcmp(tags->v[k], tags->v[i]) == 0;
        if (dup)
            continue;
        /* Valid tags need no JSON escaping. */
        int n = snprintf(out + o, MACH_TAGS_JSON_MAX - o, "%s\"%s\"", o > 1 ? "," : "", tags->v[i]);
        if (n < 0 || (size_t)n >= MACH_TAGS_JSON_MAX - o)
            return -ENOSPC;
        o += (size_t)n;
    }
    if (o + 2 > MACH_TAGS_JSON_MAX)
        return -ENOSPC;
    out[o++] = ']';
    out[o] = '\0';
    return 0;
}

cJSON *machine_tags_parse(const char *json)
{
    cJSON *a = json ? cJSON_Parse(json) : NULL;
    if (!cJSON_IsArray(a)) {
        cJSON_Delete(a);
        a = cJSON_CreateArray();
    }
    return a;
}

bool machine_tags_subset(const char *want_json, const char *allowed_json, const char **missing)
{
    static __thread char miss[MACH_TAG_MAX_BYTES + 1];
    cJSON *want = machine_tags_parse(want_json), *allowed = machine_tags_parse(allowed_json);
    bool ok = want && allowed;
    const cJSON *w, *a;
    cJSON_ArrayForEach(w, want)
    {
        bool found = false;
        cJSON_ArrayForEach(a, allowed) found = found || (cJSON_IsString(a) && cJSON_IsString(w) &&
                                                         strcmp(a->valuestring, w->valuestring) == 0);
        if (!found) {
            ok = false;
            snprintf(miss, sizeof(miss), "%s", cJSON_IsString(w) ? w->valuestring : "?");
            if (missing)
                *missing = miss;
            break;
        }
    }
    cJSON_Delete(want);
    cJSON_Delete(allowed);
    return ok;
}

int machine_tags_owner_check(struct db_conn *db, int64_t org_id, int64_t machine_id,
                             const char *tags_json, char *why, size_t why_len)
{
    struct policy_version pv = {0};
    struct fleet_store fs = {0};
    struct policy *p = NULL;
    struct policy_error err;
    cJSON *want = machine_tags_parse(tags_json);
    const char **v = NULL;
    size_t n = want ? (size_t)cJSON_GetArraySize(want) : 0;
    int ret = want ? 0 : -ENOMEM;

    if (!ret && n == 0) /* removing every tag needs no owner */
        goto out;
    if (!ret)
        ret = db_policy_current(db, org_id, &pv);
    if (ret == -ENOENT) {
        snprintf(why, why_len, "tag \"%s\": the org has no policy, so no tagOwners entry lets "
                 "anyone apply it", cJSON_GetArrayItem(want, 0)->valuestring);
        ret = -EPERM;
        goto out;
    }
    if (!ret)
        ret = policy_parse(pv.text, strlen(pv.text), &p, &err);
    if (ret == -EINVAL) /* a stored version always parsed: only a newer server could refuse it */
        ret = -EIO;
    if (!ret)
        ret = pfleet_machine(db, org_id, machine_id, NULL, NULL, &fs);
    if (!ret && fs.f.nmachines != 1)
        ret = -ENOENT;
    if (!ret && !(v = calloc(n, sizeof(*v))))
        ret = -ENOMEM;
    if (ret)
        goto out;
    for (size_t i = 0; i < n; i++)
        v[i] = cJSON_GetArrayItem(want, (int)i)->valuestring;
    fs.machines[0].tags = v;
    fs.machines[0].ntags = n;
    if (policy_fleet_check(p, &fs.f, &err) != 0) {
        snprintf(why, why_len, "%s (tagOwners of policy version %lld)", err.msg,
                 (long long)pv.version);
        ret = -EPERM;
    }
out:
    free(v);
    policy_free(p);
    pfleet_free(&fs);
    free(pv.text);
    cJSON_Delete(want);
    return ret;
}
