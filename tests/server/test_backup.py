#!/usr/bin/env python3
"""`ztna-server backup FILE` while the server runs under writes: the copy is a consistent SQLite
database (integrity_check ok, same schema version) holding at least every row committed before
the backup started, the server keeps serving, and a restored copy starts and accepts logins."""
import os
import sqlite3
import subprocess
import tempfile
import threading
import time

import harness
from harness import BINARY, PASSWORD, Server, check, expect


def main():
    out_dir = tempfile.mkdtemp(prefix="ztna-srv-backup-")
    with Server() as srv:
        owner = srv.setup()
        for i in range(20):
            expect(srv.post("/api/orgs", {"name": "pre %d" % i}, owner), 201)
        stop = threading.Event()
        written = []
        errors = []

        def writer():
            i = 0
            deadline = time.monotonic() + 30
            while not stop.is_set() and time.monotonic() < deadline:
                r = srv.post("/api/orgs", {"name": "load %d" % i}, owner)
                if r.status != 201:
                    errors.append(r)
                    return
                written.append(r.data["id"])
                i += 1

        t = threading.Thread(target=writer)
        t.start()
        time.sleep(0.3)
        committed_before = 21 + len(written)
        backups = []
        for n in range(3):
            dst = os.path.join(out_dir, "backup-%d.db" % n)
            p = subprocess.run([BINARY, "backup", dst, "--data-dir", srv.data_dir],
                               capture_output=True, text=True, timeout=60)
            check(p.returncode == 0, "backup failed: %s %s" % (p.stdout, p.stderr))
            backups.append(dst)
        # refuses to overwrite
        p = subprocess.run([BINARY, "backup", backups[0], "--data-dir", srv.data_dir],
                           capture_output=True, text=True, timeout=60)
        check(p.returncode != 0 and "exists" in p.stderr, p.stderr)
        stop.set()
        t.join(timeout=40)
        check(not errors, "writes failed during backup: %r" % errors[:1])
        check(len(written) > 0, "the writer made progress during the backups")
        for dst in backups:
            con = sqlite3.connect(dst)
            check(con.execute("PRAGMA integrity_check").fetchone()[0] == "ok", dst)
            n = con.execute("SELECT COUNT(*) FROM orgs").fetchone()[0]
            check(n >= committed_before, "%s has %d orgs, want >= %d" % (dst, n, committed_before))
            check(con.execute("PRAGMA user_version").fetchone()[0] >= 1, "schema version kept")
            con.close()
        expect(srv.get("/api/me", owner), 200)
        live = len(expect(srv.get("/api/orgs", owner), 200).data)
        check(live == 21 + len(written), "live db has every write (%d)" % live)
    # a restored backup is a working data dir
    restore = tempfile.mkdtemp(prefix="ztna-srv-restore-")
    os.rename(backups[-1], os.path.join(restore, "ztna.db"))
    with Server(data_dir=restore) as srv2:
        s = srv2.login("owner@example.com", PASSWORD)
        check(len(expect(srv2.get("/api/orgs", s), 200).data) >= committed_before, "restored")
    # backing up a data dir without a database fails cleanly
    p = subprocess.run([BINARY, "backup", os.path.join(out_dir, "x.db"), "--data-dir",
                        os.path.join(out_dir, "empty")], capture_output=True, text=True, timeout=30)
    check(p.returncode != 0 and not os.path.exists(os.path.join(out_dir, "x.db")), p.stderr)
    subprocess.run(["rm", "-rf", out_dir, restore], check=False)


harness.run(main)
