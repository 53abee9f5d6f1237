/* The daemon's state directory (agent/daemon/state.h): keys created once with mode 0600 in a 0700
 * directory and the same on reload, state.json round trip, a corrupt file refused, logout. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "agent/daemon/state.h"
#include "tests/check.h"

static mode_t mode_of(const char *dir, const char *name)
{
    char p[512];
    struct stat sb;
    snprintf(p, sizeof(p), "%s%s%s", dir, name ? "/" : "", name ? name : "");
    return stat(p, &sb) == 0 ? sb.st_mode & 0777 : 0;
}

int main(void)
{
    char tmpl[] = "/tmp/ztna-state-test.XXXXXX", dir[600], path[700];
    struct agent_keys k1, k2;
    struct agent_state st, back;
    if (sodium_init() < 0 || !mkdtemp(tmpl))
        return 1;
    snprintf(dir, sizeof(dir), "%s/sub/state", tmpl); /* parents created too */

    CHECK(state_keys_load(dir, &k1) == 0);
    CHECK(mode_of(dir, NULL) == 0700);
    CHECK(mode_of(dir, "machine.key") == 0600 && mode_of(dir, "wg.key") == 0600);
    CHECK(state_keys_load(dir, &k2) == 0);
    CHECK(!memcmp(&k1, &k2, sizeof(k1)));
    /* the public keys belong to the private ones */
    uint8_t pub[32];
    CHECK(crypto_scalarmult_base(pub, k1.wg_priv) == 0 && !memcmp(pub, k1.wg_pub, 32));
    uint8_t sig[64];
    crypto_sign_detached(sig, NULL, (const uint8_t *)"x", 1, k1.machine_sk);
    CHECK(crypto_sign_verify_detached(sig, (const uint8_t *)"x", 1, k1.machine_pk) == 0);

    CHECK(state_load(dir, &back) == -ENOENT);
    memset(&st, 0, sizeof(st));
    snprintf(st.server_url, sizeof(st.server_url), "https://ztna.example");
    memset(st.server_key, 0xab, 32);
    st.machine_id = 42;
    st.org_id = 3;
    st.heartbeat_interval = 60;
    snprintf(st.tailnet_ip, sizeof(st.tailnet_ip), "100.64.0.42");
    snprintf(st.fqdn, sizeof(st.fqdn), "db.acme.zt.net");
    snprintf(st.tags[0], sizeof(st.tags[0]), "tag:db");
    st.n_tags = 1;
    st.want_up = true;
    CHECK(state_save(dir, &st) == 0 && mode_of(dir, "state.json") == 0600);
    CHECK(state_load(dir, &back) == 0);
    CHECK(!memcmp(&st, &back, sizeof(st)) && state_registered(&back));

    /* corrupt state is refused (and named in the log), not half-loaded */
    snprintf(path, sizeof(path), "%s/state.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"server_url\":\"https://x\",\"server_key\":\"zz\",\"machine_id\":1}", f);
    fclose(f);
    memset(&back, 0, sizeof(back));
    CHECK(state_load(dir, &back) == -EINVAL && back.machine_id == 0);
    f = fopen(path, "w");
    fputs("not json", f);
    fclose(f);
    CHECK(state_load(dir, &back) == -EINVAL);
    /* a corrupt key file is refused rather than replaced */
    snprintf(path, sizeof(path), "%s/wg.key", dir);
    f = fopen(path, "w");
    fputs("short\n", f);
    fclose(f);
    CHECK(state_keys_load(dir, &k2) == -EINVAL);

    CHECK(state_clear(dir) == 0 && state_load(dir, &back) == -ENOENT);
    CHECK(state_clear(dir) == 0);

    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
    CHECK(system(cmd) == 0);
    state_keys_wipe(&k1);
    state_keys_wipe(&k2);
    return check_finish("test_state");
}
