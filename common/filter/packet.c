/* IPv4/IPv6 + TCP/UDP/ICMP header parsing for the matcher, through common/cursor.h. */
#include "common/cursor.h"
#include "common/filter/filter_limits.h"
#include "common/filter/matcher.h"

static bool l4_parse(struct cursor *c, struct filter_pkt *p)
{
    switch (p->proto) {
    case 6:
    case 17: {
        if (cursor_left(c) < (p->proto == 6 ? 20u : 8u))
            return false;
        p->sport = cursor_be16(c);
        p->dport = cursor_be16(c);
        p->has_ports = true;
        return c->ok;
    }
    case 1:
    case 58: {
        if ((p->proto == 1) != (p->family == 4) || cursor_left(c) < 8)
            return false;
        p->icmp_type = cursor_u8(c);
        (void)cursor_u8(c);   /* code */
        (void)cursor_be16(c); /* checksum */
        uint16_t id = cursor_be16(c);
        uint8_t req = p->family == 4 ? 8 : 128, rep = p->family == 4 ? 0 : 129;
        p->is_echo_req = p->icmp_type == req;
        p->is_echo_reply = p->icmp_type == rep;
        if (p->is_echo_req || p->is_echo_reply)
            p->sport = p->dport = id;
        return c->ok;
    }
    default:
        return true;
    }
}

static bool v4_parse(struct cursor *c, size_t len, struct filter_pkt *p)
{
    uint8_t vihl = cursor_u8(c);
    size_t ihl = (size_t)(vihl & 0x0f) * 4;
    (void)cursor_u8(c);
    uint16_t total = cursor_be16(c);
    (void)cursor_be16(c);
    uint16_t frag = cursor_be16(c);
    (void)cursor_u8(c);
    p->proto = cursor_u8(c);
    (void)cursor_be16(c);
    cursor_copy(c, p->src, 4);
    cursor_copy(c, p->dst, 4);
    if (!c->ok || ihl < 20 || total < ihl || total > len)
        return false;
    if (frag & 0x1fff)
        return false; /* non-first fragment: no ports, deny */
    if (!cursor_take(c, ihl - 20))
        return false;
    c->len = total; /* ignore link padding */
    return l4_parse(c, p);
}

static bool v6_parse(struct cursor *c, size_t len, struct filter_pkt *p)
{
    (void)cursor_be32(c);
    uint16_t plen = cursor_be16(c);
    uint8_t nh = cursor_u8(c);
    (void)cursor_u8(c);
    cursor_copy(c, p->src, 16);
    cursor_copy(c, p->dst, 16);
    if (!c->ok || (size_t)plen + 40 > len)
        return false;
    c->len = 40 + (size_t)plen;
    for (int i = 0; i <= FILTER_IPV6_MAX_EXT; i++) {
        switch (nh) {
        case 0:  /* hop-by-hop */
        case 43: /* routing */
        case 60: /* destination options */ {
            uint8_t next = cursor_u8(c);
            uint8_t hlen = cursor_u8(c);
            if (!cursor_take(c, (size_t)hlen * 8 + 6))
                return false;
            nh = next;
            break;
        }
        case 44: /* fragment */ {
            uint8_t next = cursor_u8(c);
            (void)cursor_u8(c);
            uint16_t off = cursor_be16(c);
            (void)cursor_be32(c);
            if (!c->ok || (off & 0xfff8))
                return false;
            nh = next;
            break;
        }
        default:
            p->proto = nh;
            return l4_parse(c, p);
        }
    }
    return false;
}

bool filter_packet_parse(const uint8_t *pkt, size_t len, struct filter_pkt *out)
{
    struct cursor c = cursor_init(pkt, len);
    memset(out, 0, sizeof(*out));
    if (len < 1)
        return false;
    switch (pkt[0] >> 4) {
    case 4:
        out->family = 4;
        return v4_parse(&c, len, out);
    case 6:
        out->family = 6;
        return v6_parse(&c, len, out);
    default:
        return false;
    }
}
