/* The one table of settings, and the code that fills it (see settings.h). */
#include "server/settings.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "server/oidc.h"

enum setting_type { SET_STR, SET_INT, SET_BOOL, SET_ADDR };

struct setting {
    const char *name; /* flag --name, file key name, env ZTNA_NAME (upper, '-' -> '_') */
    enum setting_type type;
    size_t offset;
    size_t size;      /* SET_STR / SET_ADDR buffer size */
    const char *def;
    int64_t min, max; /* SET_INT */
    const char *help;
};

#define S_STR(n, f, d, h) {n, SET_STR, offsetof(struct server_settings, f), \
                           sizeof(((struct server_settings *)0)->f), d, 0, 0, h}
#define S_ADDR(n, f, d, h) {n, SET_ADDR, offsetof(struct server_settings, f), \
                            sizeof(((struct server_settings *)0)->f), d, 0, 0, h}
#define S_INT(n, f, d, lo, hi, h) {n, SET_INT, offsetof(struct server_settings, f), 0, d, lo, hi, h}
#define S_BOOL(n, f, d, h) {n, SET_BOOL, offsetof(struct server_settings, f), 0, d, 0, 1, h}

static const struct setting settings[] = {
    S_STR("data-dir", data_dir, "./ztna-data", "directory holding ztna.db"),
    S_ADDR("listen", listen, "127.0.0.1:8080", "HTTP(S) API and dashboard address ADDR:PORT"),
    S_ADDR("dns-listen", dns_listen, "127.0.0.1:5353", "MagicDNS UDP+TCP address ADDR:PORT"),
    S_STR("stun-listen", stun_listen, "127.0.0.1:3478", "STUN (UDP) address ADDR:PORT, or off"),
    S_STR("base-domain", base_domain, "zt.net", "MagicDNS base domain"),
    S_STR("ipv6-prefix", ipv6_prefix, IP6_DEFAULT_PREFIX,
          "tailnet IPv6 prefix (machines get PREFIX + their IPv4 in the last 32 bits), or off"),
    S_STR("log-level", log_level, "info", "debug, info, warn or error"),
    S_STR("tls-cert", tls_cert, "", "PEM certificate (chain) for HTTPS; enables TLS"),
    S_STR("tls-key", tls_key, "", "PEM private key for --tls-cert"),
    S_BOOL("insecure-http", insecure_http, "false",
           "allow plain HTTP on a non-loopback address (NOT recommended)"),
    S_STR("public-url", public_url, "",
          "external origin (https://host[:port]) accepted in Origin on cookie calls"),
    S_INT("http-threads", http_threads, "8", 2, 128, "HTTP worker threads"),
    S_INT("max-streams", max_streams, "256", 1, 20000,
          "map streams and long-polls held at once (each holds one extra HTTP worker thread)"),
    S_INT("max-websockets", max_websockets, "64", 1, 1000,
          "dashboard WebSockets open at once (each holds one extra HTTP worker thread)"),
    S_INT("access-token-ttl", access_token_ttl, "900", 10, 86400, "access token lifetime, seconds"),
    S_INT("refresh-token-ttl", refresh_token_ttl, "1209600", 60, 31536000,
          "refresh token lifetime, seconds"),
    S_INT("login-rate-window", login_rate_window, "60", 1, 86400, "login rate-limit window, seconds"),
    S_INT("login-rate-ip", login_rate_ip, "30", 1, 1000000,
          "login attempts per window per source address"),
    S_INT("login-rate-account", login_rate_account, "10", 1, 1000000,
          "failed logins per window per account"),
    S_INT("pwhash-ops", pwhash_ops, "2", 1, 10, "argon2id time cost (opslimit)"),
    S_INT("pwhash-mem-kib", pwhash_mem_kib, "19456", 8, 1048576, "argon2id memory cost, KiB"),
    S_INT("heartbeat-interval", heartbeat_interval, "60", 5, 3600,
          "expected machine heartbeat interval, seconds"),
    S_INT("offline-timeout", offline_timeout, "0", 0, 2592000,
          "seconds without a heartbeat before a machine is offline (0: 3 x heartbeat-interval)"),
    S_INT("ephemeral-timeout", ephemeral_timeout, "300", 1, 2592000,
          "seconds an ephemeral machine may stay offline before it is deleted"),
    /* OIDC single sign-on from the config (docs/oidc.md); an org's own settings win. */
    S_STR("oidc-org", oidc_org, "", "slug of the org the oidc-* settings below apply to"),
    S_STR("oidc-issuer", oidc_issuer, "", "OIDC issuer URL (https://, or http:// on loopback)"),
    S_STR("oidc-client-id", oidc_client_id, "", "OIDC client id"),
    S_STR("oidc-client-secret", oidc_client_secret, "", "OIDC client secret"),
    S_STR("oidc-token-auth", oidc_token_auth, "client_secret_basic",
          "client_secret_basic or client_secret_post"),
    S_STR("oidc-scopes", oidc_scopes, "openid email profile", "scopes asked for"),
    S_STR("oidc-allowed-domains", oidc_allowed_domains, "",
          "comma-separated e-mail domains allowed to sign in (empty: any)"),
    S_STR("oidc-groups-claim", oidc_groups_claim, "groups", "ID token claim holding groups"),
    S_INT("oidc-login-ttl", oidc_login_ttl, "600", 1, 3600,
          "seconds a user has to complete an SSO sign-in at the identity provider"),
    S_INT("cli-login-ttl", cli_login_ttl, "600", 1, 3600,
          "seconds a `ztna login` browser request waits for the user's approval"),
    S_INT("cli-login-code-ttl", cli_login_code_ttl, "120", 1, 600,
          "seconds the CLI has to exchange its one-time login code"),
    S_STR("geo-db", geo_db, "",
          "country database for policy geo rules: CSV lines cidr,country (docs/policy.md)"),
    S_INT("jit-min-duration", jit_min_duration, "300", 1, 86400,
          "shortest just-in-time grant a member may request, seconds"),
    S_STR("jit-webhook", jit_webhook, "",
          "URL that receives a JSON POST for every JIT request, decision, revocation and expiry"),
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static void env_name(const struct setting *s, char *buf, size_t size)
{
    size_t o = (size_t)snprintf(buf, size, "ZTNA_");

    for (const char *p = s->name; *p && o + 1 < size; p++)
        buf[o++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    buf[o] = '\0';
}

bool settings_addr_is_loopback(const char *addr)
{
    if (strncmp(addr, "[::1]:", 6) == 0 || strncmp(addr, "localhost:", 10) == 0)
        return true;
    return strncmp(addr, "127.", 4) == 0;
}

/* ADDR:PORT with an IPv4 address, [IPv6] or a host name, port 1..65535 (0 for "any"). */
static bool addr_valid(const char *v)
{
    const char *colon = strrchr(v, ':');
    char *end;
    long port;

    if (!colon || colon == v || strlen(colon + 1) == 0 || strlen(colon + 1) > 5)
        return false;
    if (v[0] == '[' && colon[-1] != ']')
        return false;
    for (const char *p = v; p < colon; p++) {
        if (!isalnum((unsigned char)*p) && !strchr(".-:[]", *p))
            return false;
    }
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    return errno == 0 && *end == '\0' && port >= 0 && port <= 65535;
}

static int setting_apply(struct server_settings *set, const struct setting *s, const char *v,
                         const char *origin)
{
    void *dst = (char *)set + s->offset;

    switch (s->type) {
    case SET_ADDR:
        if (!addr_valid(v)) {
            fprintf(stderr, "ztna-server: %s: invalid %s '%s' (want ADDR:PORT)\n", origin,
                    s->name, v);
            return -EINVAL;
        }
        /* fall through */
    case SET_STR:
        if (strlen(v) >= s->size) {
            fprintf(stderr, "ztna-server: %s: value of %s too long\n", origin, s->name);
            return -EINVAL;
        }
        memcpy(dst, v, strlen(v) + 1);
        return 0;
    case SET_INT: {
        char *end;
        long long n;

        errno = 0;
        n = strtoll(v, &end, 10);
        if (!*v || *end || errno || n < s->min || n > s->max) {
            fprintf(stderr, "ztna-server: %s: %s must be an integer in %lld..%lld, not '%s'\n",
                    origin, s->name, (long long)s->min, (long long)s->max, v);
            return -EINVAL;
        }
        *(int64_t *)dst = n;
        return 0;
    }
    case SET_BOOL:
        if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on"))
            *(bool *)dst = true;
        else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off"))
            *(bool *)dst = false;
        else {
            fprintf(stderr, "ztna-server: %s: %s must be true or false, not '%s'\n", origin,
                    s->name, v);
            return -EINVAL;
        }
        return 0;
    }
    return -EINVAL;
}

static const struct setting *setting_find(const char *name, size_t len)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        if (strlen(settings[i].name) == len && strncmp(settings[i].name, name, len) == 0)
            return &settings[i];
    }
    return NULL;
}

