/* STUN (RFC 5389) Binding messages: what ztna-server's responder and `ztna netcheck` need, and
 * nothing more (no authentication, no TURN). Pure codec, no I/O, no allocation.
 *
 * Wire format (RFC 5389 section 6): a 20-byte header {type (2 bits zero + method/class), length
 * of the attributes (multiple of 4), magic cookie 0x2112A442, 96-bit transaction id}, then
 * attributes {type, length, value padded to 4}. FINGERPRINT (section 15.5), when present, is the
 * last attribute: CRC-32 of everything before it XOR 0x5354554E. */
#ifndef ZTNA_COMMON_STUN_H
#define ZTNA_COMMON_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define STUN_HDR_LEN           20
#define STUN_TXID_LEN          12
#define STUN_MAGIC_COOKIE      0x2112A442u
#define STUN_FINGERPRINT_XOR   0x5354554Eu
#define STUN_MAX_MSG           1280 /* largest datagram we build or accept (>= RFC's 548) */
#define STUN_MAX_ATTRS         32   /* attributes looked at per message: bounded work */

#define STUN_BINDING_REQUEST   0x0001
#define STUN_BINDING_SUCCESS   0x0101
#define STUN_BINDING_ERROR     0x0111
#define STUN_BINDING_INDICATION 0x0011

#define STUN_ATTR_MAPPED_ADDRESS     0x0001
#define STUN_ATTR_XOR_MAPPED_ADDRESS 0x0020
#define STUN_ATTR_SOFTWARE           0x8022
#define STUN_ATTR_FINGERPRINT        0x8028

/* A parsed message. Addresses are in a sockaddr_storage (AF_INET or AF_INET6, port set). */
struct stun_msg {
    uint16_t type;
    uint8_t txid[STUN_TXID_LEN];
    bool has_mapped;              /* XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS */
    bool mapped_xor;              /* it came from XOR-MAPPED-ADDRESS */
    struct sockaddr_storage mapped;
    bool has_fingerprint;         /* present and correct (a wrong one fails the parse) */
    bool unknown_required;        /* an attribute in 0x0000-0x7FFF we do not understand */
};

/* Parses one datagram. Strict: exact length (header length + 20 == len), first two bits zero,
 * magic cookie, attribute lengths inside the message, padding inside the message, a malformed
 * address attribute, a FINGERPRINT that is not last or does not match, more than
 * STUN_MAX_ATTRS attributes: all return false. Only the first mapped-address attribute of each
 * kind counts; XOR-MAPPED-ADDRESS wins over MAPPED-ADDRESS. */
bool stun_msg_parse(const uint8_t *buf, size_t len, struct stun_msg *out);

/* Builds a Binding request with txid, optionally with FINGERPRINT. Returns the length written,
 * or 0 if size is too small. */
size_t stun_binding_request_build(uint8_t *buf, size_t size, const uint8_t txid[static STUN_TXID_LEN],
                                  bool fingerprint);

/* Builds a Binding success response carrying XOR-MAPPED-ADDRESS of addr (AF_INET or AF_INET6;
 * a v4-mapped IPv6 address is answered as IPv4), optionally FINGERPRINT, and, for old clients,
 * MAPPED-ADDRESS when `legacy_mapped`. Returns the length or 0 (small buffer, other family). */
size_t stun_binding_response_build(uint8_t *buf, size_t size, const uint8_t txid[static STUN_TXID_LEN],
                                   const struct sockaddr *addr, bool legacy_mapped, bool fingerprint);

/* The responder's decision for one received datagram: if it is a Binding request we answer
 * (no unknown comprehension-required attribute), builds the success response for sender `from`
 * into out (FINGERPRINT mirrored, MAPPED-ADDRESS included) and returns its length; else 0 (drop).
 * Shared by server/stun.c and anything else that demultiplexes STUN off a socket. */
size_t stun_binding_answer(const uint8_t *pkt, size_t len, const struct sockaddr *from,
                           uint8_t *out, size_t size);

/* CRC-32 (IEEE 802.3, as in zlib's crc32()) of len bytes. */
uint32_t stun_crc32(const uint8_t *p, size_t len);

/* Resolves "HOST:PORT", "[V6]:PORT" or "HOST" (then default_port) for UDP with getaddrinfo.
 * Returns 0, -EINVAL with a message in err (bad syntax, port out of range) or -ENOENT (name did
 * not resolve; message in err). err may be NULL. */
int stun_hostport_resolve(const char *hostport, uint16_t default_port, struct sockaddr_storage *ss,
                          socklen_t *sslen, char *err, size_t errlen);

/* "1.2.3.4:5" / "[::1]:5" into out; returns out. */
const char *stun_addr_format(const struct sockaddr *sa, char *out, size_t size);

/* A blocking Binding transaction from a fresh UDP socket connected to server: sends at 0, 250,
 * 750, 1500 ms (at most 4 requests) until a matching success response arrives or timeout_ms
 * passes. Fills res and returns 0; else -ETIMEDOUT (no answer), -ECONNREFUSED (ICMP port
 * unreachable: nothing listens), -ENETUNREACH etc., with a sentence in err. */
struct stun_probe_result {
    struct sockaddr_storage local;  /* our socket's address as the kernel bound it */
    struct sockaddr_storage mapped; /* what the server saw */
    int rtt_us;                     /* first request to answer */
    int requests;                   /* requests sent */
};
int stun_probe(const struct sockaddr *server, socklen_t len, int timeout_ms,
               struct stun_probe_result *res, char *err, size_t errlen);

#endif
