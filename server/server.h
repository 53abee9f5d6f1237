/* struct server: the one context object of ztna-server, passed to every handler and module.
 *
 * Lifetime: created by main() (server_init), torn down by server_free(). Fields are set once
 * before the HTTP listener starts and are read-only afterwards unless a comment says otherwise.
 * Modules of other engineers hang their state off the opaque pointers at the end; they start and
 * stop through the table in server/modules.c (see modules.h). */
#ifndef ZTNA_SERVER_SERVER_H
#define ZTNA_SERVER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include "server/ip6.h"
#include "server/limits.h"

/* All settings, filled from ONE static table in settings.c (defaults < config file < env < flags). */
struct server_settings {
    char data_dir[SRV_MAX_SETTING_BYTES];
    char listen[SRV_MAX_SETTING_BYTES];     /* ADDR:PORT */
    char dns_listen[SRV_MAX_SETTING_BYTES]; /* ADDR:PORT */
    char base_domain[SRV_MAX_SETTING_BYTES];
    char log_level[16];
    char tls_cert[SRV_MAX_SETTING_BYTES];   /* empty = no TLS */
    char tls_key[SRV_MAX_SETTING_BYTES];
    bool insecure_http;
    int64_t http_threads;
    int64_t max_streams;        /* held netmap long-polls (server/netmap.h); extra HTTP workers */
    int64_t max_websockets;     /* open dashboard sockets (server/realtime.h); extra HTTP workers */
    int64_t access_token_ttl;   /* seconds */
    int64_t refresh_token_ttl;  /* seconds */
    int64_t login_rate_window;  /* seconds */
    int64_t login_rate_ip;      /* attempts per window per source address */
    int64_t login_rate_account; /* failed attempts per window per account */
    int64_t pwhash_ops;         /* argon2id opslimit */
    int64_t pwhash_mem_kib;     /* argon2id memlimit in KiB */
    int64_t heartbeat_interval; /* seconds, for the machines module */
    int64_t offline_timeout;    /* seconds without a heartbeat before offline; 0: 3 x the above */
    int64_t ephemeral_timeout;  /* seconds an ephemeral machine stays offline before deletion */
    char geo_db[SRV_MAX_SETTING_BYTES];     /* country CSV for policy geo rules; "" none */
    int64_t jit_min_duration;   /* shortest JIT grant, seconds (policy module) */
    char jit_webhook[SRV_MAX_SETTING_BYTES]; /* URL POSTed on JIT events; "" none */
    char public_url[SRV_MAX_SETTING_BYTES]; /* allowed Origin for cookie calls; empty = derive */
    char stun_listen[SRV_MAX_SETTING_BYTES]; /* ADDR:PORT or "off" (server/stun.c) */
    /* OIDC from the server config for the org oidc_org (slug); an org's own row wins (oidc.h) */
    char oidc_org[SRV_MAX_SETTING_BYTES];
    char oidc_issuer[SRV_MAX_SETTING_BYTES];
    char oidc_client_id[SRV_MAX_SETTING_BYTES];
    char oidc_client_secret[SRV_MAX_SETTING_BYTES];
    char oidc_token_auth[32];                    /* client_secret_basic or client_secret_post */
    char oidc_scopes[SRV_MAX_SETTING_BYTES];
    char oidc_allowed_domains[SRV_MAX_SETTING_BYTES]; /* comma-separated; empty = any */
    char oidc_groups_claim[64];
    int64_t oidc_login_ttl;     /* seconds between SSO start and callback (api_oidc_login.c) */
    int64_t cli_login_ttl;      /* seconds a `ztna login` browser request lives (api_cli_login.c) */
    int64_t cli_login_code_ttl; /* seconds its one-time code lives */
    char ipv6_prefix[64];       /* --ipv6-prefix text: PREFIX or off (server/ip6.h) */
    struct ip6_prefix ip6;      /* ipv6_prefix parsed by settings_load(); zeroed = off */
};

struct db;            /* db.h */
struct ratelimit;     /* ratelimit.h */
struct metrics;       /* owned by server/metrics.* (server-machines engineer) */
struct janitor;       /* owned by server/janitor.* (server-machines engineer) */
struct dns_server;    /* owned by server/dns/ */
struct policy_rt;     /* policy_rt.h */
struct realtime;      /* realtime.h */
struct netmap;        /* owned by server/netmap.c */
struct stun_server;   /* owned by server/stun.c */
struct oidc_cache;    /* owned by server/oidc.c (module hook) */

struct server {
    struct server_settings set;
    struct db *db;                  /* connection pool; see db.h for the threading model */
    struct ratelimit *login_limit;  /* thread-safe */
    uint8_t sign_pk[32];            /* Ed25519 server key, loaded/created at start-up */
    uint8_t sign_sk[64];            /* wiped in server_free() */
    int64_t started_at;             /* unix seconds */
    volatile int stopping;          /* set by the signal handler */
    size_t modules_started;         /* modules.c: how many start hooks succeeded */
    /* Extension points for other modules (each owned and freed by its module's stop hook). */
    struct metrics *metrics;
    struct janitor *janitor;
    struct dns_server *dns;
    struct policy_rt *policy;       /* owned by server/policy_glue.c (policy module) */
    struct realtime *realtime;      /* owned by server/realtime.* (dashboard engineer) */
    struct netmap *netmap;          /* owned by server/netmap.c (module hook) */
    struct stun_server *stun;       /* NULL with --stun-listen off */
    struct oidc_cache *oidc;        /* owned by server/oidc.c: discovery and JWKS cache */
    void *ext[4];                   /* spare slots: document the owner next to the use */
};

/* After settings are filled: creates data_dir (0700), opens DATA_DIR/ztna.db (migrating it),
 * loads or creates the signing key, allocates the limiter. -EPROTO: database too new. */
int server_init(struct server *srv);
void server_free(struct server *srv); /* wipes the signing key; accepts a partly-initialised srv */

/* Wall clock in unix seconds (one place so tests of expiry have one thing to reason about). */
int64_t server_now(void);

#endif
