#!/usr/bin/env python3
"""MagicDNS wiring: the server starts the DNS authority on --dns-listen with one zone per org
(<slug>.<base-domain>), and follows org changes (new org, slug change, deletion) within a few
seconds without a restart. A machine's name answers A with its tailnet IPv4 address and AAAA
with its derived IPv6 one (--ipv6-prefix); with --ipv6-prefix off AAAA is NODATA (NOERROR, no
answer) while A still answers."""
import time

import harness
from harness import Server, check, expect
import test_machines_util as mu

WAIT = 8.0  # seconds; the snapshot watcher polls once a second


def wait_for(srv, name, want_answer):
    deadline = time.monotonic() + WAIT
    res = None
    while time.monotonic() < deadline:
        res = srv.dns_query(name)
        if res is not None and (res[0] == 0 and res[1] > 0) == want_answer:
            return res
        time.sleep(0.2)
    raise harness.Failure("%s: answer=%s not reached, last %r" % (name, want_answer, res))


def wait_records(srv, name, qtype, want):
    deadline = time.monotonic() + WAIT
    res = None
    while time.monotonic() < deadline:
        res = srv.dns_query(name, qtype, addresses=True)
        if res == (0, want):
            return
        time.sleep(0.2)
    raise harness.Failure("%s type %d: want %r, last %r" % (name, qtype, want, res))


def machine_records(args, on):
    with Server(args=["--base-domain", "ztna.test"] + args) as srv:
        owner = srv.setup()
        key = mu.create_key(srv, owner)["key"]
        m = mu.Machine("dns-host")
        d = m.register(srv, key)
        check(d["name"] == "dns-host.acme-corp.ztna.test", d["name"])
        wait_records(srv, d["name"], 1, [d["tailnet_ip"]])
        if on:
            check(d["tailnet_ip6"] == "fd7a:115c:a1e0::6440:1", d["tailnet_ip6"])
            wait_records(srv, d["name"], 28, [d["tailnet_ip6"]])
        else:
            check(d["tailnet_ip6"] is None, repr(d))
            wait_records(srv, d["name"], 28, [])  # NODATA


def main():
    machine_records([], True)
    machine_records(["--ipv6-prefix", "off"], False)
    with Server(args=["--base-domain", "ztna.test"]) as srv:
        owner = srv.setup()
        wait_for(srv, "acme-corp.ztna.test", True)
        check(srv.dns_query("nothing.example") is not None, "out-of-zone queries are answered")
        r = expect(srv.post("/api/orgs", {"name": "Beta", "slug": "beta"}, owner), 201)
        wait_for(srv, "beta.ztna.test", True)
        expect(srv.patch("/api/orgs/%d" % r.data["id"], {"slug": "gamma"}, owner), 200)
        wait_for(srv, "gamma.ztna.test", True)
        wait_for(srv, "beta.ztna.test", False)
        expect(srv.delete("/api/orgs/%d" % r.data["id"], owner), 200)
        wait_for(srv, "gamma.ztna.test", False)
        wait_for(srv, "acme-corp.ztna.test", True)


harness.run(main)
