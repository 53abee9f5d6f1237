/* STUN Binding codec (RFC 5389). Section numbers below refer to RFC 5389. */
#include "common/stun/stun.h"

#include <string.h>

#include "common/cursor.h"

#define FAMILY_IPV4 0x01
#define FAMILY_IPV6 0x02

uint32_t stun_crc32(const uint8_t *p, size_t len)
{
    uint32_t crc = 0xFFFFFFFFu;

    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (uint32_t)-(int32_t)(crc & 1));
    }
    return ~crc;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Section 15.1 / 15.2: family, port, address; XOR with the cookie (and txid for IPv6). */
static bool addr_attr_parse(const uint8_t *v, size_t len, bool xor, const uint8_t *hdr,
                            struct sockaddr_storage *out)
{
    struct cursor c = cursor_init(v, len);
    uint8_t family;
    uint16_t port;

    cursor_u8(&c); /* reserved */
    family = cursor_u8(&c);
    port = cursor_be16(&c);
    if (!c.ok)
        return false;
    if (xor)
        port ^= (uint16_t)(STUN_MAGIC_COOKIE >> 16);
    memset(out, 0, sizeof(*out));
    if (family == FAMILY_IPV4 && len == 8) {
        struct sockaddr_in *sin = (struct sockaddr_in *)out;
        uint8_t a[4];

        cursor_copy(&c, a, 4);
        for (int i = 0; xor && i < 4; i++)
            a[i] ^= hdr[4 + i]; /* the cookie, big-endian, sits at header offset 4 */
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        memcpy(&sin->sin_addr, a, 4);
        return c.ok;
    }
    if (family == FAMILY_IPV6 && len == 20) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
        uint8_t a[16];

        cursor_copy(&c, a, 16);
        for (int i = 0; xor && i < 16; i++)
            a[i] ^= hdr[4 + i]; /* cookie || transaction id */
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        memcpy(&sin6->sin6_addr, a, 16);
        return c.ok;
    }
    return false;
}

bool stun_msg_parse(const uint8_t *buf, size_t len, struct stun_msg *out)
{
    struct cursor c = cursor_init(buf, len);
    uint16_t type, mlen;
    uint32_t cookie;
    bool have_xor = false, have_plain = false;
    struct sockaddr_storage plain;

    memset(out, 0, sizeof(*out));
    if (len < STUN_HDR_LEN || len > STUN_MAX_MSG)
        return false;
    type = cursor_be16(&c);
    mlen = cursor_be16(&c);
    cookie = cursor_be32(&c);
    cursor_copy(&c, out->txid, STUN_TXID_LEN);
    /* Section 6: the two most significant bits are zero, length is a multiple of 4, and
     * section 7.3: the cookie must match. We also demand the datagram is exactly the message. */
    if (!c.ok || (type & 0xC000) || (mlen & 3) || cookie != STUN_MAGIC_COOKIE ||
        (size_t)mlen + STUN_HDR_LEN != len)
        return false;
    out->type = type;
    for (int n = 0; cursor_left(&c) > 0; n++) {
        size_t at = c.off;
        uint16_t atype = cursor_be16(&c), alen = cursor_be16(&c);
        const uint8_t *v = cursor_take(&c, alen);

        if (n >= STUN_MAX_ATTRS || !v || !cursor_take(&c, (4 - (alen & 3)) & 3))
            return false;
        if (out->has_fingerprint)
            return false; /* section 15.5: FINGERPRINT must be the last attribute */
        switch (atype) {
        case STUN_ATTR_XOR_MAPPED_ADDRESS:
            if (!have_xor && !addr_attr_parse(v, alen, true, buf, &out->mapped))
                return false;
            have_xor = true;
            break;
        case STUN_ATTR_MAPPED_ADDRESS:
            if (!have_plain && !addr_attr_parse(v, alen, false, buf, &plain))
                return false;
            have_plain = true;
            break;
        case STUN_ATTR_FINGERPRINT: {
            struct cursor f = cursor_init(v, alen);
            uint32_t want = cursor_be32(&f);

            /* The CRC covers the message up to the attribute, with the header length as sent
             * (which already includes the FINGERPRINT attribute, since it is last). */
            if (alen != 4 || want != (stun_crc32(buf, at) ^ STUN_FINGERPRINT_XOR))
                return false;
            out->has_fingerprint = true;
            break;
        }
        default:
            if (atype < 0x8000)
                out->unknown_required = true;
            break;
        }
    }
    if (!c.ok)
        return false;
    if (have_xor) {
        out->has_mapped = out->mapped_xor = true;
    } else if (have_plain) {
        out->has_mapped = true;
        out->mapped = plain;
    }
    return true;
}

