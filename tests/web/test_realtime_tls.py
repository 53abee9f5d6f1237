#!/usr/bin/env python3
"""The realtime socket /api/ws over the server's own TLS (--tls-cert), under load: the regression
test for SSL_read and SSL_write overlapping on one connection.

civetweb's worker thread of the socket sits in SSL_read (the tab's pings), while the hub's
sender thread writes the events with SSL_write on the same SSL object; OpenSSL forbids both at
once, and the TLS shim (server/tlsshim/shim.c) serialises them. rt_tls_flood (rt_tls_flood.c)
holds one socket subscribed to "keys" and "audit" and keeps the worker reading: ping frames,
WebSocket PINGs and a TLS 1.3 KeyUpdate (update requested) every other frame, each of which runs
OpenSSL's handshake state machine on the connection inside SSL_read and makes the next SSL_write
re-key the sending side. Meanwhile this script creates KEYS auth keys over one keep-alive HTTPS
connection (in batches of BATCH, so that fewer than RT_QUEUE_MAX events ever wait), and checks:
- every "keys" and "audit" event arrives, decrypts, and comes in order, with no "resync";
- the pings were answered and key updates happened (the overlap was exercised);
- afterwards a new socket gets its event, the API answers, and the server exits cleanly (which
  also catches an ASan report).
Before the fix, the client saw "decryption failed or bad record mac" within the first thousand
events in every run (6 of 6 release, 3 of 3 ASan); with it, every run passes."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
import harness  # noqa: E402
from harness import Server, Skip, check, expect  # noqa: E402
from test_machines_util import create_key  # noqa: E402

KEYS = 6000
BATCH = 50     # keys created before waiting for their events
SECONDS = 240


def flood_binary():
    path = os.path.join(harness.BUILD_DIR, "tests", "web", "rt_tls_flood")
    if not os.path.exists(path):
        raise Skip("rt_tls_flood not built at %s" % path)
    return path


class KeepAlive:
    """One HTTPS connection for every request (a handshake per key would pace the events)."""

    def __init__(self, srv, session):
        self.conn = srv.connection()
        self.headers = dict(session.auth_headers(), **{"Content-Type": "application/json",
                                                      "Accept": "application/json"})
        self.org = session.org_id

    def create_key(self, i):
        self.conn.request("POST", "/api/orgs/%d/auth-keys" % self.org,
                          body=json.dumps({"reusable": True, "description": "k%d" % i}),
                          headers=self.headers)
        resp = self.conn.getresponse()
        r = expect(harness.Response(resp.status, resp.getheaders(), resp.read()), 201)
        return r.data["id"]


def flood(srv, session, count):
    """Starts rt_tls_flood subscribed to "keys" and "audit" (count: "keys" events to wait
    for); returns the process once it is subscribed."""
    p = subprocess.Popen([flood_binary(), str(srv.port), session.token, str(session.org_id),
                          "keys,audit", str(count), str(SECONDS)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip()
    if line != "subscribed":
        p.kill()
        raise harness.Failure("rt_tls_flood did not subscribe: %r %s" % (line, p.stderr.read()))
    return p


class Reader:
    """Collects rt_tls_flood's output: events as {channel: [(event, id)]}, and stderr."""

    def __init__(self, p):
        self.p, self.events, self.err = p, {"keys": [], "audit": []}, []
        self.cond = threading.Condition()
        self.threads = [threading.Thread(target=self._out), threading.Thread(target=self._err)]
        for t in self.threads:
            t.start()

    def _out(self):
        for line in self.p.stdout:
            parts = line.split()
            if len(parts) == 4 and parts[0] == "event":
                with self.cond:
                    self.events.setdefault(parts[1], []).append((parts[2], int(parts[3])))
                    self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def _err(self):
        self.err.append(self.p.stderr.read())

    def wait_keys(self, n, timeout=60):
        """Until n "keys" events arrived (False if the client exited or time ran out)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.events["keys"]) < n and self.p.poll() is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.5))
            return len(self.events["keys"]) >= n

    def finish(self):
        """The events once the process exited 0."""
        rc = self.p.wait(timeout=SECONDS + 30)
        for t in self.threads:
            t.join(timeout=10)
        check(rc == 0, "rt_tls_flood exited %d after %d events: %s" % (
            rc, sum(len(v) for v in self.events.values()), "".join(self.err)))
        return self.events, "".join(self.err)


def main():
    flood_binary()
    d = tempfile.mkdtemp(prefix="ztna-rt-tls-")
    cert, key = harness.make_cert(d)
    try:
        with Server(args=["--tls-cert", cert, "--tls-key", key], tls=True) as srv:
            owner = srv.setup()
            p = flood(srv, owner, KEYS)
            r = Reader(p)
            started = time.monotonic()
            api = KeepAlive(srv, owner)
            ids = []
            try:
                # In batches, so that fewer than RT_QUEUE_MAX events wait for the socket
                # (each key is two: "keys" and "audit"); a "resync" fails the test.
                while len(ids) < KEYS and p.poll() is None:
                    ids += [api.create_key(len(ids) + i) for i in range(BATCH)]
                    r.wait_keys(len(ids))
            except Exception:
                p.kill()
                raise
            events, err = r.finish()
            took = time.monotonic() - started
            for channel, event in (("keys", "created"), ("audit", "new")):
                got, want = events[channel], [(event, i) for i in ids]
                check(got == want, "every %s event, in order: %d of %d, first difference at %r" % (
                    channel, len(got), len(want),
                    next((j for j, (a, b) in enumerate(zip(got, want)) if a != b), None)))
            m = re.search(r"(\d+) pongs, (\d+) key updates", err)
            check(m and int(m.group(1)) > 0 and int(m.group(2)) > 0,
                  "the server read pings and key updates meanwhile: %s" % err.strip())
            print("%d keys in %.1f s, %s" % (KEYS, took, err.strip()))
            # the server is intact: another socket over TLS, the API
            p = flood(srv, owner, 1)
            r = Reader(p)
            k = create_key(srv, owner, reusable=True, description="after")
            events, _ = r.finish()
            check(events["keys"] == [("created", k["id"])], "a new socket afterwards: %r" % events)
            expect(srv.get("/api/me", owner), 200)
    finally:
        shutil.rmtree(d, ignore_errors=True)


harness.run(main)
