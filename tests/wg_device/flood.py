#!/usr/bin/env python3
"""Bounded flood of WireGuard handshake initiations with a valid mac1 (so they pass the first
check) from many source addresses, as a spoofing host would. Counts the cookie replies (type 3).
Usage: flood.py TARGET_IP PORT RESPONDER_PUBKEY_B64 COUNT RATE_PER_S SRC_IP...
Prints "sent N cookies M"."""
import base64, hashlib, os, select, socket, struct, sys, time

target, port, pub_b64, count, rate = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
srcs = sys.argv[6:]
pub = base64.b64decode(pub_b64)
mac1_key = hashlib.blake2s(b"mac1----" + pub).digest()
socks = []
for s in srcs:
    so = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    so.bind((s, 0))
    so.setblocking(False)
    socks.append(so)
sent = cookies = 0
deadline = time.monotonic() + count / rate + 3
next_t = time.monotonic()
while time.monotonic() < deadline:
    if sent < count and time.monotonic() >= next_t:
        body = struct.pack("<I", 1) + os.urandom(4) + os.urandom(32 + 48 + 28)
        mac1 = hashlib.blake2s(body, digest_size=16, key=mac1_key).digest()
        try:
            socks[sent % len(socks)].sendto(body + mac1 + bytes(16), (target, port))
        except BlockingIOError:
            pass
        sent += 1
        next_t += 1.0 / rate
    r, _, _ = select.select(socks, [], [], max(0.0, min(0.01, next_t - time.monotonic())))
    for so in r:
        try:
            while True:
                d = so.recv(2048)
                if len(d) == 64 and d[0] == 3:
                    cookies += 1
        except BlockingIOError:
            pass
    if sent >= count and time.monotonic() > deadline - 2.5:
        break
print("sent %d cookies %d" % (sent, cookies))
