/* Live test of nftfilter against the kernel's nf_tables, in three private network namespaces
 * (the test process unshares into N; child processes hold A and C; all vanish with the
 * processes, even on a crash). A veth pair stands in for the WireGuard link: the filter applies
 * by iifname.
 *
 *        netns N (this process, the filter)               netns A (peer, a child process)
 *   +---------------------------------------+        +-----------------------------------+
 *   | zu0 198.18.7.1/24                     |--------| zu1 198.18.7.2/24   (underlay)     |
 *   | zt0 100.64.7.1/24                     |--------| zt1 100.64.7.2/24, 100.64.7.3/24   |
 *   |     fd7a:115c:a1e0::1/64 ("tunnel")   |        |     fd7a:115c:a1e0::2, ::3 /64     |
 *   |  table inet ztna: iifname "zt0" ...   |        |  route 198.18.8.0/24 via N        |
 *   | zc0 198.18.8.1/24, forwarding         |        +-----------------------------------+
 *   +---------------------------------------+
 *        |   netns C (a host behind N, a child process): zc1 198.18.8.2/24
 *        +-- route 100.64.0.0/10 via 198.18.8.1
 *
 * Filter 1: tcp .2/32 and ::2/128 port 22, udp 100.64.7.0/24 and fd7a::/64 port 53, icmp .2 and
 * ::2.
 *   TCP 22 from .2 / ::2 connects; from .3 / ::3 it does not; TCP 80 is dropped and read back
 *   from NFLOG as (src, tcp, 80); UDP 53 arrives, UDP 54 does not (and is counted); ping from .2
 *   and ::2 answered, from .3 and ::3 not; flows N opens to A (TCP, UDP, ping) get their
 *   replies; TCP 80 over the underlay (not zt0) connects; forwarded to C (hook forward): TCP 22
 *   from .2 connects, TCP 80 from .2 and TCP 22 from .3 do not.
 * A batch the kernel refuses half-way (a rule for a chain that does not exist) changes nothing.
 * Filter 2 (tcp .2 80, any .3 53) replaces filter 1 at once: 80 connects, 22 no longer does;
 *   from .3 / ::3 UDP 53 and ping pass, TCP 22 and 80 do not.
 * Filter 3: 1,000 entries, applied in a time printed (not asserted; next to nft -f loading the
 * same ruleset), enforced for entries 1 (from 100.66.0.7) and 999/1000; 10,000 entries timed too.
 * Delete: `nft list tables` prints nothing; TCP 80 connects again; a second delete is -ENOENT. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/icmp6.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/kernel/nftfilter.h"
#include "agent/kernel/nftfilter_msg.h"
#include "common/filter/filter.h"
#include "tests/check.h"
#include "tests/netns_util.h"

#define TABLE "ztna"
#define GROUP 4242
#define T_ALLOW_MS 3000 /* an allowed exchange normally takes < 1 ms */
#define T_DENY_MS 300   /* how long a dropped one is given before it counts as dropped */

static pid_t child[2] = {-1, -1};
static int ns_n = -1, ns_a = -1, ns_c = -1;

static const char *N4 = "100.64.7.1", *A4 = "100.64.7.2", *B4 = "100.64.7.3";
static const char *N6 = "fd7a:115c:a1e0::1", *A6 = "fd7a:115c:a1e0::2", *B6 = "fd7a:115c:a1e0::3";

static void enter(int fd)
{
    if (setns(fd, CLONE_NEWNET) != 0) {
        perror("setns");
        exit(1);
    }
}

static int sh(int ns, const char *cmd)
{
    enter(ns);
    int r = system(cmd);
    enter(ns_n);
    if (r != 0)
        fprintf(stderr, "command failed (%d): %s\n", r, cmd);
    return r;
}

static void cleanup(void)
{
    for (int i = 0; i < 2; i++) {
        if (child[i] > 0) {
            kill(child[i], SIGKILL);
            waitpid(child[i], NULL, 0);
            child[i] = -1;
        }
    }
}

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static socklen_t addr_of(const char *ip, uint16_t port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        return sizeof(*s4);
    }
    if (inet_pton(AF_INET6, ip, &s6->sin6_addr) != 1)
        abort();
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    return sizeof(*s6);
}

