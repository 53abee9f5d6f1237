/* A minimal WireGuard peer built only from common/wg (no TUN): it speaks to a real WireGuard
 * implementation over UDP and answers / sends ICMP echo through the tunnel. Used by
 * wg_interop.sh against wireguard-go.
 *
 *   wg_interop_peer initiate|respond PRIV_HEX PEER_PUB_HEX PSK_HEX|- LOCAL_IP:PORT
 *                   REMOTE_IP:PORT OUR_TUN_IP PEER_TUN_IP COUNT
 *
 * initiate: handshake to REMOTE, then COUNT echo requests to PEER_TUN_IP, each answered.
 * respond:  wait for REMOTE's initiation, answer, then answer COUNT echo requests.
 * respond-cookie: like respond, but acts under load: initiations without a valid mac2 get a
 *           cookie reply, and success requires one initiation carrying a valid mac2.
 * Exit 0 on success, 1 on failure; every wait is bounded. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/hex.h"
#include "common/wg/allowedips.h"
#include "common/wg/cookie.h"
#include "common/wg/keypair.h"
#include "common/wg/messages.h"
#include "common/wg/noise.h"

#define LOCAL_INDEX 0x5eed0001u

struct peer {
    int fd;
    struct sockaddr_in remote;
    struct wg_noise_identity id;
    struct wg_noise_handshake hs;
    struct wg_cookie_checker checker;
    struct wg_cookie cookie;
    struct wg_keypair kp;
    struct wg_allowedips aips;
    struct in_addr our_ip, peer_ip;
    uint16_t echo_id;
    bool demand_cookie;   /* respond-cookie mode */
    int cookie_replies;   /* sent */
    int mac2_initiations; /* accepted with a valid mac2 */
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * WG_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static uint64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * WG_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static int parse_addr(struct sockaddr_in *sa, const char *s)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof(host))
        return -EINVAL;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)atoi(colon + 1));
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

static uint16_t csum(const uint8_t *p, size_t n)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)p[i] << 8 | p[i + 1];
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* IPv4 + ICMP echo (type 8 request, 0 reply) with a 32-byte payload. Returns its length. */
static size_t build_echo(uint8_t *p, struct in_addr src, struct in_addr dst, uint8_t type,
                         uint16_t id, uint16_t seq, const uint8_t *payload, size_t plen)
{
    size_t len = 20 + 8 + plen;
    memset(p, 0, 28);
    p[0] = 0x45;
    p[2] = (uint8_t)(len >> 8);
    p[3] = (uint8_t)len;
    p[8] = 64;
    p[9] = 1;
    memcpy(p + 12, &src, 4);
    memcpy(p + 16, &dst, 4);
    uint16_t c = csum(p, 20);
    p[10] = (uint8_t)(c >> 8);
    p[11] = (uint8_t)c;
    p[20] = type;
    p[24] = (uint8_t)(id >> 8);
    p[25] = (uint8_t)id;
    p[26] = (uint8_t)(seq >> 8);
    p[27] = (uint8_t)seq;
    memcpy(p + 28, payload, plen);
    c = csum(p + 20, 8 + plen);
    p[22] = (uint8_t)(c >> 8);
    p[23] = (uint8_t)c;
    return len;
}

static int send_raw(struct peer *pr, const uint8_t *buf, size_t len)
{
    ssize_t n = sendto(pr->fd, buf, len, 0, (struct sockaddr *)&pr->remote, sizeof(pr->remote));
    return n == (ssize_t)len ? 0 : -EIO;
}

static int send_packet(struct peer *pr, const uint8_t *ip, size_t len)
{
    uint8_t out[2048];
    size_t olen;
    int ret = wg_keypair_seal(&pr->kp, ip, len, 1420, out, sizeof(out), &olen, mono_ns());
    return ret ? ret : send_raw(pr, out, olen);
}

static int send_initiation(struct peer *pr)
{
    uint8_t ts[WG_TIMESTAMP_SIZE], m[WG_MSG_INITIATION_SIZE];
    wg_tai64n_from_unix_ns(ts, real_ns());
    int ret = wg_noise_handshake_create_initiation(&pr->hs, LOCAL_INDEX, ts, m);
    if (ret)
        return ret;
    wg_cookie_add_macs(&pr->cookie, m, sizeof(m), mono_ns());
    return send_raw(pr, m, sizeof(m));
}

static struct wg_noise_handshake *lookup(void *ctx, const uint8_t remote_static[32])
{
    struct peer *pr = ctx;
    return memcmp(pr->hs.remote_static, remote_static, 32) == 0 ? &pr->hs : NULL;
}

