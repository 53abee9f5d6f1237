/* Fixed protocol state for the wg_core fuzz targets, the committed seed corpus (gen_wg_corpus)
 * and the test that the seeds still reach the deep paths (test_wg_corpus). Keys are fixed so the
 * seeds stay valid: initiator I and responder R with a PSK, I's handshake in CREATED_INITIATION
 * with a fixed ephemeral key, R's cookie checker and I's cookie state (having sent that
 * initiation), and a transport keypair. Each run_* consumes one message against a fresh copy
 * of that state and returns 0 only if the message was accepted. */
#ifndef ZTNA_TESTS_WG_CORE_FUZZ_FIXTURE_H
#define ZTNA_TESTS_WG_CORE_FUZZ_FIXTURE_H

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include "common/wg/cookie.h"
#include "common/wg/keypair.h"
#include "common/wg/messages.h"
#include "common/wg/noise.h"

#define FX_INIT_INDEX 0x01020304u
#define FX_RESP_INDEX 0x0a0b0c0du
#define FX_DATA_INDEX 0x00c0ffeeu

struct fx {
    struct wg_noise_identity init, resp;
    struct wg_noise_handshake hs_i, hs_r; /* hs_i: CREATED_INITIATION; hs_r: ZEROED */
    struct wg_cookie_checker checker_r, checker_i;
    struct wg_cookie cookie_i; /* has sent initiation[] */
    struct wg_cookie cookie_r; /* R's macs for messages to I */
    struct wg_keypair kp;      /* receives with key fx_data_key */
    uint8_t initiation[WG_MSG_INITIATION_SIZE];
};

static const uint8_t fx_source[6] = {198, 18, 0, 1, 0xca, 0x6c};

static inline void fx_key(uint8_t k[32], uint8_t seed)
{
    for (int i = 0; i < 32; i++)
        k[i] = (uint8_t)(seed + 13 * i);
}

static inline struct wg_noise_handshake *fx_lookup_r(void *ctx, const uint8_t remote_static[32])
{
    struct fx *f = ctx;
    return memcmp(f->hs_r.remote_static, remote_static, 32) == 0 ? &f->hs_r : NULL;
}

/* The pristine state, built once. Copies share its identities (read-only). */
static inline const struct fx *fx_pristine(void)
{
    static struct fx f;
    static bool ready;
    if (ready)
        return &f;
    uint8_t k[32], psk[32], eph[32], ts[WG_TIMESTAMP_SIZE];
    if (sodium_init() < 0)
        return NULL;
    fx_key(k, 1);
    wg_noise_identity_init(&f.init, k);
    fx_key(k, 2);
    wg_noise_identity_init(&f.resp, k);
    fx_key(psk, 3);
    wg_noise_handshake_init(&f.hs_i, &f.init, f.resp.public_key, psk);
    wg_noise_handshake_init(&f.hs_r, &f.resp, f.init.public_key, psk);
    wg_cookie_checker_init(&f.checker_r, f.resp.public_key);
    wg_cookie_checker_init(&f.checker_i, f.init.public_key);
    wg_cookie_init(&f.cookie_i, f.resp.public_key);
    wg_cookie_init(&f.cookie_r, f.init.public_key);
    /* I's initiation, deterministic: fixed ephemeral and timestamp. */
    fx_key(eph, 4);
    wg_tai64n_from_unix_ns(ts, 1700000000ULL * WG_NSEC_PER_SEC);
    wg_put_le32(f.initiation, WG_MSG_INITIATION);
    wg_put_le32(f.initiation + 4, FX_INIT_INDEX);
    wg_noise_handshake_write_initiation(&f.hs_i, eph, ts, sizeof(ts), f.initiation + 8);
    f.hs_i.local_index = FX_INIT_INDEX;
    wg_cookie_add_macs(&f.cookie_i, f.initiation, sizeof(f.initiation), 1);
    /* Transport keypair. */
    fx_key(f.kp.recv_key, 5);
    fx_key(f.kp.send_key, 6);
    f.kp.local_index = FX_DATA_INDEX;
    f.kp.remote_index = FX_DATA_INDEX;
    f.kp.birth_ns = 1;
    f.kp.valid = true;
    wg_replay_init(&f.kp.replay);
    ready = true;
    return &f;
}

