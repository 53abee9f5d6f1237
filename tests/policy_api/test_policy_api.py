"""Policy API: set/get with If-Match (412, 428), validation errors with line and column while the
old version stays in force, embedded tests that fail, history, explain for an accept and each
kind of failed condition (posture, schedule, geo, JIT), roles (member 403 on writes, another org
404), the audit trail."""
import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import policy_util as pu  # noqa: E402
from policy_util import harness, check, expect  # noqa: E402


def test_versions(srv, f):
    r = expect(srv.get(pu.path(f), f.bob_s), 200)
    check(r.data["version"] == 0 and r.data["policy"] is None, "no policy at first: %r" % r.data)
    check(r.header("ETag") == '"0"', "ETag of no policy: %r" % r.header("ETag"))
    text = pu.policy_text(f.emails)
    pu.put_policy(srv, f, text, None, status=428, code="PRECONDITION_REQUIRED")
    pu.put_policy(srv, f, text, 5, status=412, code="PRECONDITION_FAILED")
    r = pu.put_policy(srv, f, text, 0)
    check(r.data["version"] == 1 and r.header("ETag") == '"1"', "version 1: %r" % r)
    r = expect(srv.get(pu.path(f), f.bob_s), 200)
    check(r.data["policy"] == text and r.data["version"] == 1, "get returns the text")
    check(r.data["author_email"] == f.owner_s.email, "author recorded: %r" % r.data)
    check(r.header("ETag") == '"1"', "ETag 1")
    return text


def test_invalid_keeps_old(srv, f, text):
    # an unknown group on line 3: the error names line and column, nothing changes
    bad = text.replace('"group:eng": ["', '"group:eng": ["group:nope", "', 1)
    line3 = bad.split("\n")[2]
    col = line3.index('"group:nope"') + 1
    r = pu.put_policy(srv, f, bad, 1, status=400, code="INVALID_POLICY")
    check(r.message.startswith("line 3, column %d:" % col) and "group:nope" in r.message,
          "error names line 3, column %d: %r" % (col, r.message))
    r = expect(srv.post(pu.path(f, "/validate"), {"policy": bad}, f.bob_s), 400, "INVALID_POLICY")
    check(r.message.startswith("line 3, column %d:" % col), "validate gives the same position")
    # syntax error position
    r = pu.put_policy(srv, f, "{\n  \"rules\": [\n    {\"action\": \"accept\",, }\n  ]\n}", 1,
                      status=400, code="INVALID_POLICY")
    check(re.match(r"line 3, column \d+: ", r.message), "syntax error position: %r" % r.message)
    # embedded tests failing: alice may not reach tag:prod:80 in this edit
    failing = text.replace('"dst": ["tag:prod:80"]', '"dst": ["tag:prod:81"]')
    r = pu.put_policy(srv, f, failing, 1, status=400, code="POLICY_TESTS_FAILED")
    check("expected accept" in r.message and re.match(r"line \d+, column \d+: ", r.message),
          "test failure with position: %r" % r.message)
    r = expect(srv.get(pu.path(f), f.owner_s), 200)
    check(r.data["version"] == 1 and r.data["policy"] == text, "old version still in force")
    # and it is still what is enforced: port 80 accepted, 81 not
    d = pu.explain(srv, f, f.alice_laptop.name, f.web.name, 80)
    check(d["accepted"] and d["version"] == 1, "old policy enforced: %r" % d)
    d = pu.explain(srv, f, f.alice_laptop.name, f.web.name, 81)
    check(not d["accepted"] and d["failed"] == "no_rule", "no rule for 81: %r" % d)


def test_history(srv, f, text):
    text2 = text.replace("// policy for the API tests", "// second version")
    r = pu.put_policy(srv, f, text2, 1, session=f.alice_s)
    check(r.data["version"] == 2, "version 2")
    pu.put_policy(srv, f, text2, 1, status=412, code="PRECONDITION_FAILED")
    r = expect(srv.get(pu.path(f, "/history"), f.bob_s), 200)
    vs = r.data["versions"]
    check([v["version"] for v in vs] == [2, 1], "history newest first: %r" % vs)
    check(vs[0]["author_email"] == f.alice_s.email and "policy" not in vs[0], "history rows")
    r = expect(srv.get(pu.path(f, "/history/1"), f.bob_s), 200)
    check(r.data["policy"] == text, "version 1 text")
    expect(srv.get(pu.path(f, "/history/99"), f.bob_s), 404, "NOT_FOUND")
    expect(srv.get(pu.path(f, "/history/abc"), f.bob_s), 404)


