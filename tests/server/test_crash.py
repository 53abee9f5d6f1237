#!/usr/bin/env python3
"""Crash safety: four writer threads register machines and create auth keys as fast as they
can while the server is SIGKILLed mid-load. After a restart on the same data directory,
PRAGMA integrity_check is "ok" and every write the server acknowledged is present (machines
with the same IP, keys listed), and the server keeps working (new registrations get fresh IPs)."""
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Server, check, expect  # noqa: E402
from test_machines_util import Machine, create_key  # noqa: E402

THREADS = 4
LOAD_SECONDS = 3.0


def main():
    data = tempfile.mkdtemp(prefix="ztna-srm-crash-")
    try:
        run(data)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def run(data):
    srv = Server(data_dir=data, check_exit=False).start()
    acked_machines, acked_keys, errors = [], [], []
    lock = threading.Lock()
    stop = threading.Event()
    killing = threading.Event()  # set just before SIGKILL: failures after it are expected
    try:
        owner = srv.setup()
        key = create_key(srv, owner, reusable=True)["key"]

        def writer(n):
            i = 0
            while not stop.is_set() and i < 5000:
                i += 1
                try:
                    if i % 3:
                        m = Machine("crash-%d-%d" % (n, i))
                        r = m.register_request(srv, key)
                        if r.status == 201 and r.ok:
                            with lock:
                                acked_machines.append((r.data["machine_id"], r.data["tailnet_ip"]))
                    else:
                        r = srv.post("/api/orgs/%d/auth-keys" % owner.org_id, {}, owner)
                        if r.status == 201 and r.ok:
                            with lock:
                                acked_keys.append(r.data["id"])
                except Exception:  # noqa: BLE001 - classified below
                    if killing.is_set():
                        return  # the server was killed under us: expected (torn replies too)
                    with lock:
                        errors.append(sys.exc_info()[1])
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
        for t in threads:
            t.start()
        time.sleep(LOAD_SECONDS)
        killing.set()
        srv.kill()  # SIGKILL, mid-load
        stop.set()
        for t in threads:
            t.join(30)
            check(not t.is_alive(), "writer hung")
    finally:
        stop.set()
        srv.kill()
    check(not errors, "errors while the server was alive: %r" % errors[:3])
    # (An acknowledgement is a complete 201 envelope; a reply torn by the kill is not one.)
    check(len(acked_machines) >= 20 and len(acked_keys) >= 5,
          "too little load to mean anything: %d machines, %d keys"
          % (len(acked_machines), len(acked_keys)))

    db = sqlite3.connect(os.path.join(data, "ztna.db"))
    check(db.execute("PRAGMA integrity_check").fetchall() == [("ok",)], "integrity_check")
    db.close()

    srv2 = Server(data_dir=data)
    with srv2:
        owner = srv2.login(owner.email, org_id=owner.org_id)
        base = "/api/orgs/%d" % owner.org_id
        ms = expect(srv2.get(base + "/machines?limit=1000", owner), 200).data
        by_id = {m["id"]: m["tailnet_ip"] for m in ms["machines"]}
        offset = 1000
        while len(by_id) < ms["total"] and offset < 100000:
            page = expect(srv2.get(base + "/machines?limit=1000&offset=%d" % offset, owner), 200)
            by_id.update({m["id"]: m["tailnet_ip"] for m in page.data["machines"]})
            offset += 1000
        for mid, ip in acked_machines:
            check(by_id.get(mid) == ip, "acknowledged machine %d (%s) lost or changed: %r"
                  % (mid, ip, by_id.get(mid)))
        keys = {k["id"] for k in expect(srv2.get(base + "/auth-keys", owner), 200).data["auth_keys"]}
        missing = [k for k in acked_keys if k not in keys]
        check(not missing, "acknowledged auth keys lost: %r" % missing)
        check(len(set(by_id.values())) == len(by_id), "IPs still unique")
        # Still writable, and the next address is fresh.
        key = create_key(srv2, owner)["key"]
        d = Machine("after-crash").register(srv2, key)
        check(d["tailnet_ip"] not in set(by_id.values()), "fresh IP after restart")
        print("acknowledged before SIGKILL: %d machines, %d auth keys; all present"
              % (len(acked_machines), len(acked_keys)))
    db = sqlite3.connect(os.path.join(data, "ztna.db"))
    check(db.execute("PRAGMA integrity_check").fetchall() == [("ok",)], "integrity after restart")
    db.close()


harness.run(main)
