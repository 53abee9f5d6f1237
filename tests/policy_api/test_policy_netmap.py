"""The policy in the signed netmap (docs/control-protocol.md): with no policy every machine sees
every other and the filter is null; with one, each machine's filter is the traffic allowed into
it and its peers are those it may reach or be reached by; a JIT approval reaches a waiting poll as
a delta carrying the new filter (policy -> netmap_policy_changed -> the held poll)."""
import base64
import datetime
import ipaddress
import json
import os
import re
import shutil
import sys
import threading
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


def upsert_ids(msg):
    return sorted(p["id"] for p in msg.get("upsert") or [])


def entries(msg):
    return sorted((msg.get("filter") or {}).get("entries") or [])


def v6(ip4):
    """The source's IPv6 tailnet address under the default --ipv6-prefix (docs/configuration.md)."""
    return str(ipaddress.IPv6Address(int(ipaddress.IPv6Address("fd7a:115c:a1e0::")) |
                                     int(ipaddress.IPv4Address(ip4))))


def both(proto, ip4, ports):
    """A source allowed in: its IPv4 /32 and IPv6 /128 entries."""
    return ["%s %s/32 %s" % (proto, ip4, ports), "%s %s/128 %s" % (proto, v6(ip4), ports)]


def wakeups(srv):
    """ztna_netmap_wakeups_total by outcome, from GET /metrics."""
    r = srv.get("/metrics")
    check(r.status == 200, "GET /metrics: %r" % r)
    got = dict(re.findall(r'^ztna_netmap_wakeups_total\{outcome="(\w+)"\} (\d+)$',
                          r.body.decode(), re.M))
    check(set(got) == {"message", "nothing"}, "wake-up counters: %r" % got)
    return {k: int(v) for k, v in got.items()}


