/* The quarantine of the machine's own map entry (docs/control-protocol.md, "self"): parsed from a
 * signed full map, kept across a delta that carries no self, cleared by a self that says so,
 * ignored on peers, tolerant of members it does not know, strict about the types it does; and
 * rendered by `ztna status` as "quarantined: <reason>" (text) and a "quarantine" object (JSON). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "agent/cmd_status.h"
#include "agent/daemon/netmap.h"
#include "tests/check.h"
#include "tests/mesh/netmap_util.h"
#include "tests/mesh/status_text.h"

static uint8_t pk[32], sk[64];

#define REASON "posture report stale (last 312 s ago, limit 180 s)"
#define SELF_HEAD "\"self\":{\"id\":7,\"name\":\"me\",\"fqdn\":\"me.acme.zt.net\",\"tailnet_ip\":\"100.64.0.7\",\"tags\":[]"
#define DNS "\"dns\":{\"suffix\":\"acme.zt.net\",\"resolver\":\"100.100.100.100\",\"search\":[\"acme.zt.net\"]}"
#define PEER                                                                                   \
    "{\"id\":2,\"name\":\"p2\",\"fqdn\":\"p2.acme.zt.net\",\"tailnet_ip\":\"100.64.0.2\","     \
    "\"wg_public_key\":\"AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\","                      \
    "\"quarantine\":{\"quarantined\":\"not looked at on a peer\"}}"

/* A full map at version whose self ends with self_tail (members after "tags", may be ""). */
static enum nm_verdict full(const struct netmap *cur, int version, const char *self_tail,
                            struct netmap **next, char *why)
{
    char payload[4096];
    snprintf(payload, sizeof(payload),
             "{\"type\":\"full\",\"machine_id\":7,\"version\":%d,\"generated_at\":1," SELF_HEAD
             "%s},\"peers\":[" PEER "]," DNS ",\"filter\":null}",
             version, self_tail);
    char *d = nm_sign(sk, payload, strlen(payload));
    enum nm_verdict v = netmap_receive(cur, pk, 7, d, strlen(d), next, why, 256);
    free(d);
    return v;
}

static enum nm_verdict delta(const struct netmap *cur, int prev, int version, const char *self,
                             struct netmap **next, char *why)
{
    char payload[4096];
    snprintf(payload, sizeof(payload),
             "{\"type\":\"delta\",\"machine_id\":7,\"version\":%d,\"prev_version\":%d,"
             "\"generated_at\":2%s%s,\"upsert\":[],\"remove\":[],\"filter\":null}",
             version, prev, self ? "," : "", self ? self : "");
    char *d = nm_sign(sk, payload, strlen(payload));
    enum nm_verdict v = netmap_receive(cur, pk, 7, d, strlen(d), next, why, 256);
    free(d);
    return v;
}

static void test_parse(void)
{
    struct netmap *nm = NULL, *nm2 = NULL, *nm3 = NULL;
    char why[256] = "";

    /* quarantined, with a member this agent does not know */
    CHECK(full(NULL, 10, ",\"quarantine\":{\"quarantined\":true,\"reason\":\"" REASON
                         "\",\"since\":1234}", &nm, why) == NM_APPLIED);
    if (!nm) {
        fprintf(stderr, "refused: %s\n", why);
        return;
    }
    CHECK(nm->self.quarantined && !strcmp(nm->self.quarantine_reason, REASON));
    CHECK(nm->n_peers == 1 && !nm->peers[0].quarantined); /* a peer's is not parsed */
    cJSON *q = netmap_quarantine_json(&nm->self);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(q, "quarantined")));
    CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(q, "reason")), REASON));
    cJSON_Delete(q);

    /* a delta without self keeps it; one whose self says so clears it */
    CHECK(delta(nm, 10, 11, NULL, &nm2, why) == NM_APPLIED);
    CHECK(nm2 && nm2->self.quarantined && !strcmp(nm2->self.quarantine_reason, REASON));
    CHECK(delta(nm2, 11, 12,
                SELF_HEAD ",\"quarantine\":{\"quarantined\":false,\"reason\":null}}", &nm3,
                why) == NM_APPLIED);
    CHECK(nm3 && !nm3->self.quarantined && nm3->self.quarantine_reason[0] == 0);
    q = nm3 ? netmap_quarantine_json(&nm3->self) : NULL;
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(q, "quarantined")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(q, "reason")));
    cJSON_Delete(q);
    netmap_free(nm);
    netmap_free(nm2);
    netmap_free(nm3);

    /* an older server sends no quarantine: not quarantined */
    nm = NULL;
    CHECK(full(NULL, 10, "", &nm, why) == NM_APPLIED);
    CHECK(nm && !nm->self.quarantined);
    netmap_free(nm);

    /* a reason with a control character is kept as plain text; a long one is cut */
    nm = NULL;
    CHECK(full(NULL, 10, ",\"quarantine\":{\"quarantined\":true,\"reason\":\"a\\nb\"}", &nm, why) ==
          NM_APPLIED);
    CHECK(nm && !strcmp(nm->self.quarantine_reason, "a?b"));
    netmap_free(nm);
    char tail[1024];
    snprintf(tail, sizeof(tail), ",\"quarantine\":{\"quarantined\":true,\"reason\":\"%0500d\"}", 0);
    nm = NULL;
    CHECK(full(NULL, 10, tail, &nm, why) == NM_APPLIED);
    CHECK(nm && strlen(nm->self.quarantine_reason) == NETMAP_REASON_MAX - 1);
    netmap_free(nm);

    /* wrong types are refused with the field named */
    static const char *const bad[] = {
        ",\"quarantine\":{\"quarantined\":\"yes\"}",
        ",\"quarantine\":{\"reason\":\"x\"}",
        ",\"quarantine\":{\"quarantined\":true,\"reason\":7}",
        ",\"quarantine\":true",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        nm = NULL;
        why[0] = 0;
        CHECK(full(NULL, 10, bad[i], &nm, why) == NM_REFUSED);
        CHECK(strstr(why, "quarantine") != NULL);
        if (!strstr(why, "quarantine"))
            fprintf(stderr, "case %zu: %s\n", i, why);
        netmap_free(nm);
    }
}

#define STATUS_HEAD                                                                            \
    "{\"control\":{\"state\":\"connected\",\"server\":\"https://ztna.test\",\"map_version\":3},"  \
    "\"filter\":\"policy\",\"peers\":[],\"denials\":[],\"self\":{\"id\":7,\"name\":\"me\","      \
    "\"fqdn\":\"me.acme.zt.net\",\"tailnet_ip\":\"100.64.0.7\",\"tags\":[]"

static void test_render(void)
{
    char *out = status_text(STATUS_HEAD ",\"quarantine\":{\"quarantined\":true,\"reason\":\"" REASON
                                   "\"}}}");
    CHECK(out && strstr(out, "\nquarantined: " REASON "\n"));
    CHECK(out && strstr(out, "100.64.0.7") && strstr(out, "control: connected"));
    free(out);
    out = status_text(STATUS_HEAD ",\"quarantine\":{\"quarantined\":false,\"reason\":null}}}");
    CHECK(out && !strstr(out, "quarantined"));
    free(out);
    out = status_text(STATUS_HEAD "}}"); /* an older daemon */
    CHECK(out && !strstr(out, "quarantined"));
    free(out);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    crypto_sign_keypair(pk, sk);
    test_parse();
    test_render();
    return check_finish("test_status_quarantine");
}
