/* `ztna wireguard --filter FILE`: a compiled filter, in the JSON form the netmap carries
 * ({"entries": ["tcp 100.64.0.1/32 22", ...]}, common/filter/filter_json.c), enforced on packets
 * from the tunnel statefully, through the same gate as the daemon (common/filter/gate.h): replies
 * to flows this end opened pass, everything else needs an entry. Denials are logged every
 * WG_FILTER_LOG_MS per (source, protocol, destination port). On the kernel backend the same
 * entries go to an nftables table instead (wg_filter_opt_kernel_*). */
#ifndef ZTNA_AGENT_WG_FILTER_OPT_H
#define ZTNA_AGENT_WG_FILTER_OPT_H

struct wg_device;
struct wg_filter_opt;

#define WG_FILTER_LOG_MS     2000
#define WG_FILTER_LOG_LINES  8 /* denial lines per period; the rest are summed */

/* Reads and builds the filter in path. On failure prints "ztna wireguard: --filter PATH: why" to
 * stderr and returns -errno; *out is new (wg_filter_opt_free) on success. */
int wg_filter_opt_load(const char *path, struct wg_filter_opt **out);
/* Installs the packet hooks and the denial log timer on dev (before wg_device_run). The device
 * must be destroyed before wf is freed. Returns 0 or -errno. */
int wg_filter_opt_attach(struct wg_filter_opt *wf, struct wg_device *dev);
/* Kernel backend (no packet hooks there): the same entries as nftables table
 * WG_FILTER_NFT_PREFIX IFNAME on interface ifname (agent/kernel/nftfilter.h: replies to flows
 * this end opened pass, then the entries, else NFLOG and drop), its denials read from NFLOG group
 * WG_FILTER_NFLOG_BASE + the interface index and logged like the userspace ones. attach: 0 or
 * -errno (printed). fd: the NFLOG socket to poll (-1: none). tick: reads it, logs every
 * WG_FILTER_LOG_MS. detach: deletes the table. */
#define WG_FILTER_NFT_PREFIX NFTF_TABLE_WG_PREFIX /* agent/kernel/nftfilter.h */
#define WG_FILTER_NFLOG_BASE 8192
int wg_filter_opt_kernel_attach(struct wg_filter_opt *wf, const char *ifname);
int wg_filter_opt_kernel_fd(const struct wg_filter_opt *wf);
void wg_filter_opt_kernel_tick(struct wg_filter_opt *wf);
void wg_filter_opt_kernel_detach(struct wg_filter_opt *wf);
/* The number of entries loaded. */
unsigned long wg_filter_opt_entries(const struct wg_filter_opt *wf);
void wg_filter_opt_free(struct wg_filter_opt *wf);

#endif
