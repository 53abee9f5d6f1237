"""The policy in the signed netmap (docs/control-protocol.md): with no policy every machine sees
every other and the filter is null; with one, each machine's filter is the traffic allowed into
it and its peers are those it may reach or be reached by; a JIT approval reaches a waiting poll as
a delta carrying the new filter (policy -> netmap_policy_changed -> the held poll)."""
import base64
import datetime
import ipaddress
import json
import os
import shutil
import sys
import time
import zoneinfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import policy_util as pu  # noqa: E402
from policy_util import harness, check, expect  # noqa: E402


def poll(srv, m, since=0, wait=1):
    target = "/api/machine/map?since=%d&wait=%d" % (since, wait)
    r = srv.request("GET", target, headers={"Authorization": m.auth_header("GET", target, b"")})
    expect(r, 200)
    return json.loads(base64.b64decode(r.data["payload"]))


def peer_ids(msg):
    return sorted(p["id"] for p in msg.get("peers") or [])


def entries(msg):
    return sorted((msg.get("filter") or {}).get("entries") or [])


def v6(ip4):
    """The source's IPv6 tailnet address under the default --ipv6-prefix (docs/configuration.md)."""
    return str(ipaddress.IPv6Address(int(ipaddress.IPv6Address("fd7a:115c:a1e0::")) |
                                     int(ipaddress.IPv4Address(ip4))))


def both(proto, ip4, ports):
    """A source allowed in: its IPv4 /32 and IPv6 /128 entries."""
    return ["%s %s/32 %s" % (proto, ip4, ports), "%s %s/128 %s" % (proto, v6(ip4), ports)]


def business_hours(t):
    """The policy's "business-hours" schedule (policy_util.policy_text) at unix time t."""
    ny = datetime.datetime.fromtimestamp(t, zoneinfo.ZoneInfo("America/New_York"))
    return ny.weekday() < 5 and 9 <= ny.hour < 17


def main():
    srv = pu.start_server()
    try:
        with srv:
            f = pu.make_fleet(srv)
            everyone = sorted([f.web.id, f.db.id, f.alice_laptop.id, f.dana_laptop.id])
            msg = poll(srv, f.web)
            if msg.get("type") != "full":
                raise harness.Skip("netmap without full maps: %r" % msg)
            check(msg["filter"] is None, "no policy: filter null: %r" % msg.get("filter"))
            check(peer_ids(msg) == sorted(set(everyone) - {f.web.id}), "no policy: all peers")

            expect(f.alice_laptop.heartbeat(srv, {"os": "linux", "os_version": "6.1",
                                                  "disk_encryption": True}), 200)
            pu.put_policy(srv, f, pu.policy_text(f.emails), 0)
            # The 443 rule holds in New York business hours by the real clock: expect it then.
            # A poll that straddles 09:00 or 17:00 is taken again (bounded).
            for _ in range(3):
                t0 = time.time()
                web = poll(srv, f.web)
                if business_hours(t0) == business_hours(time.time()):
                    break
                time.sleep(2)
            a = f.alice_laptop.ip
            want = both("tcp", a, "22-22") + both("tcp", a, "80-80")
            if business_hours(t0):
                want += both("tcp", a, "443-443")
            check(entries(web) == sorted(want),
                  "web lets alice in on 22 (posture ok), 80 and in business hours 443: %r, want %r"
                  % (entries(web), sorted(want)))
            check(peer_ids(web) == [f.alice_laptop.id], "web's peers: %r" % peer_ids(web))
            alice = poll(srv, f.alice_laptop)
            check(entries(alice) == [] and alice["filter"] is not None, "nothing into alice")
            check(peer_ids(alice) == [f.web.id], "alice sees web only: %r" % peer_ids(alice))
            dana = poll(srv, f.dana_laptop)
            check(peer_ids(dana) == [], "dana: geo fails, JIT not granted: %r" % peer_ids(dana))
            db = poll(srv, f.db)
            check(entries(db) == [] and peer_ids(db) == [], "db: nobody yet: %r" % db)

            # a JIT approval wakes db's waiting poll with a delta carrying the new filter
            rid = expect(srv.post("/api/orgs/%d/jit-requests" % f.org,
                                  {"dst": f.db.name, "port": 5432, "duration": 600,
                                   "reason": "netmap test"}, f.dana_s), 201).data["id"]
            t0 = time.monotonic()
            expect(srv.post("/api/orgs/%d/jit-requests/%d/approve" % (f.org, rid), None,
                            f.owner_s), 200)
            delta = poll(srv, f.db, since=db["version"], wait=10)
            check(time.monotonic() - t0 < 8, "delivered promptly")
            check(delta["type"] in ("delta", "full") and entries(delta) ==
                  sorted(both("tcp", f.dana_laptop.ip, "5432-5432")), "db's new filter: %r" % delta)
            dana = poll(srv, f.dana_laptop)
            check(peer_ids(dana) == [f.db.id], "dana now sees db: %r" % peer_ids(dana))
            expect(srv.post("/api/orgs/%d/jit-requests/%d/revoke" % (f.org, rid), None,
                            f.owner_s), 200)
            db2 = poll(srv, f.db)
            check(entries(db2) == [], "revoked: db's filter empty again: %r" % entries(db2))
            # a machine that logs out leaves every filter at once (its IP may be given again)
            body = b"{}"
            h = f.alice_laptop.auth_header("POST", "/api/machine/logout", body)
            expect(srv.request("POST", "/api/machine/logout", raw_body=body,
                               headers={"Authorization": h}), 200)
            web = poll(srv, f.web)
            check(entries(web) == [] and f.alice_laptop.id not in peer_ids(web),
                  "alice's laptop gone from web's filter and peers: %r" % web)
    finally:
        shutil.rmtree(os.path.dirname(srv.geo_path), ignore_errors=True)


harness.run(main)
