#!/usr/bin/env python3
"""Zero trust on every packet, end to end: the real ztna-server and two `ztna daemon`s in network
namespaces, one policy with a plain rule, a posture rule, a scheduled rule and a JIT rule, each on
its own port of beta, and real TCP connections through the tunnel.

                      netns zpH<pid>: bridge zpbr (198.18.0.0/24, no address)
             +-----------------------------+-----------------------------+
             |                             |                             |
       netns zpS<pid>                netns zpA<pid>                netns zpB<pid>
       198.18.0.1                    198.18.0.11                   198.18.0.12
       ztna-server :8080             ztna daemon "alpha"           ztna daemon "beta"
        --heartbeat-interval 5        tag:web, tun zta<pid>         tag:db, tun ztb<pid>
        --jit-min-duration 1          nft table "ztnapos" (posture  banner listeners on
                                      firewall: true), banner       :22 :23 :2222 :8080 :9000
                                      listener on :22
                   100.64.0.0/10 on each TUN (the server's allocation), WireGuard between A and B

  The policy (alpha = tag:web -> beta = tag:db, tcp):
     22    plain accept                    23    no rule (dropped)
     2222  posture: firewall, maxReportAge 12 s
     8080  schedule: UTC, today from this minute to a minute boundary 25-85 s ahead
     9000  requireJit

Every check is a new TCP connection made by a long-lived prober process in the source netns
(mesh_util's Mesh.tcp; 1-1.5 s connect timeout), so a dropped SYN costs no process start.

Checks, in order (each wait bounded):
  1. alpha reaches beta on tcp/22 and reads the banner (the reply passes alpha's filter, which
     admits nothing inbound: stateful); tcp/23 is dropped; beta cannot open tcp/22 to alpha
  2. a new version whose own `tests` fail (it would open tcp/23) is refused with 400
     POLICY_TESTS_FAILED naming the failing test; the version in force does not change and tcp/23
     stays dropped while tcp/22 still passes
  3. posture: alpha's nft table is deleted in its netns (firewall: false for real): within one
     heartbeat tcp/2222 is dropped (tcp/22 still passes; explain names the firewall); the table
     back: tcp/2222 passes again within one heartbeat
  4. stale posture: alpha's control traffic is rejected by an nft rule in its netns, so its
     heartbeats stop; once its report is older than maxReportAge the server quarantines it on
     its own (explain: "quarantined"), tcp/2222 is dropped; the rule removed, alpha heartbeats and
     tcp/2222 passes again
  5. JIT: tcp/9000 dropped without a grant; a request (6 s) approved by the admin opens it, and
     at expiry it is dropped again (the request is "expired")
  6. schedule: tcp/8080 passed in step 1; after the window's end minute it is dropped
"""
import json
import os
import sys
import time
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mesh_util import Mesh, main_wrapper  # noqa: E402

ADDR = {"S": "198.18.0.1", "A": "198.18.0.11", "B": "198.18.0.12"}
AGENTS = {"A": "alpha", "B": "beta"}
HB = 5            # --heartbeat-interval
MAX_AGE = 12      # maxReportAge of posture:fw
JIT_S = 6         # the JIT grant's duration
LEAD = 25         # the schedule closes at the first minute boundary at least this far ahead
M = None  # the Mesh, made in __main__


def log(msg):
    M.log(msg)


def run(*args, **kw):
    return M.run(*args, **kw)


def api(*args, **kw):
    return M.api(*args, **kw)


def ztna(*args, **kw):
    return M.ztna(*args, **kw)


def status(k):
    return M.status(k)


def tcp(src, ip, port, timeout=1.5):
    return M.tcp(src, ip, port, timeout)


def nft(k, *cmds):
    for c in cmds:
        run(["nft"] + c.split(), ns=k)


