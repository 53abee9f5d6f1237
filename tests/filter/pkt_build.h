/* Test packet builders shared by tests/filter/test_filter.c and
 * tests/wg_device/test_wg_filter_gate.c. Checksums are left zero (neither the matcher nor the gate
 * checks them). sp/dp are the ports, or for ICMP (proto 1) / ICMPv6 (58) the type and the echo
 * id. pkt4 writes up to 60 bytes of b, pkt6 up to 80; both return the packet's length. */
#ifndef ZTNA_TESTS_FILTER_PKT_BUILD_H
#define ZTNA_TESTS_FILTER_PKT_BUILD_H

#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* An IPv4 packet: TCP (proto 6, 20-byte header with its data offset), otherwise 8 bytes of L4. */
static inline size_t pkt4(uint8_t *b, const char *src, const char *dst, uint8_t proto, uint16_t sp,
                          uint16_t dp)
{
    size_t l4 = proto == 6 ? 20 : 8;
    memset(b, 0, 60);
    b[0] = 0x45;
    b[3] = (uint8_t)(20 + l4);
    b[8] = 64;
    b[9] = proto;
    inet_pton(AF_INET, src, b + 12);
    inet_pton(AF_INET, dst, b + 16);
    b[20] = (uint8_t)(sp >> 8); b[21] = (uint8_t)sp; b[22] = (uint8_t)(dp >> 8); b[23] = (uint8_t)dp;
    if (proto == 6)
        b[32] = 0x50; /* data offset */
    if (proto == 1) { /* sp = type, dp = id */
        b[20] = (uint8_t)sp; b[21] = 0; b[22] = b[23] = 0; b[24] = (uint8_t)(dp >> 8); b[25] = (uint8_t)dp;
    }
    return 20 + l4;
}

/* The IPv6 counterpart (no extension headers). */
static inline size_t pkt6(uint8_t *b, const char *src, const char *dst, uint8_t proto, uint16_t sp,
                          uint16_t dp)
{
    size_t l4 = proto == 6 ? 20 : 8;
    memset(b, 0, 80);
    b[0] = 0x60;
    b[5] = (uint8_t)l4;
    b[6] = proto;
    b[7] = 64;
    inet_pton(AF_INET6, src, b + 8);
    inet_pton(AF_INET6, dst, b + 24);
    b[40] = (uint8_t)(sp >> 8); b[41] = (uint8_t)sp; b[42] = (uint8_t)(dp >> 8); b[43] = (uint8_t)dp;
    if (proto == 58) {
        b[40] = (uint8_t)sp; b[41] = 0; b[42] = b[43] = 0; b[44] = (uint8_t)(dp >> 8); b[45] = (uint8_t)dp;
    }
    return 40 + l4;
}

#endif