def held_polls(srv, machines, wait):
    """Polls every (machine, since) at once, each held up to `wait` s; returns the messages."""
    out = [None] * len(machines)

    def one(i, m, since):
        out[i] = poll(srv, m, since=since, wait=wait)
    ts = [threading.Thread(target=one, args=(i, m, v)) for i, (m, v) in enumerate(machines)]
    for t in ts:
        t.start()
    return ts, out


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

            # A change to db's entry wakes only the polls of machines that may see it (none
            # yet) and its own: web's, alice's and dana's held polls sleep through it.
            w0 = wakeups(srv)
            ts, held = held_polls(srv, [(f.web, web["version"]), (f.alice_laptop, alice["version"]),
                                        (f.dana_laptop, dana["version"]), (f.db, db["version"])], 3)
            time.sleep(1)  # all four held (the wait is 3 s)
            body = json.dumps({"listen_port": 41641, "endpoints": ["198.18.7.2:41641"]}).encode()
            h = f.db.auth_header("POST", "/api/machine/endpoints", body)
            expect(srv.request("POST", "/api/machine/endpoints", raw_body=body,
                               headers={"Authorization": h}), 200)
            for t in ts:
                t.join(10)
            check([m["type"] for m in held] == ["keepalive"] * 3 + ["delta"],
                  "only db's own poll answers its change: %r" % [m["type"] for m in held])
            db = held[3]
            w1 = wakeups(srv)
            check(w1["message"] - w0["message"] == 1 and w1["nothing"] == w0["nothing"],
                  "one poll woken, with a message; none woken for nothing: %r -> %r" % (w0, w1))

            # An admin retag of db into tag:prod as well: alice (group:eng) may now reach it on
            # 22 and 80, so only alice's and db's polls answer (alice upserts db, db gets her in
            # its filter); web and dana could not see db before and cannot now: their polls run
            # out with a keepalive, not a delta removing a machine they never held.
            w0 = wakeups(srv)
            ts, held = held_polls(srv, [(f.web, web["version"]), (f.alice_laptop, alice["version"]),
                                        (f.dana_laptop, dana["version"]), (f.db, db["version"])], 3)
            time.sleep(1)
            expect(srv.request("PATCH", "/api/orgs/%d/machines/%d" % (f.org, f.db.id),
                               {"tags": ["tag:db", "tag:prod"]}, f.owner_s), 200)
            for t in ts:
                t.join(10)
            web_k, alice_d, dana_k, db_d = held
            check(web_k["type"] == "keepalive" and dana_k["type"] == "keepalive",
                  "web and dana hear nothing of db's retag: %r %r" % (web_k, dana_k))
            check(alice_d["type"] == "delta" and upsert_ids(alice_d) == [f.db.id] and
                  not alice_d.get("remove"), "alice's delta upserts db: %r" % alice_d)
            check(db_d["type"] == "delta" and db_d.get("self", {}).get("tags") ==
                  ["tag:db", "tag:prod"], "db's delta carries its new tags: %r" % db_d)
            check(both("tcp", f.alice_laptop.ip, "80-80")[0] in entries(db_d),
                  "db lets alice in on 80 now: %r" % entries(db_d))
            w1 = wakeups(srv)
            check(w1["nothing"] == w0["nothing"], "nobody woken for nothing: %r -> %r" % (w0, w1))
            expect(srv.request("PATCH", "/api/orgs/%d/machines/%d" % (f.org, f.db.id),
                               {"tags": ["tag:db"]}, f.owner_s), 200)
            alice_r = poll(srv, f.alice_laptop, since=alice_d["version"])
            check(alice_r["type"] == "delta" and alice_r.get("remove") == [f.db.id],
                  "retagged back: alice's delta removes db: %r" % alice_r)
            web, alice, dana, db = (poll(srv, m) for m in (f.web, f.alice_laptop, f.dana_laptop,
                                                           f.db))

            # a JIT approval wakes db's waiting poll with a delta carrying the new filter
            rid = expect(srv.post("/api/orgs/%d/jit-requests" % f.org,
                                  {"dst": f.db.name, "port": 5432, "duration": 600,
                                   "reason": "netmap test"}, f.dana_s), 201).data["id"]
            t0 = time.monotonic()
            expect(srv.post("/api/orgs/%d/jit-requests/%d/approve" % (f.org, rid), None,
                            f.owner_s), 200)
            delta = poll(srv, f.db, since=db["version"], wait=10)
            check(time.monotonic() - t0 < 8, "delivered promptly")
            # a delta, not a full map: the new filter, db's own entry, and dana now a peer
            check(delta["type"] == "delta" and entries(delta) ==
                  sorted(both("tcp", f.dana_laptop.ip, "5432-5432")), "db's new filter: %r" % delta)
            check(delta.get("self", {}).get("id") == f.db.id, "db's delta has self: %r" % delta)
            check(upsert_ids(delta) == [f.dana_laptop.id] and not delta.get("remove"),
                  "db's delta upserts dana, nobody else: %r" % delta)
            dana2 = poll(srv, f.dana_laptop, since=dana["version"])
            check(dana2["type"] == "delta" and upsert_ids(dana2) == [f.db.id] and
                  not dana2.get("remove"), "dana's delta upserts db only: %r" % dana2)
            # machines the grant does not concern hear nothing of it (a keepalive at their version)
            web2 = poll(srv, f.web, since=web["version"], wait=1)
            check(web2["type"] == "keepalive", "web's poll untouched by the grant: %r" % web2)
            dana = poll(srv, f.dana_laptop)
            check(peer_ids(dana) == [f.db.id], "dana now sees db: %r" % peer_ids(dana))
            expect(srv.post("/api/orgs/%d/jit-requests/%d/revoke" % (f.org, rid), None,
                            f.owner_s), 200)
            db3 = poll(srv, f.db, since=delta["version"])
            check(db3["type"] == "delta" and entries(db3) == [] and not db3.get("upsert") and
                  db3.get("remove") == [f.dana_laptop.id],
                  "revoked: db's delta empties its filter and removes dana: %r" % db3)
            dana3 = poll(srv, f.dana_laptop, since=dana2["version"])
            check(dana3["type"] == "delta" and dana3.get("remove") == [f.db.id],
                  "revoked: dana's delta removes db: %r" % dana3)
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
