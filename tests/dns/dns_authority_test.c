/* dns-authority-test: the real MagicDNS authority serving zones from a text file, for the
 * script tests and the benchmark (never shipped).
 *
 *   dns-authority-test ADDR:PORT ZONEFILE [--tcp-idle-ms N] [--tcp-max-conn N]
 *
 * Zone file lines (# comments):
 *   zone <apex> <serial> [ns-host ...]
 *   a    <name> <ipv4>
 *   aaaa <name> <ipv6>
 * Prints "port N" once listening. SIGHUP re-reads the file and swaps the snapshot (prints
 * "reloaded N names" or "reload failed: ..."); SIGTERM/SIGINT stop it. */
#include "server/dns/dns_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int zone_file_load(const char *path, struct dns_snapshot **out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    struct dns_snapshot_builder *b = dns_snapshot_builder_new();
    char line[4096];
    int r = b ? 0 : -ENOMEM, lineno = 0;
    while (r == 0 && fgets(line, sizeof(line), f)) {
        char *tok[16], *save = NULL;
        int nt = 0;
        lineno++;
        for (char *t = strtok_r(line, " \t\r\n", &save); t && nt < 16;
             t = strtok_r(NULL, " \t\r\n", &save))
            tok[nt++] = t;
        if (nt == 0 || tok[0][0] == '#')
            continue;
        if (strcmp(tok[0], "zone") == 0 && nt >= 3) {
            r = dns_snapshot_builder_add_zone(b, tok[1], (uint32_t)strtoul(tok[2], NULL, 10),
                                              (const char *const *)tok + 3, (size_t)(nt - 3));
        } else if (strcmp(tok[0], "a") == 0 && nt == 3) {
            struct in_addr a;
            r = inet_pton(AF_INET, tok[2], &a) == 1 ? dns_snapshot_builder_add_a(b, tok[1], a)
                                                    : -EINVAL;
        } else if (strcmp(tok[0], "aaaa") == 0 && nt == 3) {
            struct in6_addr a;
            r = inet_pton(AF_INET6, tok[2], &a) == 1
                    ? dns_snapshot_builder_add_aaaa(b, tok[1], &a) : -EINVAL;
        } else {
            r = -EINVAL;
        }
        if (r < 0)
            fprintf(stderr, "%s:%d: %s\n", path, lineno, strerror(-r));
    }
    fclose(f);
    if (r < 0) {
        dns_snapshot_builder_free(b);
        return r;
    }
    return dns_snapshot_builder_finish(b, out);
}

int main(int argc, char **argv)
{
    struct dns_server_opts opts = {0};
    if (argc < 3) {
        fprintf(stderr, "usage: %s ADDR:PORT ZONEFILE [--tcp-idle-ms N] [--tcp-max-conn N]\n",
                argv[0]);
        return 2;
    }
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--tcp-idle-ms") == 0)
            opts.tcp_idle_ms = (unsigned)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--tcp-max-conn") == 0)
            opts.tcp_max_conn = (unsigned)atoi(argv[i + 1]);
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);   /* before the worker starts: it inherits it */

    struct dns_snapshot *snap;
    int r = zone_file_load(argv[2], &snap);
    if (r < 0) {
        fprintf(stderr, "cannot load %s: %s\n", argv[2], strerror(-r));
        return 1;
    }
    struct dns_server *srv;
    r = dns_server_start(argv[1], &opts, snap, &srv);
    if (r < 0) {
        fprintf(stderr, "cannot start on %s: %s\n", argv[1], strerror(-r));
        return 1;
    }
    printf("port %u\n", dns_server_port(srv));
    fflush(stdout);
    for (;;) {
        int sig;
        if (sigwait(&set, &sig) != 0 || sig != SIGHUP)
            break;
        r = zone_file_load(argv[2], &snap);
        if (r < 0) {
            printf("reload failed: %s\n", strerror(-r));
        } else {
            size_t n = dns_snapshot_name_count(snap);
            dns_server_swap(srv, snap);
            printf("reloaded %zu names\n", n);
        }
        fflush(stdout);
    }
    dns_server_stop(srv);
    return 0;
}
