"""The machine-signed calls a machine makes for its owning user (`ztna jit`, `ztna set --tags`):
POST/GET /api/machine/jit-requests, POST /api/machine/jit-requests/{request}/revoke and
POST /api/machine/tags. Proves: a request made by the machine is its owner's (requester, the org's
list, approval on the user route), resolves a MagicDNS name or tailnet IP, is audited with the
machine as actor; the owner's list and revoke through the machine; someone else's request is 404;
a tagged machine without a user is 403 "machine has no owning user"; a machine whose owner left
the org is 403; bad input is a 400 envelope naming the field; unsigned or mis-signed calls are 401.
Tags: only tags the owner may apply under tagOwners (403 naming the tag; unknown tag; an org
without a policy), duplicates dropped, audited as machine.tags with the previous tags, visible in
the machine's signed netmap and in the policy (explain accepts a tag:prod rule afterwards)."""
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "control"))
import policy_util as pu  # noqa: E402
from policy_util import harness, check, expect, mu  # noqa: E402
import control_util as cu  # noqa: E402

JIT = "/api/machine/jit-requests"
TAGS = "/api/machine/tags"


def signed(srv, m, method, target, obj=None):
    return cu.signed(srv, m, method, target, mu.body_bytes(obj) if obj is not None else b"")


def jit_body(dst, **kw):
    b = {"dst": dst, "port": 5432, "duration": 600, "reason": "incident 7"}
    b.update(kw)
    return b


def audit(srv, f, action, target_id):
    r = expect(srv.get("/api/orgs/%d/audit?action=%s&target_id=%s" % (f.org, action, target_id),
                       f.owner_s), 200)
    return r.data["events"]


def machine(srv, f, m):
    return expect(srv.get("/api/orgs/%d/machines/%d" % (f.org, m.id), f.owner_s), 200).data


def test_jit(srv, f):
    fqdn = machine(srv, f, f.db)["fqdn"]
    r = expect(signed(srv, f.dana_laptop, "POST", JIT, jit_body(fqdn)), 201)
    d = r.data
    check(d["requester_email"] == f.dana_s.email and d["machine_id"] == f.db.id and
          d["state"] == "pending" and d["port"] == 5432 and d["proto"] == "tcp" and
          d["reason"] == "incident 7", "the request is the owner's, to db by MagicDNS name: %r" % d)
    rid = d["id"]
    # by tailnet IP, udp
    d2 = expect(signed(srv, f.dana_laptop, "POST", JIT, jit_body(f.db.ip, proto="udp", port=53)),
                201).data
    check(d2["machine_id"] == f.db.id and d2["proto"] == "udp", "by tailnet IP: %r" % d2)
    # the org sees it as dana's; the owner's list through the machine has both, newest first
    r = expect(srv.get("/api/orgs/%d/jit-requests/%d" % (f.org, rid), f.dana_s), 200)
    check(r.data["requester_id"] == d["requester_id"], "dana sees her request: %r" % r.data)
    lst = expect(signed(srv, f.dana_laptop, "GET", JIT), 200).data["requests"]
    check([x["id"] for x in lst] == [d2["id"], rid], "owner's list: %r" % lst)
    # paged as the user route; the query is part of what the machine signs
    r = expect(signed(srv, f.dana_laptop, "GET", JIT + "?limit=1"), 200).data
    check([x["id"] for x in r["requests"]] == [d2["id"]] and r["next_cursor"] == d2["id"], r)
    r = expect(signed(srv, f.dana_laptop, "GET", JIT + "?limit=1&cursor=%d" % d2["id"]), 200).data
    check([x["id"] for x in r["requests"]] == [rid] and r["next_cursor"] == rid, r)
    r = expect(signed(srv, f.dana_laptop, "GET", JIT + "?limit=1&cursor=%d" % rid), 200).data
    check(r["requests"] == [] and r["next_cursor"] is None, r)
    r = expect(signed(srv, f.dana_laptop, "GET", JIT + "?limit=1001"), 400, "INVALID_QUERY")
    check("limit" in r.message, r.message)
    # alice's machine lists only alice's (none) and cannot revoke dana's
    check(expect(signed(srv, f.alice_laptop, "GET", JIT), 200).data["requests"] == [],
          "alice's machine sees none of dana's requests")
    r = expect(signed(srv, f.alice_laptop, "POST", JIT + "/%d/revoke" % rid), 404, "NOT_FOUND")
    # approval on the user route, then revoke through the machine
    expect(srv.post("/api/orgs/%d/jit-requests/%d/approve" % (f.org, rid), None, f.owner_s), 200)
    d = expect(signed(srv, f.dana_laptop, "POST", JIT + "/%d/revoke" % rid), 200).data
    check(d["state"] == "revoked" and d["ended_at"], "revoked through the machine: %r" % d)
    r = expect(signed(srv, f.dana_laptop, "POST", JIT + "/%d/revoke" % rid), 409, "CONFLICT")
    check("revoked" in r.message, "409 says the state: %r" % r.message)
    expect(signed(srv, f.dana_laptop, "POST", JIT + "/999999/revoke"), 404, "NOT_FOUND")
    acts = [(e["action"], e["actor_type"], e["actor_id"]) for e in audit(srv, f, "jit.*", rid)]
    check(acts == [("jit.revoke", "machine", f.dana_laptop.id),
                   ("jit.approve", "user", f.owner_s.user_id),
                   ("jit.request", "machine", f.dana_laptop.id)],
          "request and revoke audited with the machine as actor: %r" % acts)
    # only the machine's own full name resolves: not its name under another domain
    r = expect(signed(srv, f.dana_laptop, "POST", JIT, jit_body(f.db.name + ".evil.example")),
               400, "INVALID_FIELD")
    check("no machine" in r.message, "a foreign domain does not resolve: %r" % r.message)
    d = expect(signed(srv, f.dana_laptop, "POST", JIT, jit_body(fqdn.upper() + ".")), 201).data
    check(d["machine_id"] == f.db.id, "the full name in capitals with a trailing dot: %r" % d)


