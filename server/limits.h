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

#endif
