/* The janitor thread: periodic clean-up for the machines module.
 *
 * Every tick (at most MACH_JANITOR_TICK_MS, woken at once on stop) it
 *   - forgets request nonces that fell out of the signature window,
 *   - marks machines offline when their last heartbeat is older than the offline timeout,
 *   - deletes ephemeral machines offline for longer than the ephemeral timeout (audited as
 *     machine.delete by the system, reason "ephemeral").
 *
 * Timeouts (seconds): the settings offline-timeout (0, the default: 3 x heartbeat-interval) and
 * ephemeral-timeout (docs/configuration.md). */
#ifndef ZTNA_SERVER_JANITOR_H
#define ZTNA_SERVER_JANITOR_H

#include <stdint.h>

struct server;

/* The machines module's writer lock, kept in struct janitor (the module's runtime state).
 * SQLite lets one writer in at a time and makes the others poll with sleeps (busy_timeout),
 * which under a registration storm costs hundreds of milliseconds at p99; taking this mutex
 * around the module's write transactions queues them in-process instead. No-op when the
 * janitor is not started (unit tests). */
void machines_write_lock(struct server *srv);
void machines_write_unlock(struct server *srv);

int janitor_start(struct server *srv); /* 0 / -errno; sets srv->janitor */
void janitor_stop(struct server *srv); /* joins the thread; accepts a never-started janitor */
/* One pass, as the thread does it (exposed for tests and for the first pass at start). */
int janitor_run_once(struct server *srv, int64_t now);
/* The offline-timeout setting in force, seconds. */
int64_t janitor_offline_timeout(const struct server *srv);

#endif
