/* The generic-netlink message layer of the kernel WireGuard backend, with no I/O, so that tests
 * and fuzzers can build and parse messages without a kernel (linux/wireguard.h layout).
 * SET: a wg_device_config becomes one or more WG_CMD_SET_DEVICE messages, split like
 * wireguard-tools' ipc-linux.h when one fills up: device attributes and WGDEVICE_F_REPLACE_PEERS
 * only in the first message; a peer cut between messages is repeated by public key and carries
 * WGPEER_F_REPLACE_ALLOWEDIPS (and its PSK, endpoint, keepalive) only in its first chunk.
 * GET: the parts of a WG_CMD_GET_DEVICE dump are parsed through a bounds-checked walk into a
 * wg_device_config; consecutive peer entries with the same public key are merged. */
#ifndef ZTNA_AGENT_KERNEL_WGNL_H
#define ZTNA_AGENT_KERNEL_WGNL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/wg_model.h"

#define WGNL_MSG_MAX 8192           /* one SET message (MNL_SOCKET_BUFFER_SIZE on 4 KiB pages) */
#define WGNL_MSG_MIN 128            /* smallest buffer wgnl_set_build accepts (tests use it) */
#define WGNL_RECV_MAX 32768         /* receive buffer for dump parts and acks */
#define WGNL_RECV_TIMEOUT_S 5       /* per receive on the netlink socket */
#define WGNL_RECV_MAX_READS 1024    /* reads while waiting for one ack */
#define WGNL_GET_ATTEMPTS 8         /* dumps restarted after NLM_F_DUMP_INTR */
#define WGNL_MAX_PEERS 65536        /* parse limits, checked before growing */
#define WGNL_MAX_ALLOWEDIPS 65536   /* per peer */

/* Called once per built message (a complete nlmsghdr of nlmsg_len bytes, borrowed until the
 * callback returns). Returns 0 to continue, or -errno to stop building and return it. */
typedef int (*wgnl_emit_fn)(void *ctx, const void *msg, size_t len);

/* Builds every SET message for cfg into a buffer of buf_size bytes (WGNL_MSG_MIN..WGNL_MSG_MAX)
 * and emits them in order. family is the resolved generic-netlink family id; seq the first
 * sequence number (incremented per message). Returns 0, -EINVAL for a bad config (empty ifname, bad family or
 * prefix), -EMSGSIZE if a single peer entry cannot fit a message, or the callback's error. */
int wgnl_set_build(const struct wg_device_config *cfg, uint16_t family, uint32_t seq,
                   size_t buf_size, wgnl_emit_fn emit, void *ctx);

/* Builds the GET dump request for ifname. Returns the message length, or -EINVAL. */
int wgnl_get_request_build(void *buf, size_t buf_size, const char *ifname, uint16_t family,
                           uint32_t seq);

/* Parses one received buffer of netlink messages (any mix of dump parts, NLMSG_DONE, NLMSG_ERROR)
 * into cfg (which must start zeroed, and is extended part by part). Sets *done on NLMSG_DONE.
 * Returns 0, -EBADMSG on malformed input, -E2BIG past the limits, -ENOMEM, -EINTR when the
 * kernel flags the dump inconsistent (NLM_F_DUMP_INTR), or the negated error of an NLMSG_ERROR. On error cfg stays valid for wg_device_config_free() contents. */
int wgnl_get_reply_parse(struct wg_device_config *cfg, const void *buf, size_t len,
                         uint16_t family, bool *done);

#endif
