#!/usr/bin/env python3
"""A scripted WebSocket server for tests/mesh/test_mapstream.c (stdlib only): it stands in for
ztna-server's GET /api/machine/map/stream. The scenario is the first path segment of the request
target (the agent's server URL is http://127.0.0.1:PORT/<scenario>, and the agent puts the URL's
path in front of /api/machine/map/stream).

    ws_server.py PORTFILE LOGFILE [CERT KEY]

Listens on 127.0.0.1, plain HTTP and (with CERT and KEY) TLS, each on a port of its own, and
writes "<plain> <tls>" to PORTFILE. Every request head, and what the server read back from the
client, is appended to LOGFILE as one JSON line {"scenario", "event", ...}."""
import base64
import hashlib
import json
import os
import socket
import ssl
import struct
import sys
import threading
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
LOG_LOCK = threading.Lock()
CONNS = {}  # scenario -> connections so far
CONNS_LOCK = threading.Lock()


def log(scenario, event, **kw):
    with LOG_LOCK, open(LOG, "a") as f:
        f.write(json.dumps(dict(scenario=scenario, event=event, **kw)) + "\n")


def frame(opcode, payload, fin=True, mask=None, length=None):
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | opcode])
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n <= 0xFFFF:
        head += bytes([mbit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack(">Q", n)
    if mask:
        head += mask
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + payload


def text(obj):
    return frame(0x1, json.dumps(obj, separators=(",", ":")).encode())


def map_msg(tag, size=0):
    """A map frame's JSON; the client does not verify it, the test compares the text."""
    return {"type": "map", "payload": tag + "A" * size, "sig": "00" * 64, "path": []}


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def read_frame(sock):
    """A client frame: (opcode, payload, masked)."""
    b0, b1 = recv_exact(sock, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack(">H", recv_exact(sock, 2))[0]
    elif n == 127:
        n = struct.unpack(">Q", recv_exact(sock, 8))[0]
    key = recv_exact(sock, 4) if b1 & 0x80 else b"\0\0\0\0"
    data = bytes(b ^ key[i % 4] for i, b in enumerate(recv_exact(sock, n)))
    return b0 & 0x0F, data, bool(b1 & 0x80)


def read_head(sock):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise EOFError
        buf += chunk
    head = buf.split(b"\r\n\r\n", 1)[0].decode()
    lines = head.split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    return lines[0], headers


def upgrade(sock, headers, accept=None, extra=b""):
    if accept is None:
        accept = base64.b64encode(hashlib.sha1(headers["sec-websocket-key"].encode() + GUID).digest())
    sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n" + extra)


def send_split(sock, data, pieces):
    """data in pieces of the given sizes (the rest in one), each its own segment."""
    at = 0
    for p in pieces:
        sock.sendall(data[at:at + p])
        at += p
        time.sleep(0.01)
    sock.sendall(data[at:])


def scenario_ok(sock, sc, headers):
    upgrade(sock, headers)
    first = text(map_msg("first"))
    send_split(sock, first, [1, 1, 3, 7])  # the header itself arrives in pieces
    sock.sendall(frame(0x9, b"hi"))  # a server ping: the pong must come back masked
    op, data, masked = read_frame(sock)
    log(sc, "client-frame", opcode=op, data=data.decode(), masked=masked)
    sock.sendall(text(map_msg("after-pong")))
    op, data, masked = read_frame(sock)  # the client's ping, when the test makes it due
    log(sc, "client-frame", opcode=op, data=data.decode(), masked=masked)
    if data == b'{"type":"ping"}':
        sock.sendall(text({"type": "pong"}))
    sock.sendall(text(map_msg("len16-", 300)) + text(map_msg("len64-", 70000)))
    whole = json.dumps(map_msg("fragmented", 50), separators=(",", ":")).encode()
    sock.sendall(frame(0x1, whole[:20], fin=False) + frame(0x9, b"mid") +
                 frame(0x0, whole[20:40], fin=False) + frame(0x0, whole[40:]))
    op, data, masked = read_frame(sock)  # the pong to "mid"
    log(sc, "client-frame", opcode=op, data=data.decode(), masked=masked)
    sock.sendall(text({"type": "newer-than-you", "x": 1}) + frame(0x2, b"\x00\x01") +
                 frame(0xA, b"") + text(map_msg("last")))
    sock.sendall(frame(0x8, struct.pack(">H", 1000)))
    op, data, masked = read_frame(sock)
    log(sc, "client-frame", opcode=op, data=data.hex(), masked=masked)


def hold(sock):
    """Reads the client's frames until its close or the end of the connection."""
    try:
        while read_frame(sock)[0] != 0x8:
            pass
    except (EOFError, OSError):
        pass


def going_away(sock, sc, headers):
    """The server's shutdown: a close 1001 and nothing else (the client answers with a close)."""
    upgrade(sock, headers)
    sock.sendall(frame(0x8, struct.pack(">H", 1001)))
    op, data, masked = read_frame(sock)
    log(sc, "client-frame", opcode=op, data=data.hex(), masked=masked)


def scenario_goaway(sock, sc, headers, n):
    """goaway: 1001, then the restarted server serves. goaway-hang: 1001, then a server that
    does not answer yet, then one that serves. goaway-always: 1001 every time."""
    if n == 1 or sc == "goaway-always":
        going_away(sock, sc, headers)
    elif sc == "goaway-hang" and n == 2:
        time.sleep(3)
    else:
        upgrade(sock, headers)
        sock.sendall(text(map_msg("back")))
        hold(sock)


def scenario(sock, sc, headers):
    with CONNS_LOCK:
        CONNS[sc] = CONNS.get(sc, 0) + 1
        n = CONNS[sc]
    if sc.startswith("goaway"):
        scenario_goaway(sock, sc, headers, n)
    elif sc in ("ok", "tls"):
        scenario_ok(sock, sc, headers)
    elif sc == "early":  # the head and the first frame in one segment
        upgrade(sock, headers, extra=text(map_msg("early")))
        time.sleep(1)
    elif sc == "big":  # one large frame (over TLS: more than one TLS record)
        upgrade(sock, headers)
        sock.sendall(text(map_msg("big", 300000)))
        time.sleep(1)
    elif sc == "notfound":
        body = b'{"success":false,"data":null,"error":{"code":"NOT_FOUND","message":"no route"}}'
        sock.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body)
    elif sc in ("busy", "gone", "unauthorized"):
        code = {"busy": "BUSY", "gone": "MACHINE_UNKNOWN", "unauthorized": "UNAUTHORIZED"}[sc]
        upgrade(sock, headers)
        # as ztna-server closes: 1001 after BUSY, 1008 after the others
        sock.sendall(text({"type": "error", "code": code, "message": "told by " + sc}) +
                     frame(0x8, struct.pack(">H", 1001 if code == "BUSY" else 1008)))
        time.sleep(0.5)
    elif sc == "badaccept":
        upgrade(sock, headers, accept=base64.b64encode(b"x" * 20))
    elif sc == "masked":
        upgrade(sock, headers)
        sock.sendall(frame(0x1, b'{"type":"pong"}', mask=b"abcd"))
        time.sleep(0.5)
    elif sc == "oversize":  # 33 MiB announced: refused before any payload
        upgrade(sock, headers)
        sock.sendall(frame(0x1, b"", length=33 << 20))
        time.sleep(0.5)
    elif sc == "silent":
        upgrade(sock, headers)
        time.sleep(3)
    elif sc == "eof":
        upgrade(sock, headers)
    elif sc == "hang":
        time.sleep(3)
    elif sc == "cycle":  # opened and left open until the client goes
        upgrade(sock, headers)
        hold(sock)


def serve(conn):
    sc = "?"
    try:
        line, headers = read_head(conn)
        target = line.split(" ")[1]
        sc = target.split("/")[1]
        log(sc, "request", line=line, headers=headers)
        scenario(conn, sc, headers)
    except (EOFError, OSError, ValueError, KeyError) as e:
        log(sc, "error", what=repr(e))
    finally:
        try:
            conn.close()
        except OSError:
            pass


def listen(ctx=None):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)

    def loop():
        while True:
            conn, _ = s.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def run(c=conn):
                if ctx:
                    try:
                        c = ctx.wrap_socket(c, server_side=True)
                    except (ssl.SSLError, OSError) as e:
                        log("?", "tls-error", what=repr(e))
                        return
                serve(c)
            threading.Thread(target=run, daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
    return s.getsockname()[1]


if __name__ == "__main__":
    LOG = sys.argv[2]
    plain = listen()
    tls = 0
    if len(sys.argv) > 4:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[3], sys.argv[4])
        tls = listen(ctx)
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d %d\n" % (plain, tls))
    os.rename(tmp, sys.argv[1])
    while True:
        time.sleep(3600)
