#!/usr/bin/env python3
"""Configuration: --help lists every setting with env name and default; precedence
default < config file < environment < flag; bad flags/values exit 2 naming the problem;
non-loopback without TLS is refused unless --insecure-http (then loudly logged); a database
from a newer schema is refused; migrations set PRAGMA user_version."""
import os
import shutil
import sqlite3
import subprocess
import tempfile

import harness
from harness import BINARY, PASSWORD, Server, Skip, check, expect


TMP = []


def tmpdir():
    d = tempfile.mkdtemp(prefix="ztna-srv-cfg-")
    TMP.append(d)
    return d


def run(args, env=None, timeout=20):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([BINARY] + args, capture_output=True, text=True, timeout=timeout, env=e)
    return p.returncode, p.stdout, p.stderr


def test_help():
    rc, out, _ = run(["--help"])
    check(rc == 0, "--help exits 0")
    for flag, env, default in (("--data-dir", "ZTNA_DATA_DIR", "./ztna-data"),
                               ("--listen", "ZTNA_LISTEN", "127.0.0.1:8080"),
                               ("--dns-listen", "ZTNA_DNS_LISTEN", "127.0.0.1:5353"),
                               ("--base-domain", "ZTNA_BASE_DOMAIN", "zt.net"),
                               ("--log-level", "ZTNA_LOG_LEVEL", "info"),
                               ("--tls-cert", "ZTNA_TLS_CERT", None),
                               ("--tls-key", "ZTNA_TLS_KEY", None),
                               ("--insecure-http", "ZTNA_INSECURE_HTTP", "false"),
                               ("--access-token-ttl", "ZTNA_ACCESS_TOKEN_TTL", "900"),
                               ("--offline-timeout", "ZTNA_OFFLINE_TIMEOUT", "0"),
                               ("--ephemeral-timeout", "ZTNA_EPHEMERAL_TIMEOUT", "300")):
        line = next((l for l in out.splitlines() if l.strip().startswith(flag + " ")
                     or l.strip().startswith(flag + "[")), None)
        check(line is not None, "--help lacks %s:\n%s" % (flag, out))
        check(env in line, "%s: env %s not shown: %s" % (flag, env, line))
        if default:
            check(default in line, "%s: default %s not shown: %s" % (flag, default, line))
    rc, out, _ = run(["--version"])
    check(rc == 0 and out.startswith("ztna-server "), out)


def test_bad_values():
    cases = [(["--no-such-flag"], "--no-such-flag"),
             (["--listen", "nonsense"], "listen"),
             (["--listen", "127.0.0.1:99999"], "listen"),
             (["--access-token-ttl", "abc"], "access-token-ttl"),
             (["--access-token-ttl", "5"], "access-token-ttl"),
             (["--insecure-http=maybe"], "insecure-http"),
             (["--log-level", "loud"], "log-level"),
             (["--tls-cert", "/x.pem"], "tls-key"),
             (["--listen"], "listen"),
             (["--offline-timeout", "2s"], "offline-timeout"),
             (["--ephemeral-timeout", "0"], "ephemeral-timeout"),
             (["--ephemeral-timeout", "2592001"], "ephemeral-timeout"),
             (["frobnicate"], "frobnicate"),
             (["--config", "/nonexistent/ztna.conf"], "/nonexistent/ztna.conf")]
    for args, word in cases:
        rc, _, err = run(args + ["--data-dir", "/nonexistent-ztna-dir"])
        check(rc == 2, "%s: exit %d, want 2 (%s)" % (args, rc, err))
        check(word in err, "%s: message should name %r: %s" % (args, word, err))
    rc, _, err = run([], env={"ZTNA_ACCESS_TOKEN_TTL": "-1", "ZTNA_DATA_DIR": "/nonexistent"})
    check(rc == 2 and "ZTNA_ACCESS_TOKEN_TTL" in err, err)
    for env, bad in (("ZTNA_OFFLINE_TIMEOUT", "-1"), ("ZTNA_EPHEMERAL_TIMEOUT", "soon")):
        rc, _, err = run([], env={env: bad, "ZTNA_DATA_DIR": "/nonexistent"})
        check(rc == 2 and env in err and "'%s'" % bad in err,
              "%s=%s: exit %d, message should name both: %s" % (env, bad, rc, err))
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
        f.write("# comment\nlisten = 127.0.0.1:1\nbogus_key = 1\n")
    rc, _, err = run(["--config", f.name])
    os.unlink(f.name)
    check(rc == 2 and "bogus_key" in err and ":3" in err, "config error names key and line: " + err)


