/* Every limit of ztna-server in one place (STYLE.md: "constants in one limits header"). */
#ifndef ZTNA_SERVER_LIMITS_H
#define ZTNA_SERVER_LIMITS_H

#define SRV_MAX_BODY_BYTES      (64 * 1024) /* /api request bodies; larger -> 413 */
#define SRV_MAX_PATH_BYTES      1024        /* request path; longer -> 404 envelope */
#define SRV_MAX_PATH_SEGMENTS   16
#define SRV_MAX_ROUTE_PARAMS    4           /* {org}, {user}, ... per pattern */
#define SRV_MAX_PARAM_BYTES     128         /* one decoded path segment */
#define SRV_MAX_JSON_DEPTH      16
#define SRV_MAX_BODY_FIELDS     32          /* fields in one body_spec (bitmask width) */
#define SRV_MAX_STRV            32          /* elements in a FIELD_STRV array */
#define SRV_MAX_EXTRA_HEADERS   6           /* response headers a handler may add */
#define SRV_MAX_HEADER_BYTES    512         /* one added response header value */
#define SRV_MAX_ERRMSG_BYTES    256
#define SRV_MAX_STMT_CACHE      128         /* prepared statements per connection */
#define SRV_MAX_DB_CONNS        64          /* one per civetweb worker + main + janitor */
#define SRV_DB_BUSY_TIMEOUT_MS  5000
#define SRV_MAX_RATE_ENTRIES    4096        /* distinct keys tracked by the login limiter */
#define SRV_MAX_CONFIG_LINE     1024
#define SRV_MAX_SETTING_BYTES   512
#define SRV_TOKEN_BYTES         32          /* access and refresh tokens, before encoding */
#define SRV_TOKEN_TEXT_BYTES    (2 * SRV_TOKEN_BYTES + 1)
#define SRV_MAX_EMAIL_BYTES     254
#define SRV_MIN_PASSWORD_BYTES  8
#define SRV_MAX_PASSWORD_BYTES  256
#define SRV_MAX_NAME_BYTES      128
#define SRV_MAX_SLUG_BYTES      63
#define SRV_BACKUP_STEP_PAGES   256
#define SRV_BACKUP_MAX_SECONDS  120
#define SRV_HEALTH_WAIT_MS      5000

/* Machines, pre-auth keys, audit. */
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
#define MACH_DEFAULT_OFFLINE_AFTER_BEATS 3 /* offline-timeout 0: offline after 3 missed heartbeats */
#define AUDIT_LIST_DEFAULT        100
#define AUDIT_LIST_MAX            1000
#define AUDIT_EXPORT_MAX_ROWS     100000
#define AUDIT_FILTER_MAX          128
#define JIT_LIST_DEFAULT          100  /* JIT requests per page (GET .../jit-requests) */
#define JIT_LIST_MAX              1000 /* 1000 of at most ~1 KiB: under the agent's 1 MiB reply cap */

#endif
