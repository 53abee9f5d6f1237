/* Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s, WireGuard's handshake (whitepaper 5.4.2-5.4.4):
 *
 *   IKpsk2:
 *     <- s
 *     ...
 *     -> e, es, s, ss          initiation, payload = TAI64N timestamp
 *     <- e, ee, se, psk        response, payload = empty
 *
 * Symbols follow the whitepaper: C = chaining key, H = hash, kappa = AEAD key. Because the
 * pattern has a psk modifier, every "e" token also mixes the ephemeral public key into C
 * (Noise section 9.2), which is WireGuard's C = KDF1(C, E_pub). Every step works on local copies
 * of C and H and commits to the handshake only when the whole message succeeded. */
#include "common/wg/noise.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "common/crypto/blake2s.h"
#include "common/crypto/chacha20poly1305.h"
#include "common/crypto/x25519.h"
#include "common/wg/keypair.h"
#include "common/wg/messages.h"

static const uint8_t zero_nonce[CHACHA20POLY1305_NONCE_SIZE];

/* MixHash: H = HASH(H || data). */
static void mix_hash(uint8_t h[static 32], const uint8_t *data, size_t len)
{
    struct blake2s_state s;
    blake2s_init(&s, 32, NULL, 0);
    blake2s_update(&s, h, 32);
    blake2s_update(&s, data, len);
    blake2s_final(&s, h);
}

/* MixDH: (C, kappa) = KDF2(C, DH(priv, pub)); kappa may be NULL (KDF1). False on a low-order
 * public key. */
static bool mix_dh(uint8_t ck[static 32], uint8_t *key, const uint8_t priv[static 32],
                   const uint8_t pub[static 32])
{
    uint8_t dh[32];
    bool ok = x25519_shared(dh, priv, pub) == 0;
    if (ok)
        blake2s_kdf(ck, key, NULL, ck, dh, sizeof(dh));
    sodium_memzero(dh, sizeof(dh));
    return ok;
}

/* The "e" token (psk variant): H = HASH(H || E_pub); C = KDF1(C, E_pub). */
static void mix_ephemeral(uint8_t ck[static 32], uint8_t h[static 32], const uint8_t e_pub[32])
{
    mix_hash(h, e_pub, 32);
    blake2s_kdf(ck, NULL, NULL, ck, e_pub, 32);
}

/* EncryptAndHash with nonce 0 (every key in the handshake is used once): dst = AEAD(kappa, 0,
 * src, H); H = HASH(H || dst). */
static void encrypt_and_hash(uint8_t *dst, const uint8_t *src, size_t len,
                             const uint8_t key[static 32], uint8_t h[static 32])
{
    chacha20poly1305_seal(dst, src, len, h, 32, zero_nonce, key);
    mix_hash(h, dst, len + WG_AEAD_TAG_SIZE);
}

/* DecryptAndHash: the inverse; H is only updated on success. */
static bool decrypt_and_hash(uint8_t *dst, const uint8_t *src, size_t src_len,
                             const uint8_t key[static 32], uint8_t h[static 32])
{
    if (chacha20poly1305_open(dst, src, src_len, h, 32, zero_nonce, key) != 0)
        return false;
    mix_hash(h, src, src_len);
    return true;
}

void wg_noise_protocol_init(struct wg_noise_protocol *p, const uint8_t *construction,
                            size_t construction_len, const uint8_t *identifier,
                            size_t identifier_len)
{
    /* InitializeSymmetric: the name is longer than 32 bytes, so h = HASH(name); ck = h. */
    blake2s_hash(p->initial_chaining_key, 32, construction, construction_len, NULL, 0);
    memcpy(p->initial_hash, p->initial_chaining_key, 32);
    /* MixHash(prologue). */
    mix_hash(p->initial_hash, identifier, identifier_len);
}

void wg_noise_protocol_init_wireguard(struct wg_noise_protocol *p)
{
    wg_noise_protocol_init(p, (const uint8_t *)WG_NOISE_CONSTRUCTION,
                           strlen(WG_NOISE_CONSTRUCTION), (const uint8_t *)WG_NOISE_IDENTIFIER,
                           strlen(WG_NOISE_IDENTIFIER));
}

