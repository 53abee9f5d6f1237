/* Policy parser and validation: HuJSON syntax, every error with its exact position, name
 * resolution (groups, nested groups, cycles, tags, hosts), schedules and time zones, tests. */
#include "server/policy/compile.h"
#include "server/policy/hujson.h"
#include "server/policy/policy.h"
#include "tests/check.h"

#include <errno.h>
#include <stdlib.h>

static struct policy *parse_ok(const char *s)
{
    struct policy *p = NULL;
    struct policy_error err;
    int r = policy_parse(s, strlen(s), &p, &err);
    if (r)
        fprintf(stderr, "unexpected error: %s\n", err.msg);
    CHECK(r == 0 && p);
    return p;
}

/* The document must fail with exactly this message (which carries line and column). */
static void parse_err(const char *s, const char *want)
{
    struct policy *p = NULL;
    struct policy_error err;
    int r = policy_parse(s, strlen(s), &p, &err);
    CHECK(r == -EINVAL && p == NULL);
    if (strcmp(err.msg, want)) {
        fprintf(stderr, "want: %s\n got: %s\n", want, err.msg);
        CHECK(!"error message");
    }
}

static void test_hujson(void)
{
    const char *doc = "// leading comment\n{\n  /* block\n comment */ \"a\": [1, 2.5e1, -3,],\n"
                      "  \"b\": {\"x\": \"y\\u00e9\\n\", \"t\": true, \"f\": false, \"n\": null,},\n}\n";
    struct hj_node *n;
    struct hj_error e;
    CHECK(hj_parse(doc, strlen(doc), &n, &e));
    const struct hj_node *a = hj_get(n, "a"), *b = hj_get(n, "b");
    CHECK(a && a->type == HJ_ARRAY && a->n == 3 && a->line == 4 && a->col == 18);
    CHECK(a && a->kids[1].num == 25 && a->kids[2].num == -3 && a->kids[2].col == 29);
    CHECK(a && a->key_line == 4 && a->key_col == 13);
    CHECK(b && hj_get(b, "x") && !strcmp(hj_get(b, "x")->str, "y\xc3\xa9\n"));
    CHECK(b && hj_get(b, "t")->b && !hj_get(b, "f")->b && hj_get(b, "n")->type == HJ_NULL);
    hj_free(n);
    static const struct {
        const char *doc;
        int line, col;
        const char *msg;
    } bad[] = {
        {"{\"a\": 1,\n \"a\": 2}", 2, 2, "duplicate member \"a\""},
        {"{\"a\": [1 2]}", 1, 10, "expected ',' or ']'"},
        {"{\"a\": \"x}", 1, 7, "unterminated string"},
        {"{\n/* never closed", 2, 1, "unterminated comment"},
        {"{\"a\": tru}", 1, 7, "unexpected character 't'"},
        {"{\"a\": 01}", 1, 7, "bad number"},
        {"{} x", 1, 4, "trailing data after the document"},
        {"{a: 1}", 1, 2, "expected a quoted member name or '}'"},
        {"{\"a\": \"\\q\"}", 1, 8, "bad escape in string"},
        {"", 1, 1, "unexpected end of input"},
        {"{\"a\" 1}", 1, 6, "expected ':' after member name"},
        {"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", 1, 33,
         "nesting deeper than 32"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK(!hj_parse(bad[i].doc, strlen(bad[i].doc), &n, &e));
        if (e.line != bad[i].line || e.col != bad[i].col || strcmp(e.msg, bad[i].msg)) {
            fprintf(stderr, "case %zu: got %d:%d %s\n", i, e.line, e.col, e.msg);
            CHECK(!"hujson error position");
        }
    }
    CHECK(!hj_parse("{\"a\":1}\0", 8, &n, &e) && e.col == 8);
}

static const char *base =
    "{\n"
    "  \"groups\": {\n"
    "    \"group:eng\": [\"alice@example.com\", \"group:sre\"],\n"
    "    \"group:sre\": [\"Bob@Example.com\", \"group:oidc:oncall\"],\n"
    "  },\n"
    "  \"tagOwners\": {\"tag:prod\": [\"group:sre\"], \"tag:ci\": [\"carol@example.com\"]},\n"
    "  \"hosts\": {\"db-primary\": \"100.64.1.5\", \"corp\": \"10.0.0.0/8\"},\n"
    "  \"postures\": {\"posture:base\": {\"os\": {\"linux\": \"6.1\", \"macos\": \"\"},\n"
    "                 \"diskEncryption\": true, \"maxReportAge\": \"1h\"}},\n"
    "  \"schedules\": {\"business-hours\": {\"timezone\": \"Europe/Berlin\", \"days\": [\"weekdays\"],\n"
    "                 \"hours\": \"09:00-17:00\"}},\n"
    "  \"rules\": [\n"
    "    {\"action\": \"accept\", \"src\": [\"group:eng\"], \"dst\": [\"tag:prod:22,443\", \"db-primary:5432\"]},\n"
    "    {\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"autogroup:self:*\"], \"proto\": \"tcp\",\n"
    "     \"posture\": [\"posture:base\"], \"schedule\": \"business-hours\",\n"
    "     \"geo\": {\"countries\": [\"de\"], \"cidrs\": [\"198.18.0.0/15\"]}},\n"
    "    {\"action\": \"accept\", \"src\": [\"tag:ci\"], \"dst\": [\"100.64.0.0/10:80-443\"],\n"
    "     \"requireJit\": true, \"approvers\": [\"group:sre\"],},\n"
    "  ],\n"
    "}\n";

static void test_policy_ok(void)
{
    struct policy *p = parse_ok(base);
    if (!p)
        return;
    CHECK(p->ngroups == 2 && p->ntags == 2 && p->nhosts == 2 && p->nrules == 3);
    int eng = policy_group_find(p, "group:eng");
    CHECK(eng == 0 && p->groups[0].nmembers == 3); /* alice, bob (lower-cased), oidc:oncall */
    bool bob = false, oncall = false;
    for (size_t i = 0; i < p->groups[0].nmembers; i++) {
        bob = bob || !strcmp(p->groups[0].members[i], "bob@example.com");
        oncall = oncall || !strcmp(p->groups[0].members[i], "group:oidc:oncall");
    }
    CHECK(bob && oncall);
    const struct policy_rule *r = &p->rules[0];
    CHECK(r->line == 13 && r->col == 5 && r->nsrc == 1 && r->ndst == 3);
    CHECK(r->dst[0].sel.kind == SEL_TAG && r->dst[0].port_lo == 22 && r->dst[1].port_lo == 443);
    CHECK(r->dst[2].sel.kind == SEL_HOST && r->dst[2].sel.plen == 32 && r->dst[2].port_hi == 5432);
    CHECK(p->rules[1].dst[0].sel.kind == SEL_SELF && p->rules[1].dst[0].port_hi == 65535);
    CHECK(p->rules[1].schedule == 0 && p->rules[1].npostures == 1 && p->rules[1].has_geo);
    CHECK(!strcmp(p->rules[1].countries[0], "DE") && p->rules[1].ngeo_cidrs == 1);
    CHECK(p->rules[2].require_jit && p->rules[2].napprovers == 1);
    CHECK(p->rules[2].dst[0].sel.kind == SEL_CIDR && p->rules[2].dst[0].sel.plen == 10);
    CHECK(p->postures[0].max_age == 3600 && p->postures[0].disk_encryption == 1 && p->postures[0].nos == 2);
    CHECK(p->schedules[0].days == 0x3e && p->schedules[0].from_min == 540 && p->schedules[0].to_min == 1020);
    policy_free(p);
    /* IPv6 destinations, bracketed or not */
    p = parse_ok("{\"rules\":[{\"action\":\"accept\",\"src\":[\"fd7a::/48\"],\"dst\":[\"[fd7a::1]:22\",\"fd7a::/64:80\"]}]}");
    if (p) {
        CHECK(p->rules[0].dst[0].sel.kind == SEL_CIDR && p->rules[0].dst[0].sel.plen == 128);
        CHECK(p->rules[0].dst[1].sel.plen == 64 && p->rules[0].dst[1].port_lo == 80);
        policy_free(p);
    }
}

static void test_policy_errors(void)
{
    parse_err("{\"rules\": [\n  {\"action\": \"accept\",\n   \"srcs\": [\"*\"]}]}",
              "line 3, column 4: unknown field \"srcs\" in rule");
    parse_err("{\"rulez\": []}", "line 1, column 2: unknown field \"rulez\" in policy");
    parse_err("{\"rules\": [{\"action\": \"deny\", \"src\": [\"*\"], \"dst\": [\"*:*\"]}]}",
              "line 1, column 23: action must be \"accept\" (everything else is denied by default)");
    parse_err("{\"rules\": [{\"action\": \"accept\", \"src\": [\"group:nope\"], \"dst\": [\"*:*\"]}]}",
              "line 1, column 41: unknown group \"group:nope\"");
    parse_err("{\"rules\": [{\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"tag:x:22\"]}]}",
              "line 1, column 55: unknown tag \"tag:x\" (not in tagOwners)");
    parse_err("{\"rules\": [{\"action\": \"accept\", \"src\": [\"*\"],\n \"dst\": [\"web:22\"]}]}",
              "line 2, column 10: unknown name \"web\"");
    parse_err("{\"rules\": [{\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"*:70000\"]}]}",
              "line 1, column 58: bad port \"70000\" in \"*:70000\"");
    parse_err("{\"rules\": [{\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"*:90-80\"]}]}",
              "line 1, column 58: bad port \"90-80\" in \"*:90-80\"");
    parse_err("{\"rules\": [{\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"100.64.0.1\"]}]}",
              "line 1, column 55: destination \"100.64.0.1\" needs a port: name:port");
    parse_err("{\"rules\": [{\"action\": \"accept\", \"src\": [\"autogroup:self\"], \"dst\": [\"*:*\"]}]}",
              "line 1, column 41: autogroup:self is only allowed in dst");
    parse_err("{\"rules\": [{\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"*:*\"], \"proto\": \"sctp\"}]}",
              "line 1, column 72: proto must be \"tcp\", \"udp\", \"icmp\" or \"*\"");
    parse_err("{\"rules\": [{\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"*:*\"], \"schedule\": \"never\"}]}",
              "line 1, column 75: unknown schedule \"never\"");
    parse_err("{\"rules\": [{\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"*:*\"], \"approvers\": []}]}",
              "line 1, column 76: approvers only make sense with \"requireJit\": true");
    parse_err("{\"rules\": [{\"action\": \"accept\", \"src\": [], \"dst\": [\"*:*\"]}]}",
              "line 1, column 40: src must not be empty");
    parse_err("{\"groups\": {\"group:a\": [\"group:b\"],\n  \"group:b\": [\"x@y.z\", \"group:a\"]}}",
              "line 2, column 24: group cycle: group:b includes group:a, which includes group:b");
    parse_err("{\"groups\": {\"group:a\": [\"group:a\"]}}",
              "line 1, column 25: group cycle: group:a includes group:a, which includes group:a");
    parse_err("{\"groups\": {\"eng\": []}}",
              "line 1, column 13: group name \"eng\" must start with \"group:\" (group:oidc: is reserved)");
    parse_err("{\"groups\": {\"group:a\": [\"bob\"]}}",
              "line 1, column 25: group member \"bob\" is neither an email nor a group");
    parse_err("{\"tagOwners\": {\"tag:a\": [\"10.0.0.1\"]}}",
              "line 1, column 26: tag owner \"10.0.0.1\" must be a user or a group");
    parse_err("{\"hosts\": {\"db\": \"10.0.0.300\"}}",
              "line 1, column 18: bad address or prefix \"10.0.0.300\" for host \"db\"");
    parse_err("{\"postures\": {\"posture:a\": {\"diskEncryption\": 1}}}",
              "line 1, column 47: diskEncryption must be a boolean, not number");
    parse_err("{\"postures\": {\"posture:a\": {\"firewal\": true}}}",
              "line 1, column 29: unknown field \"firewal\" in posture");
    parse_err("{\"postures\": {\"posture:a\": {\"maxReportAge\": \"2w\"}}}",
              "line 1, column 45: bad duration for maxReportAge (seconds, or \"30m\", \"24h\", \"7d\")");
    parse_err("{\"schedules\": {\"s\": {\"timezone\": \"Mars/Olympus\", \"days\": [\"*\"], \"hours\": \"00:00-24:00\"}}}",
              "line 1, column 34: unknown time zone \"Mars/Olympus\"");
    parse_err("{\"schedules\": {\"s\": {\"timezone\": \"UTC\", \"days\": [\"funday\"], \"hours\": \"00:00-24:00\"}}}",
              "line 1, column 50: unknown day \"funday\" (sun..sat, weekdays, weekend, *)");
    parse_err("{\"schedules\": {\"s\": {\"timezone\": \"UTC\", \"days\": [\"*\"], \"hours\": \"17:00-09:00\"}}}",
              "line 1, column 65: hours \"17:00-09:00\": start must be before end");
    parse_err("{\"schedules\": {\"s\": {\"timezone\": \"../etc/passwd\", \"days\": [\"*\"], \"hours\": \"00:00-01:00\"}}}",
              "line 1, column 34: unknown time zone \"../etc/passwd\"");
    parse_err("{\"rules\": [{\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"*:*\"],\n"
              " \"geo\": {\"countries\": [\"DEU\"]}}]}",
              "line 2, column 24: bad country code \"DEU\" (ISO 3166 alpha-2)");
    parse_err("{\"tests\": [{\"src\": \"alice@x.y\", \"accept\": [\"nohost:22\"]}]}",
              "line 1, column 44: unknown name \"nohost\"");
    parse_err("{\"tests\": [{\"src\": \"alice@x.y\", \"at\": \"yesterday\"}]}",
              "line 1, column 39: at must be a time like \"2026-11-23T09:30:00Z\"");
    parse_err("{\"tests\": [{\"src\": \"group:oidc:x\"}]}",
              "line 1, column 20: test src \"group:oidc:x\" must be a user, a tag or one address");
}

static void test_policy_tests(void)
{
    const char *doc =
        "{\"groups\": {\"group:eng\": [\"alice@example.com\"]},\n"
        " \"tagOwners\": {\"tag:prod\": [\"group:eng\"]},\n"
        " \"hosts\": {\"db\": \"100.64.1.5\"},\n"
        " \"schedules\": {\"bh\": {\"timezone\": \"America/New_York\", \"days\": [\"mon\"], \"hours\": \"09:00-10:00\"}},\n"
        " \"rules\": [{\"action\": \"accept\", \"src\": [\"group:eng\"], \"dst\": [\"tag:prod:22\"]},\n"
        "   {\"action\": \"accept\", \"src\": [\"tag:prod\"], \"dst\": [\"db:5432\"], \"schedule\": \"bh\"}],\n"
        " \"tests\": [\n"
        "   {\"src\": \"alice@example.com\", \"accept\": [\"tag:prod:22\"], \"deny\": [\"tag:prod:23\", \"db:5432\"]},\n"
        "   {\"src\": \"tag:prod\", \"dst\": \"db\", \"at\": \"2026-11-23T09:30:00-05:00\", \"accept\": [\"5432\"]},\n"
        "   {\"src\": \"tag:prod\", \"dst\": \"db\", \"at\": \"2026-11-23T10:00:00-05:00\", \"deny\": [\"5432\"]},\n"
        "   {\"src\": \"bob@example.com\", \"deny\": [\"tag:prod:22\"]},\n"
        " ]}\n";
    struct policy *p = parse_ok(doc);
    struct policy_error err;
    if (p) {
        CHECK(policy_tests_run(p, 0, &err) == 0);
        if (err.msg[0])
            fprintf(stderr, "%s\n", err.msg);
        policy_free(p);
    }
    /* the same policy with a wrong expectation is rejected, pointing at the failing entry */
    char *bad = malloc(strlen(doc) + 16);
    const char *at = strstr(doc, "\"tag:prod:22\"], \"deny\": [\"tag:prod:23\"");
    sprintf(bad, "%.*s\"tag:prod:22\", \"tag:prod:23\"], \"deny\": [%s", (int)(at - doc), doc,
            at + strlen("\"tag:prod:22\"], \"deny\": [\"tag:prod:23\", "));
    p = parse_ok(bad);
    if (p) {
        CHECK(policy_tests_run(p, 0, &err) == -EINVAL);
        CHECK(!strcmp(err.msg, "line 8, column 59: test failed: alice@example.com -> tag:prod port 23: "
                               "expected accept, got deny (no rule matches)"));
        policy_free(p);
    }
    free(bad);
    /* schedule boundary: 10:00 in New York is outside; the message names the schedule */
    p = parse_ok("{\"tagOwners\": {\"tag:a\": [\"x@y.z\"]},\n"
                 "\"schedules\": {\"bh\": {\"timezone\": \"America/New_York\", \"days\": [\"mon\"], \"hours\": \"09:00-10:00\"}},\n"
                 "\"rules\": [{\"action\": \"accept\", \"src\": [\"tag:a\"], \"dst\": [\"tag:a:1\"], \"schedule\": \"bh\"}],\n"
                 "\"tests\": [{\"src\": \"tag:a\", \"at\": \"2026-11-23T15:00:00Z\", \"accept\": [\"tag:a:1\"]}]}");
    if (p) {
        CHECK(policy_tests_run(p, 0, &err) == -EINVAL);
        CHECK(strstr(err.msg, "line 4, column 69: test failed") &&
              strstr(err.msg, "outside schedule \"bh\""));
        policy_free(p);
    }
}

static void test_fleet_check(void)
{
    struct policy *p = parse_ok(base);
    if (!p)
        return;
    const char *ng[] = {"group:oidc:oncall"};
    struct fleet_user users[] = {{.id = 1, .email = "alice@example.com"},
                                 {.id = 2, .email = "dave@example.com", .groups = ng, .ngroups = 1}};
    const char *prod[] = {"tag:prod"}, *ci[] = {"tag:ci"}, *unk[] = {"tag:zzz"};
    struct fleet_machine ms[] = {{.id = 10, .name = "web1", .owner = 2, .tags = prod, .ntags = 1},
                                 {.id = 11, .name = "ci1", .owner = 1, .tags = ci, .ntags = 1}};
    struct fleet f = {.users = users, .nusers = 2, .machines = ms, .nmachines = 1};
    struct policy_error err;
    CHECK(policy_fleet_check(p, &f, &err) == 0); /* dave is in group:sre through group:oidc:oncall */
    f.nmachines = 2;
    CHECK(policy_fleet_check(p, &f, &err) == -EINVAL);
    CHECK(!strcmp(err.msg, "line 6, column 44: machine \"ci1\" carries tag:ci, but its owner "
                           "alice@example.com may not apply it"));
    ms[1].tags = unk;
    CHECK(policy_fleet_check(p, &f, &err) == -EINVAL && strstr(err.msg, "unknown tag \"tag:zzz\""));
    policy_free(p);
}

static void test_tz(void)
{
    struct tz_info *tz;
    int wd, min;
    CHECK(tz_load("Europe/Berlin", &tz) == 0);
    if (!tz)
        return;
    /* 2026-03-29 01:00 UTC: CET->CEST switch. Just before: 01:59 CET; after: 03:00 CEST */
    CHECK(tz_offset(tz, 1774746000 - 1) == 3600 && tz_offset(tz, 1774746000) == 7200);
    tz_local(tz, 1774746000, &wd, &min);
    CHECK(wd == 0 && min == 180); /* Sunday 03:00 */
    tz_local(tz, 1774746000 - 60, &wd, &min);
    CHECK(wd == 0 && min == 119);
    CHECK(tz_offset(tz, 1798761600) == 3600); /* 2027-01-01 */
    tz_free(tz);
    CHECK(tz_load("Asia/Kolkata", &tz) == 0);
    if (tz) {
        CHECK(tz_offset(tz, 1790000000) == 19800);
        tz_free(tz);
    }
    CHECK(tz_load("UTC", &tz) == 0 && tz_offset(tz, 1790000000) == 0);
    tz_free(tz);
    CHECK(tz_load("No/Such_Zone", &tz) == -ENOENT);
    CHECK(tz_load("/etc/passwd", &tz) == -EINVAL);
}

static void test_examples(void)
{
    static const char *files[] = {"contrib/policies/basic.json",
                                  "contrib/policies/posture-and-schedules.json",
                                  "contrib/policies/jit-and-geo.json",
                                  "tests/policy/corpus/all-sections.json"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", ZTNA_SOURCE_DIR, files[i]);
        FILE *f = fopen(path, "rb");
        CHECK(f != NULL);
        if (!f)
            continue;
        static char buf[1 << 16];
        size_t n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        struct policy *p = NULL;
        struct policy_error err;
        int r = policy_parse(buf, n, &p, &err);
        if (r)
            fprintf(stderr, "%s: %s\n", files[i], err.msg);
        CHECK(r == 0);
        if (p) {
            CHECK(p->nrules > 0 && p->ntests > 0);
            r = policy_tests_run(p, 1790000000, &err);
            if (r)
                fprintf(stderr, "%s: %s\n", files[i], err.msg);
            CHECK(r == 0);
        }
        policy_free(p);
    }
}

int main(void)
{
    test_hujson();
    test_policy_ok();
    test_policy_errors();
    test_policy_tests();
    test_fleet_check();
    test_tz();
    test_examples();
    return check_finish("test_policy_parse");
}
