/* The growable buffer of strbuf.h. */
#include "common/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool strbuf_reserve(struct strbuf *b, size_t cap)
{
    if (b->failed)
        return false;
    if (cap + 1 > b->cap) {
        char *p = realloc(b->p, cap + 1);
        if (!p) {
            b->failed = true;
            return false;
        }
        b->p = p;
        b->cap = cap + 1;
        b->p[b->len] = '\0';
    }
    return true;
}

void strbuf_add(struct strbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;

        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void strbuf_adds(struct strbuf *b, const char *s)
{
    strbuf_add(b, s, strlen(s));
}

void strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
    va_list ap;

    for (int round = 0; round < 2 && !b->failed; round++) {
        size_t room = b->cap > b->len ? b->cap - b->len : 0;

        va_start(ap, fmt);
        int n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        /* too long: make room (NUL included) and format again, once */
        size_t want = b->cap ? b->cap : 1024;
        while (want < b->len + (size_t)n + 1)
            want *= 2;
        strbuf_reserve(b, want);
    }
}
