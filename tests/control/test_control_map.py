#!/usr/bin/env python3
"""The server side of the control protocol (docs/control-protocol.md) against the real
ztna-server: a full map at since=0, then deltas; a waiting poll gets a change well under a second
after it; keepalive after `wait`; since=<old version> resumes with only what changed; tombstones
on delete, logout and expiry; rename and retag visible to the others; endpoints with the observed
address first; heartbeat denials/stats in the admin view; every map signed with the key pinned at
registration (one changed payload byte fails); a machine only ever gets its own map and its own
org; bad since/wait 400; unsigned, badly signed and replayed polls 401."""
import base64
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import control_util as cu  # noqa: E402
from control_util import check, expect, harness, Machine, poll, peer_ids  # noqa: E402
from test_machines_util import create_key, body_bytes  # noqa: E402


class Waiter(threading.Thread):
    """A poll running in the background; .msg / .at (monotonic time it returned) / .error."""

    def __init__(self, srv, m, since, wait):
        super().__init__(daemon=True)
        self.srv, self.m, self.since, self.wait = srv, m, since, wait
        self.msg = self.error = self.at = None

    def run(self):
        try:
            self.msg, _ = poll(self.srv, self.m, self.since, self.wait)
        except Exception as e:  # reported by the main thread
            self.error = e
        self.at = time.monotonic()

    def result(self, timeout):
        self.join(timeout)
        check(not self.is_alive(), "poll did not return in %.0f s" % timeout)
        if self.error:
            raise self.error
        return self.msg


def wait_for_hold(seconds=0.3):
    time.sleep(seconds)  # lets the poll reach the server and start waiting