int wg_noise_identity_init(struct wg_noise_identity *id, const uint8_t *private_key)
{
    wg_noise_protocol_init_wireguard(&id->protocol);
    sodium_memzero(id->private_key, sizeof(id->private_key));
    memset(id->public_key, 0, sizeof(id->public_key));
    id->has_identity = false;
    if (!private_key)
        return 0;
    memcpy(id->private_key, private_key, 32);
    id->private_key[0] &= 248;
    id->private_key[31] = (uint8_t)((id->private_key[31] & 127) | 64);
    if (x25519_public_from_private(id->public_key, id->private_key) != 0) {
        sodium_memzero(id->private_key, sizeof(id->private_key));
        return -EINVAL;
    }
    id->has_identity = true;
    return 0;
}

void wg_noise_identity_clear(struct wg_noise_identity *id)
{
    sodium_memzero(id, sizeof(*id));
}

void wg_noise_handshake_init(struct wg_noise_handshake *hs, const struct wg_noise_identity *id,
                             const uint8_t remote_static[static WG_KEY_SIZE], const uint8_t *psk)
{
    sodium_memzero(hs, sizeof(*hs));
    hs->identity = id;
    memcpy(hs->remote_static, remote_static, 32);
    wg_noise_handshake_set_psk(hs, psk);
    hs->static_static_ok =
        id->has_identity &&
        x25519_shared(hs->precomputed_static_static, id->private_key, remote_static) == 0;
}

void wg_noise_handshake_refresh_identity(struct wg_noise_handshake *hs)
{
    const struct wg_noise_identity *id = hs->identity;
    wg_noise_handshake_clear(hs);
    hs->static_static_ok =
        id && id->has_identity &&
        x25519_shared(hs->precomputed_static_static, id->private_key, hs->remote_static) == 0;
    if (!hs->static_static_ok)
        sodium_memzero(hs->precomputed_static_static, 32);
}

void wg_noise_handshake_set_psk(struct wg_noise_handshake *hs, const uint8_t *psk)
{
    if (psk)
        memcpy(hs->preshared_key, psk, 32);
    else
        sodium_memzero(hs->preshared_key, 32);
}

void wg_noise_handshake_clear(struct wg_noise_handshake *hs)
{
    sodium_memzero(hs->ephemeral_private, 32);
    sodium_memzero(hs->remote_ephemeral, 32);
    sodium_memzero(hs->hash, 32);
    sodium_memzero(hs->chaining_key, 32);
    hs->remote_index = 0;
    hs->state = WG_HANDSHAKE_ZEROED;
}

void wg_tai64n_from_unix_ns(uint8_t out[static WG_TIMESTAMP_SIZE], uint64_t unix_ns)
{
    /* 2^62 + 10 is TAI64's label for the Unix epoch (as the reference implementations use). */
    uint64_t sec = 0x400000000000000aULL + unix_ns / WG_NSEC_PER_SEC;
    /* Largest power of two <= 1e9 / 50 = 2^24. */
    uint32_t nsec = (uint32_t)(unix_ns % WG_NSEC_PER_SEC) & ~((1U << 24) - 1);
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(sec >> (56 - 8 * i));
    for (int i = 0; i < 4; i++)
        out[8 + i] = (uint8_t)(nsec >> (24 - 8 * i));
}

/* --- Generic message bodies --------------------------------------------------------------- */

static int ephemeral_make(uint8_t priv[32], uint8_t pub[32], const uint8_t *given)
{
    if (given)
        memcpy(priv, given, 32);
    else
        x25519_private_generate(priv);
    return x25519_public_from_private(pub, priv);
}

