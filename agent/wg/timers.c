/* Per-peer protocol timers (whitepaper 6, kernel timers.c), on the device's timer heap:
 *
 *   retransmit_handshake  REKEY_TIMEOUT + jitter after an initiation without response; gives up
 *                         after REKEY_ATTEMPT_TIME (MAX_TIMER_HANDSHAKES tries)
 *   send_keepalive        KEEPALIVE_TIMEOUT after data received without anything sent back
 *   new_handshake         KEEPALIVE + REKEY_TIMEOUT after data sent without anything received
 *   zero_key_material     3 * REJECT_AFTER_TIME after the last session was derived
 *   persistent_keepalive  every persistent_keepalive seconds after any authenticated packet
 */
#include <stddef.h>
#include <time.h>

#include "agent/wg/wgdev.h"
#include "common/log.h"

#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

static uint64_t jitter_ms(void)
{
    return randombytes_uniform(WG_REKEY_TIMEOUT_JITTER_MAX_MS);
}

static uint64_t rekey_timeout_ms(const struct wg_device *dev)
{
    (void)dev;
    return WG_REKEY_TIMEOUT * 1000ULL;
}

static void expired_retransmit(struct wgd_timer *t)
{
    struct wgd_peer *peer = container_of(t, struct wgd_peer, t_retransmit);
    if (peer->handshake_attempts > WG_MAX_TIMER_HANDSHAKES) {
        log_debug("wg", "handshake did not complete after %u attempts, giving up",
                  peer->handshake_attempts);
        wgd_timer_del(&peer->dev->timers, &peer->t_send_keepalive);
        wgd_peer_staged_clear(peer);
        wgd_timer_add_if_idle(&peer->dev->timers, &peer->t_zero_keys,
                              3 * peer->dev->reject_after_ns / 1000000ULL);
        return;
    }
    peer->handshake_attempts++;
    wgd_handshake_send_initiation(peer, true);
}

static void expired_send_keepalive(struct wgd_timer *t)
{
    struct wgd_peer *peer = container_of(t, struct wgd_peer, t_send_keepalive);
    wgd_send_keepalive(peer);
    if (peer->need_another_keepalive) {
        peer->need_another_keepalive = false;
        wgd_timer_mod(&peer->dev->timers, &peer->t_send_keepalive, WG_KEEPALIVE_TIMEOUT * 1000ULL);
    }
}

static void expired_new_handshake(struct wgd_timer *t)
{
    struct wgd_peer *peer = container_of(t, struct wgd_peer, t_new_handshake);
    log_debug("wg", "no reply to data for %d s, new handshake", WG_KEEPALIVE_TIMEOUT + WG_REKEY_TIMEOUT);
    wgd_handshake_send_initiation(peer, false);
}

static void expired_zero_keys(struct wgd_timer *t)
{
    struct wgd_peer *peer = container_of(t, struct wgd_peer, t_zero_keys);
    wgd_peer_keypairs_clear(peer);
    wgd_index_unlink(peer->dev, &peer->hs_idx);
    wg_noise_handshake_clear(&peer->hs);
}

static void expired_persistent(struct wgd_timer *t)
{
    struct wgd_peer *peer = container_of(t, struct wgd_peer, t_persistent);
    if (peer->persistent_keepalive)
        wgd_send_keepalive(peer);
}

void wgd_timers_init(struct wgd_peer *peer)
{
    peer->t_retransmit.fn = expired_retransmit;
    peer->t_send_keepalive.fn = expired_send_keepalive;
    peer->t_new_handshake.fn = expired_new_handshake;
    peer->t_zero_keys.fn = expired_zero_keys;
    peer->t_persistent.fn = expired_persistent;
}

void wgd_timers_stop(struct wgd_peer *peer)
{
    struct wgd_timer_heap *h = &peer->dev->timers;
    wgd_timer_del(h, &peer->t_retransmit);
    wgd_timer_del(h, &peer->t_send_keepalive);
    wgd_timer_del(h, &peer->t_new_handshake);
    wgd_timer_del(h, &peer->t_zero_keys);
    wgd_timer_del(h, &peer->t_persistent);
}

void wgd_timers_data_sent(struct wgd_peer *peer)
{
    wgd_timer_add_if_idle(&peer->dev->timers, &peer->t_new_handshake,
                          (WG_KEEPALIVE_TIMEOUT * 1000ULL) + rekey_timeout_ms(peer->dev) + jitter_ms());
}

void wgd_timers_data_received(struct wgd_peer *peer)
{
    if (wgd_timer_pending(&peer->t_send_keepalive))
        peer->need_another_keepalive = true;
    else
        wgd_timer_mod(&peer->dev->timers, &peer->t_send_keepalive, WG_KEEPALIVE_TIMEOUT * 1000ULL);
}

void wgd_timers_any_authenticated_packet_sent(struct wgd_peer *peer)
{
    wgd_timer_del(&peer->dev->timers, &peer->t_send_keepalive);
}

void wgd_timers_any_authenticated_packet_received(struct wgd_peer *peer)
{
    wgd_timer_del(&peer->dev->timers, &peer->t_new_handshake);
}

void wgd_timers_any_authenticated_packet_traversal(struct wgd_peer *peer)
{
    if (peer->persistent_keepalive)
        wgd_timer_mod(&peer->dev->timers, &peer->t_persistent, peer->persistent_keepalive * 1000ULL);
}

void wgd_timers_handshake_initiated(struct wgd_peer *peer)
{
    wgd_timer_mod(&peer->dev->timers, &peer->t_retransmit, rekey_timeout_ms(peer->dev) + jitter_ms());
}

void wgd_timers_handshake_complete(struct wgd_peer *peer)
{
    wgd_timer_del(&peer->dev->timers, &peer->t_retransmit);
    peer->handshake_attempts = 0;
    peer->sent_lastminute_handshake = false;
    clock_gettime(CLOCK_REALTIME, &peer->last_handshake);
}

void wgd_timers_session_derived(struct wgd_peer *peer)
{
    wgd_timer_mod(&peer->dev->timers, &peer->t_zero_keys, 3 * peer->dev->reject_after_ns / 1000000ULL);
}
