#!/usr/bin/env python3
"""Tailnet IPs under concurrent registration: 50 machines registering at once with one reusable
key (and 10 racing for one single-use key) get distinct addresses in 100.64.0.0/10, never
100.100.100.100, matching the database; exactly one racer wins the single-use key."""
import ipaddress
import os
import sqlite3
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Server, check, expect  # noqa: E402
from test_machines_util import Machine, create_key  # noqa: E402

N = 50


def race(srv, key, machines, hostname):
    results = [None] * len(machines)
    barrier = threading.Barrier(len(machines), timeout=30)

    def go(i):
        try:
            barrier.wait()
            results[i] = machines[i].register_request(srv, key, hostname=hostname)
        except Exception as e:  # recorded and checked below
            results[i] = e
    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(machines))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
        check(not t.is_alive(), "registration thread hung")
    return results


def main():
    # More HTTP workers than racers so every request is really in flight at once.
    with Server(args=["--http-threads", "32"]) as srv:
        owner = srv.setup()
        key = create_key(srv, owner, reusable=True)["key"]
        machines = [Machine("racer") for _ in range(N)]
        results = race(srv, key, machines, "racer")
        for r in results:
            check(not isinstance(r, Exception), "request failed: %r" % (r,))
            expect(r, 201)
        ips = [r.data["tailnet_ip"] for r in results]
        names = [r.data["label"] for r in results]
        check(len(set(ips)) == N, "duplicate IPs: %r" % sorted(ips))
        check(len(set(names)) == N, "duplicate names: %r" % sorted(names))
        check(set(names) == {"racer"} | {"racer-%d" % i for i in range(2, N + 1)}, repr(names))
        for ip in ips:
            a = ipaddress.ip_address(ip)
            check(a in ipaddress.ip_network("100.64.0.0/10") and ip != "100.100.100.100"
                  and not ip.endswith(".0") and not ip.endswith(".255"), ip)
        db = sqlite3.connect(os.path.join(srv.data_dir, "ztna.db"))
        rows = db.execute("SELECT tailnet_ip FROM machines WHERE org_id = ?",
                          (owner.org_id,)).fetchall()
        check(sorted(x[0] for x in rows) == sorted(ips), "database matches replies")
        db.close()

        single = create_key(srv, owner)["key"]
        results = race(srv, single, [Machine("single") for _ in range(10)], "single")
        won = [r for r in results if not isinstance(r, Exception) and r.status == 201]
        lost = [r for r in results if not isinstance(r, Exception) and r.status == 401]
        check(len(won) == 1 and len(lost) == 9, "single-use race: %r" % results)
        check(all("already used" in r.message for r in lost), repr(lost[0]))


harness.run(main)
