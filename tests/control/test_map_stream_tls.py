#!/usr/bin/env python3
"""Map streams over the server's own TLS (--tls-cert): served, not refused. The stream's worker
reads the client's pings (SSL_read) while the pump writes map frames (SSL_write) on the same
connection; the TLS shim (server/tlsshim) keeps the two apart, as OpenSSL requires. Here the
client pings after every frame while machines register on other connections: every delta
arrives intact (it decrypts, its batch signature verifies), in version order with no gap, and
every ping gets its pong."""
import os
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from control_util import check, harness, Machine, peer_ids  # noqa: E402
from test_machines_util import create_key  # noqa: E402
from test_map_stream import Stream, batch_verify  # noqa: E402

N_NEW = 120  # machines registered while the stream is pinged


def main():
    d = tempfile.mkdtemp(prefix="ztna-stream-tls-")
    try:
        cert, key_pem = harness.make_cert(d)
        with harness.Server(args=["--tls-cert", cert, "--tls-key", key_pem], tls=True) as srv:
            run(srv)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print("ok")


def run(srv):
    owner = srv.setup()
    key = create_key(srv, owner, reusable=True)["key"]
    a, b = Machine("alpha"), Machine("bravo")
    a.register(srv, key)
    b.register(srv, key)

    sa = Stream(srv, a, 0)
    full = batch_verify(a, sa.json())
    check(full["type"] == "full" and peer_ids(full) == [b.id], repr(full)[:300])
    version = full["version"]

    registered, errors = [], []

    def register_all():
        try:
            for i in range(N_NEW):
                m = Machine("tls%03d" % i)
                m.register(srv, key)
                registered.append(m.id)
        except Exception as e:  # reported by the main thread
            errors.append(e)

    t = threading.Thread(target=register_all, daemon=True)
    t.start()
    seen, pings, pongs, deltas = set(), 0, 0, 0
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        done = not t.is_alive() and set(registered) <= seen
        if done and pongs == pings:
            break
        if not done and pongs == pings:  # one ping always in flight while machines register:
            sa.send_text('{"type":"ping"}')  # the worker reads it while the pump may write
            pings += 1
        try:
            f = sa.json(timeout=2)
        except TimeoutError:
            continue
        if f.get("type") == "pong":
            pongs += 1
            continue
        m = batch_verify(a, f)
        check(m["type"] == "delta" and m["prev_version"] == version and m["version"] > version,
              "deltas chain without a gap: %r after %r" % (m, version))
        version = m["version"]
        seen.update(peer_ids(m, "upsert"))
        deltas += 1
    t.join(timeout=30)
    check(not errors, "registration failed: %r" % errors[:1])
    check(len(registered) == N_NEW, "%d of %d registered" % (len(registered), N_NEW))
    check(set(registered) <= seen, "%d of %d new machines reached the stream" %
          (len(set(registered) & seen), N_NEW))
    check(pongs == pings, "%d pongs for %d pings" % (pongs, pings))
    print("over TLS: %d deltas, %d pings answered" % (deltas, pongs))
    sa.close()
    expect_alive = srv.get("/healthz")
    check(expect_alive.status == 200, "server alive after the stream")


if __name__ == "__main__":
    harness.run(main)