/* A socket of ns, bound to src (port sport, 0 for any). */
static int sock_in(int ns, int type, int proto, const char *src, uint16_t sport)
{
    struct sockaddr_storage ss;
    socklen_t sl = addr_of(src, sport, &ss);
    enter(ns);
    int s = socket(ss.ss_family, type | SOCK_CLOEXEC, proto);
    enter(ns_n);
    int one = 1;
    if (s < 0)
        return -1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6)
        setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(s, (struct sockaddr *)&ss, sl) != 0) {
        perror("bind");
        close(s);
        return -1;
    }
    return s;
}

static bool readable(int s, int ms)
{
    struct pollfd p = {.fd = s, .events = POLLIN};
    return poll(&p, 1, ms) == 1;
}

/* TCP connect from ns (bound to src) to dst:port; true if the handshake completes. */
static bool tcp_ok(int ns, const char *src, const char *dst, uint16_t port, int ms)
{
    struct sockaddr_storage ss;
    socklen_t sl = addr_of(dst, port, &ss);
    int s = sock_in(ns, SOCK_STREAM | SOCK_NONBLOCK, 0, src, 0), err = -1;
    socklen_t el = sizeof(err);
    if (s < 0)
        return false;
    if (connect(s, (struct sockaddr *)&ss, sl) == 0) {
        close(s);
        return true;
    }
    struct pollfd p = {.fd = s, .events = POLLOUT};
    if (errno == EINPROGRESS && poll(&p, 1, ms) == 1)
        getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el);
    close(s);
    return err == 0;
}

/* UDP datagram from ns (src:sport) to the socket rx (bound to dst:dport); true if it arrives. */
static bool udp_ok(int ns, const char *src, uint16_t sport, int rx, const char *dst, uint16_t dport,
                   int ms)
{
    struct sockaddr_storage ss;
    socklen_t sl = addr_of(dst, dport, &ss);
    char buf[64];
    int s = sock_in(ns, SOCK_DGRAM, 0, src, sport);
    if (s < 0)
        return false;
    while (recv(rx, buf, sizeof(buf), MSG_DONTWAIT) > 0) /* stale */
        ;
    bool ok = sendto(s, "ztna", 4, 0, (struct sockaddr *)&ss, sl) == 4 && readable(rx, ms) &&
              recv(rx, buf, sizeof(buf), 0) == 4;
    close(s);
    return ok;
}

static uint16_t csum(const uint8_t *p, size_t n)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Echo request from ns (src) to dst on a raw socket; true if the matching reply comes back. */
static bool ping_ok(int ns, const char *src, const char *dst, int ms)
{
    static uint16_t seq;
    struct sockaddr_storage ss;
    socklen_t sl = addr_of(dst, 0, &ss);
    bool v6 = ss.ss_family == AF_INET6;
    int s = sock_in(ns, SOCK_RAW, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP, src, 0);
    uint8_t pkt[16] = {v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO, 0, 0, 0, 0x7a, 0x7a};
    uint8_t buf[256];
    if (s < 0)
        return false;
    seq++;
    pkt[6] = (uint8_t)(seq >> 8), pkt[7] = (uint8_t)seq;
    if (!v6) { /* ICMPv6 raw sockets have the kernel fill the checksum in */
        uint16_t c = csum(pkt, sizeof(pkt));
        pkt[2] = (uint8_t)(c >> 8), pkt[3] = (uint8_t)c;
    }
    bool ok = false;
    if (sendto(s, pkt, sizeof(pkt), 0, (struct sockaddr *)&ss, sl) == (ssize_t)sizeof(pkt)) {
        uint64_t end = now_ms() + (uint64_t)ms;
        for (int i = 0; i < 64 && !ok; i++) {
            uint64_t t = now_ms();
            if (t >= end || !readable(s, (int)(end - t)))
                break;
            ssize_t r = recv(s, buf, sizeof(buf), 0);
            size_t off = v6 ? 0 : (size_t)(buf[0] & 0x0f) * 4; /* IPv4 raw: the IP header first */
            if (r >= (ssize_t)(off + 8)) {
                const uint8_t *ic = buf + off;
                ok = ic[0] == (v6 ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY) && ic[4] == 0x7a &&
                     ic[5] == 0x7a && ic[6] == pkt[6] && ic[7] == pkt[7];
            }
        }
    }
    close(s);
    return ok;
}

