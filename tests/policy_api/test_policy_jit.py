"""JIT access through the API: a member's request, an admin's approval that makes the requireJit
rule accept, automatic expiry (audited, the rule denies again), revoke and deny, grants across a
restart, the webhook's events, who may do what (member 403 on approve unless the policy names them as approver, never
on their own request; another member 404 on someone else's request; another org 404); the list's
cursor paging (pages of a limit, default 100, bad limit or cursor 400 INVALID_QUERY)."""
import http.server
import json
import os
import shutil
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import policy_util as pu  # noqa: E402
from policy_util import harness, check, expect  # noqa: E402

GRANT_SECONDS = 3
WEBHOOK_FIELDS = {"id", "requester_email", "machine_id", "machine_name", "port", "proto",
                  "duration", "reason", "state", "expires_at"}


class Hook:
    """A webhook receiver on loopback: collects the JSON bodies POSTed to it."""

    def __init__(self):
        events = self.events = []

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                events.append(json.loads(self.rfile.read(n)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/hook" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def of(self, rid, n, seconds=10):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            got = [e for e in list(self.events) if e["request"]["id"] == rid]
            if len(got) >= n:
                return got
            time.sleep(0.1)
        raise harness.Failure("webhook: %d events for request %d, want %d: %r"
                              % (len(got), rid, n, self.events))

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def jit(f, rest=""):
    return "/api/orgs/%d/jit-requests%s" % (f.org, rest)


def request(srv, f, session, **kw):
    body = {"dst": f.db.name, "port": 5432, "duration": GRANT_SECONDS, "reason": "incident 42"}
    body.update(kw)
    return srv.post(jit(f), body, session)


def dba_may_reach_db(srv, f):
    d = pu.explain(srv, f, f.dana_laptop.name, f.db.name, 5432)
    check(d["accepted"] or d["failed"] == "jit", "only JIT decides here: %r" % d)
    return d["accepted"]


def wait_state(srv, f, rid, state, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        r = expect(srv.get(jit(f, "/%d" % rid), f.owner_s), 200)
        if r.data["state"] == state:
            return r.data
        time.sleep(0.2)
    raise harness.Failure("request %d not %s after %ds: %r" % (rid, state, seconds, r.data))


def test_grant_and_expiry(srv, f):
    check(not dba_may_reach_db(srv, f), "no grant: denied")
    r = expect(request(srv, f, f.dana_s), 201)
    rid = r.data["id"]
    check(r.data["state"] == "pending" and r.data["requester_email"] == f.dana_s.email, r.data)
    check(r.data["machine_id"] == f.db.id and r.data["reason"] == "incident 42", r.data)
    check(not dba_may_reach_db(srv, f), "pending: still denied")
    expect(srv.post(jit(f, "/%d/approve" % rid), None, f.bob_s), 403, "FORBIDDEN")
    expect(srv.get(jit(f, "/%d" % rid), f.bob_s), 404)  # a member sees only their own
    check(expect(srv.get(jit(f), f.bob_s), 200).data["requests"] == [], "bob sees none")
    before = int(time.time())
    r = expect(srv.post(jit(f, "/%d/approve" % rid), None, f.owner_s), 200)
    approved = r.data
    check(r.data["state"] == "approved" and r.data["decided_by"] == f.owner_s.user_id, r.data)
    check(before + GRANT_SECONDS <= r.data["expires_at"] <= int(time.time()) + GRANT_SECONDS,
          "grant runs from approval: %r" % r.data)
    check(dba_may_reach_db(srv, f), "approved: the requireJit rule accepts")
    d = pu.explain(srv, f, f.dana_laptop.name, f.db.name, 5433)
    check(not d["accepted"], "only the granted port: %r" % d)
    expect(srv.post(jit(f, "/%d/approve" % rid), None, f.owner_s), 409, "CONFLICT")
    d = wait_state(srv, f, rid, "expired", GRANT_SECONDS + 10)
    check(d["ended_at"] >= d["expires_at"], "ended at expiry: %r" % d)
    check(not dba_may_reach_db(srv, f), "expired: denied again")
    r = expect(srv.get("/api/orgs/%d/audit?action=jit.*" % f.org, f.owner_s), 200)
    acts = [(e["action"], e["actor_type"]) for e in r.data["events"] if e["target_id"] == str(rid)]
    check(acts == [("jit.expire", "system"), ("jit.approve", "user"), ("jit.request", "user")],
          "request, approval and expiry audited: %r" % acts)
    got = srv.hook.of(rid, 3)
    check([e["event"] for e in got] == ["jit.request", "jit.approve", "jit.expire"],
          "webhook told of request, approval, expiry: %r" % got)
    check(got[0]["org_id"] == f.org and got[0]["request"]["reason"] == "incident 42" and
          got[0]["request"]["requester_email"] == f.dana_s.email and
          got[2]["request"]["state"] == "expired", "webhook bodies: %r" % got)
    # The webhook's "request" is the API's serializer minus the requester id and the other times
    # (docs/policy.md); an unset expiry is null as in the API.
    check(all(set(e["request"]) == WEBHOOK_FIELDS for e in got), "webhook fields: %r" % got)
    check(got[0]["request"]["expires_at"] is None and
          got[1]["request"]["expires_at"] == approved["expires_at"] and
          {k: approved[k] for k in WEBHOOK_FIELDS if k != "state"} ==
          {k: got[1]["request"][k] for k in WEBHOOK_FIELDS if k != "state"},
          "webhook request agrees with the API's: %r vs %r" % (got[1], approved))


def test_revoke_and_deny(srv, f):
    rid = expect(request(srv, f, f.dana_s, duration=600), 201).data["id"]
    expect(srv.post(jit(f, "/%d/approve" % rid), None, f.alice_s), 200)
    check(dba_may_reach_db(srv, f), "approved")
    expect(srv.post(jit(f, "/%d/revoke" % rid), None, f.bob_s), 404)  # not bob's
    r = expect(srv.post(jit(f, "/%d/revoke" % rid), None, f.dana_s), 200)
    check(r.data["state"] == "revoked" and r.data["ended_at"], r.data)
    check(not dba_may_reach_db(srv, f), "revoked: denied at once")
    expect(srv.post(jit(f, "/%d/revoke" % rid), None, f.dana_s), 409, "CONFLICT")
    rid = expect(request(srv, f, f.dana_s), 201).data["id"]
    r = expect(srv.post(jit(f, "/%d/deny" % rid), None, f.owner_s), 200)
    check(r.data["state"] == "denied", r.data)
    expect(srv.post(jit(f, "/%d/approve" % rid), None, f.owner_s), 409, "CONFLICT")
    check(not dba_may_reach_db(srv, f), "denied: no access")
    states = [q["state"] for q in expect(srv.get(jit(f), f.dana_s), 200).data["requests"]]
    check(states == ["denied", "revoked", "expired"], "dana's requests, newest first: %r" % states)


def test_restart(srv, f):
    """Grants live in the database: one in force survives a restart, one that ran out while the
    server was down is expired (and audited) when it comes back."""
    long_id = expect(request(srv, f, f.dana_s, duration=600), 201).data["id"]
    expect(srv.post(jit(f, "/%d/approve" % long_id), None, f.owner_s), 200)
    short_id = expect(request(srv, f, f.dana_s, port=5433, duration=1), 201).data["id"]
    expect(srv.post(jit(f, "/%d/approve" % short_id), None, f.owner_s), 200)
    srv.stop()
    time.sleep(1.5)
    srv.start()
    check(dba_may_reach_db(srv, f), "the 10-minute grant is still in force after a restart")
    wait_state(srv, f, short_id, "expired", 10)
    r = expect(srv.get("/api/orgs/%d/audit?action=jit.expire&target_id=%d" % (f.org, short_id),
                       f.owner_s), 200)
    check(len(r.data["events"]) == 1, "expiry while down audited once: %r" % r.data)
    expect(srv.post(jit(f, "/%d/revoke" % long_id), None, f.owner_s), 200)
    check(not dba_may_reach_db(srv, f), "revoked by an admin")


def test_policy_approver(srv, f):
    """A member the requireJit rule names as approver may decide; another member may not, nor the
    approver on a request of their own or one the rule does not cover."""
    rid = expect(request(srv, f, f.dana_s, duration=600), 201).data["id"]
    r = expect(srv.post(jit(f, "/%d/approve" % rid), None, f.bob_s), 403, "FORBIDDEN")
    check("approver" in r.message, r.message)
    r = expect(srv.post(jit(f, "/%d/approve" % rid), None, f.sam_s), 200)
    check(r.data["decided_by"] == f.sam_s.user_id, r.data)
    check(dba_may_reach_db(srv, f), "approved by the named approver")
    expect(srv.post(jit(f, "/%d/revoke" % rid), None, f.dana_s), 200)
    other = expect(request(srv, f, f.dana_s, port=22), 201).data["id"]  # no requireJit rule for 22
    expect(srv.post(jit(f, "/%d/deny" % other), None, f.sam_s), 403, "FORBIDDEN")
    own = expect(request(srv, f, f.sam_s), 201).data["id"]
    expect(srv.post(jit(f, "/%d/approve" % own), None, f.sam_s), 403, "FORBIDDEN")
    r = expect(srv.post(jit(f, "/%d/deny" % own), None, f.dana_s), 200)  # an admin may
    check(r.data["state"] == "denied", r.data)


def test_bad_input(srv, f):
    for kw, what in (({"dst": "nope"}, "dst"), ({"port": 0}, "port"), ({"proto": "sctp"}, "proto"),
                     ({"duration": 8 * 86400}, "duration"), ({"reason": ""}, "reason")):
        r = expect(request(srv, f, f.dana_s, **kw), 400)
        check(what in r.message, "400 names %s: %r" % (what, r.message))
    other = srv.create_org(f.owner_s)
    email = srv.unique("outsider") + "@example.com"
    expect(srv.post("/api/orgs/%d/users" % other, {"email": email, "role": "owner",
                                                   "password": harness.PASSWORD}, f.owner_s), 201)
    out = srv.login(email, org_id=other)
    expect(request(srv, f, out), 404)
    expect(srv.get(jit(f), out), 404)
    expect(srv.post(jit(f, "/1/approve"), None, out), 404)


def page_ids(srv, f, session, query):
    r = expect(srv.get(jit(f, query), session), 200)
    return [q["id"] for q in r.data["requests"]], r.data["next_cursor"]


def test_paging(srv, f):
    """The list is cursor-paged as the audit log: limit (default 100, at most 1000), cursor = the
    previous page's next_cursor; every request exactly once across pages, newest first."""
    mine = [expect(request(srv, f, f.bob_s, port=6000 + i, duration=600), 201).data["id"]
            for i in range(5)][::-1]
    got, cursor, pages = [], None, 0
    while pages < 10:
        ids, cursor = page_ids(srv, f, f.bob_s,
                               "?limit=2" + ("&cursor=%d" % cursor if cursor else ""))
        got += ids
        pages += 1
        check(len(ids) == 2 or cursor is None, "a short page ends the list: %r %r" % (ids, cursor))
        if cursor is None:
            break
        check(cursor == ids[-1], "next_cursor is the page's last id: %r %r" % (ids, cursor))
    check(pages == 3 and got == mine, "5 of bob's requests in pages of 2: %r, want %r" % (got, mine))
    ids, cursor = page_ids(srv, f, f.bob_s, "?limit=5")
    check(ids == mine and cursor == mine[-1], "a full page has a cursor even at the end: %r" % cursor)
    check(page_ids(srv, f, f.bob_s, "?cursor=%d" % mine[-1]) == ([], None), "nothing older")
    # an admin pages through everyone's: the newest is bob's last
    check(page_ids(srv, f, f.owner_s, "?limit=1") == ([mine[0]], mine[0]), "admin's first page")
    # the default page is 100
    total = len(expect(srv.get(jit(f, "?limit=1000"), f.owner_s), 200).data["requests"])
    for i in range(101 - total):
        expect(request(srv, f, f.bob_s, port=7000 + i % 1000, duration=600), 201)
    ids, cursor = page_ids(srv, f, f.owner_s, "")
    check(len(ids) == 100 and cursor == ids[-1], "default limit 100: %d, %r" % (len(ids), cursor))
    ids2, _ = page_ids(srv, f, f.owner_s, "?cursor=%d" % cursor)
    check(len(ids2) >= 1 and max(ids2) < min(ids), "the rest is older: %r" % ids2)
    for q, what in (("?limit=0", "limit"), ("?limit=1001", "limit"), ("?limit=abc", "limit"),
                    ("?limit=", "limit"), ("?cursor=0", "cursor"), ("?cursor=x1", "cursor")):
        r = expect(srv.get(jit(f, q), f.bob_s), 400, "INVALID_QUERY")
        check(what in r.message and "1000" in r.message if what == "limit" else what in r.message,
              "%s: 400 names %s: %r" % (q, what, r.message))


def main():
    hook = Hook()
    srv = pu.start_server(extra_args=["--jit-webhook", hook.url])
    srv.hook = hook
    try:
        with srv:
            f = pu.make_fleet(srv)
            pu.put_policy(srv, f, pu.policy_text(f.emails), 0)
            test_grant_and_expiry(srv, f)
            test_revoke_and_deny(srv, f)
            test_restart(srv, f)
            test_policy_approver(srv, f)
            test_bad_input(srv, f)
            test_paging(srv, f)
    finally:
        hook.close()
        shutil.rmtree(os.path.dirname(srv.geo_path), ignore_errors=True)


harness.run(main)
