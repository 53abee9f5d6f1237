/* Limits of the machines / auth keys / audit modules (server-machines engineer). Kept beside
 * server/limits.h, which belongs to the server core; the lead may merge the two. */
#ifndef ZTNA_SERVER_MACHINE_LIMITS_H
#define ZTNA_SERVER_MACHINE_LIMITS_H

#define MACH_AUTH_KEY_PREFIX      "ztna-auth-"
#define MACH_AUTH_KEY_RANDOM      32   /* bytes of randomness in a pre-auth key (64 hex) */
#define MACH_AUTH_KEY_TEXT        (sizeof(MACH_AUTH_KEY_PREFIX) - 1 + 2 * MACH_AUTH_KEY_RANDOM + 1)
#define MACH_AUTH_KEY_SHOWN       18   /* characters of the key kept for lists: "ztna-auth-1a2b3c4d" */
#define MACH_MAX_KEY_TTL          (365LL * 24 * 3600)
#define MACH_TAG_MAX_BYTES        64   /* "tag:" + up to 60 of [a-z0-9-_] */
#define MACH_TAGS_JSON_MAX        (32 * (MACH_TAG_MAX_BYTES + 3) + 3)
#define MACH_HOSTNAME_MAX         253
#define MACH_LABEL_MAX            63   /* DNS label */
#define MACH_LABEL_BASE_MAX       55   /* room for a "-NNNNNNN" uniqueness suffix */
#define MACH_OS_MAX               64
#define MACH_POSTURE_MAX_BYTES    4096 /* stored posture JSON */
#define MACH_POSTURE_FIELD_MAX    128
#define MACH_LIST_DEFAULT         100
#define MACH_LIST_MAX             1000
#define MACH_IP_SCAN_MAX          (1 << 22) /* addresses in 100.64.0.0/10: bounds the gap search */
#define MACH_JANITOR_TICK_MS      1000 /* janitor wakes at least this often (and on stop) */
#define MACH_DEFAULT_EPHEMERAL_TIMEOUT 300 /* seconds without heartbeat before an ephemeral goes */
#define MACH_DEFAULT_OFFLINE_AFTER_BEATS 3 /* online -> offline after 3 missed heartbeats */
#define AUDIT_LIST_DEFAULT        100
#define AUDIT_LIST_MAX            1000
#define AUDIT_EXPORT_MAX_ROWS     100000
#define AUDIT_FILTER_MAX          128

#endif
