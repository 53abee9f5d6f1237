"""Helpers for the control-protocol tests: a signed map poll that checks the server's signature
with the key pinned at registration, exactly as docs/control-protocol.md says."""
import base64
import json
import os
import sys
import time
from urllib.parse import quote

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "server"))
import harness  # noqa: E402,F401
from harness import check, expect  # noqa: E402
from test_machines_util import Machine, body_bytes, ed25519_verify  # noqa: E402,F401

PREFIX = b"ZTNA-NETMAP-V1\n"


def signed(srv, m, method, target, body=b"", headers=None, timeout=None):
    h = {"Authorization": m.auth_header(method, target, body)}
    h.update(headers or {})
    if timeout is None:
        return srv.request(method, target, raw_body=body if body else None, headers=h)
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    try:
        if body:
            h["Content-Type"] = "application/json"
        conn.request(method, target, body=body if body else None, headers=h)
        resp = conn.getresponse()
        return harness.Response(resp.status, resp.getheaders(), resp.read())
    finally:
        conn.close()


def map_target(since=None, wait=None, extra=""):
    q = []
    if since is not None:
        q.append("since=%s" % quote(str(since), safe=""))
    if wait is not None:
        q.append("wait=%s" % quote(str(wait), safe=""))
    t = "/api/machine/map"
    if q or extra:
        t += "?" + "&".join(q + ([extra] if extra else []))
    return t


def verify(m, data):
    """Checks data = {payload, sig} against the key m pinned at registration; returns the
    payload object."""
    check(set(data) == {"payload", "sig"}, "map data keys %r" % list(data))
    payload = base64.b64decode(data["payload"], validate=True)
    sig = bytes.fromhex(data["sig"])
    pk = bytes.fromhex(m.server_key)
    check(len(sig) == 64 and ed25519_verify(pk, PREFIX + payload, sig),
          "map signature does not verify with the pinned key")
    return json.loads(payload.decode())


def poll(srv, m, since=0, wait=None, timeout=None):
    """One signed map poll; returns (payload object, seconds taken)."""
    t0 = time.monotonic()
    r = signed(srv, m, "GET", map_target(since, wait),
               timeout=timeout or (harness.REQ_TIMEOUT + (wait or 0)))
    expect(r, 200)
    msg = verify(m, r.data)
    check(msg["machine_id"] == m.id, "map for %r, expected %r" % (msg["machine_id"], m.id))
    return msg, time.monotonic() - t0


def peer_ids(msg, key="peers"):
    return sorted(p["id"] for p in msg.get(key) or [])
