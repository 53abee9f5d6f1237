"""A DNS query over UDP for the tests (MagicDNS on the server, the agent's stub): the query as
RFC 1035 packs it, the answer section read back. Standard library only."""
import ipaddress
import random
import socket
import struct


def read_name(msg, off):
    """The name at off (compression pointers followed, bounded: a pointer loop raises)."""
    labels = []
    for _ in range(128):
        n = msg[off]
        if n & 0xC0 == 0xC0:
            off = (n & 0x3F) << 8 | msg[off + 1]
            continue
        if n == 0:
            return ".".join(labels)
        labels.append(msg[off + 1:off + 1 + n].decode())
        off += 1 + n
    raise AssertionError("name loop")


def query(addr, name, qtype, timeout=2.0):
    """One query of qtype for name to addr (host, port). Returns (rcode, ancount, answers), each
    answer (rtype, text): A and AAAA as addresses, PTR as a name, anything else as hex. None when
    nothing comes back in time or the answer's id is not the query's."""
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(q, addr)
        r, _ = s.recvfrom(4096)
    except OSError:
        return None
    finally:
        s.close()
    rid, flags, qd, an = struct.unpack(">HHHH", r[:8])
    if rid != qid:
        return None
    off = 12
    for _ in range(qd):  # skip the question
        while r[off]:
            off += 1 + r[off]
        off += 5
    out = []
    for _ in range(an):
        if r[off] & 0xC0 == 0xC0:  # compressed owner name
            off += 2
        else:
            while r[off]:
                off += 1 + r[off]
            off += 1
        rtype, _, _, rdlen = struct.unpack(">HHIH", r[off:off + 10])
        rd = r[off + 10:off + 10 + rdlen]
        if rtype in (1, 28):
            out.append((rtype, str(ipaddress.ip_address(rd))))
        elif rtype == 12:
            out.append((rtype, read_name(r, off + 10)))
        else:
            out.append((rtype, rd.hex()))
        off += 10 + rdlen
    return flags & 0xF, an, out