def schedule_window():
    """(start "HH:MM", end "HH:MM", end as a UTC datetime): from this minute to the first minute
    boundary at least LEAD seconds ahead, the same UTC day (waits out a midnight, at most LEAD s)."""
    for _ in range(2):
        now = datetime.now(timezone.utc)
        start = now.replace(second=0, microsecond=0)
        end = (now + timedelta(seconds=LEAD + 59)).replace(second=0, microsecond=0)
        midnight = start.replace(hour=0, minute=0) + timedelta(days=1)
        if end <= midnight:
            hm = "24:00" if end == midnight else end.strftime("%H:%M")
            return start.strftime("%H:%M"), hm, end
        time.sleep((midnight - now).total_seconds() + 1)
    raise AssertionError("could not place the schedule window")


def policy_doc(start, end, end_dt, extra_rules=()):
    inside = (end_dt - timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    after = end_dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "tagOwners": {"tag:web": ["owner@example.com"], "tag:db": ["owner@example.com"]},
        "postures": {"posture:fw": {"firewall": True, "maxReportAge": MAX_AGE}},
        "schedules": {"closing": {"timezone": "UTC", "days": ["*"], "hours": "%s-%s" % (start, end)}},
        "rules": [
            {"action": "accept", "src": ["tag:web"], "dst": ["tag:db:22"], "proto": "tcp"},
            {"action": "accept", "src": ["tag:web"], "dst": ["tag:db:2222"], "proto": "tcp",
             "posture": ["posture:fw"]},
            {"action": "accept", "src": ["tag:web"], "dst": ["tag:db:8080"], "proto": "tcp",
             "schedule": "closing"},
            {"action": "accept", "src": ["tag:web"], "dst": ["tag:db:9000"], "proto": "tcp",
             "requireJit": True, "approvers": ["owner@example.com"]},
        ] + list(extra_rules),
        "tests": [
            {"src": "tag:web", "accept": ["tag:db:22", "tag:db:2222"], "deny": ["tag:db:23", "tag:db:9000"]},
            {"src": "tag:web", "at": inside, "accept": ["tag:db:8080"]},
            {"src": "tag:web", "at": after, "deny": ["tag:db:8080"]},
            {"src": "tag:db", "deny": ["tag:web:22"]},
        ],
    }


