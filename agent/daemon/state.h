/* The daemon's state directory: its keys (created once, mode 0600, never leave the device) and
 * what registration gave it (state.json, mode 0600, rewritten atomically).
 *   machine.key  Ed25519 seed, 64 hex characters (the machine identity; signs control calls)
 *   wg.key       X25519 private key, base64 (as `wg genkey` prints it)
 *   state.json   server URL, pinned server signing key, machine id, tailnet IP, ... */
#ifndef ZTNA_AGENT_DAEMON_STATE_H
#define ZTNA_AGENT_DAEMON_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/daemon/agent_limits.h"

struct agent_keys {
    uint8_t machine_sk[64]; /* libsodium secret key: seed || public */
    uint8_t machine_pk[32];
    uint8_t wg_priv[32];
    uint8_t wg_pub[32];
};

struct agent_state {
    char server_url[AGENT_URL_MAX];
    uint8_t server_key[32]; /* pinned at registration */
    int64_t machine_id, org_id, heartbeat_interval;
    char tailnet_ip[16];
    char fqdn[AGENT_FQDN_MAX];
    char hostname[AGENT_NAME_MAX];
    char tags[AGENT_MAX_TAGS][AGENT_NAME_MAX];
    size_t n_tags;
    bool want_up;    /* `ztna up` / `ztna down` */
    bool accept_dns; /* `ztna up --accept-dns`: the system resolver points at the stub */
};

/* Creates dir (0700) if needed, loads both keys or creates them. 0 or -errno. */
int state_keys_load(const char *dir, struct agent_keys *k);
void state_keys_wipe(struct agent_keys *k);
/* Loads state.json: 0, -ENOENT (not registered), -EINVAL (corrupt, named in the log). */
int state_load(const char *dir, struct agent_state *st);
int state_save(const char *dir, const struct agent_state *st);
/* Forgets the registration (logout); the keys stay. */
int state_clear(const char *dir);
/* True once registered (a machine id and a pinned key). */
bool state_registered(const struct agent_state *st);

#endif
