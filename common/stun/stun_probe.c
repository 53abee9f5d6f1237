/* A blocking STUN Binding transaction (see stun_probe() in stun.h), for `ztna netcheck`. */
#include "common/stun/stun.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

static const int resend_at_ms[] = {0, 250, 750, 1500};

static int64_t now_us(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static int fail(int r, char *err, size_t errlen, const char *what, const struct sockaddr *server)
{
    char a[80];

    if (err && errlen)
        snprintf(err, errlen, "%s %s: %s", what, stun_addr_format(server, a, sizeof(a)),
                 r == -ECONNREFUSED ? "connection refused (nothing listens on that UDP port)"
                                    : strerror(-r));
    return r;
}

int stun_probe(const struct sockaddr *server, socklen_t len, int timeout_ms,
               struct stun_probe_result *res, char *err, size_t errlen)
{
    uint8_t req[STUN_HDR_LEN + 8], buf[STUN_MAX_MSG + 1], txid[STUN_TXID_LEN];
    socklen_t ll = sizeof(res->local);
    size_t reqlen;
    int64_t start, now;
    int fd, r = -ETIMEDOUT, sent = 0;

    memset(res, 0, sizeof(*res));
    if (getrandom(txid, sizeof(txid), 0) != (ssize_t)sizeof(txid))
        return fail(-errno, err, errlen, "no randomness for a STUN request to", server);
    reqlen = stun_binding_request_build(req, sizeof(req), txid, true);
    fd = socket(server->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail(-errno, err, errlen, "cannot open a UDP socket towards", server);
    if (connect(fd, server, len) < 0 ||
        getsockname(fd, (struct sockaddr *)&res->local, &ll) < 0) {
        r = fail(-errno, err, errlen, "cannot reach STUN server", server);
        goto out;
    }
    start = now_us();
    for (;;) {
        int64_t elapsed_ms;
        int wait_ms;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};

        now = now_us();
        elapsed_ms = (now - start) / 1000;
        if (elapsed_ms >= timeout_ms)
            break;
        if (sent < (int)(sizeof(resend_at_ms) / sizeof(resend_at_ms[0])) &&
            elapsed_ms >= resend_at_ms[sent]) {
            if (send(fd, req, reqlen, 0) < 0 && errno != ECONNREFUSED) {
                r = fail(-errno, err, errlen, "cannot send to STUN server", server);
                goto out;
            }
            sent++;
            continue;
        }
        wait_ms = (int)(timeout_ms - elapsed_ms);
        if (sent < (int)(sizeof(resend_at_ms) / sizeof(resend_at_ms[0])) &&
            resend_at_ms[sent] - elapsed_ms < wait_ms)
            wait_ms = (int)(resend_at_ms[sent] - elapsed_ms);
        if (poll(&pfd, 1, wait_ms < 1 ? 1 : wait_ms) <= 0)
            continue;
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        struct stun_msg m;

        if (n < 0) {
            if (errno == ECONNREFUSED) {
                r = fail(-ECONNREFUSED, err, errlen, "STUN server", server);
                goto out;
            }
            continue;
        }
        /* Only the answer to our transaction counts; anything else is dropped. */
        if (!stun_msg_parse(buf, (size_t)n, &m) || m.type != STUN_BINDING_SUCCESS ||
            memcmp(m.txid, txid, STUN_TXID_LEN) != 0 || !m.has_mapped)
            continue;
        res->mapped = m.mapped;
        res->rtt_us = (int)(now_us() - start);
        res->requests = sent;
        r = 0;
        goto out;
    }
    res->requests = sent;
    if (err && errlen) {
        char a[80];

        snprintf(err, errlen, "no STUN answer from %s within %d ms after %d request(s): UDP "
                 "blocked on the way, or no STUN responder there",
                 stun_addr_format(server, a, sizeof(a)), timeout_ms, sent);
    }
out:
    close(fd);
    return r;
}
