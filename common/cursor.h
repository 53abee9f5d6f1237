/* Bounds-checked reader over untrusted bytes (network packets, netlink replies).
 * Every read checks the remaining length; after the first failure the cursor is poisoned and
 * every further read fails, so a parser may check `ok` once at the end. */
#ifndef ZTNA_COMMON_CURSOR_H
#define ZTNA_COMMON_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct cursor {
    const uint8_t *p; /* borrowed; valid while the caller's buffer is */
    size_t len;
    size_t off;
    bool ok;
};

static inline struct cursor cursor_init(const void *p, size_t len)
{
    return (struct cursor){.p = p, .len = len, .off = 0, .ok = true};
}
static inline size_t cursor_left(const struct cursor *c) { return c->ok ? c->len - c->off : 0; }
static inline bool cursor_need(struct cursor *c, size_t n)
{
    if (!c->ok || c->len - c->off < n)
        c->ok = false;
    return c->ok;
}
static inline uint8_t cursor_u8(struct cursor *c)
{
    return cursor_need(c, 1) ? c->p[c->off++] : 0;
}
static inline uint16_t cursor_be16(struct cursor *c)
{
    if (!cursor_need(c, 2))
        return 0;
    uint16_t v = (uint16_t)(c->p[c->off] << 8 | c->p[c->off + 1]);
    c->off += 2;
    return v;
}
static inline uint32_t cursor_be32(struct cursor *c)
{
    if (!cursor_need(c, 4))
        return 0;
    const uint8_t *b = c->p + c->off;
    c->off += 4;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}
static inline uint32_t cursor_le32(struct cursor *c)
{
    if (!cursor_need(c, 4))
        return 0;
    const uint8_t *b = c->p + c->off;
    c->off += 4;
    return (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
}
static inline uint64_t cursor_le64(struct cursor *c)
{
    uint64_t lo = cursor_le32(c);
    uint64_t hi = cursor_le32(c);
    return hi << 32 | lo;
}
/* Copies n bytes out; on failure out is zeroed. */
static inline bool cursor_copy(struct cursor *c, void *out, size_t n)
{
    if (!cursor_need(c, n)) {
        memset(out, 0, n);
        return false;
    }
    memcpy(out, c->p + c->off, n);
    c->off += n;
    return true;
}
/* Borrows n bytes in place; NULL on failure. */
static inline const uint8_t *cursor_take(struct cursor *c, size_t n)
{
    if (!cursor_need(c, n))
        return NULL;
    const uint8_t *b = c->p + c->off;
    c->off += n;
    return b;
}

#endif
