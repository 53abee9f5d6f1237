#!/usr/bin/env python3
"""MagicDNS wiring: the server starts the DNS authority on --dns-listen with one zone per org
(<slug>.<base-domain>), and follows org changes (new org, slug change, deletion) within a few
seconds without a restart. Machine records are tested with the machines API."""
import time

import harness
from harness import Server, check, expect

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


def main():
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