static int listen_on(int ns, const char *ip, uint16_t port)
{
    int s = sock_in(ns, SOCK_STREAM, 0, ip, port);
    if (s >= 0 && listen(s, 64) != 0) {
        close(s);
        return -1;
    }
    return s;
}

static int nft_entries(const char *const *txt, size_t n, struct filter_entry *e)
{
    for (size_t i = 0; i < n; i++)
        if (filter_entry_parse(txt[i], &e[i]) != 0) {
            fprintf(stderr, "bad entry %s\n", txt[i]);
            return -1;
        }
    return 0;
}

static struct filter_deny_count deny_out[64];
static size_t deny_n;
static uint64_t deny_other;

/* Reads until the kernel's flush interval passed in silence, and forgets every count. */
static void denials_reset(int fd)
{
    for (int i = 0; i < 50 && readable(fd, NFTF_NFLOG_FLUSH_CS * 10 * 3); i++)
        CHECK(nft_denials_read(fd, deny_out, 64, &deny_n, &deny_other) == 0);
    deny_n = 0;
    deny_other = 0;
}

/* Polls the NFLOG socket for up to ms and returns the denial for (src, proto, dport), or 0. */
static uint64_t denied(int fd, const char *src, uint8_t proto, uint16_t dport, int ms)
{
    struct filter_deny_count *out = deny_out;
    size_t *np = &deny_n, n;
    uint64_t *other = &deny_other;
    uint8_t a[16] = {0};
    int family = inet_pton(AF_INET, src, a) == 1 ? 4 : 6;
    if (family == 6)
        inet_pton(AF_INET6, src, a);
    uint64_t end = now_ms() + (uint64_t)ms;
    for (int i = 0; i < 100; i++) {
        CHECK(nft_denials_read(fd, out, 64, np, other) == 0);
        n = *np;
        for (size_t j = 0; j < n; j++)
            if (out[j].family == family && out[j].proto == proto && out[j].dport == dport &&
                !memcmp(out[j].src, a, 16))
                return out[j].packets;
        uint64_t t = now_ms();
        if (t >= end || !readable(fd, (int)(end - t)))
            break;
    }
    return 0;
}

static bool nft_output_has(const char *cmd, const char *needle, size_t *len)
{
    char buf[65536];
    FILE *f = popen(cmd, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        pclose(f);
    buf[n] = 0;
    if (len)
        *len = n;
    return needle && strstr(buf, needle) != NULL;
}

/* A child process that holds a new network namespace; returns an fd of that namespace. */
static int spawn_ns(pid_t *pid)
{
    int pipefd[2];
    char c, path[64];
    if (pipe(pipefd) != 0)
        return -1;
    *pid = fork();
    if (*pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (unshare(CLONE_NEWNET) != 0)
            _exit(1);
        if (write(pipefd[1], "x", 1) != 1)
            _exit(1);
        for (int i = 0; i < 600; i++) /* bounded: the test kills it long before */
            sleep(1);
        _exit(0);
    }
    close(pipefd[1]);
    bool ok = *pid > 0 && read(pipefd[0], &c, 1) == 1;
    close(pipefd[0]);
    if (!ok)
        return -1;
    snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)*pid);
    return open(path, O_RDONLY | O_CLOEXEC);
}

