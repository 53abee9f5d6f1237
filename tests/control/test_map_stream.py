#!/usr/bin/env python3
"""Map streams (GET /api/machine/map/stream, a WebSocket; docs/control-protocol.md) against the
real ztna-server: a full map at since=0; a change reaches every stream as one batch, each
message with its path to one signed Merkle root (a flipped path or payload byte fails); nothing
is sent while nothing changes (no keepalives); ping/pong; a second stream of the machine
replaces the first; bad signature, replayed nonce and bad since are refused with an error frame;
a plain GET gets 426; a deleted machine's stream is told MACHINE_UNKNOWN."""
import base64
import hashlib
import json
import os
import socket
import ssl
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import control_util as cu  # noqa: E402
from control_util import check, expect, harness, Machine, poll, peer_ids  # noqa: E402
from test_machines_util import create_key  # noqa: E402

BATCH_TAG = b"ZTNA-NETMAP-BATCH-V1\n"
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Stream:
    """A minimal WebSocket client (RFC 6455) for one map stream."""

    def __init__(self, srv, m, since, header=None, target=None):
        self.m = m
        target = target or "/api/machine/map/stream?since=%s" % since
        self.s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        if srv.tls:  # the server's own TLS (test_map_stream_tls.py)
            ctx = ssl.create_default_context()
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
            self.s = ctx.wrap_socket(self.s)
        key = base64.b64encode(os.urandom(16))
        auth = header or m.auth_header("GET", target, b"")
        req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               "Authorization: %s\r\n\r\n" % (target, srv.port, key.decode(), auth))
        self.s.sendall(req.encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self._fill(time.monotonic() + 10)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        hdrs = {ln.split(":", 1)[0].lower(): ln.split(":", 1)[1].strip() for ln in lines[1:]}
        want = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()
        check(self.status == 101 and hdrs.get("sec-websocket-accept") == want,
              "upgrade: %r" % head[:300])

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        self.s.settimeout(left)
        try:
            chunk = self.s.recv(1 << 16)
        except socket.timeout:
            raise TimeoutError
        if not chunk:
            raise EOFError("stream closed")
        self.buf += chunk

    def _need(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)

    def frame(self, timeout=5):
        """The next frame: (opcode, payload bytes). TimeoutError when none came in time."""
        deadline = time.monotonic() + timeout
        self._need(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        check(b0 & 0x80, "fragmented frame")
        check(not b1 & 0x80, "server frames are not masked")
        n, off = b1 & 0x7f, 2
        if n == 126:
            self._need(4, deadline)
            n, off = struct.unpack(">H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10, deadline)
            n, off = struct.unpack(">Q", self.buf[2:10])[0], 10
        self._need(off + n, deadline)
        data = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return b0 & 0x0f, data

    def json(self, timeout=5):
        op, data = self.frame(timeout)
        check(op == 1, "expected a text frame, got opcode %d (%r)" % (op, data[:100]))
        return json.loads(data)

    def send_text(self, text):
        data = text.encode()
        mask = os.urandom(4)
        check(len(data) < 126, "short frames only")
        masked = bytes(c ^ mask[i % 4] for i, c in enumerate(data))
        self.s.sendall(bytes([0x81, 0x80 | len(data)]) + mask + masked)

    def expect_error(self, code):
        e = self.json()
        check(e.get("type") == "error" and e.get("code") == code, "expected %s: %r" % (code, e))
        op, _ = self.frame()
        check(op == 8, "a close frame follows the error, got opcode %d" % op)
        return e

    def close(self):
        self.s.close()


def leaf(payload):
    return hashlib.sha256(b"\x00" + cu.PREFIX + payload).digest()


def fold(h, path):
    for step in path:
        check(len(step) == 65 and step[0] in "lr", "path step %r" % step)
        sib = bytes.fromhex(step[1:])
        h = hashlib.sha256(b"\x01" + (sib + h if step[0] == "l" else h + sib)).digest()
    return h


def batch_verify(m, f):
    """f = {"type":"map", payload, sig, path} checked against m's pinned key: the payload."""
    check(f.get("type") == "map" and set(f) == {"type", "payload", "sig", "path"},
          "map frame keys %r" % list(f))
    payload = base64.b64decode(f["payload"], validate=True)
    root = fold(leaf(payload), f["path"])
    sig = bytes.fromhex(f["sig"])
    check(cu.ed25519_verify(bytes.fromhex(m.server_key), BATCH_TAG + root, sig),
          "batch signature does not verify with the pinned key")
    msg = json.loads(payload.decode())
    check(msg["machine_id"] == m.id, "map for %r, expected %r" % (msg["machine_id"], m.id))
    return msg


def verifies(m, f):
    try:
        batch_verify(m, f)
        return True
    except (harness.Failure, ValueError, KeyError):
        return False


def metric(srv, name):
    r = srv.get("/metrics")
    check(r.status == 200, repr(r))
    text = r.body.decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return int(line.split()[1])
    check(False, "%s not in /metrics" % name)


def main():
    with harness.Server() as srv:
        owner = srv.setup()
        org = owner.org_id
        key = create_key(srv, owner, reusable=True)["key"]
        a, b = Machine("alpha"), Machine("bravo")
        a.register(srv, key)
        b.register(srv, key)

        # --- a plain GET says how to use it ---------------------------------------------------
        r = srv.get("/api/machine/map/stream?since=0")
        expect(r, 426)

        # --- full maps at since=0 -----------------------------------------------------------
        sa = Stream(srv, a, 0)
        fa = batch_verify(a, sa.json())
        check(fa["type"] == "full" and peer_ids(fa) == [b.id], repr(fa)[:300])
        sb = Stream(srv, b, 0)
        fb = batch_verify(b, sb.json())
        check(fb["type"] == "full" and peer_ids(fb) == [a.id], repr(fb)[:300])
        va, vb = fa["version"], fb["version"]
        check(metric(srv, "ztna_netmap_streams") == 2, "2 streams open")

        # --- nothing changes: nothing is sent; a ping is answered --------------------------
        try:
            f = sa.frame(timeout=1.0)
            check(False, "a frame without a change: %r" % (f,))
        except TimeoutError:
            pass
        sa.send_text('{"type":"ping"}')
        check(sa.json() == {"type": "pong"}, "pong")

        # --- one change: both streams, one batch, one signature -----------------------------
        c = Machine("charlie")
        t0 = time.monotonic()
        c.register(srv, key)
        ra, rb = sa.json(), sb.json()
        latency = time.monotonic() - t0
        da, db = batch_verify(a, ra), batch_verify(b, rb)
        for d, v in ((da, va), (db, vb)):
            check(d["type"] == "delta" and d["prev_version"] == v and d["version"] > v, repr(d))
            check(peer_ids(d, "upsert") == [c.id] and d["remove"] == [], repr(d))
        check(ra["sig"] == rb["sig"], "one signature for the batch")
        check(len(ra["path"]) == 1 and len(rb["path"]) == 1 and
              sorted([ra["path"][0][0], rb["path"][0][0]]) == ["l", "r"],
              "a batch of two: one sibling each, %r %r" % (ra["path"], rb["path"]))
        check(latency < 1.0, "delta %.3f s after the change" % latency)
        print("stream delta latency after registration: %.1f ms" % (latency * 1000))
        # the path and the payload are bound by the signature
        bad = dict(ra, path=[("r" if ra["path"][0][0] == "l" else "l") + ra["path"][0][1:]])
        check(not verifies(a, bad), "a swapped side still verifies")
        bad = dict(ra, path=[ra["path"][0][:-1] + ("0" if ra["path"][0][-1] != "0" else "1")])
        check(not verifies(a, bad), "a changed sibling still verifies")
        raw = bytearray(base64.b64decode(ra["payload"]))
        raw[len(raw) // 2] ^= 1
        check(not verifies(a, dict(ra, payload=base64.b64encode(bytes(raw)).decode())),
              "a flipped payload byte still verifies")
        check(not verifies(a, dict(ra, path=[])), "an empty path still verifies")
        va, vb = da["version"], db["version"]

        # --- resume at a version: only what changed after it ---------------------------------
        expect(srv.patch("/api/orgs/%d/machines/%d" % (org, c.id), {"name": "charlie-2"}, owner),
               200)
        da = batch_verify(a, sa.json())
        check(da["prev_version"] == va and peer_ids(da, "upsert") == [c.id], repr(da))
        batch_verify(b, sb.json())
        va = da["version"]

        # --- a second stream of the machine replaces the first ------------------------------
        sa2 = Stream(srv, a, va)
        sa.expect_error("REPLACED")
        sa.close()
        expect(srv.patch("/api/orgs/%d/machines/%d" % (org, c.id), {"name": "charlie-3"}, owner),
               200)
        d2 = batch_verify(a, sa2.json())
        check(d2["prev_version"] == va, repr(d2))
        batch_verify(b, sb.json())

        # --- refused: bad signature, replay, bad since -------------------------------------
        t = "/api/machine/map/stream?since=0"
        s = Stream(srv, c, 0, header=c.auth_header("GET", "/api/machine/map?since=0", b""))
        s.expect_error("UNAUTHORIZED")
        s.close()
        h = c.auth_header("GET", t, b"")
        s = Stream(srv, c, 0, header=h)
        batch_verify(c, s.json())
        s.close()
        s = Stream(srv, c, 0, header=h)
        e = s.expect_error("UNAUTHORIZED")
        check("replayed" in e["message"], e)
        s.close()
        s = Stream(srv, c, "x", target="/api/machine/map/stream?since=x")
        s.expect_error("INVALID_QUERY")
        s.close()

        # --- a deleted machine's stream is told, then closed --------------------------------
        expect(srv.delete("/api/orgs/%d/machines/%d" % (org, b.id), owner), 200)
        sb.expect_error("MACHINE_UNKNOWN")
        sb.close()
        d3 = batch_verify(a, sa2.json())
        check(b.id in d3["remove"], repr(d3))
        sa2.close()

        # --- regression: a batch larger than the pump's first job array (64) -----------------
        # Its jobs point into themselves (inline node lists); growing the array while collecting
        # moved them and freed stale pointers (double free in the pump).
        many = []
        for i in range(100):
            m = Machine("m%d" % i)
            m.register(srv, key)
            many.append(m)
        streams = []
        for m in many:
            msg, _ = poll(srv, m, 0)
            streams.append((m, Stream(srv, m, msg["version"])))
        z = Machine("zulu")
        z.register(srv, key)
        sigs, depths = set(), set()
        for m, st in streams:
            f = st.json(timeout=10)
            d = batch_verify(m, f)
            check(z.id in peer_ids(d, "upsert"), repr(d)[:200])
            sigs.add(f["sig"])
            depths.add(len(f["path"]))
            st.close()
        check(len(sigs) <= 3, "%d signatures for one change to 100 streams" % len(sigs))
        check(max(depths) >= 6, "paths of %r steps for a batch of ~100" % sorted(depths))

        deadline = time.monotonic() + 5  # the close handlers run as the sockets go
        while metric(srv, "ztna_netmap_streams") != 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        check(metric(srv, "ztna_netmap_streams") == 0, "no stream open")

        # the poll still works next to streams
        msg, _ = poll(srv, a, 0)
        check(msg["type"] == "full", msg["type"])
    print("ok")


if __name__ == "__main__":
    harness.run(main)