int wg_noise_handshake_write_initiation(struct wg_noise_handshake *hs,
                                        const uint8_t *ephemeral_private, const uint8_t *payload,
                                        size_t payload_len, uint8_t *out)
{
    const struct wg_noise_identity *id = hs->identity;
    uint8_t ck[32], h[32], key[32], e_priv[32];
    int ret = -EINVAL;

    if (!id || !id->has_identity || !hs->static_static_ok)
        return -EINVAL;
    memcpy(ck, id->protocol.initial_chaining_key, 32);
    memcpy(h, id->protocol.initial_hash, 32);
    /* <- s (pre-message): H = HASH(H || S_pub_r). */
    mix_hash(h, hs->remote_static, 32);
    /* -> e: E_pub_i in clear, mixed into H and C. */
    if (ephemeral_make(e_priv, out, ephemeral_private) != 0)
        goto out;
    mix_ephemeral(ck, h, out);
    /* es: (C, kappa) = KDF2(C, DH(E_priv_i, S_pub_r)). */
    if (!mix_dh(ck, key, e_priv, hs->remote_static))
        goto out;
    /* s: encrypted static = AEAD(kappa, 0, S_pub_i, H). */
    encrypt_and_hash(out + 32, id->public_key, 32, key, h);
    /* ss: (C, kappa) = KDF2(C, DH(S_priv_i, S_pub_r)), precomputed. */
    blake2s_kdf(ck, key, NULL, ck, hs->precomputed_static_static, 32);
    /* payload (WireGuard: the TAI64N timestamp) = AEAD(kappa, 0, payload, H). */
    encrypt_and_hash(out + 80, payload, payload_len, key, h);

    memcpy(hs->ephemeral_private, e_priv, 32);
    memcpy(hs->chaining_key, ck, 32);
    memcpy(hs->hash, h, 32);
    hs->state = WG_HANDSHAKE_CREATED_INITIATION;
    ret = 0;
out:
    sodium_memzero(ck, sizeof(ck));
    sodium_memzero(key, sizeof(key));
    sodium_memzero(e_priv, sizeof(e_priv));
    sodium_memzero(h, sizeof(h));
    return ret;
}

void wg_noise_initiation_read_wipe(struct wg_noise_initiation_read *r)
{
    sodium_memzero(r, sizeof(*r));
}

int wg_noise_handshake_read_initiation(const struct wg_noise_identity *id, const uint8_t *in,
                                       size_t in_len, wg_noise_peer_lookup_fn lookup, void *ctx,
                                       uint8_t *payload_out, struct wg_noise_initiation_read *r)
{
    uint8_t ck[32], h[32], key[32], s[32];
    struct wg_noise_handshake *hs;
    int ret = -EINVAL;

    memset(r, 0, sizeof(*r));
    if (!id || !id->has_identity)
        return -EINVAL;
    if (in_len < WG_NOISE_INITIATION_BODY_SIZE(0))
        return -EBADMSG;
    memcpy(ck, id->protocol.initial_chaining_key, 32);
    memcpy(h, id->protocol.initial_hash, 32);
    /* <- s (pre-message): H = HASH(H || S_pub_r), our own key. */
    mix_hash(h, id->public_key, 32);
    /* -> e */
    mix_ephemeral(ck, h, in);
    /* es: DH(S_priv_r, E_pub_i). */
    ret = -EBADMSG;
    if (!mix_dh(ck, key, id->private_key, in))
        goto out;
    /* s: decrypt the initiator's static key, then find whose it is. */
    if (!decrypt_and_hash(s, in + 32, 48, key, h))
        goto out;
    hs = lookup(ctx, s);
    if (!hs) {
        ret = -ENOENT;
        goto out;
    }
    if (!hs->static_static_ok) {
        ret = -EINVAL;
        goto out;
    }
    /* ss */
    blake2s_kdf(ck, key, NULL, ck, hs->precomputed_static_static, 32);
    /* payload */
    if (!decrypt_and_hash(payload_out, in + 80, in_len - 80, key, h))
        goto out;

    r->hs = hs;
    memcpy(r->remote_ephemeral, in, 32);
    memcpy(r->hash, h, 32);
    memcpy(r->chaining_key, ck, 32);
    ret = 0;
out:
    sodium_memzero(ck, sizeof(ck));
    sodium_memzero(h, sizeof(h));
    sodium_memzero(key, sizeof(key));
    sodium_memzero(s, sizeof(s));
    return ret;
}

void wg_noise_handshake_commit_initiation(struct wg_noise_initiation_read *r,
                                          uint32_t remote_index)
{
    struct wg_noise_handshake *hs = r->hs;
    sodium_memzero(hs->ephemeral_private, 32);
    memcpy(hs->remote_ephemeral, r->remote_ephemeral, 32);
    memcpy(hs->hash, r->hash, 32);
    memcpy(hs->chaining_key, r->chaining_key, 32);
    hs->remote_index = remote_index;
    hs->state = WG_HANDSHAKE_CONSUMED_INITIATION;
    wg_noise_initiation_read_wipe(r);
}

