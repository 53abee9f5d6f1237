/* Device posture on Linux, as sent in every heartbeat ({"posture": <this object>}, see
 * docs/control-protocol.md) and checked by the policy's `postures` (docs/policy.md).
 *
 * The object (every key always present; a check that cannot tell says "unknown", never a guess):
 *   os               "linux" (the policy's OS vocabulary: linux / macos / windows)
 *   os_version       the kernel's dotted version "6.1.0": what `{"os": {"linux": "6.1"}}` compares
 *   kernel           the full kernel release "6.1.0-18-amd64"
 *   distro           os-release NAME ("Debian GNU/Linux"), "unknown" without os-release
 *   distro_id        os-release ID ("debian")
 *   distro_version   os-release VERSION_ID ("12")
 *   disk_encryption  true: the root filesystem's block device is, or sits on, dm-crypt (a
 *                    device-mapper target whose dm/uuid starts "CRYPT-"), through LVM/RAID/
 *                    partitions; false: it is a plain disk or partition, or dm without crypt
 *                    underneath; "unknown": root on a virtual fs (overlay, tmpfs, nfs), a loop
 *                    device, or /proc, /sys unreadable
 *   firewall         true: `nft list ruleset` has a rule or a base chain with policy drop, or
 *                    `iptables -S` has a rule (-A) or a DROP/REJECT policy; false: the tool ran
 *                    and there is none; "unknown": no tool could be run (absent, not root)
 *   screen_lock      true: a screen locker or idle-locker process runs (xss-lock, swaylock,
 *                    xscreensaver, light-locker, ...), or GNOME runs with a system dconf setting
 *                    lock-enabled=true; false: a system dconf setting lock-enabled=false;
 *                    "unknown" otherwise (headless machines, per-user settings we cannot read)
 *   antivirus        true: a known scanner process runs (clamd, clamonacc, freshclam, wdavdaemon,
 *                    falcon-sensor, ...); false: /proc was readable and none runs; else "unknown"
 *   agent_version    ZTNA_VERSION ("0.1.0")
 * All strings are printable ASCII, at most POSTURE_STR_MAX bytes, so the object passes the
 * server's posture_valid() (server/api_machines.c) and prints identically in every JSON
 * encoder (the heartbeat body is signed as cJSON_PrintUnformatted prints it).
 *
 * Cost: reads a few small files, scans /proc once, runs at most three short commands (each
 * bounded by POSTURE_CMD_TIMEOUT_MS); typically a few milliseconds. Thread-safe (no globals):
 * the daemon may call it from a worker thread so its event loop never waits on `nft`. */
#ifndef ZTNA_AGENT_POSTURE_H
#define ZTNA_AGENT_POSTURE_H

#include <cjson/cJSON.h>

#define POSTURE_STR_MAX        128   /* server: MACH_POSTURE_FIELD_MAX */
#define POSTURE_CMD_TIMEOUT_MS 2000  /* one nft / iptables run */
#define POSTURE_CMD_MAX_OUTPUT (256 * 1024) /* bytes of a ruleset we read */
#define POSTURE_MAX_PROCS      65536 /* /proc entries looked at */

/* Where to look. NULL fields mean the real system: "/etc", "/proc", "/sys", and the command
 * search path "/usr/sbin:/sbin:/usr/bin:/bin". Tests point them at a fake tree, with fake `nft`
 * and `iptables` scripts in `path`. Every string is borrowed for the duration of the call. */
struct posture_paths {
    const char *etc;
    const char *proc;
    const char *sys;
    const char *path;
};

/* Collects the object above into *out (new: free with cJSON_Delete()). roots may be NULL (the
 * real system). Returns 0, or -ENOMEM. Never fails for lack of information: that is "unknown". */
int posture_collect(const struct posture_paths *roots, cJSON **out);
/* The same for the real system: a new object (cJSON_Delete()), or NULL only when out of memory. */
cJSON *posture_collect_json(void);

#endif