def test_jit_refused(srv, f):
    # a tagged machine (registered with a tagged key) has no owning user
    for method, target, body in (("POST", JIT, jit_body(f.db.name)), ("GET", JIT, None),
                                 ("POST", JIT + "/1/revoke", None), ("POST", TAGS, {"tags": []})):
        r = expect(signed(srv, f.web, method, target, body), 403, "FORBIDDEN")
        check("machine has no owning user" in r.message, "%s %s: %r" % (method, target, r.message))
    # bad input: 400 envelope naming the field
    for kw, what in (({"dst": "nope"}, "dst"), ({"port": 0}, "port"), ({"proto": "sctp"}, "proto"),
                     ({"duration": 8 * 86400}, "duration"), ({"reason": ""}, "reason"),
                     ({"reason": "a\x01b"}, "reason")):
        body = jit_body(f.db.name)
        body.update(kw)
        r = expect(signed(srv, f.dana_laptop, "POST", JIT, body), 400)
        check(what in r.message, "400 names %s: %r" % (what, r.message))
    r = expect(signed(srv, f.dana_laptop, "POST", JIT, {"dst": f.db.name}), 400)
    check("port" in r.message or "duration" in r.message or "reason" in r.message,
          "missing fields named: %r" % r.message)
    r = cu.signed(srv, f.dana_laptop, "POST", JIT, b"{not json")
    expect(r, 400)
    # unsigned, and signed for another target
    expect(srv.post(JIT, jit_body(f.db.name)), 401, "UNAUTHORIZED")
    body = mu.body_bytes(jit_body(f.db.name))
    h = {"Authorization": f.dana_laptop.auth_header("POST", TAGS, body)}
    expect(srv.request("POST", JIT, raw_body=body, headers=h), 401, "UNAUTHORIZED")
    # an owner who left the org (an admin: members may not create keys)
    s = srv.member(f.owner_s, "admin")
    m = mu.Machine("leaver")
    m.register(srv, mu.create_key(srv, s)["key"])
    expect(srv.delete("/api/orgs/%d/users/%d" % (f.org, s.user_id), f.owner_s), 200)
    r = expect(signed(srv, m, "POST", JIT, jit_body(f.db.name)), 403, "FORBIDDEN")
    check("no longer a member" in r.message, r.message)