def main():
    M.check_env(("ip", "curl", "nft"))
    M.setup_net()
    M.start_server("--jit-min-duration", "1")
    token, org, keys = M.owner_and_keys({"A": "tag:web", "B": "tag:db"})
    # alpha's firewall: a table with a rule that matches nothing we send (a regular chain, no hook)
    nft("A", "add table inet ztnapos", "add chain inet ztnapos c", "add rule inet ztnapos c counter")
    M.listen("B", 22, 23, 2222, 8080, 9000)
    M.listen("A", 22)
    for k in AGENTS:
        M.start_agent(k)
    for k, name in AGENTS.items():
        r = ztna(k, "login", "--server", M.url, "--auth-key", keys[k], "--hostname", name)
        assert "Logged in" in r.stdout, r.stdout
    me = {k: M.wait_for("%s to see its peer" % n, lambda k=k: M.peers_ready(k, 1), 30)["self"]
          for k, n in AGENTS.items()}
    a_ip, b_ip = me["A"]["tailnet_ip"], me["B"]["tailnet_ip"]
    assert me["A"]["tags"] == ["tag:web"] and me["B"]["tags"] == ["tag:db"], me
    log("logged in: alpha %s, beta %s" % (a_ip, b_ip))
    M.wait_for("the server to hold alpha's posture with firewall on",
               lambda: (api("GET", "/api/orgs/%d/machines/%d" % (org, me["A"]["id"]), None, token)
                        .get("posture") or {}).get("firewall") is True, 3 * HB, 0.5)

    def explain(port):
        return api("POST", "/api/orgs/%d/policy/explain" % org,
                   {"src": "alpha", "dst": "beta", "port": port, "proto": "tcp"}, token)

    # the policy
    start, end, end_dt = schedule_window()
    doc = policy_doc(start, end, end_dt)
    ver = api("GET", "/api/orgs/%d/policy" % org, None, token)["version"]
    ver = api("PUT", "/api/orgs/%d/policy" % org, {"policy": json.dumps(doc)}, token,
              ['If-Match: "%s"' % ver])["version"]
    for k in AGENTS:
        M.wait_for("%s to enforce the policy" % AGENTS[k], lambda k=k: status(k)["filter"] in ("policy", "deny-all"), 15)
    log("policy v%s in force; schedule window %s-%s UTC" % (ver, start, end))
    # every change below reaches the agents over their map streams, not polls
    for k in AGENTS:
        ctl = status(k)["control"]
        assert ctl["map_transport"] == "stream", "%s gets its map by %s: %r" % (AGENTS[k], ctl["map_transport"], ctl)

    # 1. allow / deny / stateful; the scheduled port first, long before its window closes
    M.wait_for("alpha to reach beta on tcp/22 (allowed)", lambda: tcp("A", b_ip, 22), 15, 0.3)
    assert tcp("A", b_ip, 8080), "alpha cannot reach beta on tcp/8080 inside the schedule"
    assert datetime.now(timezone.utc) < end_dt, "the schedule closed before it was checked open"
    assert not tcp("A", b_ip, 23), "alpha reached beta on tcp/23: no rule allows it"
    assert not tcp("B", a_ip, 22), "beta opened tcp/22 to alpha: nothing is allowed into alpha"
    assert tcp("A", b_ip, 22), "alpha -> beta tcp/22 stopped passing"
    assert tcp("A", b_ip, 2222), "alpha (firewall on) cannot reach beta on tcp/2222"
    assert not tcp("A", b_ip, 9000), "alpha reached beta on tcp/9000 without a JIT grant"
    log("tcp/22 passes with its reply (stateful), tcp/23 and beta->alpha dropped; 2222 and 8080 open, 9000 closed")

    # 2. a version failing its own tests is refused; the old one stays in force
    bad = policy_doc(start, end, end_dt, [{"action": "accept", "src": ["tag:web"], "dst": ["tag:db:23"],
                                          "proto": "tcp"}])
    d, code = M.api_raw("PUT", "/api/orgs/%d/policy" % org, {"policy": json.dumps(bad)}, token,
                        ['If-Match: "%s"' % ver])
    assert code == 400 and not d.get("success"), (code, d)
    err = d.get("error") or {}
    assert err.get("code") == "POLICY_TESTS_FAILED", d
    assert "test failed: tag:web -> tag:db port 23: expected deny, got accept" in err.get("message", ""), d
    assert api("GET", "/api/orgs/%d/policy" % org, None, token)["version"] == ver
    time.sleep(1)
    assert not tcp("A", b_ip, 23), "tcp/23 opened by a refused policy"
    assert tcp("A", b_ip, 22), "tcp/22 stopped passing after a refused policy"
    log("failing version refused (%s); v%s still in force" % (err["message"], ver))

    # 3. posture flipped for real in alpha's netns
    nft("A", "delete table inet ztnapos")
    t = time.monotonic()
    # one heartbeat, plus the probe's own 1 s timeout and 2 s for the map push under load
    M.wait_for("tcp/2222 to close after alpha's firewall went off", lambda: not tcp("A", b_ip, 2222, 1.0),
               HB + 3, 0.1)
    took = time.monotonic() - t
    assert not tcp("A", b_ip, 2222), "tcp/2222 reopened while alpha's firewall is off"
    assert tcp("A", b_ip, 22), "quarantine closed tcp/22 too (no posture on that rule)"
    e = explain(2222)
    assert not e["accepted"] and e["failed"] == "posture" and "firewall" in e["reason"], e
    log("firewall off: tcp/2222 closed within %.1fs (heartbeat %ds): %s" % (took, HB, e["reason"]))
    nft("A", "add table inet ztnapos", "add chain inet ztnapos c", "add rule inet ztnapos c counter")
    t = time.monotonic()
    M.wait_for("tcp/2222 to reopen after alpha's firewall came back", lambda: tcp("A", b_ip, 2222, 1.0),
               HB + 3, 0.1)
    log("firewall on: tcp/2222 open again within %.1fs" % (time.monotonic() - t))

    # 4. stale posture: alpha's heartbeats are cut (its control traffic is rejected in its netns)
    nft("A", "add table inet ztnacut",
        "add chain inet ztnacut out { type filter hook output priority 0 ; }",
        "add rule inet ztnacut out ip daddr %s tcp dport 8080 reject with tcp reset" % ADDR["S"])
    t = time.monotonic()
    M.wait_for("the server to quarantine alpha's stale posture",
               lambda: "quarantined" in explain(2222)["reason"], MAX_AGE + HB + 5, 0.5)
    M.wait_for("tcp/2222 to close for the stale report", lambda: not tcp("A", b_ip, 2222, 1.0), 5, 0.1)
    log("no heartbeat: quarantined after %.1fs (%s), tcp/2222 closed" % (time.monotonic() - t, explain(2222)["reason"]))
    assert tcp("A", b_ip, 22), "a stale report closed tcp/22 too"
    nft("A", "delete table inet ztnacut")
    t = time.monotonic()
    M.wait_for("tcp/2222 to reopen once alpha heartbeats again", lambda: tcp("A", b_ip, 2222, 1.0), 30, 0.3)
    log("heartbeats back: tcp/2222 open again after %.1fs" % (time.monotonic() - t))

    # 5. JIT
    assert not tcp("A", b_ip, 9000), "tcp/9000 open without a grant"
    req = api("POST", "/api/orgs/%d/jit-requests" % org,
              {"dst": "beta", "port": 9000, "proto": "tcp", "duration": JIT_S, "reason": "e2e test"}, token)
    assert req["state"] == "pending", req
    time.sleep(1)
    assert not tcp("A", b_ip, 9000), "tcp/9000 open with a request not yet approved"
    api("POST", "/api/orgs/%d/jit-requests/%d/approve" % (org, req["id"]), {}, token)
    approved = time.monotonic()
    M.wait_for("tcp/9000 to open with the grant", lambda: tcp("A", b_ip, 9000, 1.0), JIT_S - 1, 0.1)
    log("JIT grant approved: tcp/9000 open after %.1fs" % (time.monotonic() - approved))
    M.wait_for("tcp/9000 to close at the grant's expiry", lambda: not tcp("A", b_ip, 9000, 1.0), JIT_S + 5, 0.2)
    closed = time.monotonic() - approved
    assert closed >= JIT_S - 1, "tcp/9000 closed after %.1fs, before the grant's %ds" % (closed, JIT_S)
    st = M.wait_for("the request to be expired",
                    lambda: (lambda r: r["state"] == "expired" and r)(
                        api("GET", "/api/orgs/%d/jit-requests/%d" % (org, req["id"]), None, token)), 5, 0.3)
    assert not tcp("A", b_ip, 9000), "tcp/9000 reopened after expiry"
    log("JIT grant expired: tcp/9000 closed %.1fs after approval (state %s)" % (closed, st["state"]))

    # 6. the schedule closes at its boundary
    left = (end_dt - datetime.now(timezone.utc)).total_seconds()
    if left > 3:
        assert tcp("A", b_ip, 8080), "tcp/8080 closed %.0fs before the schedule's end" % left
        time.sleep(max(0.0, (end_dt - datetime.now(timezone.utc)).total_seconds()))
    t = time.monotonic()
    M.wait_for("tcp/8080 to close at the schedule's end %s UTC" % end, lambda: not tcp("A", b_ip, 8080, 1.0), 8, 0.1)
    log("schedule closed: tcp/8080 dropped %.1fs after %s UTC" % (time.monotonic() - t, end))
    assert tcp("A", b_ip, 22), "tcp/22 stopped passing after the schedule closed"
    e = explain(8080)
    assert not e["accepted"] and e["failed"] == "schedule", e

    for k in AGENTS:
        M.stop("agent-" + k)
    M.stop("server")
    log("PASS")


if __name__ == "__main__":
    M = Mesh("zp", ADDR, AGENTS, tag="policy", bridge="zpbr")
    main_wrapper(M, main)
