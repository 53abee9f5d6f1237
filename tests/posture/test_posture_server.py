#!/usr/bin/env python3
"""This machine's real posture (tests/posture/posture-dump, i.e. posture_collect() on the live
system) is accepted by a real ztna-server heartbeat, stored as sent, and its os_version becomes
the machine's; a posture where every check says "unknown" is accepted too."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
import harness  # noqa: E402
from harness import Server, check, expect  # noqa: E402
from test_machines_util import Machine, create_key  # noqa: E402

DUMP = os.path.join(harness.BUILD_DIR, "tests", "posture", "posture-dump")
KEYS = {"os", "os_version", "kernel", "distro", "distro_id", "distro_version", "disk_encryption",
        "firewall", "screen_lock", "antivirus", "agent_version"}


def main():
    if not os.path.exists(DUMP):
        raise harness.Skip("posture-dump not built at %s" % DUMP)
    out = subprocess.run([DUMP], capture_output=True, text=True, timeout=30, check=True).stdout
    posture = json.loads(out)
    check(set(posture) == KEYS, "keys %r" % sorted(posture))
    for k in ("disk_encryption", "firewall", "screen_lock", "antivirus"):
        check(posture[k] in (True, False, "unknown"), "%s = %r" % (k, posture[k]))
    check(posture["os"] == "linux", repr(posture))
    with Server() as srv:
        owner = srv.setup()
        key = create_key(srv, owner, reusable=True)["key"]
        m = Machine("posture-host", os_name=posture["os"], os_version=posture["os_version"])
        m.register(srv, key)
        r = expect(m.heartbeat(srv, posture), 200)
        check(r.data["machine_id"] == m.id, repr(r))
        g = expect(srv.get("/api/orgs/%d/machines/%d" % (owner.org_id, m.id), owner), 200).data
        check(g["posture"] == posture, "stored %r, sent %r" % (g["posture"], posture))
        check(g["os_version"] == posture["os_version"] and g["posture_at"], repr(g))
        unknown = dict(posture, disk_encryption="unknown", firewall="unknown",
                       screen_lock="unknown", antivirus="unknown", distro="unknown")
        expect(m.heartbeat(srv, unknown), 200)
        g = expect(srv.get("/api/orgs/%d/machines/%d" % (owner.org_id, m.id), owner), 200).data
        check(g["posture"] == unknown, repr(g["posture"]))


harness.run(main)
