/* STUN responder of ztna-server (RFC 5389 Binding, codec in common/stun/).
 *
 * One UDP socket on --stun-listen (default 127.0.0.1:3478; "off" disables), one thread. Every
 * Binding request is answered with a Binding success response carrying XOR-MAPPED-ADDRESS of
 * the sender (and MAPPED-ADDRESS for RFC 3489-era clients), with FINGERPRINT when the request
 * had one. Everything else is dropped unanswered: responses, indications, malformed datagrams,
 * requests with comprehension-required attributes we do not know (RFC 5389 would answer 420;
 * we stay silent). Work per datagram is bounded (STUN_MAX_MSG bytes, STUN_MAX_ATTRS
 * attributes); no state is kept per client, so there is nothing to rate-limit or to exhaust.
 * Bound to a wildcard address, replies leave from the address the request arrived on. */
#ifndef ZTNA_SERVER_STUN_H
#define ZTNA_SERVER_STUN_H

#include <stdint.h>

#include "server/server.h"

#define STUN_DEFAULT_LISTEN "127.0.0.1:3478" /* the --stun-listen default (settings.c) */

struct stun_server;

/* Opens the socket on addr_port ("ADDR:PORT", "[V6]:PORT"; port 0 = ephemeral) and starts the
 * thread. *out is new: stop it with stun_server_stop(). Returns 0 or -errno. */
int stun_server_start(const char *addr_port, struct stun_server **out);
uint16_t stun_server_port(const struct stun_server *s); /* the bound port */
uint64_t stun_server_answered(const struct stun_server *s); /* Binding responses sent */
void stun_server_stop(struct stun_server *s); /* joins the thread, closes; accepts NULL */

/* Module hooks (server/modules.c): start binds srv->set.stun_listen unless it is "off". If the
 * DEFAULT address is already in use, it logs an error and the server runs without STUN (so a
 * second server on one host still starts); any other failure aborts start-up. */
int stun_start(struct server *srv);
void stun_stop(struct server *srv);

#endif
