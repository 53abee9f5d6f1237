#!/usr/bin/env python3
"""Machines: registration (names, FQDN, IP, server key), signed heartbeats (posture stored,
replay / bad signature / tampered body / stale timestamp / unknown key rejected), admin views
(list filters and paging, get, rename, tags, expire, delete), and the authorization matrix."""
import ipaddress
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Row, Server, check, expect  # noqa: E402
from test_machines_util import Machine, body_bytes, create_key  # noqa: E402

CGNAT = ipaddress.ip_network("100.64.0.0/10")


def registration(srv, owner, key):
    org = owner.org_id
    slug = expect(srv.get("/api/orgs/%d" % org, owner), 200).data["slug"]
    m = Machine("Dev-Box")
    d = m.register(srv, key, key_encoding="b64")
    check(d["label"] == "dev-box" and d["name"] == "dev-box.%s.zt.net" % slug, repr(d))
    check(ipaddress.ip_address(d["tailnet_ip"]) in CGNAT, repr(d))
    check(len(d["server_signing_key"]) == 64 and int(d["server_signing_key"], 16) >= 0, repr(d))
    check(d["online"] and not d["ephemeral"] and d["org_id"] == org, repr(d))
    # Same hostname again: unique by suffix; odd characters sanitised into one DNS label.
    names = [Machine("dev-box").register(srv, key)["label"] for _ in range(2)]
    check(names == ["dev-box-2", "dev-box-3"], repr(names))
    check(Machine("My Laptop!!").register(srv, key)["label"] == "my-laptop", "sanitised")
    check(Machine("db01.corp.example").register(srv, key)["label"] == "db01", "first label only")
    check(Machine("---").register(srv, key)["label"] == "machine", "empty label fallback")
    long = Machine("a" * 200).register(srv, key)["label"]
    check(len(long) <= 63 and set(long) == {"a"}, repr(long))
    # Bad registration bodies.
    r = srv.post("/api/register-machine", {"machine_key": "zz" * 32, "wg_public_key": "00" * 32,
                                            "hostname": "h"},
                 headers={"Authorization": "Bearer " + key})
    expect(r, 400, "INVALID_FIELD")
    r = srv.post("/api/register-machine", {"machine_key": "00" * 32, "wg_public_key": "00" * 32,
                                            "hostname": "h\nx"},
                 headers={"Authorization": "Bearer " + key})
    expect(r, 400)
    expect(srv.post("/api/register-machine", {"hostname": "h"},
                    headers={"Authorization": "Bearer " + key}), 400, "MISSING_FIELD")
    return m


def heartbeats(srv, owner, m):
    org = owner.org_id
    posture = {"os_version": "6.2", "disk_encryption": "enabled", "firewall": "enabled",
               "screen_lock": "unknown", "antivirus": "unknown", "uptime": 42, "managed": True}
    r = expect(m.heartbeat(srv, posture), 200)
    check(r.data["machine_id"] == m.id and r.data["online"] is True, repr(r))
    g = expect(srv.get("/api/orgs/%d/machines/%d" % (org, m.id), owner), 200).data
    check(g["posture"] == posture and g["os_version"] == "6.2" and g["posture_at"], repr(g))

    # Replay: the very same request (same nonce) is refused.
    body = body_bytes({"posture": {"firewall": "disabled"}})
    h = m.auth_header("POST", "/api/machine-heartbeat", body)
    expect(m.heartbeat(srv, body=body, header=h), 200)
    r = expect(m.heartbeat(srv, body=body, header=h), 401, "UNAUTHORIZED")
    check("replay" in r.message, repr(r))
    # Tampered body under a valid signature.
    h = m.auth_header("POST", "/api/machine-heartbeat", body)
    r = expect(m.heartbeat(srv, body=body_bytes({"posture": {"firewall": "enabled"}}), header=h), 401)
    check("signature" in r.message, repr(r))
    # Signed by another key than the one claimed.
    other = Machine("other")
    h = m.auth_header("POST", "/api/machine-heartbeat", body, sk=other.sk)
    expect(m.heartbeat(srv, body=body, header=h), 401)
    # Signed for another path.
    h = m.auth_header("POST", "/api/machine-heartbeat?x=1", body)
    expect(m.heartbeat(srv, body=body, header=h), 401)
    # Outside the +-60 s window, either way.
    for skew in (-120, 120):
        r = expect(m.heartbeat(srv, {"a": "b"}, ts=int(time.time()) + skew), 401)
        check("window" in r.message, repr(r))
    # Inside the window (30 s skew) is fine.
    expect(m.heartbeat(srv, {"a": "b"}, ts=int(time.time()) - 30), 200)
    # Unknown machine, malformed header, no header, bad posture.
    r = expect(other.heartbeat(srv, {"a": "b"}), 401)
    check("unknown" in r.message, repr(r))
    expect(m.heartbeat(srv, header="ZTNA-Ed25519 key=00"), 401)
    expect(srv.request("POST", "/api/machine-heartbeat", raw_body=body), 401)
    expect(m.heartbeat(srv, {"nested": {"x": 1}}), 400)
    expect(m.heartbeat(srv, {"k%d" % i: "v" for i in range(40)}), 400)
    # The failed signatures were audited.
    ev = expect(srv.get("/api/orgs/%d/audit?action=machine.auth.failure" % org, owner), 200)
    reasons = {e["detail"]["reason"] for e in ev.data["events"]}
    check({"bad signature", "replayed nonce"} <= reasons, repr(reasons))


