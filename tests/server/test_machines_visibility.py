#!/usr/bin/env python3
"""Issues 6 and 7 in the machines API and the machine's own map entry:
- "quarantine" and "posture_checks": a heartbeat failing the posture a rule needs shows the failed
  check with its reason; a good heartbeat clears it; a report older than maxReportAge quarantines
  the machine (reason with the age and the limit) in the API (list and detail), on the dashboard's
  realtime "machines" channel and in the "self" entry of its map, which the server re-sends when
  the state flips; a fresh heartbeat clears both;
- "pq": the PQ counters of the latest heartbeat's stats, null until reported, rejected when bad."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "control"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "web"))
import harness  # noqa: E402
from harness import Server, check, expect  # noqa: E402
from test_machines_util import Machine, body_bytes, create_key  # noqa: E402
import control_util as cu  # noqa: E402
import test_realtime as rt  # noqa: E402  (its WebSocket client)

MAX_AGE = 3  # seconds: maxReportAge of the test's posture
GOOD = {"os": "linux", "os_version": "6.1", "firewall": True}
BAD = {"os": "linux", "os_version": "6.1", "firewall": False}
STALE_RE = re.compile(r"^posture report stale \(last (\d+) s ago, limit %d s\)$" % MAX_AGE)


def policy(owner_email):
    return """{
  "tagOwners": {"tag:srv": ["%s"]},
  "postures": {"posture:fw": {"firewall": true, "maxReportAge": %d}},
  "rules": [
    {"action": "accept", "src": ["%s"], "dst": ["tag:srv:22"], "proto": "tcp",
     "posture": ["posture:fw"]}
  ]
}""" % (owner_email, MAX_AGE, owner_email)


def heartbeat(srv, m, posture, stats=None):
    body = {"posture": posture}
    if stats is not None:
        body["stats"] = stats
    return m.heartbeat(srv, body=body_bytes(body))


def get(srv, s, m):
    return expect(srv.get("/api/orgs/%d/machines/%d" % (s.org_id, m.id), s), 200).data


def listed(srv, s, m):
    ms = expect(srv.get("/api/orgs/%d/machines?limit=100" % s.org_id, s), 200).data["machines"]
    found = [x for x in ms if x["id"] == m.id]
    check(len(found) == 1, "machine %d listed once: %r" % (m.id, [x["id"] for x in ms]))
    return found[0]


def views(srv, s, m):
    """The detail and the list entry, which must agree on what this issue adds."""
    d, l = get(srv, s, m), listed(srv, s, m)
    for k in ("quarantine", "posture_checks", "pq"):
        check(k in d and k in l, "%s in detail and list: %r / %r" % (k, d, l))
    check(d["quarantine"]["quarantined"] == l["quarantine"]["quarantined"],
          "list and detail agree: %r / %r" % (d["quarantine"], l["quarantine"]))
    check(d["posture_checks"] == l["posture_checks"], "checks agree: %r / %r"
          % (d["posture_checks"], l["posture_checks"]))
    return d


def self_quarantine(msg):
    check(msg.get("self") is not None, "map has self: %r" % msg)
    q = msg["self"].get("quarantine")
    check(isinstance(q, dict) and isinstance(q.get("quarantined"), bool), "self.quarantine: %r" % q)
    return q


def wait_map_quarantine(srv, m, since, want, budget=12.0):
    """Long-polls m's map from since until self.quarantine.quarantined == want (bounded)."""
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        msg, _ = cu.poll(srv, m, since=since, wait=2)
        if msg["type"] != "keepalive":
            since = msg["version"]
            if msg.get("self") is not None and self_quarantine(msg)["quarantined"] == want:
                return msg
    raise harness.Failure("map self.quarantine never became %r within %.0fs" % (want, budget))


def no_policy(srv, s, laptop):
    d = views(srv, s, laptop)
    check(d["quarantine"] == {"quarantined": False, "reason": None}, "no policy: %r" % d)
    check(d["posture_checks"] == [], "no policy, no checks: %r" % d["posture_checks"])
    check(d["pq"] is None, "no stats yet: pq null: %r" % d["pq"])
    msg, _ = cu.poll(srv, laptop)
    check(self_quarantine(msg) == {"quarantined": False, "reason": None}, "map self: %r" % msg)


def failing_posture(srv, s, laptop, server):
    expect(heartbeat(srv, laptop, BAD), 200)
    d = views(srv, s, laptop)
    check(d["posture_checks"] == [{"name": "posture:fw", "pass": False,
                                   "failed": "firewall is false, needs true"}],
          "failed check with its reason: %r" % d["posture_checks"])
    check(d["quarantine"] == {"quarantined": False, "reason": None},
          "a fresh but failing report is no quarantine: %r" % d["quarantine"])
    # explain agrees: the rule denies the laptop for the firewall
    r = expect(srv.post("/api/orgs/%d/policy/explain" % s.org_id,
                        {"src": str(laptop.id), "dst": str(server.id), "port": 22}, s), 200)
    check(not r.data["accepted"] and "failed: firewall" in r.data["reason"], repr(r.data))
    # the tagged server never reported: no report at all counts as quarantine
    d = views(srv, s, server)
    check(d["quarantine"] == {"quarantined": True, "reason": "no posture report received yet"},
          "never reported: %r" % d["quarantine"])
    check(d["posture_checks"] == [{"name": "posture:fw", "pass": False,
                                   "failed": "no posture report"}], repr(d["posture_checks"]))


