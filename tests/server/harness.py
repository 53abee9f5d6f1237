"""Harness for ztna-server API tests (Python 3 stdlib only). Import it from any test_*.py here:

    import harness
    from harness import Server

    def main():
        with Server() as srv:                    # real build/server/ztna-server, free port, temp dir
            owner = srv.setup()                  # POST /api/auth/setup -> Session (token, ids)
            r = srv.get("/api/me", owner)        # Response: .status .ok .data .code .message
            harness.expect(r, 200)               # asserts status + envelope shape
            alice = srv.member(owner, "admin")   # adds a new user with a role, logs them in
    harness.run(main)                            # exit 0 pass / 1 fail / 77 skip, prints why

Server(args=[...], env={...}) adds flags / environment; srv.data_dir is the temp data dir;
srv.stop() sends SIGTERM and checks a clean exit (status 0, which also catches ASan reports).
srv.request(method, path, body=None, session=None, headers=None, raw_body=None) sends anything;
srv.raw(bytes) writes raw bytes on a socket and returns (status, body bytes) for requests
http.client refuses to build. Every wait is bounded. Processes are killed by PID only.

Authorization matrix helpers (authz_matrix / cross_org_check) live at the bottom; add rows for
new resources in your own test file and call harness.authz_matrix(rows).
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dnswire  # noqa: E402

BUILD_DIR = os.environ.get("ZTNA_BUILD_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build")
SOURCE_DIR = os.environ.get("ZTNA_SOURCE_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..")
BINARY = os.path.join(BUILD_DIR, "server", "ztna-server")
START_TIMEOUT = 30.0   # seconds to wait for /healthz (ASan builds start slowly)
STOP_TIMEOUT = 15.0
REQ_TIMEOUT = 30.0
PASSWORD = "correct horse battery staple"


class Skip(Exception):
    """Raise to report 'skipped' (exit 77) with a reason."""


class Failure(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def free_port():
    """A port free for TCP and UDP on 127.0.0.1 (the kernel picks; small race accepted)."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()
    raise RuntimeError("no free port")


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # list of (name, value)
        self.body = body
        try:
            self.json = json.loads(body.decode("utf-8")) if body else None
        except (ValueError, UnicodeDecodeError):
            self.json = None

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def ok(self):
        return isinstance(self.json, dict) and self.json.get("success") is True

    @property
    def data(self):
        return self.json.get("data") if isinstance(self.json, dict) else None

    @property
    def code(self):
        e = self.json.get("error") if isinstance(self.json, dict) else None
        return e.get("code") if isinstance(e, dict) else None

    @property
    def message(self):
        e = self.json.get("error") if isinstance(self.json, dict) else None
        return e.get("message") if isinstance(e, dict) else None

    def cookie(self, name):
        for v in self.header_all("Set-Cookie"):
            if v.startswith(name + "="):
                return v.split(";", 1)[0].split("=", 1)[1], v
        return None, None

    def __repr__(self):
        return "<Response %d %s>" % (self.status, self.body[:300])


def make_cert(d):
    """A self-signed P-256 certificate for 127.0.0.1 in directory d: (cert path, key path).
    Skips the test when the openssl CLI is missing."""
    if not shutil.which("openssl"):
        raise Skip("openssl CLI not installed (needed to make a test certificate)")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True,
                   timeout=30)
    return cert, key


def expect(r, status, code=None):
    """Checks the status and the envelope: success matches, error has code+message."""
    check(r.status == status, "expected %d, got %r" % (status, r))
    check(isinstance(r.json, dict) and set(r.json) >= {"success", "data", "error"},
          "not an envelope: %r" % r)
    if 200 <= status < 300:
        check(r.json["success"] is True and r.json["error"] is None, "bad success envelope %r" % r)
    else:
        check(r.json["success"] is False and isinstance(r.json["error"], dict), "bad error %r" % r)
        check(r.code and r.message, "error without code/message: %r" % r)
        if code:
            check(r.code == code, "expected code %s, got %r" % (code, r))
    return r


class Session:
    """A logged-in user: bearer token, refresh cookie, ids."""

    def __init__(self, token, refresh, user_id, email, org_id=None, role=None):
        self.token, self.refresh = token, refresh
        self.user_id, self.email, self.org_id, self.role = user_id, email, org_id, role

    def auth_headers(self):
        return {"Authorization": "Bearer " + self.token}


