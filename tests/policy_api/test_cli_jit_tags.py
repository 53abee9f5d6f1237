"""`ztna jit request|list|revoke` and `ztna set --tags` end to end: the real CLI talks to the real
daemon over its local API, the daemon signs the machine calls, the real server answers. One
server and one agent, each in its own network namespace (tests/mesh/mesh_util.py; underlay
198.18.0.0/24). The agent logs in with the owner's untagged key, so the owner is its user.

Proves: a request by MagicDNS name prints its id and "pending approval"; `jit list` shows it, then
approved with an expiry after an admin approves on the API; `jit revoke` ends it, a second revoke
exits 1 naming the state; `jit list --limit 2` pages (a 'more' line with the next --cursor, the
last page without one; a bad --limit or --cursor exits 2 naming it); bad --for/--port/--proto and a missing --reason exit 2 naming the
option; an unknown --to exits 1 naming it; `set --tags` within tagOwners prints the tags, reaches
the agent's own netmap (ztna status), is audited as machine.tags; a tag the owner may not apply
exits 1 naming it; --tags '' clears. Skips (77) without root, /dev/net/tun, ip or curl."""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "mesh"))
from mesh_util import Mesh, main_wrapper  # noqa: E402

ADDR = {"S": "198.18.0.1", "A": "198.18.0.11"}
M = Mesh("zj", ADDR, {"A": "alpha"}, tag="clijit")
URL = M.url


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def ztna(*args):
    return M.ztna("A", *args, check=False)


def jit_list():
    r = ztna("jit", "list")
    check(r.returncode == 0, "jit list: %r" % (r,))
    return r.stdout


