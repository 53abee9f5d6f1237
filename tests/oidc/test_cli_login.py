"""`ztna login` through the browser, server side, with this test playing the CLI and the user:

    CLI: POST /api/cli-login/start {port, code_challenge, hostname}      -> request_id, url
    user (signed in): GET /api/cli-login/{id}, POST .../approve {org_id} -> redirect URL
    browser: GET http://127.0.0.1:PORT/callback?code&state  (a real loopback listener here)
    CLI: POST /api/cli-login/exchange {request_id, code, code_verifier, keys...}
         -> exactly the reply of POST /api/register-machine; the machine belongs to the user

Proves the happy path (machine registered, owned by the approving user, able to heartbeat with
its key), and that a wrong code, a wrong verifier, a reused code, a second approval, another org,
tags asked by a member, an unauthenticated look-up, an expired code and an expired request each
fail with a clear error, that the unauthenticated calls (and SSO starts) are rate limited, and
that bad oidc-* server settings stop the start with a message."""
import base64
import hashlib
import http.server
import os
import sys
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "server"))
import harness  # noqa: E402
from harness import Server, check, expect, free_port  # noqa: E402
from test_machines_util import Machine, create_key  # noqa: E402
sys.path.insert(0, HERE)
from oidc_util import quiet_args  # noqa: E402


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Cli:
    """The CLI's side: a PKCE pair and a loopback listener that catches one callback."""

    def __init__(self, srv, hostname="laptop-cli"):
        self.srv, self.hostname = srv, hostname
        self.verifier = b64url(os.urandom(32))
        self.challenge = b64url(hashlib.sha256(self.verifier.encode()).digest())
        self.got = {}
        got = self.got

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                got.update({k: v[0] for k, v in urllib.parse.parse_qs(u.query).items()})
                got["path"] = u.path
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"You are signed in; you can close this tab.")

            def log_message(self, *a):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]

    def start(self):
        r = expect(self.srv.post("/api/cli-login/start", {"port": self.port,
                                                          "code_challenge": self.challenge,
                                                          "hostname": self.hostname}), 201)
        self.id = r.data["request_id"]
        check(r.data["url"] == "/#/cli-login?req=" + self.id and r.data["expires_in"] > 0,
              repr(r.data))
        return r.data

    def browse(self, url):
        """The browser follows the approval's redirect to our listener (one request)."""
        t = threading.Thread(target=self.httpd.handle_request, daemon=True)
        t.start()
        with urllib.request.urlopen(url, timeout=10) as resp:
            check(resp.status == 200, "listener answered")
        t.join(timeout=10)
        check(self.got.get("path") == "/callback" and self.got.get("state") == self.id,
              "callback carries the request id as state: %r" % self.got)
        return self.got["code"]

    def exchange(self, code, verifier=None, machine=None, tags=None, request_id=None):
        m = machine or Machine(self.hostname)
        body = {"request_id": request_id or self.id, "code": code,
                "code_verifier": verifier or self.verifier, "machine_key": m.pk.hex(),
                "wg_public_key": base64.b64encode(m.wg).decode(), "hostname": self.hostname,
                "os": "linux", "os_version": "6.1"}
        if tags is not None:
            body["tags"] = tags
        return m, self.srv.post("/api/cli-login/exchange", body)

    def close(self):
        self.httpd.server_close()


def approve(srv, cli, session, org):
    r = expect(srv.post("/api/cli-login/%s/approve" % cli.id, {"org_id": org}, session), 200)
    url = r.data["redirect"]
    check(url.startswith("http://127.0.0.1:%d/callback?code=" % cli.port) and
          url.endswith("&state=" + cli.id), url)
    return url


