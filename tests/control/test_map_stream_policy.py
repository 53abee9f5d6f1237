#!/usr/bin/env python3
"""Map streams under a policy: a machine's own change (its endpoints) reaches the streams of
the machines that may see it (its peers, by policy_engine_seers(): peers are symmetric, so a
machine's own list names them) and no other. cli may reach srv (tag:cli -> tag:srv:22), iso
nothing: when srv's endpoints change, cli's stream gets srv's new entry and iso's stays
silent; when iso's change, cli's and srv's stay silent."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import control_util as cu  # noqa: E402
from control_util import check, expect, harness, Machine, body_bytes, peer_ids  # noqa: E402
from test_machines_util import create_key  # noqa: E402
from test_map_stream import Stream, batch_verify  # noqa: E402


def policy(email):
    return """{
  "tagOwners": {"tag:srv": ["%s"], "tag:cli": ["%s"], "tag:iso": ["%s"]},
  "rules": [{"action": "accept", "src": ["tag:cli"], "dst": ["tag:srv:22"], "proto": "tcp"}]
}""" % (email, email, email)


def silent(stream, seconds):
    try:
        f = stream.frame(timeout=seconds)
    except TimeoutError:
        return True
    print("unexpected frame: %r" % (f,))
    return False


def set_endpoints(srv, m, ep):
    r = cu.signed(srv, m, "POST", "/api/machine/endpoints",
                  body_bytes({"listen_port": 41641, "endpoints": [ep]}))
    expect(r, 200)
    return r.data["endpoints"]


def main():
    with harness.Server() as srv:
        owner = srv.setup()
        r = srv.request("PUT", "/api/orgs/%d/policy" % owner.org_id,
                        body={"policy": policy(owner.email)}, session=owner,
                        headers={"If-Match": '"0"'})
        expect(r, 200)
        ms = {}
        for name in ("srv", "cli", "iso"):
            key = create_key(srv, owner, reusable=True, tags=["tag:" + name])["key"]
            ms[name] = Machine(name)
            ms[name].register(srv, key)
        st = {n: Stream(srv, m, 0) for n, m in ms.items()}
        full = {n: batch_verify(ms[n], st[n].json()) for n in ms}
        check(peer_ids(full["cli"]) == [ms["srv"].id] and peer_ids(full["srv"]) == [ms["cli"].id]
              and peer_ids(full["iso"]) == [], "full maps under the policy: %r" %
              {n: peer_ids(f) for n, f in full.items()})

        # srv's endpoints change: cli (its peer) hears of it, iso does not
        eps = set_endpoints(srv, ms["srv"], "198.18.0.9:41641")
        d = batch_verify(ms["cli"], st["cli"].json())
        check(d["type"] == "delta" and peer_ids(d, "upsert") == [ms["srv"].id] and
              d["upsert"][0]["endpoints"] == eps, "cli sees srv's endpoints: %r" % d)
        own = batch_verify(ms["srv"], st["srv"].json())
        check(own["type"] == "delta" and own.get("self", {}).get("id") == ms["srv"].id,
              "srv gets its own entry back: %r" % own)
        check(silent(st["iso"], 1.0), "iso may not see srv, yet its stream got a frame")

        # iso's endpoints change: nobody may see iso, so no other stream moves
        set_endpoints(srv, ms["iso"], "198.18.0.10:41641")
        own = batch_verify(ms["iso"], st["iso"].json())
        check(own.get("self", {}).get("id") == ms["iso"].id, "iso gets its own entry: %r" % own)
        check(silent(st["cli"], 1.0) and silent(st["srv"], 0.2),
              "a change of iso reached a machine that may not see it")
        for s in st.values():
            s.close()
    print("ok")


if __name__ == "__main__":
    harness.run(main)