static int setup(void)
{
    char cmd[1024];
    ns_n = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    ns_a = spawn_ns(&child[0]);
    ns_c = spawn_ns(&child[1]);
    if (ns_a < 0 || ns_n < 0 || ns_c < 0)
        return -1;
    snprintf(cmd, sizeof(cmd),
             "ip link add zu0 type veth peer name zu1 netns %d && "
             "ip link add zt0 address 02:00:00:00:07:01 type veth peer name zt1 "
             "address 02:00:00:00:07:02 netns %d && "
             "ip link add zc0 type veth peer name zc1 netns %d && "
             "ip addr add 198.18.7.1/24 dev zu0 && ip link set zu0 up && "
             "ip addr add 198.18.8.1/24 dev zc0 && ip link set zc0 up && "
             "ip addr add 100.64.7.1/24 dev zt0 && "
             "ip addr add fd7a:115c:a1e0::1/64 dev zt0 nodad && ip link set zt0 up && "
             "ip neigh replace fd7a:115c:a1e0::2 lladdr 02:00:00:00:07:02 nud permanent dev zt0 && "
             "ip neigh replace fd7a:115c:a1e0::3 lladdr 02:00:00:00:07:02 nud permanent dev zt0 && "
             "sysctl -qw net.ipv4.ip_forward=1",
             (int)child[0], (int)child[0], (int)child[1]);
    if (sh(ns_n, cmd) != 0)
        return -1;
    if (sh(ns_c, "ip link set lo up && ip addr add 198.18.8.2/24 dev zc1 && ip link set zc1 up && "
                 "ip route add 100.64.0.0/10 via 198.18.8.1") != 0)
        return -1;
    /* Static neighbours: IPv6 neighbour discovery would be ICMPv6 from link-local addresses,
     * which the filter drops like any other packet (the WireGuard link has no ND at all). */
    return sh(
        ns_a,
        "ip link set lo up && ip addr add 198.18.7.2/24 dev zu1 && ip link set zu1 up && "
        "ip addr add 100.64.7.2/24 dev zt1 && ip addr add 100.64.7.3/24 dev zt1 && "
        "ip addr add fd7a:115c:a1e0::2/64 dev zt1 nodad && "
        "ip addr add fd7a:115c:a1e0::3/64 dev zt1 nodad && ip link set zt1 up && "
        "ip neigh replace fd7a:115c:a1e0::1 lladdr 02:00:00:00:07:01 nud permanent dev zt1 && "
        "ip route add 198.18.8.0/24 via 100.64.7.1");
}

/* Reverse search for the last occurrence of s in the batch (the last NEWRULE's chain name). */
static uint8_t *last_occurrence(struct nftf_batch *b, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = b->len - n; i > 0; i--)
        if (!memcmp(b->buf + i, s, n))
            return b->buf + i;
    return NULL;
}

