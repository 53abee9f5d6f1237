"""Helpers of the OIDC tests: the npm install of the test provider, the provider process
(tests/oidc/provider.mjs, a real oidc-provider), and a tiny browser that follows redirects by hand
with a cookie jar. Python standard library only; every wait is bounded; processes are stopped by
PID."""
import hashlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "server"))
import harness  # noqa: E402
from harness import Skip, check  # noqa: E402

NPM_TIMEOUT = 300
PROVIDER_START_TIMEOUT = 30.0


def quiet_args():
    """Flags that keep our server off fixed default ports other tests use (STUN's 3478), when
    this build knows them."""
    try:
        out = subprocess.run([harness.BINARY, "--help"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=10).stdout.decode()
    except OSError:
        return []
    return ["--stun-listen", "off"] if "--stun-listen" in out else []


def npm_dir():
    """Installs the provider's npm packages (npm ci, pinned by package-lock.json) into a cache
    directory under the build directory, once per lock file; returns that directory."""
    for tool in ("node", "npm"):
        if not shutil.which(tool):
            raise Skip("%s is not installed (Debian packages nodejs and npm; "
                       "contrib/install-deps.sh test installs them)" % tool)
    out = os.path.join(harness.BUILD_DIR, "oidc-npm")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(HERE, "package-lock.json"), "rb") as f:
        lock = hashlib.sha256(f.read()).hexdigest()
    stamp = os.path.join(out, ".lock-sha256")
    for name in ("package.json", "package-lock.json", "provider.mjs"):
        shutil.copyfile(os.path.join(HERE, name), os.path.join(out, name))
    have = open(stamp).read().strip() if os.path.exists(stamp) else ""
    if have != lock or not os.path.isdir(os.path.join(out, "node_modules", "oidc-provider")):
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=out,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=NPM_TIMEOUT)
        check(r.returncode == 0, "npm ci of the test provider failed:\n%s" % r.stdout.decode()[-2000:])
        with open(stamp, "w") as f:
            f.write(lock)
    return out


class Provider:
    """tests/oidc/provider.mjs on 127.0.0.1:port; restart with another gen to rotate keys."""

    def __init__(self, port, redirect_uri):
        self.port, self.redirect_uri = port, redirect_uri
        self.dir = npm_dir()
        self.proc = None
        self.issuer = "http://127.0.0.1:%d" % port

    def start(self, gen=1):
        self.log = open(os.path.join(self.dir, "provider-%d.log" % self.port), "ab")
        self.proc = subprocess.Popen(["node", "provider.mjs", str(self.port), self.redirect_uri,
                                      str(gen)], cwd=self.dir, stdout=subprocess.PIPE,
                                     stderr=self.log)
        deadline = time.monotonic() + PROVIDER_START_TIMEOUT
        os.set_blocking(self.proc.stdout.fileno(), False)
        buf = b""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise harness.Failure("the OpenID provider exited with %d (see %s)"
                                      % (self.proc.returncode, self.log.name))
            chunk = self.proc.stdout.read() or b""
            buf += chunk
            if b"READY" in buf:
                return self
            time.sleep(0.05)
        self.stop()
        raise harness.Failure("the OpenID provider did not start in %.0f s" % PROVIDER_START_TIMEOUT)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None

    def control(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None,
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            check(r.status == 200, "provider control %s %s: %d %r" % (method, path, r.status, data))
            return json.loads(data or b"{}")
        finally:
            conn.close()

    def set_user(self, **claims):
        self.control("POST", "/__test/user", claims)

    def set_mode(self, mode):
        self.control("POST", "/__test/mode", {"mode": mode})

    def stats(self):
        return self.control("GET", "/__test/stats")


class Browser:
    """Follows redirects by hand; cookies kept per host:port and path, as a browser would send
    them (Secure cookies are sent over plain http here, as browsers do for 127.0.0.1)."""

    def __init__(self):
        self.jar = {}  # (hostport, name, path) -> value

    def _cookies(self, hostport, path):
        return "; ".join("%s=%s" % (n, v) for (h, n, p), v in sorted(self.jar.items())
                         if h == hostport and path.startswith(p))

    def _store(self, hostport, resp_headers):
        for k, v in resp_headers:
            if k.lower() != "set-cookie":
                continue
            parts = [p.strip() for p in v.split(";")]
            name, _, value = parts[0].partition("=")
            path = "/"
            expired = False
            for attr in parts[1:]:
                a, _, av = attr.partition("=")
                if a.lower() == "path":
                    path = av or "/"
                if a.lower() == "max-age" and av.strip() in ("0", "-1"):
                    expired = True
                if a.lower() == "expires" and "1970" in av:
                    expired = True
            if expired or value == "":
                self.jar.pop((hostport, name, path), None)
            else:
                self.jar[(hostport, name, path)] = value

    def get(self, url, accept="text/html,application/xhtml+xml"):
        u = urllib.parse.urlsplit(url)
        path = u.path + ("?" + u.query if u.query else "")
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
        h = {"Accept": accept}
        c = self._cookies(u.netloc, u.path)
        if c:
            h["Cookie"] = c
        try:
            conn.request("GET", path, headers=h)
            r = conn.getresponse()
            resp = harness.Response(r.status, r.getheaders(), r.read())
        finally:
            conn.close()
        self._store(u.netloc, resp.headers)
        return resp

    def follow(self, url, stop_prefix, max_hops=12):
        """GETs url and follows Location until it starts with stop_prefix; returns that URL."""
        for _ in range(max_hops):
            if url.startswith(stop_prefix):
                return url
            r = self.get(url)
            loc = r.header("Location")
            check(r.status in (301, 302, 303, 307) and loc,
                  "expected a redirect from %s, got %r" % (url, r))
            url = urllib.parse.urljoin(url, loc)
        raise harness.Failure("too many redirects before %s" % stop_prefix)
