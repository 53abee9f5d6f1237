/* The local API request parser (agent/daemon/api_proto.h): every command with its arguments, and
 * bad requests refused with a message naming the problem. */
#include <errno.h>
#include <string.h>

#include "agent/daemon/api_proto.h"
#include "tests/check.h"

static int parse(const char *s, struct api_request *r, char *why)
{
    return api_request_parse(s, strlen(s), r, why, 256);
}

int main(void)
{
    struct api_request r;
    char why[256];

    CHECK(parse("{\"cmd\":\"status\"}", &r, why) == 0 && r.cmd == API_STATUS);
    CHECK(parse("{\"cmd\":\"ip\"}", &r, why) == 0 && r.cmd == API_IP);
    CHECK(parse("{\"cmd\":\"up\"}", &r, why) == 0 && r.cmd == API_UP);
    CHECK(parse("{\"cmd\":\"down\"}", &r, why) == 0 && r.cmd == API_DOWN);
    CHECK(parse("{\"cmd\":\"logout\"}", &r, why) == 0 && r.cmd == API_LOGOUT);
    CHECK(parse("{\"cmd\":\"login\",\"server\":\"https://z.example\",\"auth_key\":\"k\","
                "\"hostname\":\"db\",\"tags\":[\"tag:a\",\"tag:b-2\"]}", &r, why) == 0);
    CHECK(r.cmd == API_LOGIN && !strcmp(r.server, "https://z.example") && !strcmp(r.auth_key, "k") &&
          !strcmp(r.hostname, "db") && r.n_tags == 2 && !strcmp(r.tags[1], "tag:b-2") && r.has_tags);
    /* the browser login's exchange, done by the daemon */
    CHECK(parse("{\"cmd\":\"login-code\",\"server\":\"http://z\",\"request_id\":\"0123abcd\","
                "\"code\":\"c0de\",\"code_verifier\":\"v-_1\",\"hostname\":\"db\"}", &r, why) == 0);
    CHECK(r.cmd == API_LOGIN_CODE && !strcmp(r.request_id, "0123abcd") && !strcmp(r.code, "c0de") &&
          !strcmp(r.code_verifier, "v-_1") && !strcmp(r.hostname, "db") && !r.auth_key[0]);
    CHECK(parse("{\"cmd\":\"login-code\",\"server\":\"http://z\",\"request_id\":\"1\","
                "\"code\":\"c\"}", &r, why) == -EINVAL && strstr(why, "code_verifier"));
    CHECK(parse("{\"cmd\":\"login-code\",\"server\":\"file:///x\",\"request_id\":\"1\","
                "\"code\":\"c\",\"code_verifier\":\"v\"}", &r, why) == -EINVAL && strstr(why, "http"));
    CHECK(parse("{\"cmd\":\"login-code\",\"server\":\"http://z\",\"request_id\":\"\","
                "\"code\":\"c\",\"code_verifier\":\"v\"}", &r, why) == -EINVAL && strstr(why, "request_id"));
    CHECK(parse("{\"cmd\":\"set\",\"tags\":[]}", &r, why) == 0 && r.cmd == API_SET && r.n_tags == 0 &&
          r.has_tags);
    CHECK(parse("{\"cmd\":\"resolve\",\"name\":\"db\"}", &r, why) == 0 && r.cmd == API_RESOLVE &&
          !strcmp(r.name, "db"));
    CHECK(parse("{\"cmd\":\"dns-query\",\"name\":\"db.acme.zt.net\"}", &r, why) == 0 &&
          r.cmd == API_DNS_QUERY);
    /* unknown members are ignored (a newer CLI may send more) */
    CHECK(parse("{\"cmd\":\"status\",\"json\":true}", &r, why) == 0);

    CHECK(parse("", &r, why) == -EINVAL && strstr(why, "not JSON"));
    CHECK(parse("[1]", &r, why) == -EINVAL);
    CHECK(parse("{}", &r, why) == -EINVAL && strstr(why, "cmd: missing"));
    CHECK(parse("{\"cmd\":\"reboot\"}", &r, why) == -EINVAL && strstr(why, "unknown command"));
    CHECK(parse("{\"cmd\":7}", &r, why) == -EINVAL && strstr(why, "cmd"));
    CHECK(parse("{\"cmd\":\"login\",\"server\":\"https://x\"}", &r, why) == -EINVAL &&
          strstr(why, "missing argument"));
    CHECK(parse("{\"cmd\":\"login\",\"server\":\"ftp://x\",\"auth_key\":\"k\"}", &r, why) == -EINVAL &&
          strstr(why, "http"));
    CHECK(parse("{\"cmd\":\"resolve\"}", &r, why) == -EINVAL && strstr(why, "name"));
    CHECK(parse("{\"cmd\":\"set\",\"tags\":[\"web\"]}", &r, why) == -EINVAL && strstr(why, "not a tag"));
    CHECK(parse("{\"cmd\":\"set\",\"tags\":[\"tag:a b\"]}", &r, why) == -EINVAL);
    CHECK(parse("{\"cmd\":\"set\",\"tags\":\"tag:a\"}", &r, why) == -EINVAL);
    CHECK(parse("{\"cmd\":\"set\",\"tags\":[\"tag:1\",\"tag:2\",\"tag:3\",\"tag:4\",\"tag:5\",\"tag:6\","
                "\"tag:7\",\"tag:8\",\"tag:9\",\"tag:10\",\"tag:11\",\"tag:12\",\"tag:13\",\"tag:14\","
                "\"tag:15\",\"tag:16\",\"tag:17\"]}", &r, why) == -EINVAL);
    CHECK(parse("{\"cmd\":\"resolve\",\"name\":\"a\\u0001b\"}", &r, why) == -EINVAL);
    char big[AGENT_API_MAX_REQUEST + 64];
    memset(big, ' ', sizeof(big));
    memcpy(big, "{\"cmd\":\"status\"}", 16);
    CHECK(api_request_parse(big, sizeof(big), &r, why, sizeof(why)) == -EINVAL && strstr(why, "too long"));
    char name[400];
    memset(name, 'a', sizeof(name));
    memcpy(name, "{\"cmd\":\"resolve\",\"name\":\"", 25);
    memcpy(name + sizeof(name) - 3, "\"}", 3);
    CHECK(parse(name, &r, why) == -EINVAL && strstr(why, "name"));

    /* `ztna jit`: request, list, revoke */
    CHECK(parse("{\"cmd\":\"jit-request\",\"name\":\"db.acme.zt.net\",\"port\":5432,"
                "\"proto\":\"udp\",\"duration\":1800,\"reason\":\"incident 7\"}", &r, why) == 0);
    CHECK(r.cmd == API_JIT_REQUEST && !strcmp(r.name, "db.acme.zt.net") && r.port == 5432 &&
          !strcmp(r.proto, "udp") && r.duration == 1800 && !strcmp(r.reason, "incident 7"));
    CHECK(parse("{\"cmd\":\"jit-request\",\"name\":\"100.64.0.3\",\"port\":22,\"duration\":60,"
                "\"reason\":\"r\"}", &r, why) == 0 && r.proto[0] == 0);
    CHECK(parse("{\"cmd\":\"jit-list\"}", &r, why) == 0 && r.cmd == API_JIT_LIST &&
          r.limit == 0 && r.cursor == 0);
    CHECK(parse("{\"cmd\":\"jit-list\",\"limit\":1000,\"cursor\":77}", &r, why) == 0 &&
          r.limit == 1000 && r.cursor == 77);
    CHECK(parse("{\"cmd\":\"jit-list\",\"limit\":0}", &r, why) == -EINVAL && strstr(why, "limit"));
    CHECK(parse("{\"cmd\":\"jit-list\",\"limit\":1001}", &r, why) == -EINVAL &&
          strstr(why, "limit"));
    CHECK(parse("{\"cmd\":\"jit-list\",\"cursor\":-1}", &r, why) == -EINVAL &&
          strstr(why, "cursor"));
    CHECK(parse("{\"cmd\":\"jit-revoke\",\"id\":12}", &r, why) == 0 && r.cmd == API_JIT_REVOKE &&
          r.id == 12);
    CHECK(parse("{\"cmd\":\"jit-revoke\"}", &r, why) == -EINVAL && strstr(why, "id"));
    CHECK(parse("{\"cmd\":\"jit-revoke\",\"id\":0}", &r, why) == -EINVAL && strstr(why, "id"));
    CHECK(parse("{\"cmd\":\"jit-revoke\",\"id\":\"12\"}", &r, why) == -EINVAL && strstr(why, "id"));
    CHECK(parse("{\"cmd\":\"jit-request\",\"name\":\"db\",\"port\":22}", &r, why) == -EINVAL &&
          strstr(why, "duration") && strstr(why, "reason"));
    CHECK(parse("{\"cmd\":\"jit-request\",\"name\":\"db\",\"port\":70000,\"duration\":60,"
                "\"reason\":\"r\"}", &r, why) == -EINVAL && strstr(why, "port"));
    CHECK(parse("{\"cmd\":\"jit-request\",\"name\":\"db\",\"port\":22,\"duration\":604801,"
                "\"reason\":\"r\"}", &r, why) == -EINVAL && strstr(why, "duration"));
    CHECK(parse("{\"cmd\":\"jit-request\",\"name\":\"db\",\"port\":22,\"duration\":60,"
                "\"reason\":\"r\",\"proto\":\"icmp\"}", &r, why) == -EINVAL && strstr(why, "proto"));
    CHECK(parse("{\"cmd\":\"jit-request\",\"name\":\"db\",\"port\":22,\"duration\":60,"
                "\"reason\":\"a\\u0007b\"}", &r, why) == -EINVAL && strstr(why, "reason"));
    char reason[300];
    int n = snprintf(reason, sizeof(reason), "{\"cmd\":\"jit-request\",\"name\":\"db\",\"port\":22,"
                     "\"duration\":60,\"reason\":\"");
    memset(reason + n, 'r', API_JIT_MAX_REASON + 1);
    memcpy(reason + n + API_JIT_MAX_REASON + 1, "\"}", 3);
    CHECK(parse(reason, &r, why) == -EINVAL && strstr(why, "reason"));
    memcpy(reason + n + API_JIT_MAX_REASON, "\"}", 3); /* exactly the maximum */
    CHECK(parse(reason, &r, why) == 0 && strlen(r.reason) == API_JIT_MAX_REASON);

    /* --for durations */
    int64_t d = 0;
    CHECK(api_duration_parse("90s", &d) == 0 && d == 90);
    CHECK(api_duration_parse("30m", &d) == 0 && d == 1800);
    CHECK(api_duration_parse("1h", &d) == 0 && d == 3600);
    CHECK(api_duration_parse("7d", &d) == 0 && d == 7 * 86400);
    CHECK(api_duration_parse("600", &d) == 0 && d == 600);
    CHECK(api_duration_parse("168h", &d) == 0 && d == 604800);
    CHECK(api_duration_parse("169h", &d) == -ERANGE);
    CHECK(api_duration_parse("8d", &d) == -ERANGE);
    CHECK(api_duration_parse("0m", &d) == -ERANGE);
    CHECK(api_duration_parse("99999999999999999999999h", &d) == -ERANGE);
    CHECK(api_duration_parse("", &d) == -EINVAL);
    CHECK(api_duration_parse("h", &d) == -EINVAL);
    CHECK(api_duration_parse("1hm", &d) == -EINVAL);
    CHECK(api_duration_parse("1.5h", &d) == -EINVAL);
    CHECK(api_duration_parse("-1h", &d) == -EINVAL);
    CHECK(api_duration_parse("1 h", &d) == -EINVAL);
    CHECK(api_duration_parse("1w", &d) == -EINVAL);
    CHECK(api_duration_parse(NULL, &d) == -EINVAL);
    return check_finish("test_api_proto");
}
