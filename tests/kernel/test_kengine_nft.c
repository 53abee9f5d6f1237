/* The kernel engine's policy path with real nftables and NFLOG, without the wireguard module:
 * the daemon's kernel engine (agent/daemon/kengine.c) runs over the in-memory WireGuard kernel of
 * fakekernel.h, but its filter calls are the real nftables ones (agent/kernel/nftfilter.h) on one
 * end of a veth pair (zkn0, 198.18.1.1) standing in for the WireGuard link; the other end (zkn1,
 * 198.18.1.2) is in a child's network namespace, which sends what a peer would.
 *   - a table left by an earlier run is deleted at start;
 *   - a netmap whose filter allows tcp/22 from 198.18.1.0/24: table `inet ztna` on zkn0;
 *   - the child's UDP datagrams to 198.18.1.1:5300 are dropped, logged to NFLOG group 4171, read
 *     by the engine's NFLOG socket in the daemon's loop and counted in the daemon's denials
 *     (src 198.18.1.2, udp, dport 5300), in the heartbeat stats' denied_packets and in the next
 *     heartbeat's denial list; its tcp/22 SYN is not counted (allowed);
 *   - a null filter deletes the table; teardown leaves no table.
 * Needs root, nft and veth (exit 77 otherwise). */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "agent/daemon/daemon.h"
#include "agent/daemon/kengine.h"
#include "agent/kernel/nftfilter.h"
#include "common/filter/matcher.h"
#include "common/log.h"
#include "tests/check.h"
#include "tests/kernel/fakekernel.h"
#include "tests/netns_util.h"

#define LINK "zkn0"

static int ok_link(void *ctx, const char *ifname)
{
    (void)ctx;
    return strcmp(ifname, LINK) ? -ENODEV : 0;
}

static int ok_set_up(void *ctx, const char *ifname, bool up)
{
    (void)up;
    return ok_link(ctx, ifname);
}

static int ok_addr4(void *ctx, const char *ifname, struct in_addr addr, unsigned plen, bool del)
{
    (void)ctx, (void)ifname, (void)addr, (void)plen, (void)del;
    return 0;
}

static int nft_apply(void *ctx, const char *table, const char *ifname, const struct filter_entry *e,
                     size_t n)
{
    (void)ctx;
    return nft_filter_apply(table, ifname, e, n, AGENT_KERNEL_NFLOG_GROUP);
}

static int nft_delete(void *ctx, const char *table)
{
    (void)ctx;
    return nft_filter_delete(table);
}

static bool has_table(void)
{
    char out[4096] = "";
    FILE *p = popen("nft list tables", "r");
    size_t n = p ? fread(out, 1, sizeof(out) - 1, p) : 0;
    out[n] = 0;
    if (p)
        pclose(p);
    return strstr(out, "table inet ztna\n") != NULL;
}

/* The peer's side: waits for its end of the veth, then sends 5 denied datagrams and a SYN. */
static void child(int ready, int go)
{
    char c;
    if (unshare(CLONE_NEWNET) < 0 || write(ready, "u", 1) != 1 || read(go, &c, 1) != 1)
        _exit(1);
    if (system("ip addr add 198.18.1.2/24 dev zkn1 && ip link set zkn1 up && ip link set lo up"))
        _exit(2);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(5300)};
    inet_pton(AF_INET, "198.18.1.1", &to.sin_addr);
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    for (int i = 0; i < 5; i++) {
        sendto(u, "deny", 4, 0, (struct sockaddr *)&to, sizeof(to));
        usleep(50 * 1000);
    }
    int t = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    to.sin_port = htons(22);
    connect(t, (struct sockaddr *)&to, sizeof(to)); /* allowed: a RST comes back, no denial */
    usleep(300 * 1000);
    _exit(0);
}

static const struct agent_denial *denial(const struct agent *a, const char *src, uint8_t proto,
                                         uint16_t dport)
{
    uint8_t s[4];
    inet_pton(AF_INET, src, s);
    for (size_t i = 0; i < a->n_denials; i++)
        if (a->denials[i].family == 4 && !memcmp(a->denials[i].src, s, 4) &&
            a->denials[i].proto == proto && a->denials[i].dport == dport)
            return &a->denials[i];
    return NULL;
}

