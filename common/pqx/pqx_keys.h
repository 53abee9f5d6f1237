/* Transcript hashes and key schedule of the pqx exchange (docs/pq-exchange.md, "Transcript and
 * keys"). All outputs are 32 bytes; callers wipe them. */
#ifndef ZTNA_PQX_KEYS_H
#define ZTNA_PQX_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PQX_LABEL "quickztna-pqx-v1"
#define PQX_PSK_INFO "quickztna-pqc-wg-psk-v1"
#define PQX_IKM_LEN (5 * 32) /* ee || es || se || ss || kem */

/* SHA-256("quickztna-pqx-hint-v1" || S_sender || S_receiver)[0:8]. */
void pqx_keys_hint(uint8_t out[static 8], const uint8_t s_sender[static 32],
                   const uint8_t s_receiver[static 32]);
/* TH1 = H(LABEL || S_I || S_R || init_prefix). */
void pqx_keys_th1(uint8_t th1[static 32], const uint8_t s_i[static 32], const uint8_t s_r[static 32],
                  const uint8_t *init_prefix, size_t len);
/* TH = H(TH1 || resp_prefix). */
void pqx_keys_th(uint8_t th[static 32], const uint8_t th1[static 32], const uint8_t *resp_prefix,
                 size_t len);
/* mac1 = HMAC(HKDF(TH1, ss || es, "quickztna-pqx-v1 init"), TH1). */
void pqx_keys_mac1(uint8_t mac[static 32], const uint8_t ss[static 32], const uint8_t es[static 32],
                   const uint8_t th1[static 32]);
/* mac2 = HMAC(HKDF(TH, IKM, "... resp"), TH). */
void pqx_keys_mac2(uint8_t mac[static 32], const uint8_t ikm[static PQX_IKM_LEN],
                   const uint8_t th[static 32]);
/* mac3 = HMAC(HKDF(TH, IKM, "... confirm"), TH || confirm_prefix[16]). */
void pqx_keys_mac3(uint8_t mac[static 32], const uint8_t ikm[static PQX_IKM_LEN],
                   const uint8_t th[static 32], const uint8_t confirm_prefix[static 16]);
/* PSK = HKDF(TH, IKM, "quickztna-pqc-wg-psk-v1"). */
void pqx_keys_psk(uint8_t psk[static 32], const uint8_t ikm[static PQX_IKM_LEN],
                  const uint8_t th[static 32]);
/* X25519 that fails (returns false, out zeroed) on an all-zero result (small-order point). */
bool pqx_keys_dh(uint8_t out[static 32], const uint8_t priv[static 32], const uint8_t pub[static 32]);

#endif
