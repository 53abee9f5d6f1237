#!/usr/bin/env python3
"""IPv6 tailnet addresses end to end: the real ztna-server (IPv6 on, its default prefix
fd7a:115c:a1e0::/48) and two `ztna daemon`s in network namespaces; the filter enforced on every
IPv6 packet from the tunnel, TCP and ICMPv6, with the policy's /128 entries.

                      netns z6H<pid>: bridge z6br (198.18.0.0/24, no address)
             +-----------------------------+-----------------------------+
             |                             |                             |
       netns z6S<pid>                netns z6A<pid>                netns z6B<pid>
       198.18.0.1                    198.18.0.31                   198.18.0.32
       ztna-server :8080             ztna daemon "alpha"           ztna daemon "beta"
                                     tag:web, tun zta<pid>         tag:db, tun ztb<pid>
                                     listener [::]:22              listeners [::]:22 [::]:23
         each TUN: 100.64.x.y/10 and fd7a:115c:a1e0::6440:xxyy/48 (the server's allocation),
         WireGuard between A and B over the 198.18.0.0/24 underlay

  Policy v1: tag:web -> tag:db:22 tcp.  v2 adds tag:web -> tag:db icmp.

Checks (each wait bounded):
  1. addresses: each agent's self and peer carry tailnet_ip6 = the prefix + its IPv4 in the last
     32 bits; the TUN holds it with /48 and not tentative (no DAD); `ztna ip` prints both,
     `-4` / `-6` one, `-4 -6` is a usage error; `ztna status` shows the IPv6 addresses
  2. TCP over IPv6: alpha -> [beta]:22 connects and reads the banner (the replies pass alpha's
     filter, which admits nothing inbound: stateful); -> [beta]:23 is dropped and beta counts a
     denial from alpha's IPv6 address (status, and the server's copy from the heartbeat);
     beta -> [alpha]:22 is dropped and alpha counts it
  3. ICMPv6 echo alpha -> beta is dropped under v1 (counted as icmp); under v2 it passes, its
     reply too; beta -> alpha stays dropped; `ztna ping <beta's IPv6 address>` finds beta
  4. DNS: AAAA of beta's MagicDNS name through alpha's stub (100.100.100.100) is beta's IPv6
     address, A its IPv4; PTR of beta's IPv6 reverse name is that name; an unused address of the
     prefix is NXDOMAIN (answered by the stub, not the upstream)
  5. the kernel's IPv6 link chatter (multicast to ff02::1 on the TUN) is dropped by the engine,
     counted in status (ip6_link_dropped), and not logged
  6. cryptokey routing over IPv6: connections from alpha's tunnel with a source that is not
     alpha's /128 are dropped by the source check before beta's filter (which never counts them,
     while it counts alpha's own tcp/23 again); alpha's own address still passes tcp/22
  7. the server restarted with --ipv6-prefix off: the agents' maps have no tailnet_ip6, the TUN's
     IPv6 address is removed, `ztna ip` prints the IPv4 address only (`-6` exits 1), AAAA is
     NODATA, and the policy still holds over IPv4
"""
import ipaddress
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mesh_util import Mesh, main_wrapper  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
import dnswire  # noqa: E402

SELF = os.path.abspath(__file__)
ADDR = {"S": "198.18.0.1", "A": "198.18.0.31", "B": "198.18.0.32"}
AGENTS = {"A": "alpha", "B": "beta"}
PREFIX = ipaddress.IPv6Network("fd7a:115c:a1e0::/48")
M = None


def dns_ask(name, qtype):
    """--dns mode: one UDP query to the stub; prints {"rcode", "answers": [rdata text]}."""
    res = dnswire.query(("100.100.100.100", 53), name, qtype)
    assert res is not None, "no answer from the stub for %s type %d" % (name, qtype)
    print(json.dumps({"rcode": res[0], "answers": [t for rtype, t in res[2] if rtype in (1, 28, 12)]}))


def tcp(src, ip, port, timeout=1.5, from_ip=None):
    return M.tcp(src, ip, port, timeout, from_ip)


