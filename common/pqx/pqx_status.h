/* States, errors and the status snapshot of a pqx peer (docs/pq-exchange.md, "No silent
 * downgrade"), shared by the state machine and whoever reports it. */
#ifndef ZTNA_PQX_STATUS_H
#define ZTNA_PQX_STATUS_H

#include <stdbool.h>
#include <stdint.h>

enum pqx_exch_state { PQX_EXCH_IDLE = 0, PQX_EXCH_INIT_SENT, PQX_EXCH_RESP_SENT };

enum pqx_psk_state {
    PQX_PSK_NONE = 0,  /* a random PSK is installed and the peer is blocked */
    PQX_PSK_PQ,        /* a PSK from a completed exchange is installed */
    PQX_PSK_CLASSICAL, /* explicit classical-only: all-zero PSK, peer unblocked */
};

enum pqx_error {
    PQX_ERR_NONE = 0,
    PQX_ERR_TIMEOUT,
    PQX_ERR_BAD_MAC,
    PQX_ERR_STALE_EPOCH,
    PQX_ERR_BAD_MESSAGE,
    PQX_ERR_WRONG_PAIR,
    PQX_ERR_KEM_FAILURE,
    PQX_ERR_WEAK_KEY,
    PQX_ERR_UNEXPECTED, /* a RESP/CONFIRM that matches no exchange in progress */
    PQX_ERR_RATE_LIMITED,
    PQX_ERR_EXPIRED,
};

struct pqx_status {
    enum pqx_exch_state exch;
    enum pqx_psk_state psk;
    enum pqx_error last_error;
    enum pqx_error rx_error; /* why the last rejected incoming message was rejected (bad-mac for a
                                rewritten one), kept when our own attempt then times out; none
                                after a completed exchange */
    bool blocked, classical_only, designated;
    uint64_t epoch;          /* epoch of the installed PQ PSK, 0 if none */
    uint64_t installed_ms;   /* monotonic time of the last rotation (PQ install), 0 if none */
    unsigned failures;       /* consecutive failed attempts */
    uint64_t exchanges;      /* completed exchanges */
    uint64_t next_exchange_ms; /* monotonic time of the next attempt (retry after a failure,
                                  rotation, first try); 0 while one runs or if classical-only */
};

/* Static strings for status output. */
const char *pqx_error_name(enum pqx_error e);
const char *pqx_exch_state_name(enum pqx_exch_state s);
const char *pqx_psk_state_name(enum pqx_psk_state s);

#endif
