/* Unit tests for common/: hex codec, the bounds-checked cursor, the growable buffer. */
#include "common/cursor.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "tests/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_hex(void)
{
    uint8_t in[4] = {0x00, 0xab, 0x7f, 0xff}, out[4];
    char s[9];
    hex_encode(s, in, 4);
    CHECK(strcmp(s, "00ab7fff") == 0);
    CHECK(hex_decode(out, 4, "00AB7fff") && memcmp(in, out, 4) == 0);
    CHECK(!hex_decode(out, 4, "00ab7ff"));   /* short */
    CHECK(!hex_decode(out, 4, "00ab7fff0")); /* long */
    CHECK(!hex_decode(out, 4, "00ab7fzz"));  /* not hex */
    size_t n = 0;
    uint8_t *p = hex_decode_alloc("0102", &n);
    CHECK(p && n == 2 && p[1] == 2);
    free(p);
    CHECK(hex_decode_alloc("012", &n) == NULL);
}

static void test_base64(void)
{
    /* RFC 4648 section 10, and both ends of the table */
    static const char *const v[][2] = {
        {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}, {"\xfb\xff", "+/8="},
        {"\x04\x20\xc4", "BCDE"}};
    char out[32];
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t n = base64_encode_public(out, (const uint8_t *)v[i][0], strlen(v[i][0]));
        CHECK(n == strlen(v[i][1]) && strcmp(out, v[i][1]) == 0);
    }
}

static void test_cursor(void)
{
    const uint8_t buf[] = {1, 2, 3, 4, 5, 6, 7};
    struct cursor c = cursor_init(buf, sizeof(buf));
    CHECK(cursor_u8(&c) == 1);
    CHECK(cursor_be16(&c) == 0x0203);
    CHECK(cursor_le32(&c) == 0x07060504);
    CHECK(c.ok && cursor_left(&c) == 0);
    CHECK(cursor_u8(&c) == 0 && !c.ok);
    /* Once poisoned, stays poisoned. */
    c = cursor_init(buf, 2);
    CHECK(cursor_be32(&c) == 0 && !c.ok);
    CHECK(cursor_take(&c, 1) == NULL);
    uint8_t out[3] = {9, 9, 9};
    CHECK(!cursor_copy(&c, out, 3) && out[0] == 0);
}

static void test_log_level(void)
{
    enum log_level l;
    CHECK(log_level_parse("warn", &l) && l == LOG_LVL_WARN);
    CHECK(!log_level_parse("loud", &l));
}

/* Growth across many doublings keeps every byte and the NUL; reserve keeps what is there. */
static void test_strbuf(void)
{
    struct strbuf b = {0};
    char want[20000];
    size_t n = 0;

    strbuf_adds(&b, "");
    CHECK(!b.failed && b.len == 0 && b.p && b.p[0] == '\0');
    for (int i = 0; n + 8 < sizeof(want); i++) {
        char chunk[8];
        int l = snprintf(chunk, sizeof(chunk), "%d,", i % 1000);
        strbuf_add(&b, chunk, (size_t)l);
        memcpy(want + n, chunk, (size_t)l);
        n += (size_t)l;
    }
    CHECK(!b.failed && b.len == n && b.cap > n && !memcmp(b.p, want, n) && b.p[n] == '\0');
    CHECK(strbuf_reserve(&b, 3 * n) && b.cap > 3 * n && b.len == n && !memcmp(b.p, want, n));
    strbuf_add(&b, "x", 1);
    CHECK(b.len == n + 1 && b.p[n] == 'x' && b.p[n + 1] == '\0');
    free(b.p);

    /* printf: from empty, across growth (a piece longer than the room left), appended in order */
    struct strbuf f = {0};
    char big[3000];
    memset(big, 'k', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    strbuf_printf(&f, "%s=%d;", "a", 1);
    CHECK(!f.failed && f.len == 4 && !strcmp(f.p, "a=1;"));
    for (int i = 0; i < 3; i++)
        strbuf_printf(&f, "[%s]", big);
    strbuf_printf(&f, "%u", 42u);
    CHECK(!f.failed && f.len == 4 + 3 * (sizeof(big) + 1) + 2 && f.p[f.len] == '\0');
    CHECK(!strncmp(f.p + 4, "[kkk", 4) && !strcmp(f.p + f.len - 3, "]42"));
    free(f.p);
}

int main(void)
{
    test_strbuf();
    test_hex();
    test_base64();
    test_cursor();
    test_log_level();
    return check_finish("test_common");
}