def ttl_of(srv):
    return expect(srv.post("/api/auth/login", {"email": "owner@example.com",
                                               "password": PASSWORD}), 200).data["expires_in"]


def test_precedence():
    d = tmpdir()
    conf = os.path.join(d, "ztna.conf")
    with open(conf, "w") as f:
        f.write("# test config\naccess-token-ttl = 111\nbase-domain = \"file.example\"\n")
    # file only
    with Server(args=["--config", conf]) as srv:
        srv.setup()
        check(ttl_of(srv) == 111, "config file applies")
        data_dir = srv.data_dir
    # env beats file (ZTNA_CONFIG names the file)
    with Server(env={"ZTNA_CONFIG": conf, "ZTNA_ACCESS_TOKEN_TTL": "222"}) as srv:
        srv.setup()
        check(ttl_of(srv) == 222, "env beats file")
    # flag beats env and file
    with Server(args=["--config", conf, "--access-token-ttl=333"],
                env={"ZTNA_ACCESS_TOKEN_TTL": "222"}) as srv:
        srv.setup()
        check(ttl_of(srv) == 333, "flag beats env")
    # default
    with Server() as srv:
        srv.setup()
        check(ttl_of(srv) == 900, "default 900")
    del data_dir


def test_loopback_refusal():
    port = harness.free_port()
    rc, _, err = run(["--listen", "0.0.0.0:%d" % port, "--data-dir",
                      tmpdir()])
    check(rc == 2 and "non-loopback" in err and "--insecure-http" in err, err)
    rc, _, err = run(["--data-dir", tmpdir()],
                     env={"ZTNA_LISTEN": "[::]:%d" % port})
    check(rc == 2 and "non-loopback" in err, err)
    # with --insecure-http it starts, and says so loudly
    srv = Server(args=["--insecure-http"])
    srv.port = port
    srv.command = lambda: [BINARY, "--data-dir", srv.data_dir, "--listen", "0.0.0.0:%d" % port,
                           "--dns-listen", "127.0.0.1:%d" % harness.free_port(), "--insecure-http"]
    with srv:
        expect(srv.get("/healthz"), 200)
        check("INSECURE" in srv.log_tail(), "insecure mode is logged loudly")


def test_schema_versions():
    with Server() as srv:
        data_dir = srv.data_dir
        db = os.path.join(data_dir, "ztna.db")
        con = sqlite3.connect(db)
        version = con.execute("PRAGMA user_version").fetchone()[0]
        mode = con.execute("PRAGMA journal_mode").fetchone()[0]
        con.close()
        schema = sorted(f for f in os.listdir(os.path.join(harness.SOURCE_DIR, "schema"))
                        if f.endswith(".sql"))
        check(version == int(schema[-1][:3]) and version == len(schema),
              "user_version %d for %s" % (version, schema))
        check(mode == "wal", "WAL mode")
    # restart on the same data: no migration re-applied, data kept
    srv2 = Server(data_dir=tmpdir())
    with srv2:
        srv2.setup()
    with Server(data_dir=srv2.data_dir) as srv3:
        expect(srv3.post("/api/auth/login", {"email": "owner@example.com", "password": PASSWORD}),
               200)
    # a newer database is refused with a clear message
    con = sqlite3.connect(os.path.join(srv2.data_dir, "ztna.db"))
    con.execute("PRAGMA user_version = 999")
    con.commit()
    con.close()
    rc, _, err = run(["--data-dir", srv2.data_dir, "--listen",
                      "127.0.0.1:%d" % harness.free_port(), "--dns-listen",
                      "127.0.0.1:%d" % harness.free_port()])
    check(rc != 0 and "newer" in err, "newer schema refused: rc=%d %s" % (rc, err))


def main():
    if not os.path.exists(BINARY):
        raise Skip("ztna-server not built")
    try:
        test_help()
        test_bad_values()
        test_precedence()
        test_loopback_refusal()
        test_schema_versions()
    finally:
        for d in TMP:
            shutil.rmtree(d, ignore_errors=True)


harness.run(main)
