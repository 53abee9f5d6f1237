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


def soa_serial(srv, zone):
    res = srv.dns_query(zone, 6, addresses=True)
    check(res is not None and res[0] == 0 and len(res[1]) == 1, "SOA of %s: %r" % (zone, res))
    # hex rdata: mname, rname, then serial refresh retry expire minimum (5 x 32 bits)
    return int(res[1][0][-40:-32], 16)


def rebuilds_only_on_zone_changes():
    """The snapshot is rebuilt when a name, address, expiry or org changes, not after every
    commit: its SOA serial (the server's clock at the rebuild, seconds) stays through heartbeats,
    a retag and a new auth key, and moves with a rename, whose new name answers."""
    with Server(args=["--base-domain", "ztna.test"]) as srv:
        owner = srv.setup()
        key = mu.create_key(srv, owner)["key"]
        m = mu.Machine("soa-host")
        d = m.register(srv, key)
        wait_records(srv, d["name"], 1, [d["tailnet_ip"]])
        time.sleep(2.2)  # the watcher's first look after start rebuilds once; let it pass
        zone = "acme-corp.ztna.test"
        serial = soa_serial(srv, zone)
        base = "/api/orgs/%d/machines/%d" % (owner.org_id, d["machine_id"])
        for _ in range(3):
            time.sleep(1.1)  # a rebuild now would carry a later serial
            expect(m.heartbeat(srv, posture={"os": "linux"}), 200)
            expect(srv.patch(base, {"tags": ["tag:t%d" % _]}, owner), 200)
            mu.create_key(srv, owner)
        time.sleep(2.2)
        check(soa_serial(srv, zone) == serial, "no rebuild without a zone change: serial %d -> %d"
              % (serial, soa_serial(srv, zone)))
        r = expect(srv.patch(base, {"name": "soa-renamed"}, owner), 200).data
        wait_records(srv, "soa-renamed.acme-corp.ztna.test", 1, [d["tailnet_ip"]])
        check(soa_serial(srv, zone) > serial, "the rename rebuilt the zone")
        wait_for(srv, d["name"], False)
        expect(srv.post(base + "/expire", None, owner), 200)
        wait_for(srv, "soa-renamed.acme-corp.ztna.test", False)
        check(r["name"] == "soa-renamed", repr(r))


def main():
    rebuilds_only_on_zone_changes()
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