/* R receives an initiation: mac1, consume, respond, begin the session. */
static inline int fx_run_initiation(const uint8_t *data, size_t size)
{
    struct fx f = *fx_pristine();
    struct wg_noise_handshake *hs;
    struct wg_keypair kp;
    uint8_t resp[WG_MSG_RESPONSE_SIZE];
    if (wg_msg_type(data, size) != WG_MSG_INITIATION)
        return -EBADMSG;
    if (wg_cookie_checker_validate(&f.checker_r, data, size, fx_source, sizeof(fx_source), true,
                                   2) == WG_COOKIE_MAC_INVALID)
        return -EPERM;
    int ret = wg_noise_handshake_consume_initiation(&f.resp, data, size, fx_lookup_r, &f,
                                                    WG_NSEC_PER_SEC, &hs);
    if (ret)
        return ret;
    if (wg_noise_handshake_create_response(hs, FX_RESP_INDEX, resp) != 0)
        return -EINVAL;
    return wg_noise_handshake_begin_session(hs, &kp, WG_NSEC_PER_SEC);
}

/* I receives a response to its initiation. */
static inline int fx_run_response(const uint8_t *data, size_t size)
{
    struct fx f = *fx_pristine();
    struct wg_msg_response m;
    struct wg_keypair kp;
    if (!wg_msg_response_parse(&m, data, size))
        return -EBADMSG;
    if (wg_cookie_checker_validate(&f.checker_i, data, size, fx_source, sizeof(fx_source), false,
                                   2) == WG_COOKIE_MAC_INVALID)
        return -EPERM;
    if (m.receiver_index != f.hs_i.local_index)
        return -ENOENT;
    int ret = wg_noise_handshake_consume_response(&f.hs_i, data, size);
    return ret ? ret : wg_noise_handshake_begin_session(&f.hs_i, &kp, 2);
}

/* I receives a cookie reply to its initiation, then sends the initiation again with mac2. */
static inline int fx_run_cookie_reply(const uint8_t *data, size_t size)
{
    struct fx f = *fx_pristine();
    struct wg_msg_cookie_reply m;
    if (!wg_msg_cookie_reply_parse(&m, data, size))
        return -EBADMSG;
    if (m.receiver_index != FX_INIT_INDEX)
        return -ENOENT;
    int ret = wg_cookie_consume_reply(&f.cookie_i, data, size, 2);
    if (ret)
        return ret;
    wg_cookie_add_macs(&f.cookie_i, f.initiation, sizeof(f.initiation), 3);
    return 0;
}

/* The keypair receives a data message and answers with the same payload. */
static inline int fx_run_data(const uint8_t *data, size_t size)
{
    struct fx f = *fx_pristine();
    static uint8_t plain[WG_MSG_DATA_MAX_SIZE], out[WG_MSG_DATA_MAX_SIZE];
    struct wg_msg_data m;
    size_t plen, olen;
    if (!wg_msg_data_parse(&m, data, size))
        return -EBADMSG;
    if (m.receiver_index != f.kp.local_index)
        return -ENOENT;
    int ret = wg_keypair_open(&f.kp, data, size, plain, sizeof(plain), &plen, NULL, 2);
    if (ret)
        return ret;
    return wg_keypair_seal(&f.kp, plain, plen, 1420, out, sizeof(out), &olen, 2);
}

/* A copy of a fuzzed handshake message with valid macs, so mutations also reach the Noise
 * consumer past the mac1 check. Returns false if it is not a handshake message size. */
static inline bool fx_remac(uint8_t *copy, const uint8_t *data, size_t size, bool to_responder)
{
    if (size != WG_MSG_INITIATION_SIZE && size != WG_MSG_RESPONSE_SIZE)
        return false;
    struct fx f = *fx_pristine();
    memcpy(copy, data, size);
    wg_cookie_add_macs(to_responder ? &f.cookie_i : &f.cookie_r, copy, size, 1);
    return true;
}

#endif
