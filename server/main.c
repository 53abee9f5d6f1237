/* ztna-server: the control plane in one process (see docs/configuration.md).
 *   ztna-server [--SETTING VALUE ...]   run the server
 *   ztna-server policy get|set|test|explain ...  the policy API from the shell (policy_cli.h)
 *   ztna-server backup FILE             online backup of the database to FILE */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "server/db.h"
#include "server/http.h"
#include "server/modules.h"
#include "server/policy_cli.h"
#include "server/server.h"
#include "server/settings.h"

static int cmd_backup(const struct server_settings *set, const char *file)
{
    char src[SRV_MAX_SETTING_BYTES + 16];
    struct stat sb;
    int ret;

    if (stat(file, &sb) == 0) {
        fprintf(stderr, "ztna-server backup: %s already exists; refusing to overwrite it\n", file);
        return 1;
    }
    snprintf(src, sizeof(src), "%s/ztna.db", set->data_dir);
    ret = db_backup_to(src, file);
    if (ret < 0) {
        fprintf(stderr, "ztna-server backup: failed: %s\n", strerror(-ret));
        return 1;
    }
    printf("backup of %s written to %s\n", src, file);
    return 0;
}

static void print_next_steps(const struct server *srv)
{
    const char *scheme = srv->set.tls_cert[0] ? "https" : "http";

    printf("ztna-server %s listening on %s://%s (MagicDNS %s, base domain %s, IPv6 prefix %s)\n"
           "Next steps:\n"
           "  1. Open %s://%s/ for the dashboard, or create the first org and owner with\n"
           "     curl -X POST %s://%s/api/auth/setup -H 'Content-Type: application/json' \\\n"
           "       -d '{\"email\":\"you@example.com\",\"password\":\"...\",\"org_name\":\"Acme\"}'\n"
           "  2. Log in: POST /api/auth/login; list every endpoint: GET /api/endpoints\n"
           "  3. Back up while running: ztna-server backup FILE --data-dir %s\n",
           ZTNA_VERSION, scheme, srv->set.listen, srv->set.dns_listen, srv->set.base_domain,
           srv->set.ipv6_prefix, scheme, srv->set.listen, scheme, srv->set.listen, srv->set.data_dir);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    struct server srv = {0};
    struct mg_context *http = NULL;
    const char *pos[2];
    enum log_level lvl;
    sigset_t sigs;
    int npos, sig, ret, status = 1;

    if (argc > 1 && strcmp(argv[1], "policy") == 0)
        return policy_cli_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("ztna-server %s\n", ZTNA_VERSION);
        return 0;
    }
    ret = settings_load(&srv.set, argc - 1, argv + 1, pos, 2, &npos);
    if (ret == 1)
        return 0;
    if (ret < 0)
        return 2;
    log_level_parse(srv.set.log_level, &lvl);
    log_set_level(lvl);
    if (npos > 0) {
        if (strcmp(pos[0], "backup") == 0 && npos == 2)
            return cmd_backup(&srv.set, pos[1]);
        fprintf(stderr, "ztna-server: unknown command '%s' (usage: ztna-server backup FILE)\n",
                pos[0]);
        return 2;
    }
    if (!srv.set.tls_cert[0] && !settings_addr_is_loopback(srv.set.listen)) {
        if (!srv.set.insecure_http) {
            fprintf(stderr, "ztna-server: refusing to listen on non-loopback %s without TLS; "
                            "give --tls-cert/--tls-key (or --insecure-http, NOT recommended)\n",
                    srv.set.listen);
            return 2;
        }
        log_warn("server", "!!! INSECURE: serving plain HTTP on non-loopback %s; passwords and "
                 "tokens cross the network in clear text (--insecure-http) !!!", srv.set.listen);
    }
    /* Block the stop signals before any thread starts, so only sigwait() below sees them. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    ret = server_init(&srv);
    if (ret == -EPROTO) {
        fprintf(stderr, "ztna-server: the database in %s was written by a newer ztna-server; "
                        "refusing to start\n", srv.set.data_dir);
        goto out;
    }
    if (ret < 0) {
        fprintf(stderr, "ztna-server: start-up failed: %s\n", strerror(-ret));
        goto out;
    }
    ret = server_modules_start(&srv);
    if (ret < 0)
        goto out;
    ret = http_start(&srv, &http);
    if (ret < 0) {
        fprintf(stderr, "ztna-server: cannot listen on %s\n", srv.set.listen);
        goto out_modules;
    }
    print_next_steps(&srv);
    sigwait(&sigs, &sig);
    log_info("server", "signal %d: shutting down", sig);
    srv.stopping = 1;
    status = 0;
    http_stop(http);
out_modules:
    server_modules_stop(&srv);
out:
    server_free(&srv);
    return status;
}
