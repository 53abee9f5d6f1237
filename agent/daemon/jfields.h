/* JSON parsed once, at the edge, by a table of fields into a typed struct (STYLE.md). Used for the
 * server's map messages and replies and for the local API requests. Unknown members are ignored
 * (a newer peer may add fields); a missing required member, a wrong type or an out-of-bounds
 * value fails with a message naming the field. */
#ifndef ZTNA_AGENT_DAEMON_JFIELDS_H
#define ZTNA_AGENT_DAEMON_JFIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

enum jf_type {
    JF_I64,    /* int64_t at off, within [lo, hi] */
    JF_BOOL,   /* bool at off */
    JF_STR,    /* char[cap] at off: 1..cap-1 bytes unless lo == 0, no control characters */
    JF_STRARR, /* char[max_n][cap] at off, count (size_t) at count_off */
    JF_IPV4,   /* struct in_addr at off, dotted quad */
    JF_KEY32,  /* uint8_t[32] at off: 44 base64 or 64 hex characters */
    JF_OBJECT, /* const cJSON * at off (borrowed from the tree), object or null (stored NULL) */
    JF_ARRAY,  /* const cJSON * at off (borrowed), array; at most max_n items */
};

struct jfield {
    const char *name;
    enum jf_type type;
    bool required;
    size_t off;
    size_t cap;       /* JF_STR / JF_STRARR: bytes per string, NUL included */
    size_t max_n;     /* JF_STRARR / JF_ARRAY: most items */
    size_t count_off; /* JF_STRARR */
    int64_t lo, hi;   /* JF_I64 bounds; JF_STR: lo = 0 allows the empty string */
};

/* Fills out from obj by the table f[0..n). *seen (may be NULL) gets bit i set for each field i
 * that was present (n <= 64). Returns 0, or -EINVAL with why naming the field. */
int jfields_parse(const cJSON *obj, const struct jfield *f, size_t n, void *out, uint64_t *seen,
                  char *why, size_t why_len);

/* Decodes a 32-byte key given as 44 base64 or 64 hex characters. */
bool jfields_key32_decode(const char *s, uint8_t out[static 32]);

#endif
