/* Tags ("tag:name") on auth keys and machines: validation and the JSON-array text stored in
 * the database. */
#ifndef ZTNA_SERVER_MACHINE_TAGS_H
#define ZTNA_SERVER_MACHINE_TAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "server/json_body.h"
#include "server/machine_limits.h"

/* "tag:" followed by 1..60 of [A-Za-z0-9_-]. */
bool machine_tag_valid(const char *t);
/* Validates every tag (the first bad one in *bad, may be NULL), drops duplicates and writes the
 * JSON array text into out (MACH_TAGS_JSON_MAX bytes). -EINVAL on a bad tag, -ENOSPC. */
int machine_tags_to_json(const struct json_strv *tags, char out[static MACH_TAGS_JSON_MAX],
                         const char **bad);
/* True if every tag of want_json is in allowed_json (both JSON arrays of strings); the first
 * missing one in *missing (borrowed from a static buffer, valid until the next call in the
 * thread). */
bool machine_tags_subset(const char *want_json, const char *allowed_json, const char **missing);
/* The stored JSON text parsed into a new array (free with cJSON_Delete); empty array on junk. */
cJSON *machine_tags_parse(const char *json);

#endif
