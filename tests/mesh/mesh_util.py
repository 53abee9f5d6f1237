"""Helpers shared by the end-to-end tests in network namespaces (test_mesh.py, test_policy_e2e.py,
test_ip6_e2e.py).

A Mesh is one test's set of namespaces: a hub namespace holding a bridge, and one namespace per
host (the server, the agents, ...) joined to it by a veth pair, every name suffixed with the test's
PID so that parallel runs never collide. It starts processes in those namespaces, remembers them
by name, and stops them (by PID, never by name) in cleanup(). Underlay addresses are from
198.18.0.0/24 only; the agents' tunnel addresses are the server's, from 100.64.0.0/10.

    m = Mesh("zm", {"S": "198.18.0.1", "A": "198.18.0.11"}, agents={"A": "alpha"})
    mesh_util.main_wrapper(m, main)   # runs main(), exit 0 / 1 (logs dumped) / 77 (Skip)

TCP through the tunnel: m.listen("B", 22, 23) starts banner listeners in B (this file's --listen
mode, on [::], IPv6 and IPv4); m.tcp("A", ip, 22) is True when A connects to ip:22 and reads the
banner, through one long-lived prober per source netns (--probe mode) so a check costs no
process start.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SELF = os.path.abspath(__file__)


def banner(port):
    return "ztna-e2e %d\n" % port


def listen(ports):
    """--listen mode: on each port of [::] (IPv6 and IPv4), accept, send the banner, close."""
    def serve(s, port):
        while True:
            c, _ = s.accept()
            try:
                c.sendall(banner(port).encode())
            finally:
                c.close()
    for p in ports:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", p))
        s.listen(16)
        threading.Thread(target=serve, args=(s, p), daemon=True).start()
    print("listening on %s" % ports, flush=True)
    while True:
        time.sleep(3600)


def probe(ip, port, timeout, src=None):
    """True if the banner arrives within timeout seconds (from source address src if given)."""
    try:
        with socket.create_connection((ip, port), timeout=timeout,
                                      source_address=(src, 0) if src else None) as s:
            s.settimeout(timeout)
            got = b""
            while not got.endswith(b"\n") and len(got) < 64:
                d = s.recv(64)
                if not d:
                    break
                got += d
        return got.decode(errors="replace") == banner(port)
    except OSError:
        return False


def prober():
    """--probe mode: reads "ip port timeout [src]" lines, answers "1" (banner read) or "0"."""
    for line in sys.stdin:
        ip, port, timeout, *src = line.split()
        print("1" if probe(ip, int(port), float(timeout), src[0] if src else None) else "0", flush=True)


class Skip(Exception):
    pass


class Downgrade(Exception):
    """Never retried by wait_for: fails the test at once."""


class Mesh:
    def __init__(self, prefix, addrs, agents, tag="mesh", server="S", bridge="zmbr"):
        build = os.environ.get("ZTNA_BUILD_DIR") or os.path.join(os.path.dirname(__file__), "..", "..", "build")
        self.ztna_bin = os.path.join(build, "agent", "ztna")
        self.server_bin = os.path.join(build, "server", "ztna-server")
        self.pid = os.getpid() % 100000
        self.prefix = prefix
        self.addr = dict(addrs)
        self.agents = dict(agents)
        self.tag = tag
        self.srv = server
        self.bridge = bridge
        self.ns = {k: "%s%s%d" % (prefix, k, self.pid) for k in ["H"] + list(addrs)}
        self.url = "http://%s:8080" % addrs[server]
        self.tmp = tempfile.mkdtemp(prefix="ztna-%s." % tag)
        self.procs = {}   # name -> Popen
        self.probers = {}  # source netns -> its --probe process
        self.made_netns_etc = []
        self.t0 = time.monotonic()

    # --- processes ------------------------------------------------------------------------

    def log(self, msg):
        print("[%s %5.1fs] %s" % (self.tag, time.monotonic() - self.t0, msg), flush=True)

    def run(self, args, ns=None, check=True, timeout=30, input=None):
        cmd = (["ip", "netns", "exec", self.ns[ns]] if ns else []) + args
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input)
        if check and r.returncode != 0:
            raise AssertionError("%s failed (%d): %s %s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
        return r

    def spawn(self, name, args, ns, stdin=None, stdout=None):
        """Starts args in netns ns; its output (stderr only, with stdout=PIPE) goes to <name>.log."""
        f = open(os.path.join(self.tmp, name + ".log"), "w")
        self.procs[name] = subprocess.Popen(["ip", "netns", "exec", self.ns[ns]] + args, stdin=stdin,
                                            stdout=stdout or f,
                                            stderr=f if stdout else subprocess.STDOUT)
        return self.procs[name]

    def stop(self, name, expect_clean=True):
        p = self.procs.pop(name, None)
        if not p:
            return
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)
            raise AssertionError("%s did not stop on SIGTERM" % name)
        if expect_clean and rc != 0:
            raise AssertionError("%s exited with status %d (see %s.log)" % (name, rc, name))

    def listen(self, k, *ports):
        """Banner listeners on ports of netns k (stopped by cleanup())."""
        self.spawn("listen-" + k, [sys.executable, SELF, "--listen"] + [str(p) for p in ports], k)

    def tcp(self, src, ip, port, timeout=1.5, from_ip=None):
        """True if `src` opens a TCP connection to ip:port through the tunnel and reads the banner
        (so the SYN passed the destination's filter and the replies passed the source's); from_ip:
        the connection's source address (default: the kernel's choice)."""
        p = self.probers.get(src)
        if p is None or p.poll() is not None:
            p = self.probers[src] = self.spawn("probe-" + src, [sys.executable, SELF, "--probe"], src,
                                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        p.stdin.write(("%s %d %s%s\n" % (ip, port, timeout, " " + from_ip if from_ip else "")).encode())
        p.stdin.flush()
        ans = p.stdout.readline().strip()
        if ans not in (b"0", b"1"):
            raise AssertionError("the prober in %s died (%r)" % (src, ans))
        return ans == b"1"

    @staticmethod
    def wait_for(what, fn, timeout=20.0, interval=0.2):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                v = fn()
                if v:
                    return v
            except (AssertionError, ValueError, KeyError, subprocess.TimeoutExpired) as e:
                last = e
            time.sleep(interval)
        raise AssertionError("timed out after %.0fs waiting for %s (last: %s)" % (timeout, what, last))

    # --- the server's API and the agents' CLI ---------------------------------------------

    def api_raw(self, method, path, body=None, token=None, headers=()):
        """The decoded JSON envelope and the HTTP status, whatever they are."""
        args = ["curl", "-s", "-m", "10", "-w", "\n%{http_code}", "-X", method,
                "-H", "Content-Type: application/json"]
        for h in headers:
            args += ["-H", h]
        if token:
            args += ["-H", "Authorization: Bearer " + token]
        if body is not None:
            args += ["--data-binary", json.dumps(body)]
        r = self.run(args + [self.url + path], ns=self.srv)
        text, _, code = r.stdout.rpartition("\n")
        return json.loads(text), int(code)

    def api(self, method, path, body=None, token=None, headers=()):
        d, _ = self.api_raw(method, path, body, token, headers)
        if not d.get("success"):
            raise AssertionError("%s %s: %s" % (method, path, d))
        return d["data"]

    def owner_and_keys(self, tags):
        """The first owner (owner@example.com, org "Acme Corp") and one pre-auth key per agent:
        tags = {agent: tag}. Returns (token, org id, {agent: key})."""
        owner = self.api("POST", "/api/auth/setup", {"email": "owner@example.com",
                                                      "password": "correct horse battery staple",
                                                      "org_name": "Acme Corp"})
        token, org = owner["access_token"], owner["orgs"][0]["id"]
        keys = {k: self.api("POST", "/api/orgs/%d/auth-keys" % org, {"tags": [t]}, token)["key"]
                for k, t in tags.items()}
        return token, org, keys

    def ztna(self, k, *args, check=True, timeout=30):
        return self.run([self.ztna_bin] + list(args) + ["--socket", os.path.join(self.tmp, k + ".sock")], ns=k,
                        check=check, timeout=timeout)

    def status(self, k):
        """`ztna status --json`, checking on every call that no peer runs without its PQ PSK unblocked
        (no silent downgrade: a peer without a PQ or explicitly classical PSK must be blocked)."""
        s = json.loads(self.ztna(k, "status", "--json").stdout)
        for p in s["peers"]:
            pq = p["pq"]
            if pq.get("psk") not in ("pq", "classical-only") and not pq.get("blocked"):
                raise Downgrade("%s: peer %s is unblocked without a PQ PSK: %s" % (k, p["name"], pq))
        return s

    def peers_ready(self, k, n):
        s = self.status(k)
        ps = s["peers"]
        return len(ps) == n and all(p["pq"].get("psk") in ("pq", "classical-only") for p in ps) and s

    def ping_ok(self, k, name):
        for _ in range(5):
            r = self.ztna(k, "ping", "-c", "1", "--timeout", "2", name, check=False)
            if r.returncode == 0 and "pong from" in r.stdout:
                return r.stdout.strip()
        raise AssertionError("%s: ztna ping %s failed: %s %s" % (self.agents.get(k, k), name, r.stdout, r.stderr))

    # --- hosts ----------------------------------------------------------------------------

    def check_env(self, tools):
        if os.geteuid() != 0:
            raise Skip("needs root (network namespaces, TUN)")
        if not os.path.exists("/dev/net/tun"):
            raise Skip("no /dev/net/tun")
        for t in tools:
            if not shutil.which(t):
                raise Skip("%s not installed" % t)
        for b in (self.ztna_bin, self.server_bin):
            if not os.access(b, os.X_OK):
                raise AssertionError("%s not built" % b)

    def setup_net(self):
        """The hub with its bridge, then each host on it; agents get /etc/netns/<ns>/resolv.conf
        naming the server's address (made here, removed by cleanup())."""
        h = self.ns["H"]
        self.run(["ip", "netns", "add", h])
        self.run(["ip", "-n", h, "link", "add", self.bridge, "type", "bridge"])
        self.run(["ip", "-n", h, "link", "set", self.bridge, "up"])
        for k in self.addr:
            self.run(["ip", "netns", "add", self.ns[k]])
            hv, v = "h%s%d" % (k, self.pid), "v%s%d" % (k, self.pid)
            self.run(["ip", "link", "add", v, "netns", self.ns[k], "type", "veth", "peer", "name", hv, "netns", h])
            self.run(["ip", "-n", h, "link", "set", hv, "master", self.bridge, "up"])
            self.run(["ip", "-n", self.ns[k], "addr", "add", self.addr[k] + "/24", "dev", v])
            self.run(["ip", "-n", self.ns[k], "link", "set", v, "up"])
            self.run(["ip", "-n", self.ns[k], "link", "set", "lo", "up"])
            if k in self.agents:
                if not os.path.isdir("/etc/netns"):
                    self.made_netns_etc.append("/etc/netns")  # removed last, if left empty
                d = "/etc/netns/" + self.ns[k]
                os.makedirs(d, exist_ok=True)
                self.made_netns_etc.append(d)
                with open(d + "/resolv.conf", "w") as f:
                    f.write("nameserver %s\n" % self.addr[self.srv])

    def tun(self, k):
        return "zt%s%d" % (k.lower(), self.pid)

    def cleanup(self):
        for name in list(self.procs):
            p = self.procs.pop(name)
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        for k in self.ns:
            subprocess.run(["ip", "netns", "del", self.ns[k]], capture_output=True)
        for d in self.made_netns_etc:
            if d == "/etc/netns":
                continue
            shutil.rmtree(d, ignore_errors=True)
        if "/etc/netns" in self.made_netns_etc:
            try:
                os.rmdir("/etc/netns")
            except OSError:
                pass
        for k in self.addr:
            try:
                os.unlink("/var/run/wireguard/%s.sock" % self.tun(k))
            except OSError:
                pass

    def start_server(self, *extra):
        a = self.addr[self.srv]
        self.spawn("server", [self.server_bin, "--data-dir", os.path.join(self.tmp, "srv"), "--listen", a + ":8080",
                              "--insecure-http", "--dns-listen", a + ":5353", "--stun-listen", a + ":3478",
                              "--heartbeat-interval", "5"] + list(extra), self.srv)
        self.wait_for("the server's /healthz",
                      lambda: self.run(["curl", "-sf", "-m", "2", self.url + "/healthz"], ns=self.srv,
                                       check=False).returncode == 0, 30)

    def start_agent(self, k):
        # These tests check the userspace engine (TUN, its packet path); `--backend auto` would pick
        # kernel WireGuard on a machine with the module. The kernel backend has its own tests
        # (tests/kernel/).
        sock = os.path.join(self.tmp, k + ".sock")
        self.spawn("agent-" + k, [self.ztna_bin, "daemon", "--state-dir", os.path.join(self.tmp, "state-" + k),
                                  "--socket", sock, "--tun", self.tun(k), "--backend", "userspace",
                                  "--log-level", "debug"], k)
        self.wait_for("agent %s's socket" % k, lambda: os.path.exists(sock), 10)


def main_wrapper(m, main):
    """Runs main(); exits 0 (passed), 77 (Skip), or 1 with the last lines of every log."""
    m.t0 = time.monotonic()
    rc = 0
    try:
        main()
    except Skip as e:
        print("SKIP: %s" % e)
        rc = 77
    except Exception as e:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        print("FAIL: %s" % e)
        for name in sorted(os.listdir(m.tmp)):
            if name.endswith(".log"):
                with open(os.path.join(m.tmp, name)) as f:
                    lines = f.readlines()
                print("--- %s (last 25 lines)" % name)
                print("".join(lines[-25:]))
        rc = 1
    finally:
        m.cleanup()
        shutil.rmtree(m.tmp, ignore_errors=True)
    sys.exit(rc)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--listen"]:
        listen([int(p) for p in sys.argv[2:]])
    elif sys.argv[1:2] == ["--probe"]:
        prober()
