#!/usr/bin/env python3
"""Failure paths on purpose: another process holds the SQLite write lock longer than the busy
timeout (5 s). Writes then fail cleanly with a 503 BUSY envelope (nothing half-written), reads
keep working (WAL), and once the lock is gone writes succeed again."""
import os
import sqlite3
import time

import harness
from harness import Server, check, expect


def main():
    with Server() as srv:
        owner = srv.setup()
        before = len(expect(srv.get("/api/orgs", owner), 200).data)
        con = sqlite3.connect(os.path.join(srv.data_dir, "ztna.db"), timeout=10,
                              isolation_level=None)
        con.execute("BEGIN EXCLUSIVE")
        try:
            t0 = time.monotonic()
            r = expect(srv.post("/api/orgs", {"name": "blocked"}, owner), 503, "BUSY")
            waited = time.monotonic() - t0
            check(4.0 <= waited < 20.0, "waited the busy timeout (%.1fs)" % waited)
            # readers are not blocked by a writer in WAL mode
            expect(srv.get("/api/me", owner), 200)
            check(srv.alive(), "server alive while the database is locked")
        finally:
            con.execute("ROLLBACK")
            con.close()
        expect(srv.post("/api/orgs", {"name": "unblocked"}, owner), 201)
        names = [o["name"] for o in expect(srv.get("/api/orgs", owner), 200).data]
        check(len(names) == before + 1 and "blocked" not in names, names)
        del r


harness.run(main)
