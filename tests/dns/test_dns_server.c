/* The authority's network side on 127.0.0.1 with an ephemeral port: UDP, TCP (pipelined
 * queries, a query split across segments, idle timeout, connection bound) and snapshot swaps
 * under concurrent load (run under ASan, a use-after-free in the swap would be caught). */
#include "tests/dns/dns_test_util.h"
#include "tests/check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in srv_addr;

static int udp_client(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    connect(fd, (struct sockaddr *)&srv_addr, sizeof(srv_addr));
    return fd;
}

static int tcp_client(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&srv_addr, sizeof(srv_addr)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* UDP round trip; returns response length or 0 on timeout. */
static size_t udp_ask(int fd, const struct tq *q, uint8_t *resp, size_t cap)
{
    uint8_t in[512];
    size_t ql = tq_build(in, sizeof(in), q);
    if (send(fd, in, ql, 0) != (ssize_t)ql)
        return 0;
    for (int tries = 0; tries < 4; tries++) {   /* skip stale replies to earlier queries */
        ssize_t n = recv(fd, resp, cap, 0);
        if (n <= 0)
            return 0;
        if (n >= 2 && resp[0] == (uint8_t)(q->id >> 8) && resp[1] == (uint8_t)q->id)
            return (size_t)n;
    }
    return 0;
}

static bool read_full(int fd, uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = recv(fd, p, n, 0);
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

static size_t tcp_read_msg(int fd, uint8_t *p, size_t cap)
{
    uint8_t l[2];
    if (!read_full(fd, l, 2))
        return 0;
    size_t len = (size_t)l[0] << 8 | l[1];
    if (len > cap || !read_full(fd, p, len))
        return 0;
    return len;
}

static struct tq q_a(const char *name, uint16_t id)
{
    return (struct tq){.name = name, .qtype = DNS_TYPE_A, .id = id, .edns_version = -1};
}

static void test_udp_tcp(void)
{
    uint8_t resp[65536];
    struct tresp r;
    int u = udp_client();
    struct tq q = q_a("laptop.acme.ztna.test", 1);
    size_t n = udp_ask(u, &q, resp, sizeof(resp));
    CHECK(n && tresp_parse(resp, n, &r) && r.n[0] == 1);
    q = q_a("big.acme.ztna.test", 2);
    n = udp_ask(u, &q, resp, sizeof(resp));
    CHECK(n && n <= 512 && tresp_parse(resp, n, &r) && (r.h.flags & DNS_FLAG_TC));
    close(u);

    /* TCP: three pipelined queries in one write, then one split across two writes */
    int t = tcp_client();
    CHECK(t >= 0);
    uint8_t buf[2048];
    size_t off = 0;
    const char *names[3] = {"big.acme.ztna.test", "nope.acme.ztna.test", "server.acme.ztna.test"};
    for (int i = 0; i < 3; i++) {
        struct tq tq = q_a(names[i], (uint16_t)(100 + i));
        size_t ql = tq_build(buf + off + 2, sizeof(buf) - off - 2, &tq);
        buf[off] = (uint8_t)(ql >> 8);
        buf[off + 1] = (uint8_t)ql;
        off += 2 + ql;
    }
    CHECK(send(t, buf, off, 0) == (ssize_t)off);
    for (int i = 0; i < 3; i++) {
        n = tcp_read_msg(t, resp, sizeof(resp));
        CHECK(n && tresp_parse(resp, n, &r) && r.h.id == 100 + i);
        if (i == 0)
            CHECK(r.n[0] == 60 && !(r.h.flags & DNS_FLAG_TC));
        if (i == 1)
            CHECK(DNS_RCODE(r.h.flags) == DNS_RCODE_NXDOMAIN);
    }
    struct tq tq = q_a("laptop.acme.ztna.test", 200);
    size_t ql = tq_build(buf + 2, sizeof(buf) - 2, &tq);
    buf[0] = (uint8_t)(ql >> 8);
    buf[1] = (uint8_t)ql;
    CHECK(send(t, buf, 5, 0) == 5);
    nanosleep(&(struct timespec){0, 50000000}, NULL);
    CHECK(send(t, buf + 5, ql + 2 - 5, 0) == (ssize_t)(ql + 2 - 5));
    n = tcp_read_msg(t, resp, sizeof(resp));
    CHECK(n && tresp_parse(resp, n, &r) && r.h.id == 200 && r.n[0] == 1);
    close(t);
}

/* Server started with tcp_idle_ms = 400 and tcp_max_conn = 3. */
static void test_tcp_limits(void)
{
    uint8_t resp[512];
    int c[3];
    for (int i = 0; i < 3; i++)
        CHECK((c[i] = tcp_client()) >= 0);
    nanosleep(&(struct timespec){0, 100000000}, NULL);
    /* the fourth connection is accepted by the kernel, then closed by the server */
    int extra = tcp_client();
    CHECK(extra >= 0);
    CHECK(recv(extra, resp, sizeof(resp), 0) == 0);
    close(extra);
    /* idle ones are closed after ~400 ms: recv sees EOF well before its 3 s timeout */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(recv(c[0], resp, sizeof(resp), 0) == 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    CHECK(el < 2.0);
    for (int i = 0; i < 3; i++)
        close(c[i]);
    /* slots are free again */
    nanosleep(&(struct timespec){0, 100000000}, NULL);
    int t = tcp_client();
    uint8_t buf[512];
    struct tq q = q_a("laptop.acme.ztna.test", 9);
    size_t ql = tq_build(buf + 2, sizeof(buf) - 2, &q);
    buf[0] = 0;
    buf[1] = (uint8_t)ql;
    CHECK(send(t, buf, ql + 2, 0) == (ssize_t)(ql + 2));
    CHECK(tcp_read_msg(t, resp, sizeof(resp)) > 0);
    close(t);
}

/* A TCP client that sends many queries and never reads: the server must stop reading from it
 * (output pending) without blocking UDP service, and cope with it vanishing. */
static void test_tcp_slow_reader(void)
{
    int t = tcp_client();
    CHECK(t >= 0);
    int sz = 4096;
    setsockopt(t, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    uint8_t buf[64];
    struct tq tq = q_a("big.acme.ztna.test", 77);
    size_t ql = tq_build(buf + 2, sizeof(buf) - 2, &tq);
    buf[0] = 0;
    buf[1] = (uint8_t)ql;
    struct timeval tv = {0, 200000};
    setsockopt(t, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int sent = 0;
    for (int i = 0; i < 3000; i++) {   /* ~3 MB of answers requested; stops when blocked */
        if (send(t, buf, ql + 2, 0) != (ssize_t)(ql + 2))
            break;
        sent++;
    }
    CHECK(sent > 100);
    uint8_t resp[1024];
    struct tresp r;
    int u = udp_client();
    struct tq q = q_a("laptop.acme.ztna.test", 78);
    size_t n = udp_ask(u, &q, resp, sizeof(resp));
    CHECK(n && tresp_parse(resp, n, &r) && r.n[0] == 1);
    /* the first answers are intact */
    static uint8_t big[65536];
    for (int i = 0; i < 3; i++) {
        size_t m = tcp_read_msg(t, big, sizeof(big));
        CHECK(m && tresp_parse(big, m, &r) && r.h.id == 77 && r.n[0] == 60);
    }
    close(t);   /* vanish with answers pending */
    n = udp_ask(u, &q, resp, sizeof(resp));
    CHECK(n && tresp_parse(resp, n, &r) && r.n[0] == 1);
    close(u);
}

struct load {
    atomic_bool stop;
    atomic_long asked, answered, saw_new, bad;
};

static void *load_main(void *arg)
{
    struct load *l = arg;
    int fd = udp_client();
    uint8_t resp[4096];
    uint16_t id = (uint16_t)(uintptr_t)pthread_self();
    while (!atomic_load(&l->stop)) {
        id++;
        const char *name = (id & 1) ? "new.acme.ztna.test" : "laptop.acme.ztna.test";
        struct tq q = q_a(name, id);
        struct tresp r;
        atomic_fetch_add(&l->asked, 1);
        size_t n = udp_ask(fd, &q, resp, sizeof(resp));
        if (!n)
            continue;
        atomic_fetch_add(&l->answered, 1);
        if (!tresp_parse(resp, n, &r)) {
            atomic_fetch_add(&l->bad, 1);
            continue;
        }
        unsigned rc = DNS_RCODE(r.h.flags);
        if ((id & 1) && rc == DNS_RCODE_NOERROR && r.n[0] == 1)
            atomic_fetch_add(&l->saw_new, 1);
        else if (!(id & 1) && (rc != 0 || r.n[0] != 1))
            atomic_fetch_add(&l->bad, 1);
        else if ((id & 1) && rc != DNS_RCODE_NXDOMAIN)
            atomic_fetch_add(&l->bad, 1);
    }
    close(fd);
    return NULL;
}

static void test_swap_under_load(struct dns_server *srv)
{
    struct load l = {0};
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, load_main, &l);
    for (int i = 0; i < 300; i++) {
        dns_server_swap(srv, test_snapshot_variant(i & 1));
        nanosleep(&(struct timespec){0, 2000000}, NULL);
    }
    dns_server_swap(srv, test_snapshot_variant(true));   /* ends with the new name present */
    nanosleep(&(struct timespec){0, 100000000}, NULL);
    long before = atomic_load(&l.saw_new);
    nanosleep(&(struct timespec){0, 200000000}, NULL);
    atomic_store(&l.stop, true);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    printf("swap under load: %ld asked, %ld answered, %ld bad\n", atomic_load(&l.asked),
           atomic_load(&l.answered), atomic_load(&l.bad));
    CHECK(atomic_load(&l.asked) > 100);
    CHECK(atomic_load(&l.bad) == 0);
    /* loopback UDP: essentially everything answered while swapping */
    CHECK(atomic_load(&l.answered) >= atomic_load(&l.asked) * 99 / 100);
    CHECK(atomic_load(&l.saw_new) > before);   /* the final data is being served */
}

/* IPv6 listener and the wildcard (PKTINFO) path over loopback. */
static void test_other_binds(void)
{
    const char *addrs[2] = {"[::1]:0", "0.0.0.0:0"};
    for (int k = 0; k < 2; k++) {
        struct dns_server *srv;
        if (dns_server_start(addrs[k], NULL, test_snapshot(), &srv) < 0) {
            printf("no %s here, not tested\n", addrs[k]);
            continue;
        }
        struct sockaddr_storage ss = {0};
        socklen_t sl;
        if (k == 0) {
            struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
            a6->sin6_family = AF_INET6;
            a6->sin6_port = htons(dns_server_port(srv));
            a6->sin6_addr = in6addr_loopback;
            sl = sizeof(*a6);
        } else {
            struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
            a4->sin_family = AF_INET;
            a4->sin_port = htons(dns_server_port(srv));
            a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            sl = sizeof(*a4);
        }
        int fd = socket(ss.ss_family, SOCK_DGRAM, 0);
        struct timeval tv = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        CHECK(connect(fd, (struct sockaddr *)&ss, sl) == 0);
        uint8_t resp[1024];
        struct tresp r;
        struct tq q = q_a("laptop.acme.ztna.test", 55);
        size_t n = udp_ask(fd, &q, resp, sizeof(resp));   /* connected: source must match */
        CHECK(n && tresp_parse(resp, n, &r) && r.n[0] == 1);
        close(fd);
        dns_server_stop(srv);
    }
}

int main(void)
{
    struct dns_server *srv;
    struct dns_server_opts opts = {.tcp_max_conn = 3, .tcp_idle_ms = 400};
    CHECK(dns_server_start("bogus", NULL, test_snapshot(), &srv) == -EINVAL);
    int r = dns_server_start("127.0.0.1:0", &opts, test_snapshot(), &srv);
    if (r < 0) {
        fprintf(stderr, "cannot start on 127.0.0.1: %d, skipping\n", r);
        return 77;
    }
    srv_addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(dns_server_port(srv))};
    inet_pton(AF_INET, "127.0.0.1", &srv_addr.sin_addr);
    CHECK(dns_server_port(srv) != 0);
    test_udp_tcp();
    test_tcp_limits();
    test_tcp_slow_reader();
    test_swap_under_load(srv);
    test_other_binds();
    dns_server_stop(srv);
    dns_server_stop(NULL);
    return check_finish("test_dns_server");
}
