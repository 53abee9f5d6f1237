/* Fuzz target for the WG_CMD_GET_DEVICE reply parser (agent/kernel/nlparse.c): arbitrary bytes as
 * one received netlink buffer, and the same bytes cut in two receives into one config. Whatever
 * the parser accepts must satisfy the model's invariants (valid families and prefixes). */
#include <stdlib.h>
#include <string.h>

#include "agent/kernel/wgnl.h"

#define FAMILY 0x1d

static void check_model(const struct wg_device_config *cfg)
{
    if (cfg->n_peers > WGNL_MAX_PEERS || (cfg->n_peers && !cfg->peers))
        abort();
    if (memchr(cfg->ifname, 0, sizeof(cfg->ifname)) == NULL)
        abort();
    for (size_t i = 0; i < cfg->n_peers; i++) {
        const struct wg_peer_config *p = &cfg->peers[i];
        if (p->n_allowedips > WGNL_MAX_ALLOWEDIPS)
            abort();
        for (size_t j = 0; j < p->n_allowedips; j++) {
            const struct wg_allowedip *a = &p->allowedips[j];
            if (!((a->family == AF_INET && a->cidr <= 32) ||
                  (a->family == AF_INET6 && a->cidr <= 128)))
                abort();
        }
        if ((p->flags & WG_PEER_HAS_ENDPOINT) && p->endpoint.addr.sa_family != AF_INET &&
            p->endpoint.addr.sa_family != AF_INET6)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wg_device_config *cfg = calloc(1, sizeof(*cfg));
    bool done = false;
    if (!cfg)
        return 0;
    if (wgnl_get_reply_parse(cfg, data, size, FAMILY, &done) == 0)
        check_model(cfg);
    wg_device_config_free(cfg);

    cfg = calloc(1, sizeof(*cfg));
    if (!cfg)
        return 0;
    size_t cut = size ? data[0] % (size + 1) : 0;
    cut &= ~(size_t)3;
    if (wgnl_get_reply_parse(cfg, data, cut, FAMILY, &done) == 0 &&
        wgnl_get_reply_parse(cfg, data + cut, size - cut, FAMILY, &done) == 0)
        check_model(cfg);
    wg_device_config_free(cfg);
    return 0;
}