static char *trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int config_file_load(struct server_settings *set, const char *path)
{
    char line[SRV_MAX_CONFIG_LINE + 2];
    FILE *f = fopen(path, "r");
    int lineno = 0, ret = 0;

    if (!f) {
        fprintf(stderr, "ztna-server: cannot read config file %s: %s\n", path, strerror(errno));
        return -EINVAL;
    }
    while (fgets(line, sizeof(line), f)) {
        char origin[SRV_MAX_SETTING_BYTES + 32];
        char *l, *eq, *key, *val;
        const struct setting *s;

        lineno++;
        snprintf(origin, sizeof(origin), "%.*s:%d", SRV_MAX_SETTING_BYTES, path, lineno);
        if (!strchr(line, '\n') && !feof(f)) {
            fprintf(stderr, "ztna-server: %s: line too long\n", origin);
            ret = -EINVAL;
            goto out;
        }
        l = trim(line);
        if (!*l || *l == '#' || *l == ';')
            continue;
        eq = strchr(l, '=');
        if (!eq) {
            fprintf(stderr, "ztna-server: %s: expected 'key = value'\n", origin);
            ret = -EINVAL;
            goto out;
        }
        *eq = '\0';
        key = trim(l);
        val = trim(eq + 1);
        if (strlen(val) >= 2 && val[0] == '"' && val[strlen(val) - 1] == '"') {
            val[strlen(val) - 1] = '\0';
            val++;
        }
        s = setting_find(key, strlen(key));
        if (!s) {
            fprintf(stderr, "ztna-server: %s: unknown setting '%s'\n", origin, key);
            ret = -EINVAL;
            goto out;
        }
        ret = setting_apply(set, s, val, origin);
        if (ret < 0)
            goto out;
    }
out:
    fclose(f);
    return ret;
}

