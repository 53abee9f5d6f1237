/* Extension points of the device library, for the PQ exchange and the daemon: two devices in a
 * private network namespace (unshare; loopback with 198.18.0.1, ports 51901/51902) exchange
 * extension datagrams (type >= 0x10) from periodic timers; each side's handler must see the
 * right peer key and bytes. Also: argument checks of send_ext / set_peer_blocked, and apply/get.
 * Needs root and /dev/net/tun (exit 77 otherwise). */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "agent/wg/device.h"
#include "common/crypto/x25519.h"
#include "tests/check.h"
#include "tests/netns_util.h"

struct side {
    struct wg_device *dev;
    struct side *other;
    uint8_t priv[32], pub[32];
    int got_ext;        /* ext datagrams received from the other side's key */
    int bad_ext;        /* ext datagrams with a wrong key or content */
    int ticks;
    pthread_t thread;
};

static void on_ext(void *ctx, struct wg_device *dev, const uint8_t *peer, const struct sockaddr *from,
                   socklen_t from_len, const uint8_t *buf, size_t len)
{
    struct side *s = ctx;
    (void)dev;
    (void)from_len;
    if (peer && !memcmp(peer, s->other->pub, 32) && len == 5 && buf[0] == 0x42 &&
        !memcmp(buf + 1, "ping", 4) && from->sa_family == AF_INET)
        s->got_ext++;
    else
        s->bad_ext++;
}

static void on_tick(void *ctx, struct wg_device *dev)
{
    struct side *s = ctx;
    static const uint8_t msg[5] = {0x42, 'p', 'i', 'n', 'g'};
    s->ticks++;
    wg_device_send_ext(dev, s->other->pub, msg, sizeof(msg));
    /* done when both sides heard each other a few times, or after ~5 s */
    if ((s->got_ext >= 3 && s->other->got_ext >= 3) || s->ticks > 250) {
        wg_device_stop(dev);
        wg_device_stop(s->other->dev);
    }
}

static void *run(void *arg)
{
    struct side *s = arg;
    wg_device_run(s->dev);
    return NULL;
}

static int setup(struct side *s, const char *ifname, uint16_t port, const char *peer_ip,
                 uint16_t peer_port)
{
    struct wg_device_config cfg = {0};
    struct wg_peer_config pc = {0};
    struct wg_allowedip aip = {.family = AF_INET, .cidr = 32};
    int ret = wg_device_create(ifname, &s->dev);
    if (ret)
        return ret;
    memcpy(cfg.private_key, s->priv, 32);
    cfg.listen_port = port;
    cfg.flags = WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT;
    memcpy(pc.public_key, s->other->pub, 32);
    pc.endpoint.addr4.sin_family = AF_INET;
    pc.endpoint.addr4.sin_port = htons(peer_port);
    inet_pton(AF_INET, peer_ip, &pc.endpoint.addr4.sin_addr);
    inet_pton(AF_INET, port == 51901 ? "100.64.9.2" : "100.64.9.1", &aip.ip4);
    pc.allowedips = &aip;
    pc.n_allowedips = 1;
    pc.flags = WG_PEER_HAS_ENDPOINT;
    cfg.peers = &pc;
    cfg.n_peers = 1;
    ret = wg_device_apply(s->dev, &cfg);
    if (ret)
        return ret;
    wg_device_set_ext_handler(s->dev, on_ext, s);
    return wg_device_add_timer(s->dev, 20, on_tick, s);
}

