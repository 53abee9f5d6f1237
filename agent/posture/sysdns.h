/* Pointing the system resolver at the agent's DNS stub, for `ztna up` / `ztna down`.
 *
 * Two ways, chosen by sysdns_apply() and remembered in STATE_DIR/sysdns.state so that
 * sysdns_restore() undoes exactly what was done (even in a later process):
 *  - systemd-resolved (resolvectl on the search path and RUN_DIR/systemd/resolve/ present):
 *      resolvectl dns IFNAME RESOLVER; resolvectl domain IFNAME SUFFIX (search + routing domain:
 *      names under SUFFIX go to the stub, short names get SUFFIX appended); resolvectl
 *      default-route IFNAME false (nothing else goes there). Restore: resolvectl revert IFNAME.
 *  - otherwise /etc/resolv.conf is rewritten (atomically: temp file + rename) to
 *        # ztna: ... (marker line)
 *        nameserver RESOLVER
 *        <the original nameservers, as fallback while the agent is not running>
 *        search SUFFIX <the original search domains>
 *        <every other original line>
 *    after saving the original bytes (or, if it was a symlink, its target) in
 *    STATE_DIR/resolv.conf.orig. Applying again re-derives the file from the saved original and
 *    never saves twice. Restore puts the original back byte for byte (or the symlink); if
 *    someone else replaced the file meanwhile (no marker line), theirs is left alone.
 * Every function returns 0 or -errno and, on failure, writes a sentence naming the problem into
 * err (may be NULL). Not thread-safe against itself (the daemon calls it from its loop). */
#ifndef ZTNA_AGENT_SYSDNS_H
#define ZTNA_AGENT_SYSDNS_H

#include <stddef.h>

#define SYSDNS_TIMEOUT_MS 3000 /* one resolvectl run */
#define SYSDNS_MAX_FILE   (64 * 1024)
#define SYSDNS_MARKER     "# ztna: written by `ztna up`; `ztna down` restores the original"

/* NULL fields take the defaults in brackets. Strings are borrowed for the call. */
struct sysdns_paths {
    const char *resolv_conf; /* [/etc/resolv.conf] */
    const char *state_dir;   /* [/var/lib/ztna] where the original and sysdns.state are kept */
    const char *run_dir;     /* [/run] systemd-resolved is used if RUN_DIR/systemd/resolve exists */
    const char *path;        /* [/usr/bin:/bin:/usr/sbin:/sbin] where resolvectl is looked for */
    const char *ifname;      /* [ztna0] the TUN device (systemd-resolved mode) */
};

/* suffix: the tailnet DNS suffix ("acme.zt.net"); resolver: the stub ("100.100.100.100"). */
int sysdns_apply(const struct sysdns_paths *p, const char *suffix, const char *resolver,
                 char *err, size_t errlen);
/* Undoes sysdns_apply(); 0 with nothing to do when it was never applied. */
int sysdns_restore(const struct sysdns_paths *p, char *err, size_t errlen);

/* The upstream resolver the stub should forward to: the first nameserver of the ORIGINAL
 * resolv.conf (the saved copy while applied) that is not `resolver`, into out. -ENOENT if none. */
int sysdns_upstream(const struct sysdns_paths *p, const char *resolver, char *out, size_t size);

#endif