def test_explain(srv, f):
    a, web, db, dana = f.alice_laptop.name, f.web.name, f.db.name, f.dana_laptop.name
    d = pu.explain(srv, f, a, web, 80, proto="tcp")
    check(d["accepted"] and d["rule"] == 4 and d["failed"] is None, "accept by rule 4: %r" % d)
    check(d["src"]["machine_id"] == f.alice_laptop.id and d["dst"]["name"] == web.split(".")[0], "resolved: %r" % d)
    # posture: alice's laptop reports no disk encryption
    d = pu.explain(srv, f, a, web, 22)
    check(not d["accepted"] and d["failed"] == "posture" and d["rule"] == 0, "posture: %r" % d)
    check('posture "posture:base" failed: disk_encryption' in d["reason"], d["reason"])
    expect(f.alice_laptop.heartbeat(srv, {"os": "linux", "os_version": "6.1",
                                          "disk_encryption": True}), 200)
    d = pu.explain(srv, f, a, web, 22)
    check(d["accepted"], "posture restored by a heartbeat: %r" % d)
    # a report older than maxReportAge (1h) quarantines the machine for posture rules
    d = pu.explain(srv, f, a, web, 22, at=str(int(time.time()) + 2 * 3600))
    check(not d["accepted"] and d["failed"] == "posture" and "quarantined" in d["reason"],
          "stale report: %r" % d)
    # schedule (America/New_York business hours): a minute before and after 09:00 EST
    d = pu.explain(srv, f, a, web, 443, at=pu.MON_0859)
    check(not d["accepted"] and d["failed"] == "schedule", "before 09:00: %r" % d)
    d = pu.explain(srv, f, a, f.web.ip, 443, at=pu.MON_0900)
    check(d["accepted"] and d["rule"] == 1, "09:00:30 EST accepted: %r" % d)
    # geo: loopback is "US" in the test's database; the rule wants DE
    d = pu.explain(srv, f, dana, db, 9000)
    check(not d["accepted"] and d["failed"] == "geo" and "country US" in d["reason"], "geo %r" % d)
    # JIT: no grant
    d = pu.explain(srv, f, f.dana_s.email, db, 5432)
    check(not d["accepted"] and d["failed"] == "jit", "jit: %r" % d)
    # a bare address has no machine conditions: no rule for it
    d = pu.explain(srv, f, "198.18.0.9", web, 80)
    check(not d["accepted"], "address denied: %r" % d)
    # bad input: clear 400s
    for body, what in (({"src": a, "dst": "nope", "port": 80}, "dst"),
                       ({"src": "nobody", "dst": web, "port": 80}, "src"),
                       ({"src": a, "dst": web, "port": 80, "proto": "sctp"}, "proto"),
                       ({"src": a, "dst": web, "port": 80, "at": "yesterday"}, "at"),
                       ({"src": a, "dst": web}, "port")):
        r = expect(srv.post(pu.path(f, "/explain"), body, f.owner_s), 400)
        check(what in r.message, "400 names %s: %r" % (what, r.message))


def test_roles(srv, f, text):
    pu.put_policy(srv, f, text, 2, session=f.bob_s, status=403, code="FORBIDDEN")
    other = srv.create_org(f.owner_s)
    outsider_email = srv.unique("outsider") + "@example.com"
    expect(srv.post("/api/orgs/%d/users" % other, {"email": outsider_email, "role": "owner",
                                                   "password": harness.PASSWORD}, f.owner_s), 201)
    out = srv.login(outsider_email, org_id=other)
    for method, p, body in (("GET", "", None), ("PUT", "", {"policy": text}),
                            ("POST", "/validate", {"policy": text}), ("GET", "/history", None),
                            ("GET", "/history/1", None),
                            ("POST", "/explain", {"src": "a", "dst": "b", "port": 1})):
        r = srv.request(method, pu.path(f, p), body=body, session=out, headers={"If-Match": '"2"'})
        expect(r, 404)
    r = expect(srv.get(pu.path(f), f.owner_s), 200)
    check(r.data["version"] == 2, "nothing changed by refused writes")


def test_audit(srv, f):
    r = expect(srv.get("/api/orgs/%d/audit?action=policy.update" % f.org, f.owner_s), 200)
    rows = r.data["events"]
    check([e["detail"]["version"] for e in rows] == [2, 1], "two policy.update entries: %r" % rows)
    r = expect(srv.get("/api/orgs/%d/audit?action=policy.reject" % f.org, f.owner_s), 200)
    rows = r.data["events"]
    check(sorted(e["detail"]["status"] for e in rows) == [400, 400, 400, 412, 412],
          "refused versions audited: %r" % rows)
    check(any("group:nope" in e["detail"]["error"] for e in rows), "with the reason")


def main():
    srv = pu.start_server()
    try:
        with srv:
            f = pu.make_fleet(srv)
            text = test_versions(srv, f)
            test_invalid_keeps_old(srv, f, text)
            test_history(srv, f, text)
            test_explain(srv, f)
            test_roles(srv, f, text)
            test_audit(srv, f)
    finally:
        shutil.rmtree(os.path.dirname(srv.geo_path), ignore_errors=True)


harness.run(main)