int main(void)
{
    struct side a = {0}, b = {0};
    int skip = netns_enter_private(true);

    if (skip)
        return skip;
    a.other = &b;
    b.other = &a;
    x25519_private_generate(a.priv);
    x25519_private_generate(b.priv);
    CHECK(x25519_public_from_private(a.pub, a.priv) == 0);
    CHECK(x25519_public_from_private(b.pub, b.priv) == 0);
    /* one address, two ports: the source address the kernel picks always matches the endpoint */
    CHECK(setup(&a, "zwgexta", 51901, "198.18.0.1", 51902) == 0);
    CHECK(setup(&b, "zwgextb", 51902, "198.18.0.1", 51901) == 0);
    if (!a.dev || !b.dev)
        return check_finish("test_wg_ext");

    /* argument checks */
    static const uint8_t wgtype[2] = {4, 0}, unknown[32] = {1};
    CHECK(wg_device_send_ext(a.dev, b.pub, wgtype, sizeof(wgtype)) == -EINVAL);
    CHECK(wg_device_send_ext(a.dev, unknown, (const uint8_t *)"\x10", 1) == -ENOENT);
    CHECK(wg_device_set_peer_blocked(a.dev, unknown, true) == -ENOENT);
    CHECK(wg_device_set_peer_blocked(a.dev, b.pub, true) == 0);
    CHECK(wg_device_set_peer_blocked(a.dev, b.pub, false) == 0);
    CHECK(wg_device_add_timer(a.dev, 0, on_tick, &a) == -EINVAL);

    /* get reflects apply */
    struct wg_device_config *got = NULL;
    CHECK(wg_device_get(a.dev, &got) == 0);
    if (got) {
        CHECK(got->listen_port == 51901 && !memcmp(got->public_key, a.pub, 32));
        CHECK(got->n_peers == 1 && !memcmp(got->peers[0].public_key, b.pub, 32));
        CHECK(got->peers[0].n_allowedips == 1 && got->peers[0].allowedips[0].cidr == 32);
        CHECK(ntohs(got->peers[0].endpoint.addr4.sin_port) == 51902);
    }
    wg_device_config_free(got);

    /* a prefix given to another peer moves, in `get` as in routing */
    struct wg_device_config mv = {0};
    struct wg_peer_config pc2 = {0};
    struct wg_allowedip aips2[2] = {{.family = AF_INET, .cidr = 32}, {.family = AF_INET, .cidr = 24}};
    inet_pton(AF_INET, "100.64.9.2", &aips2[0].ip4);
    inet_pton(AF_INET, "100.64.77.9", &aips2[1].ip4); /* host bits are masked */
    pc2.public_key[0] = 0x77;
    pc2.allowedips = aips2;
    pc2.n_allowedips = 2;
    mv.peers = &pc2;
    mv.n_peers = 1;
    CHECK(wg_device_apply(a.dev, &mv) == 0);
    got = NULL;
    CHECK(wg_device_get(a.dev, &got) == 0);
    if (got && got->n_peers == 2) {
        CHECK(got->peers[0].n_allowedips == 0);
        CHECK(got->peers[1].n_allowedips == 2);
        if (got->peers[1].n_allowedips == 2) {
            CHECK(ntohl(got->peers[1].allowedips[0].ip4.s_addr) == 0x64400902);
            CHECK(ntohl(got->peers[1].allowedips[1].ip4.s_addr) == 0x64404d00);
        }
    } else {
        CHECK(!"two peers after the move");
    }
    wg_device_config_free(got);
    pc2.flags = WG_PEER_REMOVE;
    CHECK(wg_device_apply(a.dev, &mv) == 0);
    /* give it back to b's peer entry on a */
    pc2.flags = 0;
    memcpy(pc2.public_key, b.pub, 32);
    pc2.n_allowedips = 1;
    CHECK(wg_device_apply(a.dev, &mv) == 0);

    CHECK(pthread_create(&a.thread, NULL, run, &a) == 0);
    CHECK(pthread_create(&b.thread, NULL, run, &b) == 0);
    pthread_join(a.thread, NULL);
    pthread_join(b.thread, NULL);
    printf("ext: a got %d (bad %d), b got %d (bad %d), ticks %d/%d\n", a.got_ext, a.bad_ext,
           b.got_ext, b.bad_ext, a.ticks, b.ticks);
    CHECK(a.got_ext >= 3 && b.got_ext >= 3);
    CHECK(a.bad_ext == 0 && b.bad_ext == 0);
    CHECK(a.ticks >= 3 && b.ticks >= 3);
    wg_device_destroy(a.dev);
    wg_device_destroy(b.dev);
    return check_finish("test_wg_ext");
}
