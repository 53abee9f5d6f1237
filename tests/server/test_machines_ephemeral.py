#!/usr/bin/env python3
"""Ephemeral machines are removed by the janitor once offline (no heartbeat for the setting
ephemeral-timeout, given here as ZTNA_EPHEMERAL_TIMEOUT); ordinary machines only go offline
(offline-timeout, given here as the flag) and come back online with a heartbeat. The removal is
audited as machine.delete by the system."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Server, check, expect  # noqa: E402
from test_machines_util import Machine, create_key  # noqa: E402


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.25)
    raise harness.Failure("timed out after %ds waiting for %s" % (timeout, what))


def main():
    with Server(args=["--offline-timeout", "2"], env={"ZTNA_EPHEMERAL_TIMEOUT": "3"}) as srv:
        owner = srv.setup()
        base = "/api/orgs/%d/machines" % owner.org_id
        eph_key = create_key(srv, owner, ephemeral=True, reusable=True)["key"]
        key = create_key(srv, owner)["key"]
        e1, e2, keep = Machine("ci-job"), Machine("ci-job-alive"), Machine("server")
        check(e1.register(srv, eph_key)["ephemeral"], "ephemeral flag")
        e2.register(srv, eph_key)
        check(not keep.register(srv, key)["ephemeral"], "non-ephemeral")

        def online(m):
            return expect(srv.get(base + "/%d" % m.id, owner), 200).data["online"]
        # Everyone goes offline after the offline timeout ...
        # (e2 heart-beats all along, so the ephemeral timeout never catches it.)
        wait_for(lambda: expect(e2.heartbeat(srv, {"a": "b"}), 200) and not online(keep), 15,
                 "offline marking")
        # ... e2 keeps heart-beating, e1 does not: e1 disappears, e2 stays.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            expect(e2.heartbeat(srv, {"a": "b"}), 200)
            if srv.get(base + "/%d" % e1.id, owner).status == 404:
                break
            time.sleep(0.5)
        expect(srv.get(base + "/%d" % e1.id, owner), 404)
        check(online(e2), "the heart-beating ephemeral machine is online")
        expect(e1.heartbeat(srv, {"a": "b"}), 401)
        # The non-ephemeral machine is still there, offline, and a heartbeat brings it back.
        check(not online(keep), "still offline")
        expect(keep.heartbeat(srv, {"a": "b"}), 200)
        check(online(keep), "back online")
        ev = expect(srv.get("/api/orgs/%d/audit?action=machine.delete&actor_type=system"
                            % owner.org_id, owner), 200).data["events"]
        check(len(ev) == 1 and ev[0]["target_id"] == str(e1.id) and
              ev[0]["detail"]["reason"] == "ephemeral", repr(ev))


harness.run(main)