def ping6(src, ip):
    return M.run(["ping", "-6", "-n", "-c", "1", "-W", "1", ip], ns=src, check=False, timeout=10).returncode == 0


def denial(k, src, proto, dport=None):
    for d in M.status(k)["denials"]:
        if d["src"] == src and d["proto"] == proto and (dport is None or d["dport"] == dport):
            return d
    return None


def policy(icmp):
    rules = [{"action": "accept", "src": ["tag:web"], "dst": ["tag:db:22"], "proto": "tcp"}]
    if icmp:
        rules.append({"action": "accept", "src": ["tag:web"], "dst": ["tag:db:*"], "proto": "icmp"})
    return {"tagOwners": {"tag:web": ["owner@example.com"], "tag:db": ["owner@example.com"]},
            "rules": rules}


def derived6(ip4):
    return str(ipaddress.IPv6Address(int(PREFIX.network_address) | int(ipaddress.IPv4Address(ip4))))


def main():
    M.check_env(("ip", "curl", "ping"))
    M.setup_net()
    M.start_server()
    token, org, keys = M.owner_and_keys({"A": "tag:web", "B": "tag:db"})
    M.listen("B", 22, 23)
    M.listen("A", 22)
    for k in AGENTS:
        M.start_agent(k)
    for k, name in AGENTS.items():
        r = M.ztna(k, "login", "--server", M.url, "--auth-key", keys[k], "--hostname", name)
        assert "Logged in" in r.stdout, r.stdout
    st = {k: M.wait_for("%s to see its peer" % n, lambda k=k: M.peers_ready(k, 1), 30)
          for k, n in AGENTS.items()}

    # 1. addresses
    me = {k: st[k]["self"] for k in AGENTS}
    ip4 = {k: me[k]["tailnet_ip"] for k in AGENTS}
    ip6 = {k: me[k].get("tailnet_ip6") for k in AGENTS}
    for k in AGENTS:
        assert ip6[k] == derived6(ip4[k]), (k, me[k])
        other = "B" if k == "A" else "A"
        assert st[k]["peers"][0]["tailnet_ip6"] == ip6[other], st[k]["peers"]
        out = M.run(["ip", "-6", "addr", "show", "dev", M.tun(k)], ns=k).stdout
        assert "inet6 %s/48" % ip6[k] in out and "tentative" not in out, out
        lines = M.ztna(k, "ip").stdout.split()
        assert lines == [ip4[k], ip6[k]], lines
        assert M.ztna(k, "ip", "-6").stdout.split() == [ip6[k]]
        assert M.ztna(k, "ip", "-4").stdout.split() == [ip4[k]]
        r = M.ztna(k, "ip", "-4", "-6", check=False)
        assert r.returncode == 2 and "mutually exclusive" in r.stderr, (r.returncode, r.stderr)
        text = M.ztna(k, "status").stdout
        assert "%s %s" % (ip4[k], ip6[k]) in text and "%s %s" % (ip4[other], ip6[other]) in text, text
    M.log("alpha %s %s, beta %s %s; ztna ip / status show both" % (ip4["A"], ip6["A"], ip4["B"], ip6["B"]))

    ver = M.api("GET", "/api/orgs/%d/policy" % org, None, token)["version"]
    ver = M.api("PUT", "/api/orgs/%d/policy" % org, {"policy": json.dumps(policy(False))}, token,
                ['If-Match: "%s"' % ver])["version"]
    for k in AGENTS:
        M.wait_for("%s to enforce the policy" % AGENTS[k], lambda k=k: M.status(k)["filter"] == "policy", 15)

    # 2. TCP over IPv6
    M.wait_for("alpha to reach [beta]:22 over IPv6", lambda: tcp("A", ip6["B"], 22), 15, 0.3)
    assert not tcp("A", ip6["B"], 23), "alpha reached [beta]:23: no rule allows it"
    d = M.wait_for("beta to count alpha's tcp/23 denial by its IPv6 source",
                   lambda: denial("B", ip6["A"], "tcp", 23), 5, 0.3)
    assert not tcp("B", ip6["A"], 22), "beta opened [alpha]:22: nothing is allowed into alpha"
    M.wait_for("alpha to count beta's tcp/22 denial", lambda: denial("A", ip6["B"], "tcp", 22), 5, 0.3)
    assert tcp("A", ip6["B"], 22), "alpha -> [beta]:22 stopped passing"
    assert tcp("A", ip4["B"], 22), "alpha -> beta:22 over IPv4 stopped passing"
    M.log("[beta]:22 passes with its replies (stateful), [beta]:23 and beta->[alpha]:22 dropped; "
          "beta's denial: %s" % d)
    mach = M.wait_for("the server to hold beta's IPv6 denial from the heartbeat",
                      lambda: (lambda m: any(x.get("src") == ip6["A"] and x.get("dport") == 23
                                             for x in m.get("denials") or []) and m)(
                          M.api("GET", "/api/orgs/%d/machines/%d" % (org, me["B"]["id"]), None, token)),
                      15, 0.5)
    assert mach["tailnet_ip6"] == ip6["B"], mach

    # 3. ICMPv6 only when the policy allows ICMP
    assert not ping6("A", ip6["B"]), "ping -6 alpha -> beta passed without an icmp rule"
    M.wait_for("beta to count the ICMPv6 echo as an icmp denial", lambda: denial("B", ip6["A"], "icmp"), 5, 0.3)
    ver = M.api("PUT", "/api/orgs/%d/policy" % org, {"policy": json.dumps(policy(True))}, token,
                ['If-Match: "%s"' % ver])["version"]
    M.wait_for("ping -6 alpha -> beta with the icmp rule", lambda: ping6("A", ip6["B"]), 15, 0.3)
    assert not ping6("B", ip6["A"]), "ping -6 beta -> alpha passed: the icmp rule is alpha -> beta only"
    pong = M.ping_ok("A", ip6["B"])  # the local API resolves a peer by its IPv6 address too
    assert "pong from beta (%s)" % ip4["B"] in pong, pong
    assert tcp("A", ip6["B"], 22) and not tcp("A", ip6["B"], 23), "the icmp rule changed tcp"
    M.log("policy v%s: ping -6 alpha -> beta passes (reply too), beta -> alpha dropped" % ver)

    # 4. AAAA through alpha's stub
    fqdn = st["A"]["peers"][0]["fqdn"]
    aaaa = json.loads(M.run([sys.executable, SELF, "--dns", fqdn, "28"], ns="A").stdout)
    a = json.loads(M.run([sys.executable, SELF, "--dns", fqdn, "1"], ns="A").stdout)
    assert aaaa == {"rcode": 0, "answers": [ip6["B"]]}, aaaa
    assert a == {"rcode": 0, "answers": [ip4["B"]]}, a
    rev = ipaddress.IPv6Address(ip6["B"]).reverse_pointer
    ptr = json.loads(M.run([sys.executable, SELF, "--dns", rev, "12"], ns="A").stdout)
    assert ptr == {"rcode": 0, "answers": [fqdn]}, (rev, ptr)
    rev = ipaddress.IPv6Address(derived6("100.64.0.99")).reverse_pointer
    nx = json.loads(M.run([sys.executable, SELF, "--dns", rev, "12"], ns="A").stdout)
    assert nx == {"rcode": 3, "answers": []}, (rev, nx)
    M.log("AAAA %s -> %s, A -> %s, PTR back to the name; an unused address of the prefix NXDOMAIN "
          "(alpha's stub)" % (fqdn, ip6["B"], ip4["B"]))

    # 5. link chatter: dropped in the engine, counted, not logged
    before = M.status("A")["ip6_link_dropped"]
    with open(os.path.join(M.tmp, "agent-A.log")) as f:
        log_before = len(f.readlines())
    M.run(["ping", "-6", "-n", "-c", "3", "-i", "0.2", "-W", "1", "ff02::1%" + M.tun("A")], ns="A", check=False)
    after = M.wait_for("alpha to count the multicast pings as link chatter",
                       lambda: (lambda n: n >= before + 3 and n)(M.status("A")["ip6_link_dropped"]), 5, 0.3)
    with open(os.path.join(M.tmp, "agent-A.log")) as f:
        new = f.readlines()[log_before:]
    chatter = [line for line in new if "ff02" in line or "fe80" in line or "multicast" in line]
    assert not chatter, chatter
    M.log("link chatter: %d packets dropped quietly (%d before the pings), %d new log lines, none about them"
          % (after, before, len(new)))

    # 6. cryptokey routing: packets from alpha's tunnel with a source that is not alpha's /128 (a
    #    second address on alpha's TUN, inside the prefix, so it is routed to beta) are dropped
    #    by the tunnel's source check, before beta's filter: the filter, which would deny them
    #    (tcp/23 from nobody allowed), never counts them; alpha's own address is counted
    spoof = derived6("100.64.0.99")
    M.run(["ip", "-6", "addr", "add", spoof + "/128", "dev", M.tun("A"), "nodad"], ns="A")
    assert not tcp("A", ip6["B"], 22, 1.5, spoof), "beta accepted %s from alpha's tunnel" % spoof
    assert not tcp("A", ip6["B"], 23, 1.5, spoof), "beta accepted %s from alpha's tunnel" % spoof
    assert tcp("A", ip6["B"], 22, 1.5, ip6["A"]), "alpha's own address stopped passing"
    before = denial("B", ip6["A"], "tcp", 23)["count"]
    assert not tcp("A", ip6["B"], 23, 1.5, ip6["A"])
    M.wait_for("beta to count alpha's own tcp/23 again",
               lambda: denial("B", ip6["A"], "tcp", 23)["count"] > before, 5, 0.3)
    assert not denial("B", spoof, "tcp"), "the spoofed packets reached beta's filter"
    M.run(["ip", "-6", "addr", "del", spoof + "/128", "dev", M.tun("A")], ns="A")
    M.log("%s from alpha's tunnel dropped by the source check (never counted by beta's filter); "
          "alpha's own address passes tcp/22 and is counted on tcp/23" % spoof)

    # 7. the server restarted with IPv6 off: the maps carry no tailnet_ip6, and the agents go back
    #    to IPv4 only (the TUN's IPv6 address removed, no /128, AAAA NODATA)
    M.stop("server")
    M.start_server("--ipv6-prefix", "off")
    t = time.monotonic()
    for k in AGENTS:
        M.wait_for("%s to get a map without IPv6" % AGENTS[k],
                   lambda k=k: (lambda s: "tailnet_ip6" not in s["self"] and s["peers"] and
                                "tailnet_ip6" not in s["peers"][0])(M.status(k)), 30, 0.3)
        out = M.run(["ip", "-6", "addr", "show", "dev", M.tun(k)], ns=k).stdout
        assert "fd7a:" not in out, out
        assert M.ztna(k, "ip").stdout.split() == [ip4[k]]
        r = M.ztna(k, "ip", "-6", check=False)
        assert r.returncode == 1 and "no tailnet IPv6 address" in r.stderr, (r.returncode, r.stderr)
    aaaa = json.loads(M.run([sys.executable, SELF, "--dns", fqdn, "28"], ns="A").stdout)
    assert aaaa == {"rcode": 0, "answers": []}, aaaa
    M.wait_for("alpha -> beta:22 over IPv4 with IPv6 off", lambda: tcp("A", ip4["B"], 22), 10, 0.3)
    assert not tcp("A", ip4["B"], 23), "tcp/23 passed with IPv6 off"
    assert not tcp("B", ip4["A"], 22), "beta opened alpha:22 with IPv6 off"
    M.log("IPv6 off on the server: both agents IPv4 only after %.1fs (address removed, AAAA NODATA, "
          "ztna ip -6 exits 1), tcp/22 still passes, tcp/23 and beta -> alpha still dropped" % (time.monotonic() - t))

    for k in AGENTS:
        M.stop("agent-" + k)
    M.stop("server")
    M.log("PASS")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--dns"]:
        dns_ask(sys.argv[2], int(sys.argv[3]))
    else:
        M = Mesh("z6", ADDR, AGENTS, tag="ip6", bridge="z6br")
        main_wrapper(M, main)
