#!/usr/bin/env python3
"""Held map streams against the real ztna-server: at most --max-streams polls wait at once (the
next gets 503 BUSY with Retry-After, and the normal API keeps answering); a change made outside
the API (the janitor marking a silent machine offline) reaches a waiting poll; SIGTERM answers
held polls at once instead of waiting out their long-poll; after a restart, a poll with the
version of the previous run gets a full map whose version is higher (versions keep growing)."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import control_util as cu  # noqa: E402
from control_util import check, expect, harness, Machine, poll, peer_ids  # noqa: E402
from test_machines_util import create_key  # noqa: E402


def background(fn):
    out = {}

    def run():
        try:
            out["r"] = fn()
        except Exception as e:
            out["e"] = e
        out["at"] = time.monotonic()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def main():
    data_dir = None
    with harness.Server(args=["--max-streams", "1"], env={"ZTNA_OFFLINE_TIMEOUT": "2"}) as srv:
        owner = srv.setup()
        key = create_key(srv, owner, reusable=True)["key"]
        a, b, c = Machine("alpha"), Machine("bravo"), Machine("charlie")
        for m in (a, b, c):
            m.register(srv, key)
        fa, _ = poll(srv, a, 0)
        fb, _ = poll(srv, b, 0)

        # one stream held; a second waiting poll is refused, an answerable one is not
        t1, o1 = background(lambda: poll(srv, a, fa["version"], wait=20))
        time.sleep(0.5)
        r = cu.signed(srv, b, "GET", cu.map_target(fb["version"], 20))
        expect(r, 503, "BUSY")
        check(r.header("Retry-After") == "5", r.header("Retry-After"))
        full_b, _ = poll(srv, b, 0)  # something to send at once: no need to hold
        check(full_b["type"] == "full", full_b["type"])
        expect(srv.get("/api/orgs/%d/machines" % owner.org_id, owner), 200)
        check(t1.is_alive(), "the held poll returned early")

        # the janitor marks bravo and charlie offline (no heartbeat within 2 s): outside the
        # API, the netmap's sweep picks it up and wakes the held poll
        t1.join(15)
        check(not t1.is_alive() and "r" in o1, "held poll: %r" % o1)
        msg = o1["r"][0]
        offline = set()
        for _ in range(10):  # the janitor's rows may come as more than one delta
            check(msg["type"] in ("delta", "keepalive"), repr(msg)[:300])
            if msg["type"] == "delta":
                check(all(p["online"] is False for p in msg["upsert"]) and
                      set(peer_ids(msg, "upsert")) <= {b.id, c.id}, repr(msg)[:400])
                offline |= set(peer_ids(msg, "upsert"))
            if offline == {b.id, c.id}:
                break
            msg, _ = poll(srv, a, msg["version"], wait=5)
        check(offline == {b.id, c.id}, "offline seen for %r" % offline)
        v = msg["version"]

        # SIGTERM releases a held poll promptly
        expect(a.heartbeat(srv), 200)
        cur, _ = poll(srv, a, v)
        t2, o2 = background(lambda: cu.signed(srv, a, "GET", cu.map_target(cur["version"], 50),
                                              timeout=60))
        time.sleep(0.5)
        check(t2.is_alive(), "poll not held")
        t0 = time.monotonic()
        data_dir = srv.data_dir
        srv.own_dir = False  # keep the data for the restart below
        srv.stop()
        stopped = time.monotonic() - t0
        t2.join(10)
        check(stopped < 5, "stop took %.1f s with a held poll" % stopped)
        check(not t2.is_alive(), "held poll still open after stop")
        if "r" in o2:  # answered before the listener closed: a keepalive (or a late change)
            expect(o2["r"], 200)
            ka = cu.verify(a, o2["r"].data)
            check(ka["type"] in ("keepalive", "delta") and ka["version"] >= cur["version"], ka)
        print("stop with a held poll: %.2f s" % stopped)
        last = cur["version"]

    try:
        with harness.Server(data_dir=data_dir) as srv2:
            full, _ = poll(srv2, a, last)
            check(full["type"] == "full" and full["version"] > last,
                  "after a restart: %s at %r (held %r)" % (full["type"], full["version"], last))
            check(peer_ids(full) == sorted([b.id, c.id]), peer_ids(full))
    finally:
        import shutil
        shutil.rmtree(data_dir, ignore_errors=True)


harness.run(main)
