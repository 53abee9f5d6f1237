/* An independent netlink checker for the kernel-backend tests: walks a WG_CMD_SET_DEVICE message
 * by hand (no libmnl, no agent/kernel code) against the linux/wireguard.h attribute layout,
 * checking lengths, nesting, NLA_F_NESTED flags and 4-byte alignment, and records what it saw. */
#ifndef ZTNA_TESTS_KERNEL_NLCHECK_H
#define ZTNA_TESTS_KERNEL_NLCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/wg_model.h"

struct seen_peer {
    uint8_t key[32];
    uint32_t flags;        /* WGPEER_F_* */
    bool has_psk, has_endpoint, has_keepalive;
    size_t first_aip, n_aip; /* range into seen.aips */
};

struct seen {
    size_t n_msgs;
    size_t max_len;
    size_t n_device_attr_msgs; /* messages carrying private key / port / fwmark / flags */
    uint32_t device_flags;
    bool first_has_device_attrs;
    struct seen_peer *peers; /* every peer chunk, in order */
    size_t n_peers, cap_peers;
    struct wg_allowedip *aips;
    size_t n_aips, cap_aips;
    char errors[512];        /* first violations, for the failure message */
    int n_errors;
};

/* Walks one message of len bytes built for a buffer of buf_size; appends to s. */
void nlcheck_set_message(struct seen *s, const uint8_t *msg, size_t len, size_t buf_size,
                         uint16_t family);
void nlcheck_free(struct seen *s);

#endif
