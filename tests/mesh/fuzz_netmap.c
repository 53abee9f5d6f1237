/* Fuzz target for the map message path of ztna daemon (agent/daemon/netmap.h). The first byte
 * picks the mode: even = the input is the reply's data member or the stream's frame as received
 * (the verifier: almost everything must be refused, nothing may crash); odd = the rest is a
 * payload that we sign with the pinned key, so the parser, the checks and the delta applier see
 * it against a held map; odd with bit 1 set = signed as one message of a stream's batch of 1 to 4
 * (its path folded and the batch signature checked first). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agent/daemon/netmap.h"
#include "tests/mesh/netmap_util.h"

static uint8_t pk[32], sk[64];
static struct netmap *held;

static void init(void)
{
    static const char base[] =
        "{\"type\":\"full\",\"machine_id\":7,\"version\":10,\"self\":{\"id\":7,\"name\":\"me\","
        "\"fqdn\":\"me.a.zt.net\",\"tailnet_ip\":\"100.64.0.7\"},\"peers\":[{\"id\":2,\"name\":\"p\","
        "\"fqdn\":\"p.a.zt.net\",\"tailnet_ip\":\"100.64.0.2\",\"wg_public_key\":"
        "\"AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\",\"tags\":[\"tag:x\"]}],"
        "\"dns\":{\"suffix\":\"a.zt.net\"},\"filter\":{\"entries\":[\"tcp 100.64.0.2/32 22\"]}}";
    uint8_t seed[32];
    char why[256];
    if (sodium_init() < 0)
        abort();
    memset(seed, 7, sizeof(seed));
    crypto_sign_seed_keypair(pk, sk, seed);
    char *d = nm_sign(sk, base, strlen(base));
    if (netmap_receive(NULL, pk, 7, d, strlen(d), &held, why, sizeof(why)) != NM_APPLIED)
        abort();
    free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct netmap *next = NULL;
    char why[256];
    if (!held)
        init();
    if (size < 1)
        return 0;
    if ((data[0] & 3) == 3) {
        char *p[4], *f[4];
        size_t n = 1 + (data[0] >> 2) % 4;
        p[0] = strndup((const char *)data + 1, size - 1);
        for (size_t i = 1; i < n; i++)
            p[i] = strdup("{\"type\":\"keepalive\",\"machine_id\":8,\"version\":1}");
        nm_batch_sign(sk, (const char *const *)p, n, f);
        netmap_receive(held, pk, 7, f[0], strlen(f[0]), &next, why, sizeof(why));
        for (size_t i = 0; i < n; i++) {
            free(p[i]);
            free(f[i]);
        }
    } else if (data[0] & 1) {
        char *d = nm_sign(sk, (const char *)data + 1, size - 1);
        netmap_receive(held, pk, 7, d, strlen(d), &next, why, sizeof(why));
        free(d);
    } else {
        netmap_receive(held, pk, 7, (const char *)data + 1, size - 1, &next, why, sizeof(why));
    }
    if (next) {
        /* touch what the engine would read */
        for (size_t i = 0; i < next->n_peers; i++)
            (void)netmap_peer_by_id(next, next->peers[i].id);
        netmap_free(next);
    }
    return 0;
}
