/* Unit tests of the transport-free /api parsers: the JSON body field table and the router. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "server/json_body.h"
#include "server/router.h"
#include "tests/check.h"

struct tb {
    const char *name;
    int64_t n;
    bool flag;
    struct json_strv tags;
};
static const struct field_spec tfields[] = {
    {"name", FIELD_STRING, true, offsetof(struct tb, name), 1, 8, 0},
    {"n", FIELD_INT, false, offsetof(struct tb, n), 0, 100, 42},
    {"flag", FIELD_BOOL, false, offsetof(struct tb, flag), 0, 1, 1},
    {"tags", FIELD_STRV, false, offsetof(struct tb, tags), 0, 3, 0},
};
static const struct body_spec tspec = BODY_SPEC(struct tb, tfields);

static int parse(const char *s, struct tb *b, const char **code)
{
    struct json_body_error err = {0};
    cJSON *root = NULL;
    uint32_t present;
    int ret = json_body_parse(&tspec, s, strlen(s), b, &root, &present, &err);

    *code = ret ? err.code : NULL;
    cJSON_Delete(root); /* strings are not used after this point */
    return ret;
}

static void test_body(void)
{
    struct tb b;
    const char *code;

    CHECK(parse("{\"name\":\"abc\"}", &b, &code) == 0);
    CHECK(b.n == 42 && b.flag == true && b.tags.n == 0);
    CHECK(parse("{\"name\":\"abc\",\"n\":7,\"flag\":false,\"tags\":[\"x\",\"y\"]}", &b, &code) == 0);
    CHECK(b.n == 7 && !b.flag && b.tags.n == 2);
    CHECK(parse(" {\"name\":\"a\"} \n", &b, &code) == 0);
    /* each failure names its class */
    CHECK(parse("{\"name\":\"abc\",\"x\":1}", &b, &code) == -EINVAL && !strcmp(code, "UNKNOWN_FIELD"));
    CHECK(parse("{\"n\":1}", &b, &code) == -EINVAL && !strcmp(code, "MISSING_FIELD"));
    CHECK(parse("{\"name\":5}", &b, &code) == -EINVAL && !strcmp(code, "INVALID_FIELD"));
    CHECK(parse("{\"name\":\"a\",\"n\":\"5\"}", &b, &code) == -EINVAL && !strcmp(code, "INVALID_FIELD"));
    CHECK(parse("{\"name\":\"a\",\"n\":1.5}", &b, &code) == -EINVAL);
    CHECK(parse("{\"name\":\"a\",\"n\":101}", &b, &code) == -EINVAL);
    CHECK(parse("{\"name\":\"a\",\"n\":1e400}", &b, &code) == -EINVAL);
    CHECK(parse("{\"name\":\"a\",\"n\":99999999999999999999999}", &b, &code) == -EINVAL);
    CHECK(parse("{\"name\":\"123456789\"}", &b, &code) == -EINVAL);
    CHECK(parse("{\"name\":\"\"}", &b, &code) == -EINVAL);
    CHECK(parse("{\"name\":\"a\",\"flag\":1}", &b, &code) == -EINVAL);
    CHECK(parse("{\"name\":\"a\",\"tags\":[1]}", &b, &code) == -EINVAL);
    CHECK(parse("{\"name\":\"a\",\"tags\":[\"a\",\"b\",\"c\",\"d\"]}", &b, &code) == -EINVAL);
    CHECK(parse("{\"name\":\"a\",\"name\":\"b\"}", &b, &code) == -EINVAL);
    CHECK(parse("{\"name\":\"a\\u0000b\"}", &b, &code) == -EINVAL && !strcmp(code, "INVALID_JSON"));
    CHECK(parse("{\"name\":\"\xc3\x28\"}", &b, &code) == -EINVAL && !strcmp(code, "INVALID_JSON"));
    CHECK(parse("{\"name\":\"\xed\xa0\x80\"}", &b, &code) == -EINVAL); /* UTF-8 surrogate */
    CHECK(parse("{\"name\":\"\xc0\xaf\"}", &b, &code) == -EINVAL);     /* overlong '/' */
    CHECK(parse("{\"name\":\"a\"", &b, &code) == -EINVAL && !strcmp(code, "INVALID_JSON"));
    CHECK(parse("[1]", &b, &code) == -EINVAL);
    CHECK(parse("{\"name\":\"a\"} x", &b, &code) == -EINVAL);
    CHECK(parse("{\"name\":\"a\",\"tags\":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]}", &b, &code) == -EINVAL);
    CHECK(json_utf8_valid("\xf0\x9f\x98\x80", 4));
    CHECK(!json_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    CHECK(!json_utf8_valid("\xe2\x82", 2));          /* truncated */
}

static void test_router(void)
{
    struct path_segs s;
    struct route_params p;

    CHECK(router_path_split("/api/orgs/12/users/7", &s) == 0 && s.n == 5);
    CHECK(router_match("/api/orgs/{org}/users/{user}", &s, &p));
    CHECK(p.n == 2 && !strcmp(router_param(&p, "org"), "12") && !strcmp(router_param(&p, "user"), "7"));
    CHECK(!router_match("/api/orgs/{org}", &s, &p));
    CHECK(!router_match("/api/orgs/{org}/machines/{user}", &s, &p));
    CHECK(router_path_split("/api/orgs/", &s) == 0 && router_match("/api/orgs", &s, NULL));
    CHECK(router_path_split("/api/orgs/a%20b", &s) == 0 && !strcmp(s.seg[2], "a b"));
    CHECK(router_path_split("/api/../me", &s) == -EINVAL);
    CHECK(router_path_split("/api/./me", &s) == -EINVAL);
    CHECK(router_path_split("/api/%2e%2e/me", &s) == -EINVAL);
    CHECK(router_path_split("/api/%2E./me", &s) == -EINVAL);
    CHECK(router_path_split("/api/a%2fb", &s) == -EINVAL);
    CHECK(router_path_split("/api/a%5cb", &s) == -EINVAL);
    CHECK(router_path_split("/api/a%00b", &s) == -EINVAL);
    CHECK(router_path_split("/api/a%0ab", &s) == -EINVAL);
    CHECK(router_path_split("/api/a%zz", &s) == -EINVAL);
    CHECK(router_path_split("/api/a%2", &s) == -EINVAL);
    CHECK(router_path_split("/api//me", &s) == -EINVAL);
    CHECK(router_path_split("api/me", &s) == -EINVAL);
    CHECK(router_path_split("/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q", &s) == -EINVAL);
    {
        char longp[SRV_MAX_PATH_BYTES + 10];

        memset(longp, 'a', sizeof(longp) - 1);
        longp[0] = '/';
        longp[sizeof(longp) - 1] = '\0';
        CHECK(router_path_split(longp, &s) == -EINVAL);
    }
}

int main(void)
{
    test_body();
    test_router();
    return check_finish("test_server_parsers");
}
