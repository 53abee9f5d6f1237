/* Tags ("tag:name") on auth keys and machines: validation and the JSON-array text stored in
 * the database. */
#ifndef ZTNA_SERVER_MACHINE_TAGS_H
#define ZTNA_SERVER_MACHINE_TAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "server/json_body.h"
#include "server/limits.h"

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
/* May the owner of machine machine_id apply every tag of tags_json (a JSON array) under the
 * tagOwners of the org's policy in force? The check is policy_fleet_check() on the machine as it
 * would be with those tags, so a tag counts exactly as the compiler will count it. 0; -EPERM with
 * why naming the tag (unknown tag, owner may not apply it, or no policy at all); -errno. */
struct db_conn;
int machine_tags_owner_check(struct db_conn *db, int64_t org_id, int64_t machine_id,
                             const char *tags_json, char *why, size_t why_len);
/* The stored JSON text parsed into a new array (free with cJSON_Delete); empty array on junk. */
cJSON *machine_tags_parse(const char *json);

#endif
