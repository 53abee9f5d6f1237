#!/usr/bin/env python3
"""Tailnet IPv6 addresses (--ipv6-prefix, docs/configuration.md): a machine's IPv6 address is the
prefix, zeros, then its IPv4 tailnet address in the last 32 bits, in RFC 5952 text. It is in the
registration reply, the machines API (list and detail), and the signed map (self and every peer;
self also carries the prefix). With --ipv6-prefix off none of it appears (API: null). A bad prefix
stops the server at start with a message naming the flag."""
import ipaddress
import os
import subprocess
import sys

import harness
from harness import BINARY, Server, check, expect
import test_machines_util as mu

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "control"))
import control_util as cu  # noqa: E402


def derived(prefix, ip4):
    net = ipaddress.ip_network(prefix)
    return str(ipaddress.IPv6Address(int(net.network_address) | int(ipaddress.IPv4Address(ip4))))


def fleet(srv, n=3):
    owner = srv.setup()
    key = mu.create_key(srv, owner, reusable=True)["key"]
    ms = []
    for i in range(n):
        m = mu.Machine("v6-host-%d" % i)
        m.reply = m.register(srv, key)
        ms.append(m)
    return owner, ms


def check_on(prefix, args):
    with Server(args=args) as srv:
        owner, ms = fleet(srv)
        for m in ms:
            want = derived(prefix, m.ip)
            check(m.reply["tailnet_ip6"] == want,
                  "registration reply: %r, want %s" % (m.reply.get("tailnet_ip6"), want))
            d = expect(srv.get("/api/orgs/%d/machines/%d" % (owner.org_id, m.id), owner), 200).data
            check(d["tailnet_ip6"] == want and d["tailnet_ip"] == m.ip, "detail: %r" % d)
        lst = expect(srv.get("/api/orgs/%d/machines" % owner.org_id, owner), 200).data
        by_id = {x["id"]: x for x in lst["machines"]}
        for m in ms:
            check(by_id[m.id]["tailnet_ip6"] == derived(prefix, m.ip), "list: %r" % by_id[m.id])
        for m in ms:
            msg, _ = cu.poll(srv, m)
            me = msg["self"]
            check(me["tailnet_ip6"] == derived(prefix, m.ip), "map self: %r" % me)
            check(me["tailnet_prefix6"] == prefix, "map self prefix: %r" % me)
            peers = {p["id"]: p for p in msg["peers"]}
            check(sorted(peers) == sorted(x.id for x in ms if x is not m), "peers %r" % peers)
            for x in ms:
                if x is not m:
                    check(peers[x.id]["tailnet_ip6"] == derived(prefix, x.ip),
                          "peer %d of %d: %r" % (x.id, m.id, peers[x.id]))
                    check("tailnet_prefix6" not in peers[x.id], "prefix is self-only")
        return ms


def test_default():
    ms = check_on("fd7a:115c:a1e0::/48", [])
    # the contract's worked example: 100.64.0.5 -> fd7a:115c:a1e0::6440:5 (first address: .1)
    check(ms[0].ip == "100.64.0.1" and ms[0].reply["tailnet_ip6"] == "fd7a:115c:a1e0::6440:1",
          "first machine: %s %s" % (ms[0].ip, ms[0].reply["tailnet_ip6"]))


def test_other_prefixes():
    check_on("2001:db8:ab00::/40", ["--ipv6-prefix", "2001:db8:ab00::/40"])
    # the longest prefix: the IPv4 address fills every bit after it
    ms = check_on("fd00:1:2:3:4:5::/96", ["--ipv6-prefix", "fd00:1:2:3:4:5::/96"])
    check(ms[0].reply["tailnet_ip6"] == "fd00:1:2:3:4:5:6440:1", ms[0].reply["tailnet_ip6"])


def test_off():
    with Server(args=["--ipv6-prefix", "off"]) as srv:
        owner, ms = fleet(srv, 2)
        for m in ms:
            check("tailnet_ip6" in m.reply and m.reply["tailnet_ip6"] is None,
                  "off: reply tailnet_ip6 null: %r" % m.reply)
            msg, _ = cu.poll(srv, m)
            check("tailnet_ip6" not in msg["self"] and "tailnet_prefix6" not in msg["self"],
                  "off: no IPv6 in self: %r" % msg["self"])
            for p in msg["peers"]:
                check("tailnet_ip6" not in p, "off: no IPv6 in peer: %r" % p)
        lst = expect(srv.get("/api/orgs/%d/machines" % owner.org_id, owner), 200).data
        check(all(x["tailnet_ip6"] is None for x in lst["machines"]), "off: list nulls")


def test_bad_prefixes():
    for bad in ("fd7a::/97", "fd7a::/129", "fd7a::/4", "fd7a:115c:a1e0::1/48", "fd7a::",
                "fd7a::/048", "nonsense", "10.0.0.0/8", "ff02::/16", "::ffff:0:0/96", "fd7a::/"):
        p = subprocess.run([BINARY, "--ipv6-prefix", bad, "--data-dir", "/nonexistent-ztna"],
                           capture_output=True, text=True, timeout=20)
        check(p.returncode == 2, "%s: exit %d, want 2: %s" % (bad, p.returncode, p.stderr))
        check("--ipv6-prefix" in p.stderr and bad in p.stderr,
              "%s: message names the flag and value: %s" % (bad, p.stderr))
    env = dict(os.environ, ZTNA_IPV6_PREFIX="fd7a::/100")
    p = subprocess.run([BINARY, "--data-dir", "/nonexistent-ztna"], capture_output=True, text=True,
                       timeout=20, env=env)
    check(p.returncode == 2 and "8..96" in p.stderr, "env value checked too: %s" % p.stderr)


def main():
    test_bad_prefixes()
    test_default()
    test_other_prefixes()
    test_off()


harness.run(main)