void settings_usage(FILE *f)
{
    fprintf(f, "usage: ztna-server [--config FILE] [--SETTING VALUE ...]\n"
               "       ztna-server backup FILE      online backup of DATA_DIR/ztna.db to FILE\n"
               "       ztna-server --help | --version\n\n"
               "Settings (flag, environment variable, default). Precedence: default < config\n"
               "file (--config FILE or ZTNA_CONFIG; lines 'name = value') < environment < flag.\n\n");
    for (size_t i = 0; i < NSETTINGS; i++) {
        char env[64], flag[64];

        env_name(&settings[i], env, sizeof(env));
        snprintf(flag, sizeof(flag), "--%s%s", settings[i].name,
                 settings[i].type == SET_BOOL ? "[=BOOL]" : " V");
        fprintf(f, "  %-28s %-26s default: %s\n      %s\n", flag, env,
                settings[i].def[0] ? settings[i].def : "(empty)", settings[i].help);
    }
}

int settings_load(struct server_settings *set, int argc, char **argv, const char **pos,
                  int maxpos, int *npos)
{
    const char *config = getenv("ZTNA_CONFIG");
    int ret = 0;

    *npos = 0;
    memset(set, 0, sizeof(*set));
    for (size_t i = 0; i < NSETTINGS; i++) {
        ret = setting_apply(set, &settings[i], settings[i].def, "default");
        if (ret < 0)
            return ret;
    }
    /* First pass: --help and --config, so the file sits below env and flags. */
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            settings_usage(stdout);
            return 1;
        }
        if (!strcmp(argv[i], "--config")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "ztna-server: --config needs a FILE\n");
                return -EINVAL;
            }
            config = argv[++i];
        } else if (!strncmp(argv[i], "--config=", 9)) {
            config = argv[i] + 9;
        }
    }
    if (config && *config) {
        ret = config_file_load(set, config);
        if (ret < 0)
            return ret;
    }
    for (size_t i = 0; i < NSETTINGS; i++) {
        char env[64];
        const char *v;

        env_name(&settings[i], env, sizeof(env));
        v = getenv(env);
        if (v) {
            ret = setting_apply(set, &settings[i], v, env);
            if (ret < 0)
                return ret;
        }
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *eq, *val;
        const struct setting *s;

        if (strncmp(a, "--", 2) != 0) {
            if (*npos == maxpos) {
                fprintf(stderr, "ztna-server: unexpected argument '%s'\n", a);
                return -EINVAL;
            }
            pos[(*npos)++] = a;
            continue;
        }
        if (!strcmp(a, "--config")) {
            i++;
            continue;
        }
        if (!strncmp(a, "--config=", 9))
            continue;
        eq = strchr(a, '=');
        s = setting_find(a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
        if (!s) {
            fprintf(stderr, "ztna-server: unknown option '%s' (see --help)\n", a);
            return -EINVAL;
        }
        if (eq)
            val = eq + 1;
        else if (s->type == SET_BOOL)
            val = "true";
        else if (i + 1 < argc)
            val = argv[++i];
        else {
            fprintf(stderr, "ztna-server: option --%s needs a value\n", s->name);
            return -EINVAL;
        }
        ret = setting_apply(set, s, val, "command line");
        if (ret < 0)
            return ret;
    }
    {
        enum log_level lvl;

        if (!log_level_parse(set->log_level, &lvl)) {
            fprintf(stderr, "ztna-server: log-level must be debug, info, warn or error\n");
            return -EINVAL;
        }
    }
    if (strcmp(set->stun_listen, "off") != 0 && !addr_valid(set->stun_listen)) {
        fprintf(stderr, "ztna-server: invalid stun-listen '%s' (want ADDR:PORT or off)\n",
                set->stun_listen);
        return -EINVAL;
    }
    /* oidc-* (docs/oidc.md): catch a typo at start, not at the first user's sign-in. */
    if (strcmp(set->oidc_token_auth, "client_secret_basic") != 0 &&
        strcmp(set->oidc_token_auth, "client_secret_post") != 0) {
        fprintf(stderr, "ztna-server: oidc-token-auth must be client_secret_basic or "
                "client_secret_post, not '%s'\n", set->oidc_token_auth);
        return -EINVAL;
    }
    if (set->oidc_org[0] && (!set->oidc_issuer[0] || !set->oidc_client_id[0])) {
        fprintf(stderr, "ztna-server: oidc-org needs oidc-issuer and oidc-client-id\n");
        return -EINVAL;
    }
    if (set->oidc_issuer[0] && !oidc_url_allowed(set->oidc_issuer)) {
        fprintf(stderr, "ztna-server: oidc-issuer must be https:// (http:// only on a loopback "
                "address), not '%s'\n", set->oidc_issuer);
        return -EINVAL;
    } /* end of the oidc-* checks */
    {
        const char *why = NULL;

        if (!ip6_prefix_parse(set->ipv6_prefix, &set->ip6, &why)) {
            fprintf(stderr, "ztna-server: invalid --ipv6-prefix '%s': %s\n", set->ipv6_prefix,
                    why);
            return -EINVAL;
        }
    }
    if (!!set->tls_cert[0] != !!set->tls_key[0]) {
        fprintf(stderr, "ztna-server: --tls-cert and --tls-key go together\n");
        return -EINVAL;
    }
    return 0;
}
