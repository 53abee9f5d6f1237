/* `ztna ping NAME`: ICMP echo to a peer's tailnet address, through the tunnel (the kernel routes
 * 100.64.0.0/10 to our TUN), printing the path the daemon reports and each round-trip time. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "agent/commands.h"
#include "agent/daemon/cli_util.h"
#include "agent/daemon/ipcsum.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* An ICMP socket: unprivileged "ping" socket if allowed, else raw (root). *raw says which. */
static int icmp_socket(bool *raw)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMP);
    *raw = false;
    if (fd >= 0)
        return fd;
    *raw = true;
    return socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
}

/* Waits for the echo reply with our id and seq; true if it came before deadline. */
static bool wait_reply(int fd, bool raw, struct in_addr dst, uint16_t id, uint16_t seq, double deadline)
{
    uint8_t buf[1500];
    for (;;) {
        double left = deadline - now_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left + 1) <= 0)
            return false;
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t r = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
        if (r <= 0 || from.sin_addr.s_addr != dst.s_addr)
            continue;
        const uint8_t *icmp = buf;
        size_t len = (size_t)r;
        if (raw) {
            size_t ihl = (size_t)(buf[0] & 0xf) * 4;
            if (len < ihl + 8)
                continue;
            icmp += ihl;
            len -= ihl;
        }
        if (len < 8 || icmp[0] != ICMP_ECHOREPLY)
            continue;
        /* a ping socket rewrites the id to its own port; match on seq there */
        if ((!raw || (icmp[4] << 8 | icmp[5]) == id) && (icmp[6] << 8 | icmp[7]) == seq)
            return true;
    }
}

int cmd_ping(int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"-c", true, "number of echo requests (default 4)"},
        {"--timeout", true, "seconds to wait for each reply (default 2)"},
    };
    struct cli_opts o;
    cJSON *req, *data = NULL;
    bool raw;
    int ret = cli_parse(&o, "ping", "[-c N] [--timeout S] NAME",
                        "Pings a peer through the tunnel by short name, full name or tailnet IP.",
                        opts, 2, argc, argv, 1);
    if (ret >= 0)
        return ret;
    int count = o.val[0] ? atoi(o.val[0]) : 4;
    double timeout = o.val[1] ? atof(o.val[1]) : 2;
    if (count < 1 || count > 1000 || timeout <= 0 || timeout > 60) {
        fprintf(stderr, "ztna ping: -c must be 1..1000 and --timeout 0..60 s\n");
        return 2;
    }
    req = cli_request("resolve");
    if (req)
        cJSON_AddStringToObject(req, "name", o.pos[0]);
    if (cli_call(&o, req, 10000, &data))
        return 1;
    struct in_addr dst;
    char name[128], path[128];
    const char *ep = cli_str(data, "endpoint", "");
    snprintf(name, sizeof(name), "%s", cli_str(data, "name", o.pos[0]));
    snprintf(path, sizeof(path), "%s",
             cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(data, "self")) ? "local"
             : ep[0]                                                     ? ep
                                                                         : "no endpoint yet");
    if (inet_pton(AF_INET, cli_str(data, "tailnet_ip", ""), &dst) != 1) {
        fprintf(stderr, "ztna ping: the daemon gave no address for %s\n", o.pos[0]);
        cJSON_Delete(data);
        return 1;
    }
    cJSON_Delete(data);
    int fd = icmp_socket(&raw);
    if (fd < 0) {
        fprintf(stderr, "ztna ping: cannot open an ICMP socket: %s\n", strerror(errno));
        return 1;
    }
    uint16_t id = (uint16_t)(getpid() & 0xffff);
    int got = 0;
    for (int seq = 1; seq <= count; seq++) {
        uint8_t pkt[64];
        memset(pkt, 0, sizeof(pkt));
        pkt[0] = ICMP_ECHO;
        pkt[4] = (uint8_t)(id >> 8);
        pkt[5] = (uint8_t)id;
        pkt[6] = (uint8_t)(seq >> 8);
        pkt[7] = (uint8_t)seq;
        memcpy(pkt + 8, "ztna ping", 9);
        uint16_t c = ipcsum(pkt, sizeof(pkt));
        pkt[2] = (uint8_t)(c >> 8);
        pkt[3] = (uint8_t)c;
        struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr = dst};
        double t0 = now_ms();
        if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
            fprintf(stderr, "ztna ping: sending to %s: %s\n", inet_ntoa(dst), strerror(errno));
        } else if (wait_reply(fd, raw, dst, id, (uint16_t)seq, t0 + timeout * 1000)) {
            printf("pong from %s (%s) via %s in %.2f ms\n", name, inet_ntoa(dst), path, now_ms() - t0);
            fflush(stdout);
            got++;
        } else {
            printf("no reply from %s (%s) within %.1f s\n", name, inet_ntoa(dst), timeout);
        }
        if (seq < count) {
            double rest = t0 + 1000 - now_ms();
            if (rest > 0)
                usleep((useconds_t)(rest * 1000));
        }
    }
    close(fd);
    if (!got) {
        fprintf(stderr, "ztna ping: no reply from %s (%s) after %d pings\n", name, inet_ntoa(dst), count);
        return 1;
    }
    return 0;
}