/* Handles one datagram. Returns 1 if it was an echo (request answered, or the reply to `seq`
 * we wait for), 0 if handled otherwise, <0 on a protocol failure. */
static int handle(struct peer *pr, uint8_t *buf, size_t len, struct sockaddr_in *from, int want_seq)
{
    uint8_t plain[2048], out[128];
    size_t plen;
    uint64_t now = mono_ns();
    switch (wg_msg_type(buf, len)) {
    case WG_MSG_INITIATION: {
        struct wg_noise_handshake *hs;
        uint8_t resp[WG_MSG_RESPONSE_SIZE], src[6];
        memcpy(src, &from->sin_addr, 4);
        memcpy(src + 4, &from->sin_port, 2);
        enum wg_cookie_mac_state st = wg_cookie_checker_validate(
            &pr->checker, buf, len, src, sizeof(src), pr->demand_cookie, now);
        if (st == WG_COOKIE_MAC_INVALID)
            return -EPERM;
        if (pr->demand_cookie && st != WG_COOKIE_MAC_VALID_WITH_COOKIE) {
            uint8_t reply[WG_MSG_COOKIE_REPLY_SIZE];
            if (wg_cookie_checker_create_reply(&pr->checker, buf, len, src, sizeof(src), now,
                                               reply) != 0)
                return -EINVAL;
            pr->cookie_replies++;
            fprintf(stderr, "peer: under load, sent cookie reply\n");
            ssize_t n = sendto(pr->fd, reply, sizeof(reply), 0, (struct sockaddr *)from,
                               sizeof(*from));
            return n == (ssize_t)sizeof(reply) ? 0 : -EIO;
        }
        if (st == WG_COOKIE_MAC_VALID_WITH_COOKIE) {
            pr->mac2_initiations++;
            fprintf(stderr, "peer: initiation with valid mac2\n");
        }
        int ret = wg_noise_handshake_consume_initiation(&pr->id, buf, len, lookup, pr, now, &hs);
        if (ret)
            return ret;
        if (wg_noise_handshake_create_response(hs, LOCAL_INDEX, resp) != 0)
            return -EINVAL;
        wg_cookie_add_macs(&pr->cookie, resp, sizeof(resp), now);
        pr->remote = *from; /* roaming: answer where it came from */
        if (wg_noise_handshake_begin_session(hs, &pr->kp, now) != 0)
            return -EINVAL;
        fprintf(stderr, "peer: consumed initiation, sent response\n");
        return send_raw(pr, resp, sizeof(resp));
    }
    case WG_MSG_RESPONSE: {
        if (wg_cookie_checker_validate(&pr->checker, buf, len, NULL, 0, false, now) ==
            WG_COOKIE_MAC_INVALID)
            return -EPERM;
        int ret = wg_noise_handshake_consume_response(&pr->hs, buf, len);
        if (ret)
            return ret;
        fprintf(stderr, "peer: consumed response\n");
        return wg_noise_handshake_begin_session(&pr->hs, &pr->kp, now);
    }
    case WG_MSG_COOKIE_REPLY: {
        int ret = wg_cookie_consume_reply(&pr->cookie, buf, len, now);
        fprintf(stderr, "peer: cookie reply (%d), resending initiation\n", ret);
        return ret ? ret : send_initiation(pr);
    }
    case WG_MSG_DATA: {
        if (!pr->kp.valid || wg_get_le32(buf + 4) != pr->kp.local_index)
            return -ENOENT;
        int ret = wg_keypair_open(&pr->kp, buf, len, plain, sizeof(plain), &plen, NULL, now);
        if (ret)
            return ret;
        if (plen == 0)
            return 0; /* keepalive */
        if (plen < 28 || (plain[0] >> 4) != 4 || plain[9] != 1)
            return 0;
        size_t ip_len = (size_t)plain[2] << 8 | plain[3];
        if (ip_len > plen || ip_len < 28)
            return -EBADMSG;
        /* Source check, as the receive path does: the inner source must be the peer's. */
        if (wg_allowedips_lookup(&pr->aips, AF_INET, plain + 12) != pr)
            return -EACCES;
        uint16_t id = (uint16_t)(plain[24] << 8 | plain[25]);
        uint16_t seq = (uint16_t)(plain[26] << 8 | plain[27]);
        if (plain[20] == 8) {
            struct in_addr src;
            memcpy(&src, plain + 12, 4);
            size_t n = build_echo(out, pr->our_ip, src, 0, id, seq, plain + 28,
                                  ip_len - 28 > 64 ? 64 : ip_len - 28);
            fprintf(stderr, "peer: echo request seq %u, replying\n", seq);
            ret = send_packet(pr, out, n);
            return ret ? ret : 1;
        }
        if (plain[20] == 0 && id == pr->echo_id && seq == want_seq) {
            fprintf(stderr, "peer: echo reply seq %u\n", seq);
            return 1;
        }
        return 0;
    }
    default:
        return -EBADMSG;
    }
}