def explain_80(srv, f, m):
    return pu.explain(srv, f, f.alice_laptop.name, m.name, 80)


def test_tags(srv, f):
    owner_key = mu.create_key(srv, f.owner_s)["key"]
    box = mu.Machine("owner-box")
    box.register(srv, owner_key)
    check(not explain_80(srv, f, box)["accepted"], "untagged: group:eng may not reach port 80")
    d = expect(signed(srv, box, "POST", TAGS, {"tags": ["tag:prod", "tag:db", "tag:prod"]}),
               200).data
    check(d["tags"] == ["tag:prod", "tag:db"] and d["id"] == box.id, "tags set, dup dropped: %r" % d)
    check(machine(srv, f, box)["tags"] == ["tag:prod", "tag:db"], "stored")
    msg, _ = cu.poll(srv, box, since=0)
    check(msg["self"]["tags"] == ["tag:prod", "tag:db"], "in the netmap: %r" % msg["self"])
    check(explain_80(srv, f, box)["accepted"], "tag:prod rule now accepts group:eng on port 80")
    ev = audit(srv, f, "machine.tags", box.id)
    check(len(ev) == 1 and ev[0]["actor_type"] == "machine" and ev[0]["actor_id"] == box.id,
          "audited with the machine as actor: %r" % ev)
    det = ev[0]["detail"]
    check(det["tags"] == ["tag:prod", "tag:db"] and det["previous"] == [] and
          det["owner_id"] == f.owner_s.user_id, "audit detail: %r" % det)
    # removing every tag needs no owner
    d = expect(signed(srv, box, "POST", TAGS, {"tags": []}), 200).data
    check(d["tags"] == [], "tags cleared: %r" % d)
    check(not explain_80(srv, f, box)["accepted"], "untagged again: denied")
    # refusals: alice (admin, but not in tagOwners) may not apply tag:prod; unknown tag; bad tag
    r = expect(signed(srv, f.alice_laptop, "POST", TAGS, {"tags": ["tag:prod"]}), 403, "FORBIDDEN")
    check("tag:prod" in r.message and f.alice_s.email in r.message, "names tag and owner: %r"
          % r.message)
    r = expect(signed(srv, box, "POST", TAGS, {"tags": ["tag:prod", "tag:nope"]}), 403, "FORBIDDEN")
    check("tag:nope" in r.message, "names the unknown tag: %r" % r.message)
    for bad in (["prod"], ["tag:"], ["tag:a b"], [7]):
        r = expect(signed(srv, box, "POST", TAGS, {"tags": bad}), 400)
        check("tags" in r.message, "400 names tags: %r" % r.message)
    expect(signed(srv, box, "POST", TAGS, {}), 400, "MISSING_FIELD")
    check(machine(srv, f, box)["tags"] == [] and machine(srv, f, f.alice_laptop)["tags"] == [],
          "refused changes changed nothing")
    check(len(audit(srv, f, "machine.tags", box.id)) == 2, "only the two changes audited")
    # an org without a policy: no tagOwners at all
    other = srv.create_org(f.owner_s)
    s2 = srv.login(f.owner_s.email, org_id=other)
    m = mu.Machine("lonely")
    m.register(srv, mu.create_key(srv, s2)["key"])
    r = expect(signed(srv, m, "POST", TAGS, {"tags": ["tag:prod"]}), 403, "FORBIDDEN")
    check("tag:prod" in r.message and "no policy" in r.message, r.message)


def main():
    srv = pu.start_server()
    try:
        with srv:
            f = pu.make_fleet(srv)
            pu.put_policy(srv, f, pu.policy_text(f.emails), 0)
            test_jit(srv, f)
            test_jit_refused(srv, f)
            test_tags(srv, f)
    finally:
        shutil.rmtree(os.path.dirname(srv.geo_path), ignore_errors=True)


harness.run(main)
