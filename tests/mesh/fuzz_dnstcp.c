/* Fuzz target for the stub's TCP responder (agent/daemon/dnstcp.h): the input is a sequence of
 * packets (2-byte length, then the bytes), fed to one responder as if the host wrote them into
 * the TUN, with the clock moving and the timers run between them. Most packets get the stub as
 * destination and valid checksums (the fuzzer could not find them), so the state machine is
 * reached. Every packet the responder emits must be a well formed IPv4/TCP packet from
 * 100.100.100.100:53 with valid checksums and no larger than a 1200-byte segment allows; the
 * connection cap must hold. Forwarded queries are answered (or not) by later input bytes. */
#include <stdint.h>
#include <string.h>

#include "agent/daemon/dnstcp.h"
#include "agent/daemon/ipcsum.h"

static const uint8_t STUB[4] = {100, 100, 100, 100};
static uint64_t tags[8];
static size_t n_tags, n_queries;
static uint32_t srv_next, srv_ack; /* from the last segment emitted: the next seq, its ack */

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint16_t tcp_sum(const uint8_t *ip, const uint8_t *seg, size_t n)
{
    uint8_t ph[12] = {0};
    memcpy(ph, ip + 12, 8);
    ph[9] = 6;
    ph[10] = (uint8_t)(n >> 8);
    ph[11] = (uint8_t)n;
    uint32_t s = (uint32_t)(uint16_t)~ipcsum(ph, 12) + (uint16_t)~ipcsum(seg, n);
    s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static void on_emit(void *ctx, const uint8_t *p, size_t len)
{
    (void)ctx;
    if (len < 40 || len > 20 + 24 + DNSTCP_MSS || p[0] != 0x45 || p[9] != 6 ||
        (size_t)(p[2] << 8 | p[3]) != len || memcmp(p + 12, STUB, 4) || ipcsum(p, 20) ||
        (p[20] << 8 | p[21]) != 53 || tcp_sum(p, p + 20, len - 20))
        __builtin_trap();
    size_t doff = (size_t)(p[32] >> 4) * 4;
    srv_next = rd32(p + 24) + (uint32_t)(len - 20 - doff) + !!(p[33] & 0x02) + !!(p[33] & 0x01);
    srv_ack = rd32(p + 28);
}

static enum dnstcp_verdict on_query(void *ctx, uint64_t tag, const uint8_t *msg, size_t len,
                                    uint8_t *out, size_t *out_len)
{
    (void)ctx;
    n_queries++;
    if (!len || len > DNSTCP_RX_MAX - 2)
        __builtin_trap(); /* the framing guarantees a whole message that fitted the buffer */
    switch (msg[len - 1] % 3) {
    case 0: /* answered now: the query echoed back */
        memcpy(out, msg, len);
        out[2] |= 0x80;
        *out_len = len;
        return DNSTCP_ANSWERED;
    case 1:
        tags[n_tags++ % 8] = tag;
        return DNSTCP_PENDING;
    default:
        return DNSTCP_DROPPED;
    }
}

static const struct dnstcp_ops OPS = {.emit = on_emit, .query = on_query};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dnstcp *t = dnstcp_new(STUB, &OPS, NULL);
    uint64_t now = 1000;
    uint8_t pkt[2048], ans[DNSTCP_ANSWER_MAX];
    n_tags = n_queries = 0;
    if (!t)
        return 0;
    size_t off = 0;
    while (off + 3 <= size) {
        size_t len = (size_t)(data[off] << 8 | data[off + 1]) % sizeof(pkt);
        uint8_t ctl = data[off + 2];
        off += 3;
        if (len > size - off)
            len = size - off;
        memcpy(pkt, data + off, len);
        off += len;
        if (len >= 40 && !(ctl & 0x80)) { /* make it reach the state machine */
            pkt[0] = 0x45;
            pkt[2] = (uint8_t)(len >> 8);
            pkt[3] = (uint8_t)len;
            pkt[6] &= 0x40;
            pkt[7] = 0;
            pkt[9] = 6;
            memcpy(pkt + 16, STUB, 4);
            pkt[22] = 0;
            pkt[23] = 53;
            pkt[10] = pkt[11] = 0;
            uint16_t c = ipcsum(pkt, 20);
            pkt[10] = (uint8_t)(c >> 8);
            pkt[11] = (uint8_t)c;
            size_t doff = (size_t)(pkt[32] >> 4) * 4;
            if (doff < 20 || doff > len - 20)
                pkt[32] = 0x50;
            if (ctl & 0x20) { /* continue the conversation: the server's ISN is random */
                wr32(pkt + 24, srv_ack);
                wr32(pkt + 28, srv_next);
            }
            pkt[36] = pkt[37] = 0;
            c = tcp_sum(pkt, pkt + 20, len - 20);
            pkt[36] = (uint8_t)(c >> 8);
            pkt[37] = (uint8_t)c;
        }
        dnstcp_input(t, pkt, len, now);
        if (ctl & 0x40 && n_tags) { /* answer a pending query, maybe a stale one */
            size_t alen = 12 + (ctl & 0x3f) * 60u;
            memset(ans, ctl, alen);
            dnstcp_answer(t, tags[ctl % 8 < n_tags ? ctl % 8 : 0], ans, alen, now);
        }
        now += (ctl & 0x0f) * 150u;
        dnstcp_tick(t, now);
        if (dnstcp_conns(t) > DNSTCP_MAX_CONNS)
            __builtin_trap();
    }
    /* everything ends: idle and close timers free every connection */
    for (int i = 0; i < 200 && dnstcp_conns(t); i++) {
        now += 1000;
        dnstcp_tick(t, now);
    }
    if (dnstcp_conns(t))
        __builtin_trap();
    dnstcp_free(t);
    return 0;
}