def main():
    M.check_env(("ip", "curl"))
    M.setup_net()
    M.start_server()
    owner = M.api("POST", "/api/auth/setup", {"email": "owner@example.com",
                                               "password": "correct horse battery staple",
                                               "org_name": "Acme Corp"})
    token, org = owner["access_token"], owner["orgs"][0]["id"]
    pol = {"tagOwners": {"tag:prod": ["owner@example.com"], "tag:db": ["owner@example.com"]},
           "rules": [{"action": "accept", "src": ["owner@example.com"], "dst": ["tag:db:5432"],
                      "proto": "tcp", "requireJit": True}]}
    M.api("PUT", "/api/orgs/%d/policy" % org, {"policy": json.dumps(pol)}, token, ['If-Match: "0"'])
    key = M.api("POST", "/api/orgs/%d/auth-keys" % org, {}, token)["key"]
    db_key = M.api("POST", "/api/orgs/%d/auth-keys" % org, {"tags": ["tag:db"]}, token)["key"]
    # the target: a machine registered through the API (no daemon needed behind it)
    db = M.api("POST", "/api/register-machine",
               {"machine_key": "ab" * 32, "wg_public_key": "Q" * 43 + "=", "hostname": "db",
                "os": "linux"}, headers=["Authorization: Bearer " + db_key])
    M.start_agent("A")
    r = ztna("login", "--server", URL, "--auth-key", key, "--hostname", "alpha")
    check(r.returncode == 0, "login: %r" % (r,))
    me = M.wait_for("alpha's netmap", lambda: M.status("A")["self"].get("fqdn"), 20)
    db_fqdn = "db." + me.split(".", 1)[1]

    # jit request by MagicDNS name
    r = ztna("jit", "request", "--to", db_fqdn, "--port", "5432", "--for", "30m",
             "--reason", "incident 7")
    check(r.returncode == 0, "jit request: %r" % (r,))
    m = re.match(r"JIT request (\d+): db port 5432/tcp for 30m: pending approval by ", r.stdout)
    check(m, "jit request output: %r" % r.stdout)
    rid = int(m.group(1))
    out = jit_list()
    check(re.search(r"^%d +pending +db +5432/tcp +30m +- +incident 7$" % rid, out, re.M),
          "jit list pending: %r" % out)
    M.api("POST", "/api/orgs/%d/jit-requests/%d/approve" % (org, rid), None, token)
    out = jit_list()
    check(re.search(r"^%d +approved +db +5432/tcp +30m +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ" % rid, out,
                    re.M), "jit list approved with expiry: %r" % out)
    r = ztna("jit", "revoke", str(rid))
    check(r.returncode == 0 and r.stdout.strip() == "JIT request %d: revoked" % rid,
          "jit revoke: %r" % (r,))
    r = ztna("jit", "revoke", str(rid))
    check(r.returncode == 1 and "revoked" in r.stderr and "409" in r.stderr,
          "second revoke: %r" % (r,))
    ev = M.api("GET", "/api/orgs/%d/audit?action=jit.*&target_id=%d" % (org, rid), None,
               token)["events"]
    check([(e["action"], e["actor_type"]) for e in ev] ==
          [("jit.revoke", "machine"), ("jit.approve", "user"), ("jit.request", "machine")],
          "audit: %r" % ev)

    # jit list a page at a time: the daemon passes --limit/--cursor to the signed GET; a full page
    # ends with the command for the next one
    ids = []
    for port in ("5433", "5434"):
        r = ztna("jit", "request", "--to", "db", "--port", port, "--for", "1h", "--reason", "paging")
        check(r.returncode == 0, "jit request %s: %r" % (port, r))
        ids.append(int(re.match(r"JIT request (\d+):", r.stdout).group(1)))
    r = ztna("jit", "list", "--limit", "2")
    rows = [int(l.split()[0]) for l in r.stdout.splitlines() if re.match(r"^\d+ ", l)]
    check(r.returncode == 0 and rows == [ids[1], ids[0]] and
          r.stdout.splitlines()[-1] == "more: ztna jit list --limit 2 --cursor %d" % ids[0],
          "jit list --limit 2: %r" % (r,))
    r = ztna("jit", "list", "--limit", "2", "--cursor", str(ids[0]))
    rows = [int(l.split()[0]) for l in r.stdout.splitlines() if re.match(r"^\d+ ", l)]
    check(r.returncode == 0 and rows == [rid] and "more:" not in r.stdout,
          "jit list, the last page: %r" % (r,))
    for args, what in ((["--limit", "0"], "--limit"), (["--limit", "1001"], "--limit"),
                       (["--cursor", "x"], "--cursor")):
        r = ztna("jit", "list", *args)
        check(r.returncode == 2 and what in r.stderr, "jit list %s: %r" % (args, r))

    # bad input: usage errors name the option, server refusals name the problem
    base = ["jit", "request", "--to", "db", "--port", "22", "--for", "1h", "--reason", "x"]
    for i, bad, what in ((7, "10x", "--for"), (7, "8d", "--for"), (5, "0", "--port"),
                         (5, "ssh", "--port")):
        args = list(base)
        args[i] = bad
        r = ztna(*args)
        check(r.returncode == 2 and what in r.stderr, "%s %s: %r" % (what, bad, r))
    r = ztna(*(base + ["--proto", "icmp"]))
    check(r.returncode == 2 and "--proto" in r.stderr, "--proto icmp: %r" % (r,))
    r = ztna(*base[:-2])
    check(r.returncode == 2 and "--reason is required" in r.stderr, "no --reason: %r" % (r,))
    args = list(base)
    args[3] = "nope"
    r = ztna(*args)
    check(r.returncode == 1 and 'no machine "nope"' in r.stderr, "unknown --to: %r" % (r,))
    r = ztna("jit", "revoke", "abc")
    check(r.returncode == 2 and "request id" in r.stderr, "revoke abc: %r" % (r,))
    r = ztna("jit", "frobnicate")
    check(r.returncode == 2 and "unknown subcommand" in r.stderr, "jit frobnicate: %r" % (r,))

    # set --tags
    r = ztna("set", "--tags", "tag:prod")
    check(r.returncode == 0 and r.stdout.strip() == "Tags set: tag:prod", "set --tags: %r" % (r,))
    M.wait_for("tag:prod in alpha's own netmap",
               lambda: M.status("A")["self"]["tags"] == ["tag:prod"], 20)
    ev = M.api("GET", "/api/orgs/%d/audit?action=machine.tags" % org, None, token)["events"]
    check(len(ev) == 1 and ev[0]["actor_type"] == "machine" and
          ev[0]["detail"]["tags"] == ["tag:prod"], "audit machine.tags: %r" % ev)
    r = ztna("set", "--tags", "tag:prod,tag:nope")
    check(r.returncode == 1 and "tag:nope" in r.stderr and "403" in r.stderr,
          "set an unknown tag: %r" % (r,))
    r = ztna("set", "--tags", "")
    check(r.returncode == 0 and r.stdout.strip() == "Tags set: (none)", "clear tags: %r" % (r,))
    M.wait_for("no tags in alpha's own netmap", lambda: M.status("A")["self"]["tags"] == [], 20)
    check(db["machine_id"] > 0, "db registered")
    M.stop("agent-A")
    M.stop("server")


main_wrapper(M, main)
