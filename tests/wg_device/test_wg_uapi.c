/* UAPI parser/formatter and timer heap unit tests. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/wg/timer.h"
#include "agent/wg/uapi.h"
#include "tests/check.h"

#define K1 "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a"
#define K2 "58402e695ba1772b1cc9309755f043251ea77fdcf10fbe63989ceae4c7a7f9a1"

static int parse(const char *s, struct wg_device_config **cfg)
{
    return wg_uapi_parse_set(s, strlen(s), cfg);
}

static void test_parse_full(void)
{
    struct wg_device_config *cfg = NULL;
    const char *req = "private_key=" K1 "\nlisten_port=51820\nfwmark=66\nreplace_peers=true\n"
                      "public_key=" K2 "\npreshared_key=" K1 "\nendpoint=[fd00::1%3]:443\n"
                      "persistent_keepalive_interval=25\nreplace_allowed_ips=true\n"
                      "allowed_ip=100.64.0.0/10\nallowed_ip=fd00::/8\nprotocol_version=1\n"
                      "public_key=" K1 "\nremove=true\nupdate_only=true\nendpoint=198.18.0.9:1\n\n";
    CHECK(parse(req, &cfg) == 0);
    if (!cfg)
        return;
    CHECK(cfg->flags == (WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT |
                         WG_DEVICE_HAS_FWMARK | WG_DEVICE_REPLACE_PEERS));
    CHECK(cfg->listen_port == 51820 && cfg->fwmark == 66);
    CHECK(cfg->private_key[0] == 0xe8 && cfg->private_key[31] == 0x7a);
    CHECK(cfg->n_peers == 2);
    struct wg_peer_config *p = &cfg->peers[0];
    CHECK(p->public_key[0] == 0x58);
    CHECK(p->flags == (WG_PEER_HAS_PRESHARED_KEY | WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE |
                       WG_PEER_REPLACE_ALLOWEDIPS));
    CHECK(p->endpoint.addr6.sin6_family == AF_INET6 && ntohs(p->endpoint.addr6.sin6_port) == 443);
    CHECK(p->endpoint.addr6.sin6_scope_id == 3);
    CHECK(p->persistent_keepalive == 25);
    CHECK(p->n_allowedips == 2 && p->allowedips[0].family == AF_INET && p->allowedips[0].cidr == 10);
    CHECK(p->allowedips[1].family == AF_INET6 && p->allowedips[1].cidr == 8);
    CHECK(cfg->peers[1].flags == (WG_PEER_REMOVE | WG_PEER_UPDATE_ONLY | WG_PEER_HAS_ENDPOINT));
    CHECK(ntohl(cfg->peers[1].endpoint.addr4.sin_addr.s_addr) == 0xc6120009);

    /* get text round-trips through the set parser (state keys aside) */
    char *text = NULL;
    size_t len = 0;
    cfg->peers[0].rx_bytes = 7;
    cfg->peers[0].last_handshake.tv_sec = 1700000000;
    CHECK(wg_uapi_format_get(cfg, &text, &len) == 0);
    if (text) {
        CHECK(strstr(text, "private_key=" K1 "\n") != NULL);
        CHECK(strstr(text, "listen_port=51820\nfwmark=66\n") != NULL);
        CHECK(strstr(text, "endpoint=[fd00::1%3]:443\n") != NULL);
        CHECK(strstr(text, "allowed_ip=100.64.0.0/10\nallowed_ip=fd00::/8\n") != NULL);
        CHECK(strstr(text, "rx_bytes=7\n") != NULL);
        CHECK(strstr(text, "last_handshake_time_sec=1700000000\n") != NULL);
        CHECK(strstr(text, "endpoint=198.18.0.9:1\n") != NULL);
        free(text);
    }
    wg_device_config_free(cfg);
}

static void test_parse_errors(void)
{
    static const char *bad[] = {
        "listen_port=65536\n",
        "listen_port=-1\n",
        "fwmark=4294967296\n",
        "private_key=" K1 "00\n",
        "private_key=zz\n",
        "public_key=" K2 "\nendpoint=1.2.3.4\n",
        "public_key=" K2 "\nendpoint=[::1]443\n",
        "public_key=" K2 "\nallowed_ip=1.2.3.4/33\n",
        "public_key=" K2 "\nallowed_ip=::/129\n",
        "public_key=" K2 "\nprotocol_version=2\n",
        "public_key=" K2 "\nremove=false\n",
        "endpoint=1.2.3.4:5\n",           /* peer key before any public_key */
        "unknown=1\n",
        "novalue\n",
        "listen_port=1\n\nlisten_port=2\n", /* data after the blank line */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct wg_device_config *cfg = (void *)1;
        int ret = parse(bad[i], &cfg);
        if (ret == 0)
            fprintf(stderr, "accepted: %s", bad[i]);
        CHECK(ret == -EINVAL || ret == -EPROTO);
        CHECK(cfg == NULL);
    }
    struct wg_device_config *cfg = NULL;
    CHECK(parse("", &cfg) == 0 && cfg && cfg->n_peers == 0 && cfg->flags == 0);
    wg_device_config_free(cfg);
}

/* The heap against a naive reference: fire order must be by deadline. */
static int fired[64], nfired;
static struct wgd_timer tv[64];
static void on_fire(struct wgd_timer *t) { fired[nfired++] = (int)(t - tv); }

static void test_timer_heap(void)
{
    struct wgd_timer_heap h;
    CHECK(wgd_timer_heap_init(&h) == 0);
    srand(7);
    for (int i = 0; i < 64; i++) {
        tv[i].fn = on_fire;
        CHECK(wgd_timer_mod(&h, &tv[i], (uint64_t)(rand() % 1000) + 100000) == 0);
    }
    for (int i = 0; i < 64; i += 3)
        wgd_timer_del(&h, &tv[i]);
    for (int i = 1; i < 64; i += 3)
        wgd_timer_mod(&h, &tv[i], 0); /* due now */
    CHECK(h.n == 64 - 22);
    wgd_timer_heap_run(&h);
    CHECK(nfired == 21);
    for (int i = 0; i < nfired; i++)
        CHECK(fired[i] % 3 == 1 && !wgd_timer_pending(&tv[fired[i]]));
    /* the remaining ones are a valid heap: parents never later than children */
    for (size_t i = 1; i < h.n; i++)
        CHECK(h.v[(i - 1) / 2]->when_ms <= h.v[i]->when_ms);
    wgd_timer_heap_fini(&h);
}

int main(void)
{
    test_parse_full();
    test_parse_errors();
    test_timer_heap();
    return check_finish("test_wg_uapi");
}