/* Receives and handles datagrams until handle() returns 1 or the deadline passes. */
static int pump(struct peer *pr, int timeout_ms, int want_seq, bool until_session)
{
    uint64_t deadline = mono_ns() + (uint64_t)timeout_ms * 1000000ULL;
    while (mono_ns() < deadline) {
        struct pollfd pfd = {.fd = pr->fd, .events = POLLIN};
        int left = (int)((deadline - mono_ns()) / 1000000ULL) + 1;
        if (poll(&pfd, 1, left) <= 0)
            continue;
        uint8_t buf[2048];
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(pr->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
        if (n <= 0)
            continue;
        int ret = handle(pr, buf, (size_t)n, &from, want_seq);
        if (ret < 0)
            fprintf(stderr, "peer: message type %u rejected: %s\n", buf[0], strerror(-ret));
        if (ret == 1 || (until_session && pr->kp.valid))
            return 0;
    }
    return -ETIMEDOUT;
}

int main(int argc, char **argv)
{
    struct peer pr = {0};
    uint8_t priv[32], pub[32], psk[32];
    struct sockaddr_in local;
    if (argc != 10 || sodium_init() < 0) {
        fprintf(stderr, "usage: see the header of wg_interop_peer.c\n");
        return 2;
    }
    bool initiate = strcmp(argv[1], "initiate") == 0;
    pr.demand_cookie = strcmp(argv[1], "respond-cookie") == 0;
    int count = atoi(argv[9]);
    if (!hex_decode(priv, 32, argv[2]) || !hex_decode(pub, 32, argv[3]) ||
        (strcmp(argv[4], "-") && !hex_decode(psk, 32, argv[4])) || parse_addr(&local, argv[5]) ||
        parse_addr(&pr.remote, argv[6]) || inet_pton(AF_INET, argv[7], &pr.our_ip) != 1 ||
        inet_pton(AF_INET, argv[8], &pr.peer_ip) != 1 || count <= 0) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    wg_noise_identity_init(&pr.id, priv);
    wg_noise_handshake_init(&pr.hs, &pr.id, pub, strcmp(argv[4], "-") ? psk : NULL);
    wg_cookie_checker_init(&pr.checker, pr.id.public_key);
    wg_cookie_init(&pr.cookie, pub);
    wg_allowedips_init(&pr.aips);
    wg_allowedips_insert(&pr.aips, AF_INET, (const uint8_t *)&pr.peer_ip, 32, &pr);
    pr.echo_id = (uint16_t)getpid();
    pr.fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (pr.fd < 0 || bind(pr.fd, (struct sockaddr *)&local, sizeof(local)) != 0) {
        perror("socket/bind");
        return 1;
    }

    int rc = 1;
    if (initiate) {
        for (int attempt = 0; attempt < 3 && !pr.kp.valid; attempt++)
            if (send_initiation(&pr) == 0)
                pump(&pr, 3000, -1, true);
        if (!pr.kp.valid) {
            fprintf(stderr, "peer: no handshake\n");
            goto out;
        }
        uint8_t payload[32], pkt[128];
        for (int i = 0; i < 32; i++)
            payload[i] = (uint8_t)i;
        for (int seq = 1; seq <= count; seq++) {
            size_t n = build_echo(pkt, pr.our_ip, pr.peer_ip, 8, pr.echo_id, (uint16_t)seq, payload, 32);
            if (send_packet(&pr, pkt, n) != 0 || pump(&pr, 3000, seq, false) != 0) {
                fprintf(stderr, "peer: no echo reply for seq %d\n", seq);
                goto out;
            }
        }
    } else {
        for (int i = 0; i < count; i++)
            if (pump(&pr, 20000, -1, false) != 0) {
                fprintf(stderr, "peer: timed out after %d echo requests\n", i);
                goto out;
            }
    }
    if (pr.demand_cookie && (pr.cookie_replies == 0 || pr.mac2_initiations == 0)) {
        fprintf(stderr, "peer: cookie exchange incomplete (%d replies, %d mac2 initiations)\n",
                pr.cookie_replies, pr.mac2_initiations);
        goto out;
    }
    printf("peer: %s ok, %d echoes\n", argv[1], count);
    rc = 0;
out:
    close(pr.fd);
    wg_allowedips_free(&pr.aips);
    wg_keypair_clear(&pr.kp);
    wg_noise_identity_clear(&pr.id);
    sodium_memzero(priv, sizeof(priv));
    sodium_memzero(psk, sizeof(psk));
    return rc;
}
