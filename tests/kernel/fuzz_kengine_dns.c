/* Fuzz target for the bytes a DNS-over-TCP client sends the kernel backend's stub
 * (agent/daemon/kengine.c): the input is the TCP stream, cut into queries by kengine_dns_frame()
 * with a 4096-byte buffer, each turned into the datagram dnsio reads (dnsio_edns_for_tcp, then
 * kengine_udp_wrap from 0.0.0.0:tag, as the stub does). Checks: a frame never claims bytes past
 * the input or a query the buffer cannot hold; every wrapped datagram parses back through
 * dnsio_packet_parse() to the same query bytes, from 0.0.0.0 and the tag's port. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/daemon/dnsio.h"
#include "agent/daemon/kengine.h"

#define RX 4096   /* the stub's per-connection buffer (DNSTCP_RX_MAX) */
#define QMAX 1500 /* what dnsio takes in one datagram */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t pkt[28 + QMAX];
    struct in_addr stub = {htonl(0x64646464)}, any = {INADDR_ANY};
    size_t off = 0;
    uint16_t tag = 0x20 | 3;

    while (off < size) {
        size_t qlen = 0, avail = size - off < RX ? size - off : RX;
        int got = kengine_dns_frame(data + off, avail, RX, &qlen);
        if (got < 0) {
            if (qlen + 2 <= RX)
                abort(); /* refused a query that fits */
            return 0;
        }
        if (got == 0) {
            if (avail >= 2 && avail >= qlen + 2)
                abort(); /* a whole query was there */
            return 0;
        }
        if (qlen + 2 > avail)
            abort();
        const uint8_t *q = data + off + 2;
        size_t len;
        bool added;
        if (dnsio_edns_for_tcp(q, qlen, pkt + 28, QMAX, &len, &added)) {
            if (qlen > QMAX)
                goto next;
            memcpy(pkt + 28, q, qlen);
            len = qlen;
        }
        kengine_udp_wrap(pkt, any, tag, stub, len);
        struct dnsio_query dq;
        int ret = dnsio_packet_parse(pkt, 28 + len, (const uint8_t *)&stub, &dq);
        if (ret || dq.len != len || dq.msg != pkt + 28 || dq.sport != tag ||
            memcmp(dq.client, "\0\0\0\0", 4))
            abort();
    next:
        off += 2 + qlen;
    }
    return 0;
}
