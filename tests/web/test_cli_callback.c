/* The callback parser of `ztna login` through the browser (agent/cmd_login_browser.h): the one
 * request that carries the code, everything else turned away, a foreign state refused. */
#include <errno.h>
#include <string.h>

#include "agent/cmd_login_browser.h"
#include "tests/check.h"

#define RID "0123456789abcdef0123456789abcdef"

static int parse(const char *head, char *code, size_t cap)
{
    return login_callback_parse(head, strlen(head), RID, code, cap);
}

int main(void)
{
    char code[129];

    CHECK(parse("GET /callback?code=c0de42&state=" RID " HTTP/1.1\r\nHost: x\r\n\r\n", code,
                sizeof(code)) == 0 && !strcmp(code, "c0de42"));
    /* any order, percent-encoding decoded, other parameters ignored */
    CHECK(parse("GET /callback?x=1&state=" RID "&code=a%2Fb HTTP/1.1\r\n\r\n", code, sizeof(code)) == 0 &&
          !strcmp(code, "a/b"));
    CHECK(parse("GET /favicon.ico HTTP/1.1\r\n\r\n", code, sizeof(code)) == -ENOENT);
    CHECK(parse("POST /callback?code=c&state=" RID " HTTP/1.1\r\n\r\n", code, sizeof(code)) == -ENOENT);
    CHECK(parse("", code, sizeof(code)) == -ENOENT);
    CHECK(parse("GET /callback?code=c&state=ffffffffffffffffffffffffffffffff HTTP/1.1\r\n\r\n", code,
                sizeof(code)) == -EPERM);
    CHECK(parse("GET /callback?code=c HTTP/1.1\r\n\r\n", code, sizeof(code)) == -EPERM);
    /* a prefix of the request id is not the request id */
    CHECK(parse("GET /callback?code=c&state=0123 HTTP/1.1\r\n\r\n", code, sizeof(code)) == -EPERM);
    CHECK(parse("GET /callback?code=c&state=" RID "00 HTTP/1.1\r\n\r\n", code, sizeof(code)) == -EPERM);
    CHECK(parse("GET /callback?state=" RID " HTTP/1.1\r\n\r\n", code, sizeof(code)) == -EINVAL);
    CHECK(parse("GET /callback?state=" RID "&code= HTTP/1.1\r\n\r\n", code, sizeof(code)) == -EINVAL);
    /* control characters and over-long codes are refused, never truncated */
    CHECK(parse("GET /callback?state=" RID "&code=a%0Ab HTTP/1.1\r\n\r\n", code, sizeof(code)) == -EINVAL);
    CHECK(parse("GET /callback?state=" RID "&code=abcdefgh HTTP/1.1\r\n\r\n", code, 8) == -EINVAL);
    CHECK(parse("GET /callback?state=" RID "&code=abcdefg HTTP/1.1\r\n\r\n", code, 8) == 0 &&
          !strcmp(code, "abcdefg"));
    return check_finish("test_cli_callback");
}