int main(void)
{
    int ret = netns_enter_private(false);
    if (ret)
        return ret;
    if (system("nft --version >/dev/null 2>&1") != 0) {
        printf("SKIP: nft(8) is needed to list what the test leaves behind\n");
        return 77;
    }
    atexit(cleanup);
    if (setup() != 0) {
        printf("SKIP: could not build the namespaces (veth)\n");
        return 77;
    }
    ret = nft_filter_apply(TABLE, "zt0", NULL, 0, GROUP);
    if (ret == -EPROTONOSUPPORT || ret == -EAFNOSUPPORT || ret == -EOPNOTSUPP) {
        printf("SKIP: no nf_tables in this kernel (%s)\n", strerror(-ret));
        return 77;
    }
    CHECK(ret == 0);
    int log_fd = nft_denials_open(GROUP);
    CHECK(log_fd >= 0);
    int again = nft_denials_open(GROUP);
    CHECK(again == -EPERM); /* one listener per group */
    if (again >= 0)
        nft_denials_close(again);

    /* servers in N, on the tunnel and underlay addresses */
    int l[] = {listen_on(ns_n, N4, 22),           listen_on(ns_n, N6, 22),
               listen_on(ns_n, N4, 80),           listen_on(ns_n, N6, 80),
               listen_on(ns_n, "198.18.7.1", 80), listen_on(ns_a, A4, 8080),
               listen_on(ns_a, A6, 8080),         listen_on(ns_c, "198.18.8.2", 22),
               listen_on(ns_c, "198.18.8.2", 80)};
    for (size_t i = 0; i < sizeof(l) / sizeof(l[0]); i++)
        CHECK(l[i] >= 0);
    int u53 = sock_in(ns_n, SOCK_DGRAM, 0, N4, 53), u54 = sock_in(ns_n, SOCK_DGRAM, 0, N4, 54);
    int u53_6 = sock_in(ns_n, SOCK_DGRAM, 0, N6, 53), ua = sock_in(ns_a, SOCK_DGRAM, 0, A4, 5353);
    CHECK(u53 >= 0 && u54 >= 0 && u53_6 >= 0 && ua >= 0);

    /* sanity before any filter: the empty filter (deny all) on zt0 */
    CHECK(!tcp_ok(ns_a, A4, N4, 22, T_DENY_MS));
    CHECK(tcp_ok(ns_a, "198.18.7.2", "198.18.7.1", 80, T_ALLOW_MS));

    /* --- filter 1 --- */
    static const char *const f1[] = {"tcp 100.64.7.2/32 22", "tcp fd7a:115c:a1e0::2/128 22",
                                     "udp 100.64.7.0/24 53", "udp fd7a:115c:a1e0::/64 53",
                                     "icmp 100.64.7.2/32 0", "icmp fd7a:115c:a1e0::2/128 0"};
    struct filter_entry e1[6];
    CHECK(nft_entries(f1, 6, e1) == 0);
    CHECK(nft_filter_apply(TABLE, "zt0", e1, 6, GROUP) == 0);
    denials_reset(log_fd);
    CHECK(tcp_ok(ns_a, A4, N4, 22, T_ALLOW_MS));
    CHECK(tcp_ok(ns_a, A6, N6, 22, T_ALLOW_MS));
    CHECK(!tcp_ok(ns_a, B4, N4, 22, T_DENY_MS));
    CHECK(!tcp_ok(ns_a, B6, N6, 22, T_DENY_MS));
    CHECK(!tcp_ok(ns_a, A4, N4, 80, T_DENY_MS));
    CHECK(denied(log_fd, A4, 6, 80, 1000) >= 1);
    CHECK(!tcp_ok(ns_a, A6, N6, 80, T_DENY_MS));
    CHECK(denied(log_fd, A6, 6, 80, 1000) >= 1);
    CHECK(denied(log_fd, B4, 6, 22, 1000) >= 1);
    CHECK(denied(log_fd, A4, 6, 22, 0) == 0); /* allowed: never logged */
    CHECK(udp_ok(ns_a, A4, 0, u53, N4, 53, T_ALLOW_MS));
    CHECK(udp_ok(ns_a, B4, 0, u53, N4, 53, T_ALLOW_MS));
    CHECK(udp_ok(ns_a, B6, 0, u53_6, N6, 53, T_ALLOW_MS));
    CHECK(!udp_ok(ns_a, A4, 0, u54, N4, 54, T_DENY_MS));
    CHECK(denied(log_fd, A4, 17, 54, 1000) == 1);
    CHECK(ping_ok(ns_a, A4, N4, T_ALLOW_MS));
    CHECK(ping_ok(ns_a, A6, N6, T_ALLOW_MS));
    CHECK(!ping_ok(ns_a, B4, N4, T_DENY_MS));
    CHECK(!ping_ok(ns_a, B6, N6, T_DENY_MS));
    CHECK(denied(log_fd, B4, 1, 0, 1000) >= 1);
    CHECK(denied(log_fd, B6, 58, 0, 1000) >= 1);
    /* flows N opens to A: their replies pass although no entry allows them */
    CHECK(tcp_ok(ns_n, N4, A4, 8080, T_ALLOW_MS));
    CHECK(tcp_ok(ns_n, N6, A6, 8080, T_ALLOW_MS));
    CHECK(ping_ok(ns_n, N4, B4, T_ALLOW_MS));
    CHECK(ping_ok(ns_n, N6, B6, T_ALLOW_MS));
    {
        int un = sock_in(ns_n, SOCK_DGRAM, 0, N4, 40000);
        struct sockaddr_storage ss;
        socklen_t sl = addr_of(A4, 5353, &ss);
        char buf[16];
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        CHECK(un >= 0 && sendto(un, "q", 1, 0, (struct sockaddr *)&ss, sl) == 1);
        CHECK(readable(ua, T_ALLOW_MS) &&
              recvfrom(ua, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl) == 1);
        CHECK(sendto(ua, "r", 1, 0, (struct sockaddr *)&from, fl) == 1);
        CHECK(readable(un, T_ALLOW_MS) && recv(un, buf, sizeof(buf), 0) == 1);
        /* the same port pair from A's other address is no reply: dropped */
        CHECK(!udp_ok(ns_a, B4, 5353, un, N4, 40000, T_DENY_MS));
        close(un);
    }
    /* forwarded from the tunnel to the host C behind N: the forward hook, same entries */
    CHECK(tcp_ok(ns_a, A4, "198.18.8.2", 22, T_ALLOW_MS));
    CHECK(!tcp_ok(ns_a, A4, "198.18.8.2", 80, T_DENY_MS));
    CHECK(!tcp_ok(ns_a, B4, "198.18.8.2", 22, T_DENY_MS));
    CHECK(denied(log_fd, B4, 6, 22, 1000) >= 2); /* once to N, once forwarded */
    /* another interface is untouched */
    CHECK(tcp_ok(ns_a, "198.18.7.2", "198.18.7.1", 80, T_ALLOW_MS));

    /* --- a batch the kernel refuses half-way changes nothing --- */
    static const char *const f2[] = {"tcp 100.64.7.2/32 80", "tcp fd7a:115c:a1e0::2/128 80",
                                     "any 100.64.7.3/32 53", "any fd7a:115c:a1e0::3/128 53"};
    struct filter_entry e2[4];
    CHECK(nft_entries(f2, 4, e2) == 0);
    struct nftf_batch b;
    CHECK(nftf_batch_build_apply(&b, TABLE, "zt0", e2, 2, GROUP, 1) == 0);
    uint8_t *chain = last_occurrence(&b, "forward");
    CHECK(chain != NULL);
    if (chain) {
        memcpy(chain, "forwarx", 7); /* the last rule now names a chain that does not exist */
        FILE *log = tmpfile();
        int saved = dup(2);
        fflush(stderr);
        CHECK(log && saved >= 0 && dup2(fileno(log), 2) == 2);
        CHECK(nftf_batch_run(&b) == -ENOENT);
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        char text[512] = {0};
        if (log) {
            rewind(log);
            CHECK(fread(text, 1, sizeof(text) - 1, log) > 0);
            fclose(log);
        }
        fprintf(stderr, "refused batch logged: %s", text);
        CHECK(strstr(text, "refused") && strstr(text, "NEWRULE forwarx") &&
              strstr(text, "No such file or directory"));
    }
    nftf_batch_free(&b);
    CHECK(tcp_ok(ns_a, A4, N4, 22, T_ALLOW_MS));
    CHECK(!tcp_ok(ns_a, A4, N4, 80, T_DENY_MS));

    /* --- filter 2 replaces filter 1 --- */
    CHECK(nft_filter_apply(TABLE, "zt0", e2, 4, GROUP) == 0);
    CHECK(tcp_ok(ns_a, A4, N4, 80, T_ALLOW_MS));
    CHECK(tcp_ok(ns_a, A6, N6, 80, T_ALLOW_MS));
    CHECK(!tcp_ok(ns_a, A4, N4, 22, T_DENY_MS));
    CHECK(!udp_ok(ns_a, A4, 0, u53, N4, 53, T_DENY_MS));
    CHECK(!ping_ok(ns_a, A4, N4, T_DENY_MS)); /* icmp from .2 was filter 1's */
    /* proto any: UDP and TCP within its ports, every other protocol (here ICMP) whole */
    CHECK(udp_ok(ns_a, B4, 0, u53, N4, 53, T_ALLOW_MS));
    CHECK(udp_ok(ns_a, B6, 0, u53_6, N6, 53, T_ALLOW_MS));
    CHECK(!tcp_ok(ns_a, B4, N4, 22, T_DENY_MS));
    CHECK(!tcp_ok(ns_a, B4, N4, 80, T_DENY_MS));
    CHECK(ping_ok(ns_a, B4, N4, T_ALLOW_MS));
    CHECK(ping_ok(ns_a, B6, N6, T_ALLOW_MS));
    CHECK(nft_output_has("nft list table inet " TABLE, "100.64.7.2 . 80", NULL));
    CHECK(!nft_output_has("nft list table inet " TABLE, " . 22", NULL));
    size_t tables_len;
    CHECK(nft_output_has("nft list tables", "table inet " TABLE, &tables_len));
    CHECK(tables_len == strlen("table inet " TABLE "\n"));

    /* --- filter 3: 1,000 entries (and 10,000, timed only) --- */
    enum { N_BIG = 1000, N_HUGE = 10000 };
    struct filter_entry *big = calloc(N_HUGE, sizeof(*big));
    CHECK(big != NULL);
    if (big) {
        /* hosts and /28s of 100.64.0.0/10 (e.g. i=1: tcp 100.66.0.7/32 1001-1002), every 7th
         * an IPv6 host, every 11th proto any */
        for (size_t i = 0; i < N_HUGE; i++) {
            char t[96];
            unsigned u = (unsigned)i;
            const char *proto = i % 11 == 10 ? "any" : i % 3 ? "tcp" : "udp";
            if (i % 7 == 6)
                snprintf(t, sizeof(t), "%s fd7a:115c:a1e0::%x:%x/128 %u", proto, u / 256 + 1,
                         u % 256, 1000 + u % 60000);
            else
                snprintf(t, sizeof(t), "%s 100.%u.%u.%u/%u %u-%u", proto, 65 + u % 50, u / 50 % 256,
                         u * 7 % 256, i % 5 ? 32 : 28, 1000 + u % 60000, 1000 + u % 60000 + u % 4);
            CHECK(filter_entry_parse(t, &big[i]) == 0);
        }
        big[N_BIG - 2] = e1[0];
        big[N_BIG - 1] = e1[1];
        CHECK(sh(ns_a, "ip addr add 100.66.0.7/32 dev zt1") == 0);
        CHECK(sh(ns_n, "ip route add 100.66.0.7/32 dev zt0") == 0);
        int l1001 = listen_on(ns_n, N4, 1001), l1003 = listen_on(ns_n, N4, 1003);
        CHECK(l1001 >= 0 && l1003 >= 0);
        uint64_t t0 = now_ms();
        CHECK(nft_filter_apply(TABLE, "zt0", big, N_BIG, GROUP) == 0);
        uint64_t ours = now_ms() - t0;
        CHECK(tcp_ok(ns_a, A4, N4, 22, T_ALLOW_MS));
        CHECK(tcp_ok(ns_a, A6, N6, 22, T_ALLOW_MS));
        CHECK(tcp_ok(ns_a, "100.66.0.7", N4, 1001, T_ALLOW_MS));
        CHECK(!tcp_ok(ns_a, "100.66.0.7", N4, 1003, T_DENY_MS));
        CHECK(!tcp_ok(ns_a, A4, N4, 80, T_DENY_MS));
        CHECK(!tcp_ok(ns_a, B4, N4, 22, T_DENY_MS));
        /* the peer figure: nft(8) loading the very ruleset we built, from its own listing */
        char path[] = "/tmp/nftfilter-XXXXXX", cmd[128];
        int tf = mkstemp(path);
        CHECK(tf >= 0);
        if (tf >= 0) {
            close(tf);
            snprintf(cmd, sizeof(cmd), "nft list table inet " TABLE " > %s", path);
            CHECK(system(cmd) == 0);
            CHECK(nft_filter_delete(TABLE) == 0);
            snprintf(cmd, sizeof(cmd), "nft -f %s", path);
            t0 = now_ms();
            CHECK(system(cmd) == 0);
            uint64_t nft = now_ms() - t0;
            unlink(path);
            printf("apply with %d entries: %llu ms (nft -f of the same ruleset, incl. process "
                   "start: %llu ms)\n",
                   N_BIG, (unsigned long long)ours, (unsigned long long)nft);
        }
        t0 = now_ms();
        CHECK(nft_filter_apply(TABLE, "zt0", big, N_HUGE, GROUP) == 0);
        printf("apply with %d entries: %llu ms\n", N_HUGE, (unsigned long long)(now_ms() - t0));
        CHECK(tcp_ok(ns_a, "100.66.0.7", N4, 1001, T_ALLOW_MS));
        CHECK(!tcp_ok(ns_a, "100.66.0.7", N4, 1003, T_DENY_MS));
        close(l1001), close(l1003);
        free(big);
    }

    /* --- delete --- */
    CHECK(nft_filter_delete(TABLE) == 0);
    nft_output_has("nft list tables", NULL, &tables_len);
    CHECK(tables_len == 0);
    CHECK(tcp_ok(ns_a, A4, N4, 80, T_ALLOW_MS));
    CHECK(nft_filter_delete(TABLE) == -ENOENT);
    CHECK(nft_filter_apply(TABLE, "", e1, 1, GROUP) == -EINVAL);

    nft_denials_close(log_fd);
    for (size_t i = 0; i < sizeof(l) / sizeof(l[0]); i++)
        close(l[i]);
    close(u53), close(u54), close(u53_6), close(ua);
    cleanup();
    return check_finish("test_nftfilter_live");
}
