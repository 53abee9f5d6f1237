/* Handshake messages (initiation, response, cookie reply) on the device loop, with the kernel's
 * flood defences: every message needs a valid mac1; under load (more than WGDEV_UNDER_LOAD_RATE
 * handshake messages in a second, latched for WGDEV_UNDER_LOAD_HOLD_MS) a message also needs a
 * valid mac2, else it gets a cookie reply instead of an answer, and each source address is held
 * to WG_HANDSHAKE_PACKETS_PER_SECOND (burst WG_HANDSHAKE_PACKETS_BURST). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/wg/wgdev.h"
#include "common/log.h"
#include "common/wg/messages.h"

#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

static uint64_t unix_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * WG_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

void wgd_handshake_send_initiation(struct wgd_peer *peer, bool is_retry)
{
    struct wg_device *dev = peer->dev;
    uint8_t msg[WG_MSG_INITIATION_SIZE], ts[WG_TIMESTAMP_SIZE];
    uint64_t now = wgd_now_ns();

    if (!dev->identity.has_identity || !peer->endpoint_len)
        return;
    if (!is_retry)
        peer->handshake_attempts = 0;
    /* at most one initiation per REKEY_TIMEOUT, except the retransmit timer's */
    if (!is_retry && peer->last_sent_handshake_ns &&
        now - peer->last_sent_handshake_ns < WG_REKEY_TIMEOUT * WG_NSEC_PER_SEC)
        return;
    peer->last_sent_handshake_ns = now;
    if (wgd_index_assign(dev, &peer->hs_idx))
        return;
    wg_tai64n_from_unix_ns(ts, unix_ns());
    if (wg_noise_handshake_create_initiation(&peer->hs, peer->hs_idx.index, ts, msg)) {
        wgd_index_unlink(dev, &peer->hs_idx);
        return;
    }
    wg_cookie_add_macs(&peer->cookie, msg, sizeof(msg), now);
    wgd_timers_any_authenticated_packet_traversal(peer);
    wgd_timers_any_authenticated_packet_sent(peer);
    if (wgd_send_to_peer(peer, msg, sizeof(msg)) == 0)
        log_debug("wg", "%s: sent handshake initiation", dev->ifname);
    wgd_timers_handshake_initiated(peer);
    sodium_memzero(msg, sizeof(msg));
}

static size_t source_bytes(const union wgd_addr *a, uint8_t out[static WG_COOKIE_SOURCE_MAX])
{
    if (a->sa.sa_family == AF_INET) {
        memcpy(out, &a->in4.sin_addr, 4);
        memcpy(out + 4, &a->in4.sin_port, 2);
        return 6;
    }
    memcpy(out, &a->in6.sin6_addr, 16);
    memcpy(out + 16, &a->in6.sin6_port, 2);
    return 18;
}

static bool under_load(struct wg_device *dev, uint64_t now)
{
    if (now - dev->load_window_start_ns >= WG_NSEC_PER_SEC) {
        dev->load_window_start_ns = now;
        dev->load_count = 0;
    }
    if (++dev->load_count > WGDEV_UNDER_LOAD_RATE)
        dev->under_load_until_ns = now + WGDEV_UNDER_LOAD_HOLD_MS * 1000000ULL;
    return now < dev->under_load_until_ns;
}

/* Token bucket per source IP (port ignored, like the kernel's ratelimiter). */
static bool rate_allow(struct wg_device *dev, const uint8_t *src, size_t src_len, uint64_t now)
{
    const uint64_t cost = WG_NSEC_PER_SEC / WG_HANDSHAKE_PACKETS_PER_SECOND;
    const uint64_t burst = cost * WG_HANDSHAKE_PACKETS_BURST;
    uint8_t ip[16] = {0};
    uint32_t h = 2166136261u;
    memcpy(ip, src, src_len - 2);
    for (size_t i = 0; i < sizeof(ip); i++)
        h = (h ^ ip[i]) * 16777619u;
    struct wgd_rate_slot *s = &dev->rate[h % WGD_RATE_SLOTS];
    if (memcmp(s->ip, ip, sizeof(ip)) || !s->last_ns) {
        memcpy(s->ip, ip, sizeof(ip));
        s->last_ns = now;
        s->tokens = burst - cost;
        return true;
    }
    s->tokens += now - s->last_ns;
    s->last_ns = now;
    if (s->tokens > burst)
        s->tokens = burst;
    if (s->tokens < cost)
        return false;
    s->tokens -= cost;
    return true;
}

static struct wg_noise_handshake *lookup_static(void *ctx, const uint8_t remote_static[32])
{
    struct wgd_peer *peer = wgd_peer_lookup(ctx, remote_static);
    return peer ? &peer->hs : NULL;
}

