#include "server/machine_tags.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
