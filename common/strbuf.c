/* The growable buffer of strbuf.h. */
#include "common/strbuf.h"

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