/* Turns the peer's finished handshake into a keypair, indexed under the handshake's index. */
static struct wgd_keypair *begin_session(struct wgd_peer *peer, uint64_t now)
{
    struct wgd_keypair *k = calloc(1, sizeof(*k));
    uint32_t index = peer->hs_idx.index;
    if (!k)
        return NULL;
    if (wg_noise_handshake_begin_session(&peer->hs, &k->kp, now)) {
        free(k);
        return NULL;
    }
    wgd_index_unlink(peer->dev, &peer->hs_idx);
    k->idx.index = index;
    k->idx.peer = peer;
    k->idx.kp = k;
    k->idx.next = peer->dev->index_buckets[index % WGD_HASH_BUCKETS];
    peer->dev->index_buckets[index % WGD_HASH_BUCKETS] = &k->idx;
    k->idx.linked = true;
    /* kernel noise.c add_new_keypair */
    if (k->kp.is_initiator) {
        if (peer->kp_next) {
            wgd_keypair_free(peer->dev, peer->kp_prev);
            peer->kp_prev = peer->kp_next;
            peer->kp_next = NULL;
            wgd_keypair_free(peer->dev, peer->kp_cur);
        } else {
            wgd_keypair_free(peer->dev, peer->kp_prev);
            peer->kp_prev = peer->kp_cur;
        }
        peer->kp_cur = k;
    } else {
        wgd_keypair_free(peer->dev, peer->kp_next);
        peer->kp_next = k;
        wgd_keypair_free(peer->dev, peer->kp_prev);
        peer->kp_prev = NULL;
    }
    return k;
}

static void consume_initiation(struct wg_device *dev, const uint8_t *buf, size_t len,
                               const union wgd_addr *from, socklen_t from_len, uint64_t now)
{
    struct wg_noise_handshake *hs = NULL;
    uint8_t resp[WG_MSG_RESPONSE_SIZE];
    int ret = wg_noise_handshake_consume_initiation(&dev->identity, buf, len, lookup_static, dev,
                                                    now, &hs);
    if (ret) {
        log_debug("wg", "%s: initiation rejected: %d", dev->ifname, ret);
        return;
    }
    struct wgd_peer *peer = container_of(hs, struct wgd_peer, hs);
    wgd_peer_set_endpoint(peer, &from->sa, from_len);
    peer->rx_bytes += len;
    wgd_timers_any_authenticated_packet_received(peer);
    wgd_timers_any_authenticated_packet_traversal(peer);
    if (wgd_index_assign(dev, &peer->hs_idx))
        return;
    if (wg_noise_handshake_create_response(&peer->hs, peer->hs_idx.index, resp)) {
        wgd_index_unlink(dev, &peer->hs_idx);
        return;
    }
    if (!begin_session(peer, now))
        return;
    wg_cookie_add_macs(&peer->cookie, resp, sizeof(resp), now);
    wgd_timers_any_authenticated_packet_sent(peer);
    wgd_send_to_peer(peer, resp, sizeof(resp));
    wgd_timers_session_derived(peer);
    log_debug("wg", "%s: answered handshake initiation", dev->ifname);
}

static void consume_response(struct wg_device *dev, const uint8_t *buf, size_t len,
                             const union wgd_addr *from, socklen_t from_len, uint64_t now)
{
    struct wgd_index *e = wgd_index_lookup(dev, wg_get_le32(buf + 8));
    if (!e || e->kp || e->peer->hs.state != WG_HANDSHAKE_CREATED_INITIATION)
        return;
    struct wgd_peer *peer = e->peer;
    if (wg_noise_handshake_consume_response(&peer->hs, buf, len))
        return;
    if (!begin_session(peer, now))
        return;
    wgd_peer_set_endpoint(peer, &from->sa, from_len);
    peer->rx_bytes += len;
    wgd_timers_any_authenticated_packet_received(peer);
    wgd_timers_any_authenticated_packet_traversal(peer);
    wgd_timers_session_derived(peer);
    wgd_timers_handshake_complete(peer);
    log_debug("wg", "%s: handshake complete (initiator)", dev->ifname);
    /* staged packets, or a keepalive to confirm the session to the responder */
    wgd_send_staged(peer, true);
}

void wgd_handshake_receive(struct wg_device *dev, uint8_t *buf, size_t len,
                           const union wgd_addr *from, socklen_t from_len)
{
    uint8_t src[WG_COOKIE_SOURCE_MAX];
    uint8_t reply[WG_MSG_COOKIE_REPLY_SIZE];
    uint64_t now = wgd_now_ns();
    uint8_t type = wg_msg_type(buf, len);
    size_t src_len = source_bytes(from, src);

    if (!dev->identity.has_identity)
        return;
    if (type == WG_MSG_COOKIE_REPLY) {
        struct wgd_index *e = wgd_index_lookup(dev, wg_get_le32(buf + 4));
        if (e)
            wg_cookie_consume_reply(&e->peer->cookie, buf, len, now);
        return;
    }
    if (type != WG_MSG_INITIATION && type != WG_MSG_RESPONSE)
        return;
    bool loaded = under_load(dev, now);
    enum wg_cookie_mac_state mac =
        wg_cookie_checker_validate(&dev->cookie_checker, buf, len, src, src_len, loaded, now);
    if (mac == WG_COOKIE_MAC_INVALID)
        return;
    if (loaded && mac != WG_COOKIE_MAC_VALID_WITH_COOKIE) {
        if (wg_cookie_checker_create_reply(&dev->cookie_checker, buf, len, src, src_len, now,
                                           reply) == 0)
            wgd_send_to(dev, from, from_len, reply, sizeof(reply));
        return;
    }
    if (loaded && !rate_allow(dev, src, src_len, now))
        return;
    if (type == WG_MSG_INITIATION)
        consume_initiation(dev, buf, len, from, from_len, now);
    else
        consume_response(dev, buf, len, from, from_len, now);
}