def good_posture_and_pq(srv, s, laptop):
    stats = {"peers": 3, "peers_pq": 2, "peers_classical": 1, "peers_failing": 0,
             "rx_bytes": 10, "tx_bytes": 20}
    t0 = int(time.time())
    expect(heartbeat(srv, laptop, GOOD, stats), 200)
    d = views(srv, s, laptop)
    check(d["posture_checks"] == [{"name": "posture:fw", "pass": True, "failed": None}],
          "a good heartbeat clears the failure: %r" % d["posture_checks"])
    check(d["quarantine"] == {"quarantined": False, "reason": None}, repr(d["quarantine"]))
    pq = d["pq"]
    check(pq is not None and (pq["peers"], pq["peers_pq"], pq["classical"], pq["failing"]) ==
          (3, 2, 1, 0), "pq from the heartbeat's stats: %r" % pq)
    check(abs(pq["reported_at"] - t0) <= 5, "pq reported_at: %r" % pq)
    check(listed(srv, s, laptop)["pq"] == pq, "list shows the same pq")
    # an older agent sends only peers and peers_pq: the others are null, not invented
    expect(heartbeat(srv, laptop, GOOD, {"peers": 2, "peers_pq": 2}), 200)
    pq = get(srv, s, laptop)["pq"]
    check((pq["peers"], pq["peers_pq"], pq["classical"], pq["failing"]) == (2, 2, None, None),
          "partial stats: %r" % pq)
    # a heartbeat without stats keeps the last ones; nonsense counters show as null
    expect(heartbeat(srv, laptop, GOOD), 200)
    check(get(srv, s, laptop)["pq"]["peers"] == 2, "stats kept across a heartbeat without them")
    expect(heartbeat(srv, laptop, GOOD, {"peers": "many", "peers_pq": -1}), 200)
    check(get(srv, s, laptop)["pq"] is None, "non-numeric peers: pq null")
    expect(heartbeat(srv, laptop, GOOD, {"peers": 1, "peers_pq": -1, "peers_failing": 1}), 200)
    pq = get(srv, s, laptop)["pq"]
    check(pq["peers"] == 1 and pq["peers_pq"] is None and pq["failing"] == 1, repr(pq))
    # stats that are not an object: a clear 400
    r = expect(laptop.heartbeat(srv, body=body_bytes({"posture": GOOD, "stats": [1]})), 400)
    check("stats" in r.message, "400 names stats: %r" % r.message)


def stale(srv, s, laptop):
    msg, _ = cu.poll(srv, laptop)
    check(self_quarantine(msg)["quarantined"] is False, "fresh: map not quarantined: %r" % msg)
    since = msg["version"]
    ws = rt.session(srv, s)
    check(rt.subscribe(ws, s.org_id, ["machines"]).get("type") == "subscribed", "subscribed")
    expect(heartbeat(srv, laptop, GOOD), 200)
    at = get(srv, s, laptop)["posture_at"]
    # the report goes stale MAX_AGE seconds later: the API says so with the age and the limit
    deadline = time.monotonic() + MAX_AGE + 8
    d = None
    while time.monotonic() < deadline:
        d = views(srv, s, laptop)
        if d["quarantine"]["quarantined"]:
            break
        time.sleep(0.3)
    check(d["quarantine"]["quarantined"], "stale report quarantines: %r" % d)
    m = STALE_RE.match(d["quarantine"]["reason"] or "")
    check(m and int(m.group(1)) > MAX_AGE and int(m.group(1)) <= int(time.time()) - at + 1,
          "reason with age and limit: %r" % d["quarantine"])
    check(len(d["posture_checks"]) == 1 and not d["posture_checks"][0]["pass"] and
          d["posture_checks"][0]["failed"].startswith("quarantined, report is "),
          "the check says why: %r" % d["posture_checks"])
    # the dashboard hears of the flip by itself (no heartbeat, no API write made it)
    ev = ws.until(lambda f: f.get("type") == "event" and f.get("channel") == "machines" and
                  (f["data"].get("machine") or {}).get("id") == laptop.id and
                  f["data"]["machine"]["quarantine"]["quarantined"], timeout=5.0)
    check(ev is not None and STALE_RE.match(ev["data"]["machine"]["quarantine"]["reason"] or ""),
          "realtime upsert with the quarantine: %r" % ev)
    ws.close()
    # the machine's own map entry says so too, without the agent asking from scratch
    msg = wait_map_quarantine(srv, laptop, since, True)
    q = self_quarantine(msg)
    check(STALE_RE.match(q["reason"] or ""), "map reason: %r" % q)
    since = msg["version"]
    # a fresh heartbeat clears both
    expect(heartbeat(srv, laptop, GOOD), 200)
    d = views(srv, s, laptop)
    check(d["quarantine"] == {"quarantined": False, "reason": None}, "cleared: %r" % d)
    check(d["posture_checks"][0]["pass"], repr(d["posture_checks"]))
    msg = wait_map_quarantine(srv, laptop, since, False)
    check(self_quarantine(msg)["reason"] is None, repr(msg["self"]))


def main():
    with Server(["--heartbeat-interval", "5"]) as srv:
        s = srv.setup()
        key = create_key(srv, s, reusable=True)["key"]
        srv_key = create_key(srv, s, reusable=True, tags=["tag:srv"])["key"]
        laptop, server = Machine("laptop"), Machine("srv1")
        laptop.register(srv, key)
        server.register(srv, srv_key)
        no_policy(srv, s, laptop)
        r = srv.request("PUT", "/api/orgs/%d/policy" % s.org_id, body={"policy": policy(s.email)},
                        session=s, headers={"If-Match": '"0"'})
        expect(r, 200)
        failing_posture(srv, s, laptop, server)
        good_posture_and_pq(srv, s, laptop)
        stale(srv, s, laptop)


if __name__ == "__main__":
    harness.run(main)
