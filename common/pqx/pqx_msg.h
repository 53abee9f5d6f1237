/* Wire format of the pqx exchange: the fragment header and the three message bodies
 * (docs/pq-exchange.md, "Messages"). Parsers take untrusted bytes and fill typed structs;
 * pointers in parsed structs borrow the input buffer. */
#ifndef ZTNA_PQX_MSG_H
#define ZTNA_PQX_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/mlkem/mlkem768.h"
#include "common/pqx/pqx_limits.h"

enum pqx_kind { PQX_KIND_INIT = 1, PQX_KIND_RESP = 2, PQX_KIND_CONFIRM = 3 };

#define PQX_MAC_LEN 32
#define PQX_INIT_LEN (4 + 8 + 32 + MLKEM768_EK_BYTES + PQX_MAC_LEN)   /* 1260 */
#define PQX_RESP_LEN (4 + 4 + 8 + 32 + MLKEM768_CT_BYTES + PQX_MAC_LEN) /* 1168 */
#define PQX_CONFIRM_LEN (4 + 4 + 8 + PQX_MAC_LEN)                      /* 48 */

struct pqx_frag {
    uint8_t kind, index, count;
    uint16_t total_len;
    uint32_t msg_id;
    uint8_t hint[PQX_HINT_LEN];
    const uint8_t *payload; /* borrowed from the datagram */
    size_t payload_len;
};

struct pqx_init {
    uint32_t sender_index;
    uint64_t epoch;
    const uint8_t *eph;   /* 32, borrowed */
    const uint8_t *ek;    /* MLKEM768_EK_BYTES, borrowed */
    const uint8_t *mac;   /* PQX_MAC_LEN, borrowed */
};

struct pqx_resp {
    uint32_t sender_index, receiver_index;
    uint64_t epoch;
    const uint8_t *eph;   /* 32 */
    const uint8_t *ct;    /* MLKEM768_CT_BYTES */
    const uint8_t *mac;
};

struct pqx_confirm {
    uint32_t receiver_index, sender_index;
    uint64_t epoch;
    const uint8_t *mac;
};

/* Parses one datagram's fragment header and checks it is self-consistent (type, version,
 * reserved byte, index < count <= max, total_len <= max, payload length matches its position). */
bool pqx_frag_parse(struct pqx_frag *f, const uint8_t *buf, size_t len);
/* Writes fragment `index` of a body of `total_len` bytes into out (>= PQX_FRAG_HDR_LEN +
 * PQX_FRAG_PAYLOAD_MAX). Returns the datagram length, or 0 if index is out of range. */
size_t pqx_frag_build(uint8_t *out, uint8_t kind, uint32_t msg_id, const uint8_t hint[static 8],
                      const uint8_t *body, size_t total_len, uint8_t index);
/* Number of fragments for a body of len bytes (0 if it is too long). */
uint8_t pqx_frag_count(size_t len);

/* Body parsers: exact lengths, nothing trailing. */
bool pqx_init_parse(struct pqx_init *m, const uint8_t *buf, size_t len);
bool pqx_resp_parse(struct pqx_resp *m, const uint8_t *buf, size_t len);
bool pqx_confirm_parse(struct pqx_confirm *m, const uint8_t *buf, size_t len);

/* Big-endian writers used by the encoders. */
void pqx_put_be32(uint8_t *p, uint32_t v);
void pqx_put_be64(uint8_t *p, uint64_t v);

#endif
