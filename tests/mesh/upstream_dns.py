#!/usr/bin/env python3
"""A stand-in upstream resolver for tests/mesh/test_mesh.py: answers every A query for a name
under example.test with 198.18.0.77 (big.example.test: 40 addresses 198.18.1.1-40, 674 bytes, more
than a client without EDNS takes, sent whole anyway), NXDOMAIN for anything else, and logs every
name it was asked (one per line) so the test can prove tailnet names never reach it.

    upstream_dns.py ADDR LOGFILE"""
import socket
import struct
import sys


def qname(msg, off):
    labels = []
    while off < len(msg) and msg[off]:
        n = msg[off]
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n
    return ".".join(labels), off + 1


def main():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[1], 53))
    while True:
        msg, addr = s.recvfrom(1500)
        if len(msg) < 12:
            continue
        name, end = qname(msg, 12)
        with open(sys.argv[2], "a") as f:
            f.write(name.lower() + "\n")
        qtype = struct.unpack("!H", msg[end:end + 2])[0] if end + 4 <= len(msg) else 0
        question = msg[12:end + 4]
        ok = name.lower().endswith("example.test")
        flags = 0x8180 if ok else 0x8183
        big = name.lower() == "big.example.test"
        an = (40 if big else 1) if ok and qtype == 1 else 0
        hdr = msg[:2] + struct.pack("!HHHHH", flags, 1, an, 0, 0)
        ans = b""
        for i in range(an):
            ans += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(
                "198.18.1.%d" % (i + 1) if big else "198.18.0.77")
        s.sendto(hdr + question + ans, addr)


if __name__ == "__main__":
    main()