def config_errors():
    """Bad oidc-* server settings stop the start with exit 2 and a message naming them."""
    import subprocess
    cases = [(["--oidc-token-auth", "secret_jwt"], "oidc-token-auth"),
             (["--oidc-org", "acme"], "oidc-org needs"),
             (["--oidc-org", "acme", "--oidc-client-id", "c", "--oidc-issuer",
               "http://idp.example.com"], "oidc-issuer must be https://")]
    for args, want in cases:
        r = subprocess.run([harness.BINARY, "--data-dir", "/nonexistent/ztna-oidc-test"] + args,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        err = r.stderr.decode()
        check(r.returncode == 2 and want in err, "%s: exit %d, %s" % (args, r.returncode, err))


def main():
    config_errors()
    with Server(args=quiet_args()) as srv:
        owner = srv.setup()
        org = owner.org_id
        alice = srv.member(owner, "member")
        other_org = srv.create_org(owner, "Other Org")

        # --- the confirm page's data; user auth required ----------------------------------------
        cli = Cli(srv)
        cli.start()
        expect(srv.get("/api/cli-login/" + cli.id), 401, "UNAUTHORIZED")
        r = expect(srv.get("/api/cli-login/" + cli.id, alice), 200)
        check(r.data["hostname"] == "laptop-cli" and r.data["approved"] is False and
              r.data["source_addr"] == "127.0.0.1" and
              0 < r.data["expires_in"] <= 600, repr(r.data))
        expect(srv.get("/api/cli-login/" + "0" * 32, alice), 404)
        expect(srv.get("/api/cli-login/nothex", alice), 404)
        # Alice is not in other_org: not found, nothing leaks.
        expect(srv.post("/api/cli-login/%s/approve" % cli.id, {"org_id": other_org}, alice), 404)
        url = approve(srv, cli, alice, org)
        expect(srv.post("/api/cli-login/%s/approve" % cli.id, {"org_id": org}, alice), 409)
        code = cli.browse(url)
        check(len(code) == 64, code)

        # --- bad exchanges -----------------------------------------------------------------------
        _, r = cli.exchange("f" * 64)
        expect(r, 400, "INVALID_CODE")                      # does not spend the real code
        _, r = cli.exchange(code, request_id="0" * 32)
        expect(r, 404, "NOT_FOUND")
        _, r = cli.exchange(code, verifier=b64url(os.urandom(32)))
        expect(r, 400, "INVALID_VERIFIER")                  # spends it: bound to the verifier
        check("code_verifier" in r.message, r.message)
        _, r = cli.exchange(code)
        expect(r, 400, "CODE_USED")
        cli.close()

        # --- the happy path --------------------------------------------------------------------
        cli = Cli(srv, hostname="alice-laptop")
        cli.start()
        _, r = cli.exchange("0" * 64)
        expect(r, 400, "NOT_APPROVED")
        code = cli.browse(approve(srv, cli, alice, org))
        m, r = cli.exchange(code, tags=["tag:server"])     # a member may not tag
        expect(r, 403, "FORBIDDEN")
        cli.close()
        cli = Cli(srv, hostname="alice-laptop")
        cli.start()
        code = cli.browse(approve(srv, cli, alice, org))
        m, r = cli.exchange(code)
        expect(r, 201)
        d = r.data
        # Exactly the registration reply of POST /api/register-machine.
        key = create_key(srv, owner)["key"]
        ref = Machine("ref-host").register(srv, key)
        check(set(d) == set(ref), "same reply fields: %r vs %r" % (sorted(d), sorted(ref)))
        check(d["org_id"] == org and d["tailnet_ip"].startswith("100.") and
              d["user_id"] == alice.user_id and d["server_signing_key"] == ref["server_signing_key"],
              repr(d))
        got = expect(srv.get("/api/orgs/%d/machines/%d" % (org, d["machine_id"]), owner), 200).data
        check(got["user_id"] == alice.user_id and got["hostname"] == "alice-laptop", repr(got))
        m.id = d["machine_id"]
        expect(m.heartbeat(srv), 200)                        # the registered key works
        _, r = cli.exchange(code)
        expect(r, 400, "CODE_USED")
        ev = expect(srv.get("/api/orgs/%d/audit?action=cli_login.exchange" % org, owner), 200)
        check(len(ev.data["events"]) == 1, repr(ev.data))
        ev = expect(srv.get("/api/orgs/%d/audit?action=machine.register" % org, owner), 200)
        check(any(e["actor_id"] == alice.user_id and e["actor_type"] == "user"
                  for e in ev.data["events"]), "registration audited as the user: %r" % ev.data)
        cli.close()

        # An admin may ask for tags.
        cli = Cli(srv, hostname="tagged")
        cli.start()
        code = cli.browse(approve(srv, cli, owner, org))
        _, r = cli.exchange(code, tags=["tag:server"])
        check(expect(r, 201).data["tags"] == ["tag:server"], repr(r.data))
        cli.close()

        # --- bad starts --------------------------------------------------------------------------
        expect(srv.post("/api/cli-login/start", {"port": 80, "code_challenge": "A" * 43,
                                                 "hostname": "h"}), 400, "INVALID_FIELD")
        r = expect(srv.post("/api/cli-login/start", {"port": 5000, "code_challenge": "A" * 42 + "!",
                                                     "hostname": "h"}), 400, "INVALID_FIELD")
        check("code_challenge" in r.message, r.message)

    # --- expiry (short TTLs on a second server) ------------------------------------------------
    with Server(args=["--cli-login-ttl", "2", "--cli-login-code-ttl", "1",
                      "--login-rate-ip", "8"] + quiet_args()) as srv:
        owner = srv.setup()
        cli = Cli(srv)
        cli.start()
        code = cli.browse(approve(srv, cli, owner, owner.org_id))
        time.sleep(1.3)
        _, r = cli.exchange(code)
        expect(r, 400, "EXPIRED")
        cli2 = Cli(srv)
        cli2.start()
        time.sleep(2.3)
        expect(srv.get("/api/cli-login/" + cli2.id, owner), 410, "EXPIRED")
        expect(srv.post("/api/cli-login/%s/approve" % cli2.id, {"org_id": owner.org_id}, owner),
               410, "EXPIRED")
        # Rate limit: 8 starts per window per address, then 429 with Retry-After.
        statuses = []
        for _ in range(10):
            r = srv.post("/api/cli-login/start", {"port": 5000, "code_challenge": cli.challenge,
                                                  "hostname": "h"})
            statuses.append(r.status)
        check(429 in statuses and statuses.count(201) <= 8, repr(statuses))
        r = srv.post("/api/cli-login/start", {"port": 5000, "code_challenge": cli.challenge,
                                              "hostname": "h"})
        expect(r, 429, "RATE_LIMITED")
        check(r.header("Retry-After"), "Retry-After set")
        # SSO starts have their own budget per address (each writes a state row).
        codes = [srv.get("/api/auth/oidc/start?org=nope").code for _ in range(9)]
        check(codes[:8] == ["SSO_NOT_CONFIGURED"] * 8 and codes[8] == "RATE_LIMITED", repr(codes))
        cli.close()
        cli2.close()


harness.run(main)