def admin_views(srv, owner, key):
    org = owner.org_id
    base = "/api/orgs/%d/machines" % org
    tk = create_key(srv, owner, reusable=True, tags=["tag:db"])
    dbm = Machine("postgres")
    dbm.register(srv, tk["key"])
    r = expect(srv.get(base + "?limit=1000", owner), 200).data
    total = r["total"]
    check(total == len(r["machines"]) and total >= 8, repr(r)[:300])
    ips = [x["tailnet_ip"] for x in r["machines"]]
    check(len(set(ips)) == len(ips), "IPs unique")
    # Filters.
    r = expect(srv.get(base + "?tag=tag:db", owner), 200).data
    check([x["id"] for x in r["machines"]] == [dbm.id] and r["total"] == 1, repr(r)[:300])
    r = expect(srv.get(base + "?q=dev-box", owner), 200).data
    check(r["total"] == 3 and all("dev-box" in x["name"] for x in r["machines"]), repr(r)[:300])
    r = expect(srv.get(base + "?online=false", owner), 200).data
    check(r["total"] == 0, "all online right after registration: %r" % r["total"])
    # Paging: limit/offset walk the whole list exactly once.
    seen = []
    for off in range(0, total + 3, 3):
        seen += [x["id"] for x in expect(srv.get(base + "?limit=3&offset=%d" % off, owner),
                                         200).data["machines"]]
    check(len(seen) == total and len(set(seen)) == total, "paging %r" % seen)
    for bad in ("limit=0", "limit=1001", "offset=-1", "limit=x", "online=maybe", "limit=",
                "limit=%G1", "offset=" + "0" * 30 + "5"):
        expect(srv.get(base + "?" + bad, owner), 400, "INVALID_QUERY")
    # Rename: made unique, sanitised; tags set.
    r = expect(srv.patch(base + "/%d" % dbm.id, {"name": "Dev Box"}, owner), 200).data
    check(r["name"] == "dev-box-4", "rename made unique: %r" % r["name"])
    r = expect(srv.patch(base + "/%d" % dbm.id, {"name": "dev-box-4"}, owner), 200).data
    check(r["name"] == "dev-box-4", "renaming to its own name keeps it: %r" % r["name"])
    r = expect(srv.patch(base + "/%d" % dbm.id, {"tags": ["tag:a", "tag:a", "tag:b"]}, owner),
               200).data
    check(r["tags"] == ["tag:a", "tag:b"], repr(r["tags"]))
    expect(srv.patch(base + "/%d" % dbm.id, {"tags": ["x"]}, owner), 400)
    expect(srv.patch(base + "/%d" % dbm.id, {}, owner), 400)
    expect(srv.patch(base + "/999999", {"name": "x"}, owner), 404)
    # Expire: heartbeats refused, re-registration with the same machine key revives the machine
    # with the same address and name.
    expect(dbm.heartbeat(srv, {"a": "b"}), 200)
    r = expect(srv.post(base + "/%d/expire" % dbm.id, None, owner), 200).data
    check(r["expired"] and not r["online"], repr(r))
    r = expect(dbm.heartbeat(srv, {"a": "b"}), 401)
    check("expired" in r.message, repr(r))
    ip, name = dbm.ip, "dev-box-4"
    d = dbm.register(srv, tk["key"], status=200)
    check(d["tailnet_ip"] == ip and d["label"] == name and not d["expired"], repr(d))
    expect(dbm.heartbeat(srv, {"a": "b"}), 200)
    # Delete: gone, heartbeats refused, the IP may be reused only after deletion.
    expect(srv.delete(base + "/%d" % dbm.id, owner), 200)
    expect(srv.get(base + "/%d" % dbm.id, owner), 404)
    expect(srv.delete(base + "/%d" % dbm.id, owner), 404)
    expect(dbm.heartbeat(srv, {"a": "b"}), 401)
    expect(srv.get(base + "/abc", owner), 404)
    # The machine key of a machine in another org cannot be registered here.
    other_org = srv.create_org(owner)
    ok = expect(srv.post("/api/orgs/%d/auth-keys" % other_org, {}, owner), 201).data
    m2 = Machine("x")
    m2.register(srv, ok["key"])
    expect(m2.register_request(srv, key), 409, "CONFLICT")
    # Audit trail of the admin writes.
    acts = [e["action"] for e in
            expect(srv.get("/api/orgs/%d/audit?action=machine.*&limit=1000" % org, owner),
                   200).data["events"]]
    for a in ("machine.update", "machine.expire", "machine.reregister", "machine.delete"):
        check(a in acts, "audit lacks %s" % a)


def matrix(srv, owner):
    key = create_key(srv, owner, reusable=True)["key"]

    def fresh_machine(s, o):
        return {"machine": Machine("m").register(s, key)["machine_id"]}
    harness.authz_matrix(srv, [
        Row("machines list", "GET", "/api/orgs/{org}/machines", "member"),
        Row("machine get", "GET", "/api/orgs/{org}/machines/{machine}", "member",
            prepare=fresh_machine),
        Row("machine rename", "PATCH", "/api/orgs/{org}/machines/{machine}", "admin",
            body={"name": "renamed"}, prepare=fresh_machine),
        Row("machine tags", "PATCH", "/api/orgs/{org}/machines/{machine}", "admin",
            body={"tags": ["tag:x"]}, prepare=fresh_machine),
        Row("machine expire", "POST", "/api/orgs/{org}/machines/{machine}/expire", "admin",
            prepare=fresh_machine),
        Row("machine delete", "DELETE", "/api/orgs/{org}/machines/{machine}", "admin",
            prepare=fresh_machine),
    ])


def main():
    with Server() as srv:
        owner = srv.setup()
        srv._owner = owner
        key = create_key(srv, owner, reusable=True)["key"]
        m = registration(srv, owner, key)
        heartbeats(srv, owner, m)
        admin_views(srv, owner, key)
        matrix(srv, owner)


harness.run(main)
