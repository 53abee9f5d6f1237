/* Enforcement of the compiled filter (common/filter) in the kernel backend, where packets from
 * the kernel WireGuard link never reach the daemon: the same semantics as common/filter/matcher
 * programmed into an nftables table over netlink (libmnl; no libnftnl, no `nft` binary), and an
 * NFLOG listener that turns the kernel's denials into the same per (source, protocol,
 * destination port) counters. The table is owned by the daemon: each apply replaces it whole.
 * The ruleset is described in docs/agent.md ("Kernel backend: the packet filter"). */
#ifndef ZTNA_AGENT_KERNEL_NFTFILTER_H
#define ZTNA_AGENT_KERNEL_NFTFILTER_H

#include <stddef.h>
#include <stdint.h>

#include "common/filter/matcher.h"

/* The tables the agent owns (family inet): the daemon's kernel backend, and `ztna wireguard
 * --filter --backend kernel`'s one per interface (prefix + interface name). Posture's firewall
 * check skips them: they filter only the tunnel. */
#define NFTF_TABLE_DAEMON    "ztna"
#define NFTF_TABLE_WG_PREFIX "ztna_wg_"

/* Replaces table `inet <table>` atomically (one NFNL batch: delete-if-exists + create): a chain on
 * hook input (and forward) that, for packets whose iifname == ifname: accepts replies of flows this
 * node opened (ct state established,related AND ct direction reply), accepts what the entries allow
 * (source prefix x protocol x destination port range; ICMP/ICMPv6 entries ignore ports; proto any
 * = every protocol), and otherwise logs to NFLOG group nflog_group and drops. Other interfaces are
 * untouched. 0, -EINVAL (bad name or entry), -E2BIG (past NFTF_MAX_ELEMS), or the kernel's -errno
 * (the first failing message is logged with the kernel's reason). */
int nft_filter_apply(const char *table, const char *ifname, const struct filter_entry *e, size_t n,
                     uint16_t nflog_group);
int nft_filter_delete(const char *table); /* 0, or -errno; -ENOENT is fine to ignore */

/* NFLOG listener for the denials: fd to poll (non-blocking netlink socket bound to the group).
 * -errno on failure (-EPERM: another socket holds the group). Close with nft_denials_close(). */
int nft_denials_open(uint16_t group);
/* Reads every pending NFLOG message, parses the packet header (filter_packet_parse), and adds to
 * out[0..*n) by (family, proto, src, dport) up to max slots; the rest counted in *other (also
 * packets that do not parse). 0 or -errno (never -EAGAIN). */
int nft_denials_read(int fd, struct filter_deny_count *out, size_t max, size_t *n, uint64_t *other);
void nft_denials_close(int fd);

#endif
