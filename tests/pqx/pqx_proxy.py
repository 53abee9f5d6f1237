#!/usr/bin/env python3
"""An on-path attacker for the PQ exchange tests: a UDP relay between two WireGuard engines that
forwards WireGuard messages (types 1..4) untouched and does MODE to pqx datagrams (first byte 0x10):
  pass  forward them          drop  drop them (a peer that never answers)
  init  flip a bit in INITs   resp  flip a bit in RESPs   (the last fragment's MAC region)
Usage: pqx_proxy.py MODE LISTEN_A PEER_A LISTEN_B PEER_B   (addresses as IP:PORT)
Datagrams from PEER_A arriving on LISTEN_A go out of LISTEN_B to PEER_B, and back. Stops by
itself after 120 s (bounded) or on SIGTERM. Prints one line per 100 pqx datagrams it touched."""
import select
import signal
import socket
import sys
import time

KIND = {"init": 1, "resp": 2}


def addr(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


def main():
    mode, la, pa, lb, pb = sys.argv[1], addr(sys.argv[2]), addr(sys.argv[3]), addr(sys.argv[4]), addr(sys.argv[5])
    if mode not in ("pass", "drop", "init", "resp"):
        sys.exit("bad mode " + mode)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sa = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sb = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sa.bind(la)
    sb.bind(lb)
    touched = 0
    end = time.monotonic() + 120
    while time.monotonic() < end:
        r, _, _ = select.select([sa, sb], [], [], 0.5)
        for s in r:
            data, src = s.recvfrom(4096)
            out, dst = (sb, pb) if s is sa else (sa, pa)
            if data and data[0] == 0x10:
                touched += 1
                if touched % 100 == 0:
                    print("pqx datagrams seen:", touched, flush=True)
                if mode == "drop":
                    continue
                if mode in KIND and len(data) > 24 and data[2] == KIND[mode] and data[3] == data[4] - 1:
                    b = bytearray(data)
                    b[-5] ^= 0x01  # inside the MAC of the message body
                    data = bytes(b)
            out.sendto(data, dst)


main()