int wg_noise_handshake_write_response(struct wg_noise_handshake *hs,
                                      const uint8_t *ephemeral_private, const uint8_t *payload,
                                      size_t payload_len, uint8_t *out)
{
    uint8_t ck[32], h[32], key[32], tau[32], e_priv[32];
    int ret = -EINVAL;

    if (hs->state != WG_HANDSHAKE_CONSUMED_INITIATION)
        return -EINVAL;
    memcpy(ck, hs->chaining_key, 32);
    memcpy(h, hs->hash, 32);
    /* <- e */
    if (ephemeral_make(e_priv, out, ephemeral_private) != 0)
        goto out;
    mix_ephemeral(ck, h, out);
    /* ee: C = KDF1(C, DH(E_priv_r, E_pub_i)). */
    if (!mix_dh(ck, NULL, e_priv, hs->remote_ephemeral))
        goto out;
    /* se: C = KDF1(C, DH(E_priv_r, S_pub_i)). */
    if (!mix_dh(ck, NULL, e_priv, hs->remote_static))
        goto out;
    /* psk: (C, tau, kappa) = KDF3(C, Q); H = HASH(H || tau). */
    blake2s_kdf(ck, tau, key, ck, hs->preshared_key, 32);
    mix_hash(h, tau, 32);
    /* payload (WireGuard: empty) */
    encrypt_and_hash(out + 32, payload, payload_len, key, h);

    memcpy(hs->ephemeral_private, e_priv, 32);
    memcpy(hs->chaining_key, ck, 32);
    memcpy(hs->hash, h, 32);
    hs->state = WG_HANDSHAKE_CREATED_RESPONSE;
    ret = 0;
out:
    sodium_memzero(ck, sizeof(ck));
    sodium_memzero(h, sizeof(h));
    sodium_memzero(key, sizeof(key));
    sodium_memzero(tau, sizeof(tau));
    sodium_memzero(e_priv, sizeof(e_priv));
    return ret;
}

int wg_noise_handshake_read_response(struct wg_noise_handshake *hs, const uint8_t *in,
                                     size_t in_len, uint8_t *payload_out)
{
    const struct wg_noise_identity *id = hs->identity;
    uint8_t ck[32], h[32], key[32], tau[32];
    int ret = -EINVAL;

    if (hs->state != WG_HANDSHAKE_CREATED_INITIATION || !id || !id->has_identity)
        return -EINVAL;
    if (in_len < WG_NOISE_RESPONSE_BODY_SIZE(0))
        return -EBADMSG;
    memcpy(ck, hs->chaining_key, 32);
    memcpy(h, hs->hash, 32);
    ret = -EBADMSG;
    /* <- e */
    mix_ephemeral(ck, h, in);
    /* ee: DH(E_priv_i, E_pub_r) */
    if (!mix_dh(ck, NULL, hs->ephemeral_private, in))
        goto out;
    /* se: DH(S_priv_i, E_pub_r) */
    if (!mix_dh(ck, NULL, id->private_key, in))
        goto out;
    /* psk */
    blake2s_kdf(ck, tau, key, ck, hs->preshared_key, 32);
    mix_hash(h, tau, 32);
    /* payload */
    if (!decrypt_and_hash(payload_out, in + 32, in_len - 32, key, h))
        goto out;

    memcpy(hs->remote_ephemeral, in, 32);
    memcpy(hs->chaining_key, ck, 32);
    memcpy(hs->hash, h, 32);
    hs->state = WG_HANDSHAKE_CONSUMED_RESPONSE;
    ret = 0;
out:
    sodium_memzero(ck, sizeof(ck));
    sodium_memzero(h, sizeof(h));
    sodium_memzero(key, sizeof(key));
    sodium_memzero(tau, sizeof(tau));
    return ret;
}

/* --- WireGuard messages ------------------------------------------------------------------- */

int wg_noise_handshake_create_initiation(struct wg_noise_handshake *hs, uint32_t local_index,
                                         const uint8_t timestamp[static WG_TIMESTAMP_SIZE],
                                         uint8_t out[static WG_MSG_INITIATION_SIZE])
{
    memset(out, 0, WG_MSG_INITIATION_SIZE);
    int ret = wg_noise_handshake_write_initiation(hs, NULL, timestamp, WG_TIMESTAMP_SIZE, out + 8);
    if (ret) {
        memset(out, 0, WG_MSG_INITIATION_SIZE);
        return ret;
    }
    wg_put_le32(out, WG_MSG_INITIATION);
    wg_put_le32(out + 4, local_index);
    hs->local_index = local_index;
    return 0;
}

