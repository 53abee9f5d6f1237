/* Unit tests of the dashboard's pure parsers: Accept-Encoding and If-None-Match negotiation
 * (server/web_neg.c) and the realtime frame parser (server/realtime_msg.c), including every
 * rejection reason. */
#include <errno.h>
#include <stdio.h>

#include "server/realtime_msg.h"
#include "server/web.h"
#include "tests/check.h"

static const char TOKEN[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static int parse(const char *s, struct rt_msg *m, const char **why)
{
    return rt_msg_parse(s, strlen(s), m, why);
}

int main(void)
{
    struct rt_msg m;
    const char *why;
    char buf[256];

    /* Accept-Encoding */
    CHECK(web_accepts_gzip("gzip"));
    CHECK(web_accepts_gzip("gzip, deflate, br, zstd"));
    CHECK(web_accepts_gzip("br;q=1.0, GZIP;q=0.5"));
    CHECK(web_accepts_gzip("x-gzip"));
    CHECK(web_accepts_gzip("*"));
    CHECK(web_accepts_gzip("identity, *;q=0.1"));
    CHECK(web_accepts_gzip("gzip ; q=0.001"));
    CHECK(!web_accepts_gzip(NULL));
    CHECK(!web_accepts_gzip(""));
    CHECK(!web_accepts_gzip("identity"));
    CHECK(!web_accepts_gzip("br, deflate"));
    CHECK(!web_accepts_gzip("gzip;q=0"));
    CHECK(!web_accepts_gzip("gzip;q=0.000"));
    CHECK(!web_accepts_gzip("gzip;q=0, *"));    /* explicit refusal beats the wildcard */
    CHECK(!web_accepts_gzip("*;q=0"));
    CHECK(!web_accepts_gzip("gzipx, xgzip"));
    CHECK(web_accepts_gzip("gzip;q=0, gzip"));   /* any acceptable listing wins */

    /* If-None-Match (weak comparison) */
    CHECK(web_etag_match("\"abc\"", "\"abc\""));
    CHECK(web_etag_match("W/\"abc\"", "\"abc\""));
    CHECK(web_etag_match("\"x\", \"abc\"", "\"abc\""));
    CHECK(web_etag_match("  \"x\" ,W/\"abc\"", "\"abc\""));
    CHECK(web_etag_match("*", "\"abc\""));
    CHECK(!web_etag_match(NULL, "\"abc\""));
    CHECK(!web_etag_match("", "\"abc\""));
    CHECK(!web_etag_match("\"abcd\"", "\"abc\""));
    CHECK(!web_etag_match("\"ab\"", "\"abc\""));
    CHECK(!web_etag_match("abc", "\"abc\""));
    CHECK(!web_etag_match("\"abc", "\"abc\""));
    CHECK(!web_etag_match("W/", "\"abc\""));

    /* realtime frames: the good ones */
    snprintf(buf, sizeof(buf), "{\"type\":\"auth\",\"token\":\"%s\"}", TOKEN);
    CHECK(parse(buf, &m, &why) == 0 && m.type == RT_MSG_AUTH && strcmp(m.token, TOKEN) == 0);
    CHECK(parse("{\"type\":\"ping\"}", &m, &why) == 0 && m.type == RT_MSG_PING);
    CHECK(parse("{\"type\":\"subscribe\",\"org\":7,\"channels\":[\"machines\",\"audit\"]}", &m, &why) == 0);
    CHECK(m.type == RT_MSG_SUBSCRIBE && m.org == 7);
    CHECK(m.channels == ((1u << rt_channel_find("machines")) | (1u << rt_channel_find("audit"))));
    CHECK(parse("{\"type\":\"subscribe\",\"org\":1,\"channels\":[]}", &m, &why) == 0 && m.channels == 0);

    /* and every rejection, with its reason */
    CHECK(rt_msg_parse("", 0, &m, &why) == -EINVAL && strstr(why, "empty"));
    CHECK(parse("{nope", &m, &why) == -EINVAL && strstr(why, "not JSON"));
    CHECK(parse("[1]", &m, &why) == -EINVAL && strstr(why, "object"));
    CHECK(parse("{}", &m, &why) == -EINVAL && strstr(why, "type"));
    CHECK(parse("{\"type\":\"hello\"}", &m, &why) == -EINVAL && strstr(why, "unknown"));
    CHECK(parse("{\"type\":\"auth\"}", &m, &why) == -EINVAL && strstr(why, "token"));
    CHECK(parse("{\"type\":\"auth\",\"token\":\"ABC\"}", &m, &why) == -EINVAL && strstr(why, "token"));
    snprintf(buf, sizeof(buf), "{\"type\":\"auth\",\"token\":\"%.63sX\"}", TOKEN);
    CHECK(parse(buf, &m, &why) == -EINVAL);
    CHECK(parse("{\"type\":\"subscribe\",\"org\":0,\"channels\":[]}", &m, &why) == -EINVAL && strstr(why, "org"));
    CHECK(parse("{\"type\":\"subscribe\",\"org\":1.5,\"channels\":[]}", &m, &why) == -EINVAL);
    CHECK(parse("{\"type\":\"subscribe\",\"org\":\"1\",\"channels\":[]}", &m, &why) == -EINVAL);
    CHECK(parse("{\"type\":\"subscribe\",\"org\":1e300,\"channels\":[]}", &m, &why) == -EINVAL);
    CHECK(parse("{\"type\":\"subscribe\",\"org\":1}", &m, &why) == -EINVAL && strstr(why, "channels"));
    CHECK(parse("{\"type\":\"subscribe\",\"org\":1,\"channels\":[\"secrets\"]}", &m, &why) == -EINVAL &&
          strstr(why, "unknown channel"));
    CHECK(parse("{\"type\":\"subscribe\",\"org\":1,\"channels\":[1]}", &m, &why) == -EINVAL);
    CHECK(parse("{\"type\":\"subscribe\",\"org\":1,\"channels\":[\"jit\",\"jit\",\"jit\",\"jit\",\"jit\","
                "\"jit\",\"jit\",\"jit\",\"jit\"]}", &m, &why) == -EINVAL);
    {
        static char big[RT_MAX_MSG_BYTES + 2];

        memset(big, ' ', sizeof(big) - 1);
        CHECK(rt_msg_parse(big, sizeof(big) - 1, &m, &why) == -EINVAL && strstr(why, "4096"));
    }
    return check_finish("test_web_neg");
}
