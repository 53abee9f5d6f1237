/* Every limit and timer default of the post-quantum PSK exchange (docs/pq-exchange.md). */
#ifndef ZTNA_PQX_LIMITS_H
#define ZTNA_PQX_LIMITS_H

#define PQX_MSG_TYPE 0x10          /* first byte of every pqx datagram; WireGuard uses 1..4 */
#define PQX_VERSION 1
#define PQX_FRAG_HDR_LEN 20
#define PQX_FRAG_PAYLOAD_MAX 1200  /* UDP payload <= 1220, IPv6 packet <= 1268 < 1280 */
#define PQX_FRAG_COUNT_MAX 4
#define PQX_MSG_MAX 2048           /* largest reassembled body we accept */
#define PQX_REASM_SLOTS 2          /* messages in reassembly per peer */
#define PQX_REASM_TIMEOUT_MS 5000
#define PQX_HINT_LEN 8

#define PQX_ROTATE_MS 120000       /* designated initiator rotates after this */
#define PQX_FALLBACK_MS 150000     /* the other side initiates if no new PSK by then */
#define PQX_EXPIRE_MS 180000       /* a PSK older than this is replaced by a random one */
#define PQX_RETRANSMIT_MS 1000
#define PQX_RETRANSMIT_MAX 4       /* re-sends of INIT / RESP before the attempt fails */
#define PQX_BACKOFF_MIN_MS 1000
#define PQX_BACKOFF_MAX_MS 30000
#define PQX_INIT_MIN_INTERVAL_MS 200 /* new INITs per peer reaching the KEM */

#endif
