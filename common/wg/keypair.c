/* Transport data messages (whitepaper 5.4.6): msg = type || receiver || counter ||
 * AEAD(T_send, counter, P || zero padding to 16, empty). */
#include "common/wg/keypair.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "common/crypto/chacha20poly1305.h"
#include "common/wg/messages.h"

void wg_keypair_clear(struct wg_keypair *kp)
{
    if (kp)
        sodium_memzero(kp, sizeof(*kp));
}

static bool age_reached(const struct wg_keypair *kp, uint64_t now_ns, uint64_t seconds)
{
    return now_ns >= kp->birth_ns && now_ns - kp->birth_ns >= seconds * WG_NSEC_PER_SEC;
}

size_t wg_keypair_padded_len(size_t plain_len, size_t mtu)
{
    size_t aligned = (plain_len + WG_MESSAGE_PADDING_MULTIPLE - 1) &
                     ~(size_t)(WG_MESSAGE_PADDING_MULTIPLE - 1);
    if (mtu == 0 || plain_len > mtu)
        return aligned;
    return aligned < mtu ? aligned : mtu;
}

size_t wg_keypair_sealed_len(size_t plain_len, size_t mtu)
{
    return WG_MSG_DATA_HEADER_SIZE + wg_keypair_padded_len(plain_len, mtu) + WG_AEAD_TAG_SIZE;
}

int wg_keypair_seal(struct wg_keypair *kp, const uint8_t *plain, size_t plain_len, size_t mtu,
                    uint8_t *out, size_t out_cap, size_t *out_len, uint64_t now_ns)
{
    uint8_t nonce[CHACHA20POLY1305_NONCE_SIZE];
    if (!kp->valid || plain_len > WG_MAX_PLAINTEXT_SIZE)
        return -EINVAL;
    if (kp->send_counter >= WG_REJECT_AFTER_MESSAGES || age_reached(kp, now_ns, WG_REJECT_AFTER_TIME))
        return -EKEYEXPIRED;
    size_t padded = wg_keypair_padded_len(plain_len, mtu);
    size_t total = WG_MSG_DATA_HEADER_SIZE + padded + WG_AEAD_TAG_SIZE;
    if (out_cap < total)
        return -ENOBUFS;

    uint64_t counter = kp->send_counter++;
    uint8_t *body = out + WG_MSG_DATA_HEADER_SIZE;
    if (plain_len && plain != body)
        memmove(body, plain, plain_len);
    memset(body + plain_len, 0, padded - plain_len);
    chacha20poly1305_nonce_from_counter(nonce, counter);
    chacha20poly1305_seal(body, body, padded, NULL, 0, nonce, kp->send_key);
    wg_msg_data_header_write(out, kp->remote_index, counter);
    *out_len = total;
    return 0;
}

int wg_keypair_open(struct wg_keypair *kp, const uint8_t *msg, size_t msg_len, uint8_t *plain,
                    size_t plain_cap, size_t *plain_len, uint64_t *counter_out, uint64_t now_ns)
{
    uint8_t nonce[CHACHA20POLY1305_NONCE_SIZE];
    struct wg_msg_data m;

    if (!wg_msg_data_parse(&m, msg, msg_len))
        return -EBADMSG;
    if (!kp->valid)
        return -EINVAL;
    if (kp->replay.next >= WG_REJECT_AFTER_MESSAGES || age_reached(kp, now_ns, WG_REJECT_AFTER_TIME))
        return -EKEYEXPIRED;
    /* Cheap drop of duplicates and old counters before spending time on the AEAD. */
    if (!wg_replay_check(&kp->replay, m.counter))
        return -ESTALE;
    size_t len = m.ciphertext_len - WG_AEAD_TAG_SIZE;
    if (plain_cap < len)
        return -ENOBUFS;
    chacha20poly1305_nonce_from_counter(nonce, m.counter);
    if (chacha20poly1305_open(plain, m.ciphertext, m.ciphertext_len, NULL, 0, nonce,
                              kp->recv_key) != 0)
        return -EBADMSG;
    /* Authenticated: only now may the counter move the window. */
    if (!wg_replay_update(&kp->replay, m.counter)) {
        sodium_memzero(plain, len);
        return -ESTALE;
    }
    *plain_len = len;
    if (counter_out)
        *counter_out = m.counter;
    return 0;
}

bool wg_keypair_needs_rekey_on_send(const struct wg_keypair *kp, uint64_t now_ns)
{
    return kp->valid && (kp->send_counter > WG_REKEY_AFTER_MESSAGES ||
                         (kp->is_initiator && age_reached(kp, now_ns, WG_REKEY_AFTER_TIME)));
}

bool wg_keypair_needs_rekey_on_recv(const struct wg_keypair *kp, uint64_t now_ns)
{
    return kp->valid && kp->is_initiator &&
           age_reached(kp, now_ns,
                       WG_REJECT_AFTER_TIME - WG_KEEPALIVE_TIMEOUT - WG_REKEY_TIMEOUT);
}

bool wg_keypair_is_expired(const struct wg_keypair *kp, uint64_t now_ns)
{
    return !kp->valid || kp->send_counter >= WG_REJECT_AFTER_MESSAGES ||
           age_reached(kp, now_ns, WG_REJECT_AFTER_TIME);
}
