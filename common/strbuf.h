/* A growable, always NUL-terminated byte buffer for assembling replies and messages: appends by
 * memcpy, grows by doubling; after an allocation failure it stays failed and appends do nothing,
 * so a caller checks once at the end. Free p with free(). */
#ifndef ZTNA_COMMON_STRBUF_H
#define ZTNA_COMMON_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
    char *p;
    size_t len, cap;
    bool failed;
};

/* Makes room for at least cap bytes up front (optional). false (and failed) on ENOMEM. */
bool strbuf_reserve(struct strbuf *b, size_t cap);
void strbuf_add(struct strbuf *b, const char *s, size_t n);
void strbuf_adds(struct strbuf *b, const char *s);
/* Appends the formatted text (vsnprintf; an encoding error fails the buffer). */
void strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