static size_t header(uint8_t *buf, uint16_t type, const uint8_t *txid)
{
    put16(buf, type);
    put16(buf + 2, 0);
    put32(buf + 4, STUN_MAGIC_COOKIE);
    memcpy(buf + 8, txid, STUN_TXID_LEN);
    return STUN_HDR_LEN;
}

/* Appends FINGERPRINT (8 bytes) after setting the header length to include it. */
static size_t fingerprint_add(uint8_t *buf, size_t len)
{
    put16(buf + 2, (uint16_t)(len + 8 - STUN_HDR_LEN));
    put16(buf + len, STUN_ATTR_FINGERPRINT);
    put16(buf + len + 2, 4);
    put32(buf + len + 4, stun_crc32(buf, len) ^ STUN_FINGERPRINT_XOR);
    return len + 8;
}

size_t stun_binding_request_build(uint8_t *buf, size_t size, const uint8_t txid[static STUN_TXID_LEN],
                                  bool fingerprint)
{
    size_t len;

    if (size < STUN_HDR_LEN + 8)
        return 0;
    len = header(buf, STUN_BINDING_REQUEST, txid);
    return fingerprint ? fingerprint_add(buf, len) : len;
}

static size_t addr_attr_put(uint8_t *p, uint16_t atype, const uint8_t *hdr, const uint8_t *addr,
                            size_t alen, uint16_t port, bool xor)
{
    put16(p, atype);
    put16(p + 2, (uint16_t)(4 + alen));
    p[4] = 0;
    p[5] = alen == 4 ? FAMILY_IPV4 : FAMILY_IPV6;
    put16(p + 6, xor ? port ^ (uint16_t)(STUN_MAGIC_COOKIE >> 16) : port);
    for (size_t i = 0; i < alen; i++)
        p[8 + i] = xor ? addr[i] ^ hdr[4 + i] : addr[i];
    return 8 + alen;
}

size_t stun_binding_response_build(uint8_t *buf, size_t size, const uint8_t txid[static STUN_TXID_LEN],
                                   const struct sockaddr *addr, bool legacy_mapped, bool fingerprint)
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const uint8_t *a;
    size_t alen, len;
    uint16_t port;

    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;

        a = (const uint8_t *)&sin->sin_addr;
        alen = 4;
        port = ntohs(sin->sin_port);
    } else if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)addr;

        a = sin6->sin6_addr.s6_addr;
        alen = 16;
        if (memcmp(a, v4mapped, 12) == 0) {
            a += 12;
            alen = 4;
        }
        port = ntohs(sin6->sin6_port);
    } else {
        return 0;
    }
    /* header + XOR-MAPPED + MAPPED + FINGERPRINT at most */
    if (size < STUN_HDR_LEN + 2 * (8 + alen) + 8)
        return 0;
    len = header(buf, STUN_BINDING_SUCCESS, txid);
    len += addr_attr_put(buf + len, STUN_ATTR_XOR_MAPPED_ADDRESS, buf, a, alen, port, true);
    if (legacy_mapped)
        len += addr_attr_put(buf + len, STUN_ATTR_MAPPED_ADDRESS, buf, a, alen, port, false);
    put16(buf + 2, (uint16_t)(len - STUN_HDR_LEN));
    return fingerprint ? fingerprint_add(buf, len) : len;
}

size_t stun_binding_answer(const uint8_t *pkt, size_t len, const struct sockaddr *from,
                           uint8_t *out, size_t size)
{
    struct stun_msg m;

    if (!stun_msg_parse(pkt, len, &m) || m.type != STUN_BINDING_REQUEST || m.unknown_required)
        return 0;
    return stun_binding_response_build(out, size, m.txid, from, true, m.has_fingerprint);
}
