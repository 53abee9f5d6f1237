/* Audit log rows and their serialisations: the API's JSON object (also one JSON line of the
 * export), ArcSight CEF and RFC 5424 syslog. Pure functions: no database, no server. */
#ifndef ZTNA_SERVER_AUDIT_EXPORT_H
#define ZTNA_SERVER_AUDIT_EXPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <cjson/cJSON.h>

/* One row of audit_log. Strings are borrowed (NULL = absent); valid while the caller says. */
struct audit_row {
    int64_t id;
    int64_t ts; /* unix seconds */
    int64_t org_id; /* 0 = none */
    const char *actor_type;
    int64_t actor_id; /* 0 = none */
    const char *actor_name;
    const char *action;
    const char *target_type;
    const char *target_id;
    const char *source_addr;
    const char *detail_json;
};

enum audit_format { AUDIT_FMT_JSONL, AUDIT_FMT_CEF, AUDIT_FMT_SYSLOG };

#define AUDIT_SYSLOG_APP     "ztna-server"
#define AUDIT_SYSLOG_SD_ID   "ztna@32473" /* 32473: the documentation enterprise number (RFC 5612) */
#define AUDIT_SYSLOG_FACILITY 10          /* security/authorization (authpriv) */
#define AUDIT_CEF_VENDOR     "ZTNA"
#define AUDIT_CEF_PRODUCT    "ztna-server"

/* "jsonl" | "cef" | "syslog"; false otherwise. */
bool audit_format_parse(const char *s, enum audit_format *out);
const char *audit_format_content_type(enum audit_format f);

/* The row as the API's JSON object (new: free with cJSON_Delete); NULL on allocation failure.
 * detail is embedded as JSON when detail_json parses, else as a string. */
cJSON *audit_row_to_json(const struct audit_row *r);

/* Writes the row as ONE line (terminated by "\n") in format f. host is the syslog HOSTNAME
 * (NULL or empty: "-"). 0, or -EIO on a write error, -ENOMEM. */
int audit_row_write(FILE *out, enum audit_format f, const struct audit_row *r, const char *host);

/* Escapers, exposed for the tests. Each writes s escaped; 0 or -EIO. */
int audit_cef_header_escape(FILE *out, const char *s); /* \ -> \\, | -> \|, CR/LF -> \r \n */
int audit_cef_ext_escape(FILE *out, const char *s);    /* \ -> \\, = -> \=, CR/LF -> \r \n */
int audit_sd_escape(FILE *out, const char *s);         /* " -> \", \ -> \\, ] -> \] */

#endif
