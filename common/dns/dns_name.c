/* DNS names: decompression (RFC 1035 4.1.4) with loop/length limits, case-insensitive compare,
 * text conversion. */
#include "common/dns/dns_msg.h"
#include "common/cursor.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static inline uint8_t lower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? (uint8_t)(c | 0x20) : c; }

bool dns_name_parse(const uint8_t *msg, size_t msg_len, size_t *off, struct dns_name *out)
{
    if (*off > msg_len)
        return false;
    struct cursor c = cursor_init(msg, msg_len);
    size_t end = 0, n = 0;
    unsigned hops = 0;
    bool jumped = false;

    c.off = *off;
    for (;;) {
        size_t at = c.off;
        uint8_t l = cursor_u8(&c);
        if (!c.ok)
            return false;
        if ((l & 0xc0) == 0xc0) {
            size_t target = (size_t)(l & 0x3f) << 8 | cursor_u8(&c);
            /* Strictly backwards: a pointer can never reach itself, so no loop; the hop limit
             * bounds the work on long backward chains. */
            if (!c.ok || ++hops > DNS_PTR_HOPS_MAX || target >= at)
                return false;
            if (!jumped)
                end = c.off;
            jumped = true;
            c.off = target;
            continue;
        }
        if (l & 0xc0)   /* 0x40 / 0x80: extended / reserved label types */
            return false;
        if (n + 1 + l > DNS_NAME_MAX)
            return false;
        const uint8_t *label = cursor_take(&c, l);
        if (!label)
            return false;
        out->wire[n] = l;
        memcpy(out->wire + n + 1, label, l);
        n += 1 + (size_t)l;
        if (l == 0)
            break;
    }
    out->len = (uint8_t)n;
    *off = jumped ? end : c.off;
    return true;
}

bool dns_name_equal(const struct dns_name *a, const struct dns_name *b)
{
    if (a->len != b->len)
        return false;
    /* Label lengths are bytes < 64, unaffected by case folding, so one pass compares both. */
    for (size_t i = 0; i < a->len; i++)
        if (lower(a->wire[i]) != lower(b->wire[i]))
            return false;
    return true;
}

void dns_name_lower(struct dns_name *n)
{
    for (size_t i = 0; i < n->len;) {
        uint8_t l = n->wire[i];
        for (size_t k = 1; k <= l; k++)
            n->wire[i + k] = lower(n->wire[i + k]);
        i += 1 + (size_t)l;
    }
}

bool dns_name_is_under(const struct dns_name *n, const struct dns_name *parent)
{
    if (n->len < parent->len)
        return false;
    /* Walk labels so that the suffix starts on a label boundary. */
    size_t i = 0;
    while (n->len - i > parent->len)
        i += 1 + (size_t)n->wire[i];
    if (n->len - i != parent->len)
        return false;
    for (size_t k = 0; k < parent->len; k++)
        if (lower(n->wire[i + k]) != parent->wire[k])
            return false;
    return true;
}

int dns_name_from_text(struct dns_name *out, const char *text)
{
    size_t tl = strlen(text), n = 0;
    if (tl == 0)
        return -EINVAL;
    if (strcmp(text, ".") == 0) {
        out->wire[0] = 0;
        out->len = 1;
        return 0;
    }
    if (text[tl - 1] == '.')
        tl--;
    size_t start = 0;
    while (start <= tl) {
        const char *dot = memchr(text + start, '.', tl - start);
        size_t ll = dot ? (size_t)(dot - (text + start)) : tl - start;
        if (ll == 0 || ll > DNS_LABEL_MAX || n + 1 + ll + 1 > DNS_NAME_MAX)
            return -EINVAL;
        out->wire[n] = (uint8_t)ll;
        memcpy(out->wire + n + 1, text + start, ll);
        n += 1 + ll;
        start += ll + 1;
    }
    out->wire[n++] = 0;
    out->len = (uint8_t)n;
    return 0;
}

int dns_name_to_text(const struct dns_name *n, char *out, size_t cap)
{
    size_t o = 0;
    if (n->len <= 1) {
        if (cap < 2)
            return -ENOSPC;
        memcpy(out, ".", 2);
        return 0;
    }
    for (size_t i = 0; i < n->len && n->wire[i];) {
        uint8_t l = n->wire[i];
        for (size_t k = 1; k <= l; k++) {
            uint8_t c = n->wire[i + k];
            char tmp[5];
            int w;
            if (c == '.' || c == '\\')
                w = snprintf(tmp, sizeof(tmp), "\\%c", c);
            else if (c < '!' || c > '~')
                w = snprintf(tmp, sizeof(tmp), "\\%03u", c);
            else
                w = snprintf(tmp, sizeof(tmp), "%c", c);
            if (o + (size_t)w + 1 > cap)
                return -ENOSPC;
            memcpy(out + o, tmp, (size_t)w);
            o += (size_t)w;
        }
        if (o + 2 > cap)
            return -ENOSPC;
        out[o++] = '.';
        i += 1 + (size_t)l;
    }
    out[o] = 0;
    return 0;
}

unsigned dns_name_label_count(const struct dns_name *n)
{
    unsigned c = 0;
    for (size_t i = 0; i < n->len && n->wire[i]; i += 1 + (size_t)n->wire[i])
        c++;
    return c;
}
