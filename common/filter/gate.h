/* The policy side of the agent's packet hooks, shared by `ztna daemon` (agent/daemon/pktpath.c)
 * and `ztna wireguard --filter` (agent/wg_filter_opt.c), so both enforce a compiled filter the
 * same way:
 *   - every packet the host sends into the tunnel is recorded as a flow (always, so that a filter
 *     installed later does not cut flows already open);
 *   - a packet from the tunnel is delivered if the gate is off (the netmap's filter is null: allow
 *     all), else if the filter allows it or it is a reply to a recorded flow;
 *   - a filter that cannot be built denies everything (fail closed).
 * Time is CLOCK_MONOTONIC milliseconds, read only when needed. Call everything from one thread
 * at a time (the device lock serializes the packet hooks). */
#ifndef ZTNA_FILTER_GATE_H
#define ZTNA_FILTER_GATE_H

#include "common/filter/matcher.h"

/* tun_read side: records an outbound flow. */
void filter_gate_outbound(struct filter_matcher *fm, const uint8_t *pkt, size_t len);
/* tun_write side: true = deliver, false = drop (counted as a denial). on = false allows all. */
bool filter_gate_inbound(struct filter_matcher *fm, bool on, const uint8_t *pkt, size_t len);

/* Builds a filter from e[0..n) (when on) and installs it in fm. *f is the filter fm held before
 * (freed here) and gets the new one: NULL when off, and NULL when the build fails, which then
 * denies everything. Returns 0 or the build's -errno (the caller says why). */
int filter_gate_install(struct filter_matcher *fm, struct filter **f, bool on,
                        const struct filter_entry *e, size_t n);

#endif