def main():
    with harness.Server() as srv:
        owner = srv.setup()
        org = owner.org_id
        slug = expect(srv.get("/api/orgs/%d" % org, owner), 200).data["slug"]
        key = create_key(srv, owner, reusable=True)["key"]
        a, b = Machine("alpha"), Machine("bravo")
        a.register(srv, key)
        b.register(srv, key)

        # --- full map -----------------------------------------------------------------------
        full, _ = poll(srv, a, 0)
        check(full["type"] == "full", repr(full)[:300])
        check(full["self"]["id"] == a.id and full["self"]["tailnet_ip"] == a.ip and
              full["self"]["org_id"] == org and full["self"]["expired"] is False, full["self"])
        check(full["self"]["fqdn"] == "alpha.%s.zt.net" % slug, full["self"])
        check(peer_ids(full) == [b.id], "A's peers %r" % peer_ids(full))
        pb = full["peers"][0]
        check(pb["name"] == "bravo" and pb["fqdn"] == "bravo.%s.zt.net" % slug and
              pb["tailnet_ip"] == b.ip and base64.b64decode(pb["wg_public_key"]) == b.wg and
              pb["online"] is True and pb["endpoints"] == [] and pb["pq"] == "required" and
              pb["tags"] == [], repr(pb))
        check(full["dns"] == {"suffix": "%s.zt.net" % slug, "resolver": "100.100.100.100",
                              "search": ["%s.zt.net" % slug]}, full["dns"])
        check("filter" in full and full["filter"] is None, "no policy: filter null")
        v0 = full["version"]
        check(isinstance(v0, int) and v0 > 0, v0)

        # --- signature: the pinned key verifies; one flipped payload byte does not ------------
        r = cu.signed(srv, a, "GET", cu.map_target(0))
        expect(r, 200)
        raw = bytearray(base64.b64decode(r.data["payload"]))
        sig = bytes.fromhex(r.data["sig"])
        pk = bytes.fromhex(a.server_key)
        check(cu.ed25519_verify(pk, cu.PREFIX + bytes(raw), sig), "good map verifies")
        for i in (0, len(raw) // 2, len(raw) - 1):
            bad = bytearray(raw)
            bad[i] ^= 0x01
            check(not cu.ed25519_verify(pk, cu.PREFIX + bytes(bad), sig),
                  "flipped byte %d still verifies" % i)
        check(not cu.ed25519_verify(pk, bytes(raw), sig), "the domain prefix is part of it")

        # --- keepalive after wait -----------------------------------------------------------
        ka, took = poll(srv, a, v0, wait=1)
        check(ka["type"] == "keepalive" and ka["version"] == v0 and "peers" not in ka, repr(ka))
        check(0.9 <= took < 5, "keepalive after %.2f s (wait=1)" % took)

        # --- a waiting poll gets a new machine promptly -------------------------------------
        w = Waiter(srv, a, v0, 20)
        w.start()
        wait_for_hold()
        c = Machine("charlie")
        changed = time.monotonic()
        c.register(srv, key)
        d = w.result(10)
        latency = w.at - changed
        check(d["type"] == "delta" and d["prev_version"] == v0 and d["version"] > v0, repr(d))
        check(peer_ids(d, "upsert") == [c.id] and d["remove"] == [], repr(d))
        check("self" not in d, "self unchanged, so not sent")
        check(latency < 0.5, "delta arrived %.3f s after the change" % latency)
        print("delta latency after registration: %.1f ms" % (latency * 1000))
        v1 = d["version"]

        # --- resume from an old version: only what changed ----------------------------------
        expect(srv.patch("/api/orgs/%d/machines/%d" % (org, b.id),
                         {"name": "bravo-renamed"}, owner), 200)
        expect(srv.patch("/api/orgs/%d/machines/%d" % (org, c.id),
                         {"tags": ["tag:db"]}, owner), 200)
        dd = Machine("delta")
        dd.register(srv, key)
        r2, _ = poll(srv, a, v1)
        check(r2["type"] == "delta" and r2["prev_version"] == v1, repr(r2)[:300])
        check(peer_ids(r2, "upsert") == sorted([b.id, c.id, dd.id]), peer_ids(r2, "upsert"))
        up = {p["id"]: p for p in r2["upsert"]}
        check(up[b.id]["name"] == "bravo-renamed" and
              up[b.id]["fqdn"] == "bravo-renamed.%s.zt.net" % slug, up[b.id])
        check(up[c.id]["tags"] == ["tag:db"], up[c.id])
        v2 = r2["version"]
        # the renamed machine sees itself renamed; the others see it too
        sb, _ = poll(srv, b, v1)
        check(sb["self"]["name"] == "bravo-renamed", sb.get("self"))
        # a version from before this server run (or from nowhere) gets a full map
        old, _ = poll(srv, a, 1)
        check(old["type"] == "full" and peer_ids(old) == sorted([b.id, c.id, dd.id]), old["type"])
        old, _ = poll(srv, a, v2 + 1000)
        check(old["type"] == "full" and peer_ids(old) == sorted([b.id, c.id, dd.id]), old["type"])

        # --- tombstones: delete, expire, logout ---------------------------------------------
        expect(srv.delete("/api/orgs/%d/machines/%d" % (org, dd.id), owner), 200)
        r3, _ = poll(srv, a, v2)
        check(r3["type"] == "delta" and r3["remove"] == [dd.id] and r3["upsert"] == [], repr(r3))
        v3 = r3["version"]
        expect(srv.post("/api/orgs/%d/machines/%d/expire" % (org, c.id), None, owner), 200)
        r4, _ = poll(srv, a, v3)
        check(c.id in r4["remove"], "expired machine removed: %r" % r4)
        v4 = r4["version"]
        r = cu.signed(srv, c, "GET", cu.map_target(0))
        expect(r, 401)  # an expired machine gets no map

        # --- endpoints ----------------------------------------------------------------------
        eb = body_bytes({"listen_port": 41641, "endpoints": ["198.18.0.7:41641", "[2001:DB8::1]:5"]})
        r = cu.signed(srv, b, "POST", "/api/machine/endpoints", eb)
        expect(r, 200)
        check(r.data["endpoints"] == ["127.0.0.1:41641", "198.18.0.7:41641", "[2001:db8::1]:5"],
              r.data)
        r5, _ = poll(srv, a, v4)
        check(peer_ids(r5, "upsert") == [b.id] and
              r5["upsert"][0]["endpoints"] == r.data["endpoints"], repr(r5)[:400])
        v5 = r5["version"]
        for bad in (["1.2.3:4"], ["1.2.3.4"], ["1.2.3.4:0"], ["1.2.3.4:65536"], ["host:80"],
                    ["[1.2.3.4]:5"], ["1.2.3.4:05"]):
            r = cu.signed(srv, b, "POST", "/api/machine/endpoints",
                          body_bytes({"listen_port": 1, "endpoints": bad}))
            expect(r, 400, "INVALID_FIELD")
        r = cu.signed(srv, b, "POST", "/api/machine/endpoints",
                      body_bytes({"listen_port": 0, "endpoints": []}))
        expect(r, 400, "INVALID_FIELD")
        # the same endpoints again: no change, so no version bump
        r = cu.signed(srv, b, "POST", "/api/machine/endpoints", eb)
        expect(r, 200)
        same, _ = poll(srv, a, v5, wait=1)
        check(same["type"] == "keepalive", "unchanged endpoints moved the map: %r" % same)

        # --- heartbeat: raw bytes signed (not re-encoded), denials and stats kept -------------
        hb = (b'{ "posture": {"os_version": "6.1"},\n  "denials": [{"src": "100.64.0.9", '
              b'"proto": "tcp", "port": 22, "count": 3}], "stats": {"rx_bytes": 10, "peers": 2} }')
        r = b.heartbeat(srv, body=hb)
        expect(r, 200)
        view = expect(srv.get("/api/orgs/%d/machines/%d" % (org, b.id), owner), 200).data
        check(view["endpoints"] == ["127.0.0.1:41641", "198.18.0.7:41641", "[2001:db8::1]:5"],
              view.get("endpoints"))
        check(view["denials"] == [{"src": "100.64.0.9", "proto": "tcp", "port": 22, "count": 3}],
              view.get("denials"))
        check(view["stats"] == {"rx_bytes": 10, "peers": 2}, view.get("stats"))
        # compact clients keep working
        expect(b.heartbeat(srv, posture={"os_version": "6.2"}), 200)
        # a body that is not what was signed fails
        sig_for = b.auth_header("POST", "/api/machine-heartbeat", body_bytes({"posture": {}}))
        r = srv.request("POST", "/api/machine-heartbeat", raw_body=b'{"posture": {}}',
                        headers={"Authorization": sig_for})
        expect(r, 401)
        r = b.heartbeat(srv, body=body_bytes({"posture": {}, "denials": [[[1]]]}))
        expect(r, 400, "INVALID_FIELD")

        # --- one machine, one map: its own, in its own org -----------------------------------
        r = cu.signed(srv, a, "GET", cu.map_target(0, extra="machine_id=%d" % b.id))
        expect(r, 200)
        m = cu.verify(a, r.data)
        check(m["machine_id"] == a.id and m["self"]["id"] == a.id, "A got another map")
        other_org = srv.create_org(owner, "Other Org")
        key2 = create_key(srv, owner, org=other_org)["key"]
        e = Machine("echo")
        e.register(srv, key2)
        fe, _ = poll(srv, e, 0)
        check(fe["self"]["org_id"] == other_org and fe["peers"] == [], repr(fe)[:300])
        fa, _ = poll(srv, a, 0)
        check(e.id not in peer_ids(fa), "another org's machine in A's map")
        # a machine's key signs only for itself: B's signature with A's key id is refused
        hdr = b.auth_header("GET", cu.map_target(0), b"").replace(b.pk.hex(), a.pk.hex())
        expect(srv.get(cu.map_target(0), headers={"Authorization": hdr}), 401)

        # --- bad input ----------------------------------------------------------------------
        for q in ("since=-1", "since=abc", "since=01", "since=", "since=1.5",
                  "since=99999999999999999", "wait=0", "wait=56", "wait=x", "wait=%00"):
            t = "/api/machine/map?" + q
            expect(cu.signed(srv, a, "GET", t), 400, "INVALID_QUERY")
        # unsigned, badly signed, replayed
        expect(srv.get(cu.map_target(0)), 401)
        expect(srv.get(cu.map_target(0), headers={"Authorization": "Bearer x"}), 401)
        target = cu.map_target(0)
        nonce = os.urandom(16)
        hdr = a.auth_header("GET", target, b"", nonce=nonce)
        expect(srv.get(target, headers={"Authorization": hdr}), 200)
        expect(srv.get(target, headers={"Authorization": hdr}), 401)
        hdr = a.auth_header("GET", cu.map_target(1), b"")  # signed for another target
        expect(srv.get(target, headers={"Authorization": hdr}), 401)
        hdr = a.auth_header("GET", target, b"", ts=int(time.time()) - 3600)
        expect(srv.get(target, headers={"Authorization": hdr}), 401)

        # --- logout: the machine goes from every map, its key stops working ------------------
        w = Waiter(srv, a, v5, 20)
        w.start()
        wait_for_hold()
        r = cu.signed(srv, b, "POST", "/api/machine/logout", b"{}")
        expect(r, 200)
        d = w.result(10)
        check(d["type"] == "delta" and b.id in d["remove"], repr(d))
        expect(cu.signed(srv, b, "GET", cu.map_target(0)), 401)
        expect(srv.get("/api/orgs/%d/machines/%d" % (org, b.id), owner), 404)
        audit = expect(srv.get("/api/orgs/%d/audit?action=machine.logout" % org, owner), 200).data
        check(len(audit["events"]) == 1 and audit["events"][0]["target_id"] == str(b.id), audit)

        # --- a held poll whose machine is deleted answers MACHINE_UNKNOWN --------------------
        fa, _ = poll(srv, a, 0)
        w_res = {}

        def held():
            w_res["r"] = cu.signed(srv, a, "GET", cu.map_target(fa["version"], 20), timeout=30)
        t = threading.Thread(target=held, daemon=True)
        t.start()
        wait_for_hold()
        expect(srv.delete("/api/orgs/%d/machines/%d" % (org, a.id), owner), 200)
        t.join(10)
        check("r" in w_res, "held poll of a deleted machine did not return")
        expect(w_res["r"], 404, "MACHINE_UNKNOWN")


harness.run(main)
