"""`ztna-server policy get|set|test|explain` against a running server: output, exit status
(0 ok / accepted, 1 refused / denied, 2 usage, auth or connection), clear messages."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import policy_util as pu  # noqa: E402
from policy_util import harness, check, expect  # noqa: E402


def cli(srv, session, *args, env_token=True):
    env = dict(os.environ)
    env.pop("ZTNA_TOKEN", None)
    env.pop("ZTNA_ORG", None)
    if session is not None and env_token:
        env["ZTNA_TOKEN"] = session.token
    cmd = [harness.BINARY, "policy"] + list(args) + ["--server", "http://127.0.0.1:%d" % srv.port]
    if session is not None and not env_token:
        cmd += ["--token", session.token]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def main():
    tmp = tempfile.mkdtemp(prefix="ztna-policy-cli-")
    srv = pu.start_server()
    try:
        with srv:
            f = pu.make_fleet(srv)
            good, bad = os.path.join(tmp, "good.json"), os.path.join(tmp, "bad.json")
            text = pu.policy_text(f.emails)
            with open(good, "w") as fh:
                fh.write(text)
            with open(bad, "w") as fh:
                fh.write(text.replace('"group:eng": ["', '"group:eng": ["group:nope", "', 1))
            rc, out, err = cli(srv, f.owner_s, "get")
            check(rc == 0 and out == "" and "no policy" in err, (rc, out, err))
            rc, out, err = cli(srv, f.owner_s, "test", good)
            check(rc == 0 and "valid, 5 rules, 1 tests passed" in out, (rc, out, err))
            rc, out, err = cli(srv, f.owner_s, "test", bad)
            check(rc == 1 and "INVALID_POLICY" in err and "line 3, column" in err, (rc, out, err))
            rc, out, err = cli(srv, f.owner_s, "set", good, env_token=False)
            check(rc == 0 and "policy version 1 saved" in out, (rc, out, err))
            rc, out, err = cli(srv, f.owner_s, "set", bad)
            check(rc == 1 and "group:nope" in err, (rc, out, err))
            rc, out, err = cli(srv, f.bob_s, "get")
            check(rc == 0 and out == text and "version 1" in err, "get prints the text: %r" % err)
            rc, out, err = cli(srv, f.bob_s, "set", good)
            check(rc == 2 and "FORBIDDEN" in err, "member may not set: %r" % ((rc, err),))
            rc, out, err = cli(srv, f.owner_s, "explain", f.alice_laptop.name, f.web.name, "80")
            check(rc == 0 and out.startswith("accepted: accepted by rule 4"), (rc, out, err))
            rc, out, err = cli(srv, f.owner_s, "explain", f.alice_laptop.name, f.web.name, "22")
            check(rc == 1 and out.startswith("denied: rule 0") and "[posture]" in out, (rc, out))
            rc, out, err = cli(srv, f.owner_s, "explain", f.alice_laptop.name, f.web.name, "443",
                               "--at", pu.MON_0859, "--proto", "tcp")
            check(rc == 1 and "outside schedule" in out, (rc, out, err))
            rc, out, err = cli(srv, f.owner_s, "explain", "nobody", f.web.name, "80")
            check(rc == 1 and "src: no machine, user or address" in err, (rc, out, err))
            # usage and connection errors
            rc, out, err = cli(srv, None, "get")
            check(rc == 2 and "no access token" in err, (rc, err))
            rc, out, err = cli(srv, f.owner_s, "explain", "a", "b")
            check(rc == 2 and "usage:" in err, (rc, err))
            rc, out, err = cli(srv, f.owner_s, "set", os.path.join(tmp, "missing.json"))
            check(rc == 2 and "cannot open" in err, (rc, err))
            r = expect(srv.get(pu.path(f), f.owner_s), 200)
            check(r.data["version"] == 1, "only the good file was saved")
        env = dict(os.environ, ZTNA_TOKEN="x")
        p = subprocess.run([harness.BINARY, "policy", "get", "--server",
                            "http://127.0.0.1:%d" % harness.free_port()], env=env,
                           capture_output=True, text=True, timeout=30)
        check(p.returncode == 2 and "ztna-server policy: GET" in p.stderr, (p.returncode, p.stderr))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(os.path.dirname(srv.geo_path), ignore_errors=True)


harness.run(main)