int main(void)
{
    static struct fake wg;
    static struct agent ag;
    struct agent *a = &ag;
    struct kengine_ops ops = {ok_link, ok_link, ok_set_up, ok_addr4, fake_get, fake_set,
                              nft_apply, nft_delete, &wg};
    struct filter_entry ssh = {.family = 4, .plen = 24, .proto = FILTER_PROTO_TCP, .port_lo = 22,
                               .port_hi = 22};
    struct netmap nm1 = {0}, nm2 = {0};
    int ready[2], go[2], skip = netns_enter_private(false);
    pid_t pid;

    if (skip)
        return skip;
    if (sodium_init() < 0)
        return 1;
    if (system("command -v nft >/dev/null 2>&1") != 0) {
        printf("SKIP: nft not installed\n");
        return 77;
    }
    if (system("ip link add " LINK " type veth peer name zkn1 && "
               "ip addr add 198.18.1.1/24 dev " LINK " && ip link set " LINK " up") != 0) {
        printf("SKIP: cannot create a veth pair\n");
        return 77;
    }
    if (pipe(ready) || pipe(go))
        return 1;
    if ((pid = fork()) == 0)
        child(ready[1], go[0]);
    char c, cmd[128];
    CHECK(read(ready[0], &c, 1) == 1);
    snprintf(cmd, sizeof(cmd), "ip link set zkn1 netns %d", (int)pid);
    CHECK(system(cmd) == 0);

    randombytes_buf(a->keys.wg_priv, 32);
    crypto_scalarmult_base(a->keys.wg_pub, a->keys.wg_priv);
    snprintf(a->tun, sizeof(a->tun), LINK);
    a->listen_port = 51961;
    a->kernel = true;
    CHECK(loop_init(a) == 0);
    CHECK(filter_matcher_new(&a->fm, 0) == 0);
    /* a table left by an earlier run goes at start */
    CHECK(nft_filter_apply("ztna", LINK, NULL, 0, AGENT_KERNEL_NFLOG_GROUP) == 0 && has_table());
    CHECK(kengine_init(a, &ops) == 0);
    CHECK(!has_table());

    nm1.version = 1;
    inet_pton(AF_INET, "100.64.9.1", &nm1.self.ip);
    inet_pton(AF_INET, "198.18.1.0", ssh.addr);
    nm1.has_filter = true;
    nm1.filter = &ssh;
    nm1.n_filter = 1;
    engine_apply(a, NULL, &nm1);
    CHECK(has_table());
    CHECK(a->filter_on && a->filter); /* status: "policy" */

    CHECK(write(go[1], "g", 1) == 1);
    uint64_t end = agent_now_ms() + 5000;
    const struct agent_denial *d = NULL;
    while (agent_now_ms() < end && !((d = denial(a, "198.18.1.2", 17, 5300)) && d->packets >= 5)) {
        struct pollfd p = {.fd = a->epfd, .events = POLLIN};
        if (poll(&p, 1, 20) > 0)
            loop_dispatch(a);
        kengine_tick(a);
    }
    int st = -1;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    printf("denials: %zu counter(s); udp/5300 from 198.18.1.2: %llu packet(s)\n", a->n_denials,
           d ? (unsigned long long)d->packets : 0ULL);
    CHECK(d && d->packets == 5 && d->unreported == 5);
    CHECK(!denial(a, "198.18.1.2", 6, 22));
    cJSON *stats = engine_stats(a);
    CHECK(stats && cJSON_GetObjectItem(stats, "denied_packets")->valuedouble >= 5);
    cJSON_Delete(stats);
    cJSON *hb = pktpath_take_denials(a); /* what the next heartbeat reports */
    cJSON *first = cJSON_GetArrayItem(hb, 0);
    CHECK(cJSON_GetArraySize(hb) == 1 && first &&
          !strcmp(cJSON_GetObjectItem(first, "src")->valuestring, "198.18.1.2") &&
          !strcmp(cJSON_GetObjectItem(first, "proto")->valuestring, "udp") &&
          cJSON_GetObjectItem(first, "dport")->valuedouble == 5300 &&
          cJSON_GetObjectItem(first, "count")->valuedouble == 5);
    cJSON_Delete(hb);

    nm2 = nm1;
    nm2.version = 2;
    nm2.has_filter = false;
    nm2.filter = NULL;
    nm2.n_filter = 0;
    engine_apply(a, &nm1, &nm2);
    CHECK(!has_table());
    engine_apply(a, &nm2, &nm1);
    CHECK(has_table());
    kengine_fini(a);
    CHECK(!has_table());
    CHECK(wg.nl_errors == 0);
    fake_free(&wg);
    filter_matcher_free(a->fm);
    filter_free(a->filter);
    loop_fini(a);
    return check_finish("test_kengine_nft");
}
