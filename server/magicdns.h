/* MagicDNS glue: feeds the DNS authority (server/dns/) a snapshot built from SQLite.
 * One zone per org ("<org-slug>.<base-domain>") with an A record per machine
 * ("<machine-name>.<org-slug>.<base-domain>") and, unless --ipv6-prefix is off, an AAAA record
 * with its derived IPv6 tailnet address (server/ip6.h). A watcher thread with its own connection polls
 * PRAGMA data_version once a second and, after a commit that moved the counter of
 * schema/006_dns_gen.sql (a name, address, expiry, slug, machine or org changed), rebuilds +
 * swaps the snapshot, so writers need not call anything; magicdns_refresh() forces a rebuild
 * now. */
#ifndef ZTNA_SERVER_MAGICDNS_H
#define ZTNA_SERVER_MAGICDNS_H

#include "server/server.h"

int magicdns_start(struct server *srv); /* module hook: binds --dns-listen */
void magicdns_stop(struct server *srv);
int magicdns_refresh(struct server *srv); /* 0 / -errno; no-op without DNS */

#endif
