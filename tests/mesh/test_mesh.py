#!/usr/bin/env python3
"""The mesh, end to end: the real ztna-server and three `ztna daemon`s in network namespaces.

                          netns zmH<pid>: bridge zmbr (198.18.0.0/24, no address)
        +------------------+------------------+------------------+------------------+
        |                  |                  |                  |                  |
  netns zmS<pid>     netns zmA<pid>     netns zmB<pid>     netns zmC<pid>     netns zmF<pid>
  198.18.0.1         198.18.0.11        198.18.0.12        198.18.0.13        198.18.0.9
  ztna-server        ztna daemon        ztna daemon        ztna daemon        fake_server.py :8081
   HTTP :8080         "alpha"            "beta"             "gamma"           ztna daemon "delta"
   DNS  :5353         tun zta<pid>       tun ztb<pid>       tun ztc<pid>       tun ztd<pid>
  upstream_dns.py    100.64.x.x/10 on each TUN, the DNS stub at 100.100.100.100, WireGuard :41641
   :53 (stand-in
   for the system's  resolv.conf of each agent netns (/etc/netns/<ns>/resolv.conf, made and
   resolver)         removed here): nameserver 198.18.0.1

Checks, in order (each wait bounded):
  1. three agents log in with a pre-auth key; each sees the two others with PQ PSKs installed
  2. every agent pings every other by short name and by full name (`ztna ping`), through the tunnel
  3. `dig @100.100.100.100` on each agent (short and full names) agrees with `kdig` against the
     server's authority and with `ztna dns query`; a non-tailnet name is forwarded upstream, and
     no tailnet name ever reaches the upstream resolver; `dig +tcp` gets the same answers over TCP,
     and an upstream answer too big for a client without EDNS is TC=1 over UDP, whole over TCP
  4. the server is stopped and restarted while a ping runs every 100 ms: no packet lost; the
     agents reconnect
  5. a machine retagged by the admin shows its new tags in the others' `ztna status --json`;
     a policy is set: allowed traffic passes, denied traffic is dropped, counted in `ztna status`
     and reported in the heartbeat
     `ztna down` / `ztna up`; a restarted daemon comes back from its state directory
  6. a machine deleted by the admin disappears from every peer and its traffic stops
  7. an agent logged in to a fake server refuses forged map messages (wrong key, altered
     payload, older version, another machine, unsigned) and keeps the genuine map; the fake
     server has no map stream (404), so the agent falls back to polling
  8. `ztna logout`: the server deletes the machine and the other agent drops it
"""
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mesh_util import Mesh, main_wrapper  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ADDR = {"S": "198.18.0.1", "A": "198.18.0.11", "B": "198.18.0.12", "C": "198.18.0.13", "F": "198.18.0.9"}
AGENTS = {"A": "alpha", "B": "beta", "C": "gamma"}
M = Mesh("zm", ADDR, AGENTS, tag="mesh")
NS, URL, TMP = M.ns, M.url, M.tmp
log, run, spawn, stop, wait_for, api, ztna = M.log, M.run, M.spawn, M.stop, M.wait_for, M.api, M.ztna
status, setup_net, start_server, start_agent = M.status, M.setup_net, M.start_server, M.start_agent
peers_ready, ping_ok = M.peers_ready, M.ping_ok


