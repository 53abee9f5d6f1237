#!/usr/bin/env python3
"""A fake control server for tests/mesh/test_mesh.py: registers any agent, then serves a scripted
sequence of map messages on successive polls: one genuine full map (signed with the key it gave
at registration), then forgeries the agent must refuse, then keepalives.

    fake_server.py ADDR PORT LOGFILE

Sequence (each on its own poll):
  1. full v5 for machine 7, one peer "real-peer", signed with the pinned key   -> applied
  2. full v6 with two peers, signed with ANOTHER key                           -> refused
  3. full v6 whose payload was altered after signing                          -> refused
  4. full v3 (older than what the agent holds), correctly signed              -> refused
  5. full v7 for machine 8 (another machine), correctly signed                -> refused
  6. full v8 without a signature                                              -> refused
  then keepalives at v5 (correctly signed).
It has no map stream (GET /api/machine/map/stream is a 404, as on an older server), so the agent
polls.
Every request is appended to LOGFILE as one JSON line {method, path}."""
import base64
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
from test_machines_util import ed25519_keypair, ed25519_sign  # noqa: E402

PK, SK = ed25519_keypair()
PK_OTHER, SK_OTHER = ed25519_keypair()
PEER_KEY = base64.b64encode(bytes(range(1, 33))).decode()


def node(id_, name, ip, peer=False):
    n = {"id": id_, "name": name, "fqdn": name + ".fake.zt.net", "tailnet_ip": ip, "tags": [],
         "org_id": 1}
    if peer:
        n.update({"wg_public_key": PEER_KEY, "online": True, "last_seen": int(time.time()),
                  "endpoints": ["198.18.0.99:41641"], "pq": "required"})
    return n


def full(version, machine_id=7, extra_peer=False):
    peers = [node(20, "real-peer", "100.64.9.20", True)]
    if extra_peer:
        p = node(21, "evil-peer", "100.64.9.21", True)
        p["wg_public_key"] = base64.b64encode(bytes(range(2, 34))).decode()
        peers.append(p)
    return {"type": "full", "machine_id": machine_id, "version": version,
            "generated_at": int(time.time()), "self": node(7, "delta", "100.64.9.9"),
            "peers": peers, "dns": {"suffix": "fake.zt.net", "resolver": "100.100.100.100",
                                    "search": ["fake.zt.net"]}, "filter": None}


def signed(payload, sk=SK, tamper=False, unsigned=False):
    raw = json.dumps(payload, separators=(",", ":")).encode()
    sig = ed25519_sign(sk, b"ZTNA-NETMAP-V1\n" + raw)
    if tamper:
        raw = raw.replace(b"real-peer", b"evil-peer")
    d = {"payload": base64.b64encode(raw).decode()}
    if not unsigned:
        d["sig"] = sig.hex()
    return d


SEQUENCE = [
    lambda: signed(full(5)),
    lambda: signed(full(6, extra_peer=True), sk=SK_OTHER),
    lambda: signed(full(6, extra_peer=True), tamper=True),
    lambda: signed(full(3)),
    lambda: signed(full(7, machine_id=8)),
    lambda: signed(full(8, extra_peer=True), unsigned=True),
]
polls = 0


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, status, data):
        body = json.dumps({"success": status < 300, "data": data,
                           "error": None if status < 300 else {"code": "X", "message": "x"}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log(self):
        with open(LOG, "a") as f:
            f.write(json.dumps({"method": self.command, "path": self.path}) + "\n")

    def do_POST(self):
        self.log()
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        if self.path == "/api/register-machine":
            self.reply(201, {"machine_id": 7, "tailnet_ip": "100.64.9.9", "name": "delta.fake.zt.net",
                             "label": "delta", "server_signing_key": PK.hex(), "org_id": 1,
                             "heartbeat_interval": 60})
        else:
            self.reply(200, {})

    def do_GET(self):
        global polls
        self.log()
        # an older server: no map stream (the agent falls back to polling)
        if not self.path.startswith("/api/machine/map?"):
            self.reply(404, None)
            return
        i = polls
        polls += 1
        if i < len(SEQUENCE):
            self.reply(200, SEQUENCE[i]())
            return
        time.sleep(1)
        self.reply(200, signed({"type": "keepalive", "machine_id": 7, "version": 5,
                                "generated_at": int(time.time())}))


if __name__ == "__main__":
    LOG = sys.argv[3]
    ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