class Server:
    def __init__(self, args=None, env=None, data_dir=None, check_exit=True, tls=False):
        self.args = list(args or [])
        self.env = dict(env or {})
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="ztna-srv-test-")
        self.check_exit = check_exit
        self.tls = tls
        self.proc = None
        self.port = None
        self.dns_port = None
        self.counter = 0

    # --- process ------------------------------------------------------------------------------
    def command(self):
        self.port = self.port or free_port()
        self.dns_port = free_port()
        return [BINARY, "--data-dir", self.data_dir, "--listen", "127.0.0.1:%d" % self.port,
                "--dns-listen", "127.0.0.1:%d" % self.dns_port] + self.args

    def start(self):
        if not os.path.exists(BINARY):
            raise Skip("ztna-server not built at %s" % BINARY)
        env = dict(os.environ)
        env.update(self.env)
        self.log_path = os.path.join(self.data_dir, "server.log")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Failure("ztna-server exited with %d during start:\n%s"
                              % (self.proc.returncode, self.log_tail()))
            try:
                if self.request("GET", "/healthz").status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.kill()
        raise Failure("ztna-server did not answer /healthz in %.0fs:\n%s"
                      % (START_TIMEOUT, self.log_tail()))

    def log_tail(self, n=4000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=STOP_TIMEOUT)

    def stop(self):
        """SIGTERM and wait; returns the exit status (checked if check_exit)."""
        if self.proc is None:
            return None
        if self.alive():
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
                raise Failure("ztna-server did not stop on SIGTERM:\n" + self.log_tail())
        rc = self.proc.returncode
        self.proc = None
        self.log.close()
        if self.check_exit and rc != 0:
            raise Failure("ztna-server exited with %d:\n%s" % (rc, self.log_tail()))
        return rc

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.stop()
            else:
                self.kill()
                sys.stderr.write("--- server log ---\n" + self.log_tail() + "\n")
        finally:
            if self.own_dir:
                shutil.rmtree(self.data_dir, ignore_errors=True)
        return False

    # --- HTTP ---------------------------------------------------------------------------------
    def connection(self):
        if self.tls:
            import ssl
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=REQ_TIMEOUT,
                                               context=ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQ_TIMEOUT)

    def request(self, method, path, body=None, session=None, headers=None, raw_body=None):
        h = {"Accept": "application/json"}
        data = raw_body
        if body is not None:
            data = json.dumps(body).encode("utf-8")
        if data is not None:
            h["Content-Type"] = "application/json"
        if session is not None:
            h.update(session.auth_headers())
        h.update(headers or {})
        conn = self.connection()
        try:
            conn.request(method, path, body=data, headers=h)
            resp = conn.getresponse()
            return Response(resp.status, resp.getheaders(), resp.read())
        finally:
            conn.close()

    def get(self, path, session=None, **kw):
        return self.request("GET", path, session=session, **kw)

    def post(self, path, body=None, session=None, **kw):
        return self.request("POST", path, body=body, session=session, **kw)

    def patch(self, path, body=None, session=None, **kw):
        return self.request("PATCH", path, body=body, session=session, **kw)

    def delete(self, path, session=None, **kw):
        return self.request("DELETE", path, session=session, **kw)

    def raw(self, data, timeout=REQ_TIMEOUT):
        """Sends raw request bytes; returns (status or 0, response bytes)."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            s.sendall(data)
            out = b""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
                if b"\r\n\r\n" in out:
                    head, _, rest = out.partition(b"\r\n\r\n")
                    for line in head.split(b"\r\n"):
                        if line.lower().startswith(b"content-length:"):
                            if len(rest) >= int(line.split(b":")[1]):
                                deadline = 0
        finally:
            s.close()
        try:
            status = int(out.split(b" ", 2)[1])
        except (IndexError, ValueError):
            status = 0
        return status, out

    def dns_query(self, name, qtype=6, timeout=2.0, addresses=False):
        """One UDP query to the server's MagicDNS port; returns (rcode, answer count) or None.
        addresses: (rcode, [the address of each answer record, as text]) instead; every answer
        must be of the type asked (A or AAAA)."""
        res = dnswire.query(("127.0.0.1", self.dns_port), name, qtype, timeout)
        if res is None or not addresses:
            return res and res[:2]
        for rtype, _ in res[2]:
            check(rtype == qtype, "answer type %d for query type %d" % (rtype, qtype))
        return res[0], [text for _, text in res[2]]

    # --- accounts -----------------------------------------------------------------------------
    def unique(self, prefix="u"):
        self.counter += 1
        return "%s%d-%d" % (prefix, os.getpid(), self.counter)

    def setup(self, email="owner@example.com", password=PASSWORD, org_name="Acme Corp"):
        r = expect(self.post("/api/auth/setup", {"email": email, "password": password,
                                                 "org_name": org_name}), 201)
        return self._session(r, email)

    def _session(self, r, email, org_id=None):
        refresh, _ = r.cookie("__Host-refresh_token")
        d = r.data
        orgs = d.get("orgs") or []
        if org_id is None and orgs:
            org_id = orgs[0]["id"]
        role = next((o.get("role") for o in orgs if o["id"] == org_id), None)
        return Session(d["access_token"], refresh, d["user"]["id"], email, org_id, role)

    def login(self, email, password=PASSWORD, org_id=None):
        r = expect(self.post("/api/auth/login", {"email": email, "password": password}), 200)
        return self._session(r, email, org_id)

    def create_org(self, session, name=None):
        name = name or self.unique("Org ")
        r = expect(self.post("/api/orgs", {"name": name}, session), 201)
        return r.data["id"]

    def member(self, admin, role, org_id=None, email=None):
        """Adds a new user with role to the org (admin's org by default) and logs them in."""
        org_id = org_id or admin.org_id
        email = email or self.unique(role) + "@example.com"
        expect(self.post("/api/orgs/%d/users" % org_id,
                         {"email": email, "role": role, "password": PASSWORD}, admin), 201)
        s = self.login(email, org_id=org_id)
        s.role = role
        return s

    def refresh(self, refresh_token, csrf=True, origin=None):
        h = {"Cookie": "__Host-refresh_token=" + refresh_token}
        if csrf:
            h["X-ZTNA-CSRF"] = "1"
        if origin:
            h["Origin"] = origin
        return self.post("/api/auth/refresh", headers=h)


# --- authorization matrix ---------------------------------------------------------------------
ROLES = ("owner", "admin", "member")
RANK = {"member": 1, "admin": 2, "owner": 3}


class Row:
    """One write (or read) to check for every role and across orgs.

    prepare(srv, owner) -> dict of path params (fresh target each time, created by the owner);
    method, path ("/api/orgs/{org}/users/{user}"), body (dict or callable(params) -> dict),
    min_role: lowest role allowed; ok_status: status when allowed."""

    def __init__(self, name, method, path, min_role, ok_status=200, body=None, prepare=None):
        self.name, self.method, self.path = name, method, path
        self.min_role, self.ok_status = min_role, ok_status
        self.body, self.prepare = body, prepare

    def run(self, srv, session, params):
        path = self.path.format(**params)
        body = self.body(params) if callable(self.body) else self.body
        return srv.request(self.method, path, body=body, session=session)


def authz_matrix(srv, rows):
    """For each row and role: allowed roles get ok_status, lower roles 403 FORBIDDEN; a user of
    another org gets 404 for the same target (never 403, nothing leaks)."""
    owner = srv.setup() if not getattr(srv, "_owner", None) else srv._owner
    srv._owner = owner
    users = {"owner": owner}
    for role in ("admin", "member"):
        users[role] = srv.member(owner, role)
    other_email = srv.unique("outsider") + "@example.com"
    other_org = srv.create_org(owner, srv.unique("Other Org "))
    expect(srv.post("/api/orgs/%d/users" % other_org,
                    {"email": other_email, "role": "owner", "password": PASSWORD}, owner), 201)
    outsider = srv.login(other_email, org_id=other_org)
    results = []
    for row in rows:
        for role in ROLES:
            params = row.prepare(srv, owner) if row.prepare else {}
            params.setdefault("org", owner.org_id)
            r = row.run(srv, users[role], params)
            if RANK[role] >= RANK[row.min_role]:
                check(r.status == row.ok_status,
                      "%s as %s: expected %d, got %r" % (row.name, role, row.ok_status, r))
            else:
                expect(r, 403, "FORBIDDEN")
            results.append((row.name, role, r.status))
        params = row.prepare(srv, owner) if row.prepare else {}
        params.setdefault("org", owner.org_id)
        r = row.run(srv, outsider, params)
        expect(r, 404)
        results.append((row.name, "other-org", r.status))
    return results


def run(fn):
    """Runs a test main: exit 0 on success, 1 on failure (with traceback), 77 on Skip."""
    name = os.path.basename(sys.argv[0])
    try:
        fn()
    except Skip as e:
        print("%s: SKIP: %s" % (name, e))
        sys.exit(77)
    except Exception:
        traceback.print_exc()
        print("%s: FAILED" % name)
        sys.exit(1)
    print("%s: all checks passed" % name)
    sys.exit(0)