int wg_noise_handshake_consume_initiation(const struct wg_noise_identity *id, const uint8_t *msg,
                                          size_t len, wg_noise_peer_lookup_fn lookup, void *ctx,
                                          uint64_t now_ns, struct wg_noise_handshake **out)
{
    struct wg_msg_initiation m;
    struct wg_noise_initiation_read r;
    uint8_t timestamp[WG_TIMESTAMP_SIZE];
    int ret;

    *out = NULL;
    if (!wg_msg_initiation_parse(&m, msg, len))
        return -EBADMSG;
    /* The body (ephemeral, static, timestamp) is contiguous at offset 8. */
    ret = wg_noise_handshake_read_initiation(id, msg + 8, WG_NOISE_INITIATION_BODY_SIZE(12),
                                             lookup, ctx, timestamp, &r);
    if (ret)
        goto out;
    struct wg_noise_handshake *hs = r.hs;
    /* Replay: the TAI64N must be greater than the greatest one accepted (big-endian compare). */
    if (memcmp(timestamp, hs->latest_timestamp, WG_TIMESTAMP_SIZE) <= 0) {
        ret = -ESTALE;
        goto out;
    }
    /* Flood: at most WG_INITIATIONS_PER_SECOND accepted initiations per peer. */
    if (hs->last_initiation_consumption_ns &&
        now_ns < hs->last_initiation_consumption_ns + WG_NSEC_PER_SEC / WG_INITIATIONS_PER_SECOND) {
        ret = -EBUSY;
        goto out;
    }
    memcpy(hs->latest_timestamp, timestamp, WG_TIMESTAMP_SIZE);
    hs->last_initiation_consumption_ns = now_ns;
    wg_noise_handshake_commit_initiation(&r, m.sender_index);
    *out = hs;
out:
    wg_noise_initiation_read_wipe(&r);
    sodium_memzero(&m, sizeof(m));
    return ret;
}

int wg_noise_handshake_create_response(struct wg_noise_handshake *hs, uint32_t local_index,
                                       uint8_t out[static WG_MSG_RESPONSE_SIZE])
{
    memset(out, 0, WG_MSG_RESPONSE_SIZE);
    int ret = wg_noise_handshake_write_response(hs, NULL, NULL, 0, out + 12);
    if (ret) {
        memset(out, 0, WG_MSG_RESPONSE_SIZE);
        return ret;
    }
    wg_put_le32(out, WG_MSG_RESPONSE);
    wg_put_le32(out + 4, local_index);
    wg_put_le32(out + 8, hs->remote_index);
    hs->local_index = local_index;
    return 0;
}

int wg_noise_handshake_consume_response(struct wg_noise_handshake *hs, const uint8_t *msg,
                                        size_t len)
{
    struct wg_msg_response m;
    if (!wg_msg_response_parse(&m, msg, len))
        return -EBADMSG;
    if (hs->state != WG_HANDSHAKE_CREATED_INITIATION)
        return -EINVAL;
    if (m.receiver_index != hs->local_index)
        return -EBADMSG;
    int ret = wg_noise_handshake_read_response(hs, msg + 12, WG_NOISE_RESPONSE_BODY_SIZE(0), NULL);
    if (ret == 0)
        hs->remote_index = m.sender_index;
    return ret;
}

int wg_noise_handshake_begin_session(struct wg_noise_handshake *hs, struct wg_keypair *kp,
                                     uint64_t now_ns)
{
    bool initiator;
    if (hs->state == WG_HANDSHAKE_CONSUMED_RESPONSE)
        initiator = true;
    else if (hs->state == WG_HANDSHAKE_CREATED_RESPONSE)
        initiator = false;
    else
        return -EINVAL;

    wg_keypair_clear(kp);
    /* Split: (T_i->r, T_r->i) = KDF2(C, empty). */
    if (initiator)
        blake2s_kdf(kp->send_key, kp->recv_key, NULL, hs->chaining_key, NULL, 0);
    else
        blake2s_kdf(kp->recv_key, kp->send_key, NULL, hs->chaining_key, NULL, 0);
    kp->send_counter = 0;
    wg_replay_init(&kp->replay);
    kp->birth_ns = now_ns;
    kp->local_index = hs->local_index;
    kp->remote_index = hs->remote_index;
    kp->is_initiator = initiator;
    kp->valid = true;
    wg_noise_handshake_clear(hs);
    return 0;
}