def main():
    M.check_env(("ip", "curl", "kdig", "dig", "ping"))
    setup_net()
    spawn("upstream", [sys.executable, os.path.join(HERE, "upstream_dns.py"), ADDR["S"],
                       os.path.join(TMP, "upstream.names")], "S")
    start_server()
    owner = api("POST", "/api/auth/setup", {"email": "owner@example.com",
                                             "password": "correct horse battery staple",
                                             "org_name": "Acme Corp"})
    token, org = owner["access_token"], owner["orgs"][0]["id"]
    key = api("POST", "/api/orgs/%d/auth-keys" % org,
              {"reusable": True, "tags": ["tag:web", "tag:db"]}, token)["key"]
    short_key = api("POST", "/api/orgs/%d/auth-keys" % org, {"expires_in": 1}, token)["key"]
    expires = time.monotonic() + 1.5
    log("server up, org %d, auth keys created" % org)

    # 1. login
    for k in AGENTS:
        start_agent(k)
    bad = ztna("A", "login", "--server", "http://198.18.0.1:9", "--auth-key", key, check=False)
    assert bad.returncode != 0 and "server unreachable at http://198.18.0.1:9: connection refused" in bad.stderr, \
        "login to a closed port: %r" % bad.stderr
    bad = ztna("A", "login", "--server", URL, "--auth-key", "ztna-auth-" + "0" * 64, check=False)
    assert bad.returncode != 0 and "unknown auth key" in bad.stderr, "login with a bad key: %r" % bad.stderr
    time.sleep(max(0, expires - time.monotonic()))
    bad = ztna("A", "login", "--server", URL, "--auth-key", short_key, check=False)
    assert bad.returncode != 0 and "auth key expired" in bad.stderr, "login with an expired key: %r" % bad.stderr
    for k, name in AGENTS.items():
        r = ztna(k, "login", "--server", URL, "--auth-key", key, "--hostname", name,
                 *(["--advertise-tags", "tag:web"] if k == "A" else []))
        assert "Logged in" in r.stdout, r.stdout
    st = {k: wait_for("%s to see 2 peers with PQ PSKs" % n, lambda k=k: peers_ready(k, 2), 30)
          for k, n in AGENTS.items()}
    me = {k: st[k]["self"] for k in AGENTS}
    for k in AGENTS:
        ip = ztna(k, "ip", "-4").stdout.strip()
        assert ip == me[k]["tailnet_ip"] and ip.startswith("100."), (ip, me[k])
        assert re.match(r"^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.", ip), ip
    assert me["A"]["tags"] == ["tag:web"], me["A"]
    suffix = st["A"]["dns"]["suffix"]
    log("logged in: %s; suffix %s" % (", ".join("%s=%s" % (m["name"], m["tailnet_ip"]) for m in me.values()), suffix))

    # 2. ping matrix by short and full name
    for k in AGENTS:
        for j in AGENTS:
            if j == k:
                continue
            for name in (me[j]["name"], me[j]["fqdn"]):
                out = ping_ok(k, name)
                assert me[j]["tailnet_ip"] in out and "via 198.18.0." in out, out
    log("every agent pinged every other by short and full name")

    # 3. DNS
    for k in AGENTS:
        for j in AGENTS:
            for name in (me[j]["name"], me[j]["fqdn"]):
                ans = run(["dig", "+short", "+time=2", "+tries=2", "@100.100.100.100", name], ns=k).stdout.split()
                assert ans == [me[j]["tailnet_ip"]], (k, name, ans)
            auth = run(["kdig", "+short", "@" + ADDR["S"], "-p", "5353", me[j]["fqdn"]], ns=k).stdout.split()
            assert auth == [me[j]["tailnet_ip"]], ("server authority", me[j]["fqdn"], auth)
        q = ztna(k, "dns", "query", me["B"]["name"]).stdout.strip()
        assert q == "%s (%s)" % (me["B"]["tailnet_ip"], me["B"]["fqdn"]), q
    missing = run(["dig", "+time=2", "+tries=1", "@100.100.100.100", "nosuch." + suffix], ns="A").stdout
    assert "NXDOMAIN" in missing, missing
    missing = run(["dig", "+time=2", "+tries=1", "@100.100.100.100", "nosuchhost"], ns="A").stdout
    assert "NXDOMAIN" in missing, missing
    ext = run(["dig", "+short", "+time=2", "+tries=2", "@100.100.100.100", "www.example.test"], ns="A").stdout.split()
    assert ext == ["198.18.0.77"], ("forwarded upstream", ext)
    # DNS over TCP to the stub (agent/daemon/dnstcp.c): three queries on one connection
    ans = run(["dig", "+tcp", "+keepopen", "+short", "+time=2", "+tries=2", "@100.100.100.100", me["B"]["fqdn"],
               me["C"]["name"], "www.example.test"], ns="A").stdout.split()
    assert ans == [me["B"]["tailnet_ip"], me["C"]["tailnet_ip"], "198.18.0.77"], ("dig +tcp", ans)
    # an upstream answer too big for a client without EDNS: TC=1 over UDP, whole over TCP
    big = ["198.18.1.%d" % i for i in range(1, 41)]
    out = run(["dig", "+noedns", "+ignore", "+time=2", "+tries=1", "@100.100.100.100", "big.example.test"], ns="A").stdout
    assert re.search(r"flags:[^;]* tc", out) and "ANSWER: 0" in out, out
    ans = run(["dig", "+noedns", "+short", "+time=2", "+tries=1", "@100.100.100.100", "big.example.test"], ns="A").stdout.split()
    assert sorted(ans) == sorted(big), ("TC then TCP", ans)
    q = ztna("A", "dns", "query", "www.example.test").stdout.strip()
    assert q == "198.18.0.77 (www.example.test)", q
    with open(os.path.join(TMP, "upstream.names")) as f:
        asked = f.read().split()
    assert "www.example.test" in asked, asked
    leaked = [n for n in asked if n.endswith(suffix) or n in [m["name"] for m in me.values()] + ["nosuchhost"]]
    assert not leaked, "tailnet names reached the upstream resolver: %s" % leaked
    log("DNS: stub == authority == ztna dns query; upstream forwarding, no leak; TCP, TC=1")

    # 4. server restart under a continuous ping
    pinger = subprocess.Popen(["ip", "netns", "exec", NS["A"], "ping", "-n", "-q", "-i", "0.1", "-c", "60",
                               "-W", "1", me["B"]["tailnet_ip"]], stdout=subprocess.PIPE, text=True)
    time.sleep(1)
    stop("server")
    log("server stopped")
    time.sleep(1.5)
    wait_for("agents to notice the server is gone",
             lambda: status("A")["control"]["state"] == "connecting", 30)
    start_server()
    log("server restarted")
    out, _ = pinger.communicate(timeout=30)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert m and m.group(1) == "60" and m.group(2) == "60", "ping across the server restart: %s" % out
    for k in AGENTS:
        wait_for("%s to reconnect" % AGENTS[k], lambda k=k: status(k)["control"]["state"] == "connected", 30)
    log("60/60 pings across the server restart; agents reconnected")

    # 5. retag beta
    api("PATCH", "/api/orgs/%d/machines/%d" % (org, me["B"]["id"]), {"tags": ["tag:db"]}, token)
    for k in ("A", "C"):
        wait_for("%s to see beta's new tags" % AGENTS[k],
                 lambda k=k: [p["tags"] for p in status(k)["peers"] if p["id"] == me["B"]["id"]] == [["tag:db"]], 15)
    wait_for("beta to see its own new tags", lambda: status("B")["self"]["tags"] == ["tag:db"], 15)
    log("retag reached every peer")

    # 5b. policy: ICMP for everyone, tcp/5432 from tag:web to tag:db only; denials are counted,
    # shown in `ztna status` and reported to the server in the heartbeat
    pol = {"tagOwners": {"tag:web": ["owner@example.com"], "tag:db": ["owner@example.com"]},
           "rules": [{"action": "accept", "src": ["*"], "dst": ["*:*"], "proto": "icmp"},
                     {"action": "accept", "src": ["tag:web"], "dst": ["tag:db:5432"], "proto": "tcp"}]}
    ver = api("GET", "/api/orgs/%d/policy" % org, None, token)["version"]
    api("PUT", "/api/orgs/%d/policy" % org, {"policy": json.dumps(pol)}, token, ['If-Match: "%s"' % ver])
    wait_for("beta to enforce the policy", lambda: status("B")["filter"] == "policy", 15)
    spawn("listener", [sys.executable, "-m", "http.server", "--bind", me["B"]["tailnet_ip"], "5432"], "B")
    tcp = lambda port: run(["timeout", "3", "bash", "-c", "exec 3<>/dev/tcp/%s/%d" % (me["B"]["tailnet_ip"], port)],
                           ns="A", check=False).returncode == 0
    wait_for("alpha to reach beta on tcp/5432 (allowed)", lambda: tcp(5432), 15, 0.5)
    assert not tcp(22), "alpha reached beta on tcp/22 despite the policy"
    ping_ok("A", me["B"]["name"])
    den = wait_for("beta to show the denial", lambda: [d for d in status("B")["denials"]
                                                       if d["src"] == me["A"]["tailnet_ip"] and d["proto"] == "tcp"
                                                       and d["dport"] == 22 and d["count"] >= 1], 10)
    human = ztna("B", "status").stdout
    assert "denied by policy: from %s to tcp port 22" % me["A"]["tailnet_ip"] in human, human
    view = wait_for("the server to receive the denial in beta's heartbeat",
                    lambda: (lambda v: any(d.get("src") == me["A"]["tailnet_ip"] and d.get("dport") == 22
                                           for d in v.get("denials", [])) and v)(
                        api("GET", "/api/orgs/%d/machines/%d" % (org, me["B"]["id"]), None, token)), 20, 1)
    stats = view.get("stats") or {}
    assert stats.get("peers") == 2 and stats.get("peers_pq") == 2 and stats.get("denied_packets", 0) >= 1, stats
    stop("listener", expect_clean=False)
    log("policy enforced: tcp/5432 allowed, tcp/22 denied (%d packets), denial reported" % den[0]["count"])

    # 5c. down and up again
    ztna("C", "down")
    s = status("C")
    assert s["control"]["state"] == "down" and s["peers"] == [], s
    r = run(["ping", "-n", "-c", "2", "-i", "0.3", "-W", "1", me["A"]["tailnet_ip"]], ns="C", check=False)
    assert r.returncode != 0, "gamma reaches alpha while down: %s" % r.stdout
    ztna("C", "up")
    wait_for("gamma to be back up with 2 peers", lambda: peers_ready("C", 2), 20)
    ping_ok("C", me["A"]["name"])
    log("down removed every peer, up restored them")

    # 5d. the daemon restarted: keys and registration come back from the state directory
    sd = os.path.join(TMP, "state-B")
    assert os.stat(sd).st_mode & 0o777 == 0o700, oct(os.stat(sd).st_mode)
    for f in ("machine.key", "wg.key", "state.json"):
        assert os.stat(os.path.join(sd, f)).st_mode & 0o777 == 0o600, f
    stop("agent-B")
    start_agent("B")
    s = wait_for("beta to come back with its 2 peers", lambda: peers_ready("B", 2), 30)
    assert s["self"]["id"] == me["B"]["id"] and s["self"]["tailnet_ip"] == me["B"]["tailnet_ip"], s["self"]
    ping_ok("B", me["A"]["fqdn"])
    log("daemon restart: same machine, same address, peers back without a new login")

    # 6. delete gamma
    api("DELETE", "/api/orgs/%d/machines/%d" % (org, me["C"]["id"]), None, token)
    for k in ("A", "B"):
        wait_for("%s to drop gamma" % AGENTS[k],
                 lambda k=k: all(p["id"] != me["C"]["id"] for p in status(k)["peers"]) and
                 len(status(k)["peers"]) == 1, 15)
    r = run(["ping", "-n", "-c", "3", "-i", "0.3", "-W", "1", me["C"]["tailnet_ip"]], ns="A", check=False)
    assert r.returncode != 0 and " 0 received" in r.stdout, "alpha still reaches gamma: %s" % r.stdout
    r = run(["ping", "-n", "-c", "3", "-i", "0.3", "-W", "1", me["A"]["tailnet_ip"]], ns="C", check=False)
    assert r.returncode != 0, "gamma still reaches alpha: %s" % r.stdout
    r = ztna("A", "ping", "-c", "1", me["C"]["name"], check=False)
    assert r.returncode != 0 and "no peer named" in r.stderr, r.stderr
    log("deleted machine gone from every peer, its traffic stopped")

    # 7. forged netmaps
    spawn("fake", [sys.executable, os.path.join(HERE, "fake_server.py"), ADDR["F"], "8081",
                   os.path.join(TMP, "fake.requests")], "F")
    wait_for("the fake server", lambda: run(["curl", "-s", "-m", "2", "http://198.18.0.9:8081/x"], ns="F",
                                            check=False).returncode == 0, 10)
    start_agent("F")
    ztna("F", "login", "--server", "http://198.18.0.9:8081", "--auth-key", "anything", "--hostname", "delta")
    s = wait_for("delta to refuse the 5 forged maps", lambda: (lambda s: s["control"]["maps_refused"] >= 5 and s)(status("F")), 40)
    assert s["control"]["map_version"] == 5, s["control"]
    assert [p["name"] for p in s["peers"]] == ["real-peer"], s["peers"]
    with open(os.path.join(TMP, "agent-F.log")) as f:
        flog = f.read()
    for why in ("bad signature", "older than", "map for machine 8", "unsigned"):
        assert why in flog, "delta's log does not say '%s'" % why
    log("forged maps refused (wrong key, altered payload, older, other machine, unsigned)")
    # the fake server has no map stream (404, as an older server): delta asked, then polled
    assert s["control"]["map_transport"] == "poll", s["control"]
    with open(os.path.join(TMP, "fake.requests")) as f:
        reqs = [json.loads(line)["path"] for line in f]
    assert "/api/machine/map/stream?since=0" in reqs, reqs[:5]
    assert any(r.startswith("/api/machine/map?since=") for r in reqs), reqs[:5]
    log("no map stream at the fake server: the agent polls")

    # 8. logout: the server deletes the machine, the other agent drops it
    r = ztna("A", "logout")
    assert "Logged out." in r.stdout, r.stdout
    assert status("A")["control"]["state"] == "logged-out"
    wait_for("beta to drop alpha after its logout", lambda: status("B")["peers"] == [], 15)
    bad = ztna("A", "ip", check=False)
    assert bad.returncode != 0 and "not logged in" in bad.stderr, bad.stderr
    log("logout removed the machine from the tailnet")

    for k in list(AGENTS) + ["F"]:
        stop("agent-" + k)
    stop("server")
    log("PASS")


if __name__ == "__main__":
    main_wrapper(M, main)
