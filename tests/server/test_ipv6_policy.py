#!/usr/bin/env python3
"""IPv6 in the policy (docs/policy.md): under the default --ipv6-prefix the compiled filter a
machine receives in its signed map lets each allowed source machine in by its IPv4 /32 and its
IPv6 tailnet /128 (the address the machines API shows); an IPv6 CIDR host source still compiles
to its own entry; `policy explain` takes a machine's IPv6 tailnet address as the source and
resolves it to the machine. With --ipv6-prefix off the same policy gives IPv4 entries only, no
map entry carries tailnet_ip6, and that address is just an address to explain."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "policy_api"))
sys.path.insert(0, os.path.join(HERE, "..", "control"))
import policy_util as pu  # noqa: E402
import control_util as cu  # noqa: E402
from harness import check, expect  # noqa: E402
import harness  # noqa: E402
import shutil  # noqa: E402

ALICE6_OFF = "fd7a:115c:a1e0::6440:3"  # what alice's laptop would have under the default prefix


def policy(emails):
    return """{
  "hosts": {"lab6": "fd00:aa::/64"},
  "groups": {"group:eng": ["%(alice)s"]},
  "tagOwners": {"tag:prod": ["%(owner)s"], "tag:db": ["%(owner)s"]},
  "rules": [
    {"action": "accept", "src": ["group:eng"], "dst": ["tag:prod:22"], "proto": "tcp"},
    {"action": "accept", "src": ["lab6"], "dst": ["tag:prod:8443"], "proto": "tcp"},
  ],
}
""" % emails


def derived_off(ip4):
    """What the default prefix would derive: with --ipv6-prefix off it names no machine."""
    a = [int(x) for x in ip4.split(".")]
    return "fd7a:115c:a1e0::%x:%x" % (a[0] << 8 | a[1], a[2] << 8 | a[3])


def run(extra_args, on):
    srv = pu.start_server(extra_args=extra_args)
    try:
        with srv:
            f = pu.make_fleet(srv)
            alice = expect(srv.get("/api/orgs/%d/machines/%d" % (f.org, f.alice_laptop.id),
                                   f.owner_s), 200).data
            check(alice["tailnet_ip"] == f.alice_laptop.ip, repr(alice))
            pu.put_policy(srv, f, policy(f.emails), 0)
            web, _ = cu.poll(srv, f.web)
            got = sorted(web["filter"]["entries"])
            a4 = f.alice_laptop.ip
            want = ["tcp %s/32 22-22" % a4, "tcp fd00:aa::/64 8443-8443"]
            if on:
                a6 = alice["tailnet_ip6"]
                check(a6 and a6.startswith("fd7a:115c:a1e0::"), "alice's IPv6: %r" % alice)
                want.append("tcp %s/128 22-22" % a6)
                check([p.get("tailnet_ip6") for p in web["peers"]] == [a6],
                      "web's one peer is alice, with her IPv6: %r" % web["peers"])
            else:
                check(alice["tailnet_ip6"] is None, "off: API null: %r" % alice)
                check(not any("tailnet_ip6" in p for p in web["peers"]) and
                      "tailnet_ip6" not in web["self"], "off: no tailnet_ip6 in the map")
                check(not any(":" in e.split()[1] and "/128" in e for e in got),
                      "off: no /128 entries: %r" % got)
            check(got == sorted(want), "web's filter: %r, want %r" % (got, sorted(want)))

            # explain: the IPv6 tailnet address names alice's laptop (on), or is a bare address
            src = alice["tailnet_ip6"] if on else ALICE6_OFF
            d = pu.explain(srv, f, src, f.web.name, 22)
            if on:
                check(d["src"].get("machine_id") == f.alice_laptop.id and d["accepted"],
                      "explain by IPv6 tailnet address: %r" % d)
                check(d["src"].get("tailnet_ip6") == src and d["dst"].get("tailnet_ip6") and
                      d["dst"]["tailnet_ip6"].startswith("fd7a:115c:a1e0::"),
                      "explain names both machines' IPv6 addresses: %r" % d)
            else:
                check(d["src"] == {"address": src} and not d["accepted"],
                      "off: an address, not a machine: %r" % d)
                check("tailnet_ip6" in d["dst"] and d["dst"]["tailnet_ip6"] is None,
                      "off: the destination's tailnet_ip6 is null: %r" % d)
            # a JIT request may name its destination by the machine's IPv6 tailnet address
            dbm = expect(srv.get("/api/orgs/%d/machines/%d" % (f.org, f.db.id), f.owner_s), 200).data
            jit = "/api/orgs/%d/jit-requests" % f.org
            body = {"port": 5432, "duration": 3600, "reason": "by IPv6"}
            if on:
                r = expect(srv.post(jit, dict(body, dst=dbm["tailnet_ip6"]), f.bob_s), 201).data
                check(r["machine_id"] == f.db.id, "JIT dst by IPv6: %r" % r)
                other = dbm["tailnet_ip6"].replace("fd7a:115c:a1e0::", "fd7a:115c:a1e0:1::")
                expect(srv.post(jit, dict(body, dst=other), f.bob_s), 400, "INVALID_FIELD")
            else:
                expect(srv.post(jit, dict(body, dst=derived_off(dbm["tailnet_ip"])), f.bob_s), 400,
                       "INVALID_FIELD")
            d = pu.explain(srv, f, "fd00:aa::7", f.web.name, 8443)
            check(d["accepted"] and d["src"] == {"address": "fd00:aa::7"}, "CIDR source: %r" % d)
    finally:
        shutil.rmtree(os.path.dirname(srv.geo_path), ignore_errors=True)


def main():
    run([], True)
    run(["--ipv6-prefix", "off"], False)


harness.run(main)
