#!/usr/bin/env python3
"""`ztna daemon --backend kernel`, live: the real ztna-server and two agents in network namespaces,
alpha on kernel WireGuard, beta on the userspace engine (a mixed pair, so the PQ exchange runs
between the kernel binding's socket and the userspace tunnel socket). Needs the wireguard kernel
module: without it the test says so and is skipped (exit 77), as on our CI machines.

  netns zkH<pid>: bridge zkbr;  zkS<pid> 198.18.0.1 ztna-server;  zkA<pid> 198.18.0.11 alpha
  (--backend kernel, tag:web);  zkB<pid> 198.18.0.12 beta (--backend userspace, tag:db)

Checks (each wait bounded):
  1. both log in; each sees the other with the PQ PSK in; alpha's status (JSON and text) says
     backend "kernel" and its interface is a wireguard link with 100.100.100.100/32; beta's says
     "userspace"
  2. `ztna ping` both ways through the tunnel; handshake and rx/tx bytes in alpha's status
  3. the MagicDNS stub on alpha answers beta's name over UDP and TCP (dig, when installed)
  4. a policy (tag:web -> tag:db:22/tcp): alpha reaches beta on 22 (and its replies pass alpha's
     nftables table), not on 23; beta cannot open 22 on alpha, and alpha's status counts that
     denial (from NFLOG); table `inet ztna` exists on alpha
  5. `ztna down` on alpha: no peers, no nftables table; SIGTERM: the link is gone
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mesh"))
from mesh_util import Mesh, Skip, main_wrapper  # noqa: E402

ADDR = {"S": "198.18.0.1", "A": "198.18.0.11", "B": "198.18.0.12"}
AGENTS = {"A": "alpha", "B": "beta"}
M = Mesh("zk", ADDR, AGENTS, tag="kernel-live", bridge="zkbr")
LISTEN = ("import socket,sys,threading\n"
          "def serve(s):\n"
          "    while True:\n"
          "        c,_=s.accept(); c.close()\n"
          "for p in sys.argv[1:]:\n"
          "    s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
          "    s.bind(('0.0.0.0',int(p))); s.listen(16)\n"
          "    threading.Thread(target=serve,args=(s,),daemon=True).start()\n"
          "threading.Event().wait()\n")
CONNECT = "import socket,sys; socket.create_connection((sys.argv[1],int(sys.argv[2])),1.5).close()"


def tcp(k, ip, port):
    return M.run([sys.executable, "-c", CONNECT, ip, str(port)], ns=k, check=False).returncode == 0


def start_agent(k, backend):
    sock = os.path.join(M.tmp, k + ".sock")
    M.spawn("agent-" + k, [M.ztna_bin, "daemon", "--state-dir", os.path.join(M.tmp, "state-" + k),
                           "--socket", sock, "--tun", M.tun(k), "--backend", backend,
                           "--log-level", "debug"], k)
    M.wait_for("agent %s's socket" % k, lambda: os.path.exists(sock), 10)


def main():
    if os.geteuid() != 0:
        raise Skip("needs root (network namespaces)")
    # the module first: without it nothing else matters (CI machines have none)
    probe = subprocess.run(["unshare", "-n", "ip", "link", "add", "zkprobe", "type", "wireguard"],
                           capture_output=True, text=True, timeout=10)
    if probe.returncode != 0:
        raise Skip("no wireguard kernel module (ip link add type wireguard: %s)" % probe.stderr.strip())
    M.check_env(("ip", "curl", "nft"))
    M.setup_net()
    M.start_server()
    owner = M.api("POST", "/api/auth/setup", {"email": "owner@example.com",
                                               "password": "correct horse battery staple",
                                               "org_name": "Acme Corp"})
    token, org = owner["access_token"], owner["orgs"][0]["id"]
    keys = {k: M.api("POST", "/api/orgs/%d/auth-keys" % org, {"tags": [t]}, token)["key"]
            for k, t in (("A", "tag:web"), ("B", "tag:db"))}
    M.spawn("listen-A", [sys.executable, "-c", LISTEN, "22"], "A")
    M.spawn("listen-B", [sys.executable, "-c", LISTEN, "22", "23"], "B")
    start_agent("A", "kernel")
    start_agent("B", "userspace")

    # 1. login, PQ, backends
    for k, name in AGENTS.items():
        r = M.ztna(k, "login", "--server", M.url, "--auth-key", keys[k], "--hostname", name)
        assert "Logged in" in r.stdout, r.stdout
    st = {k: M.wait_for("%s to see its peer with the PQ PSK" % n, lambda k=k: M.peers_ready(k, 1), 40)
          for k, n in AGENTS.items()}
    assert st["A"]["backend"] == "kernel" and st["B"]["backend"] == "userspace", (st["A"]["backend"], st["B"]["backend"])
    assert st["A"]["peers"][0]["pq"]["psk"] == "pq" and st["B"]["peers"][0]["pq"]["psk"] == "pq"
    for k, b in (("A", "kernel"), ("B", "userspace")):
        text = M.ztna(k, "status").stdout
        assert ", backend %s\n" % b in text, "ztna status on %s: %r" % (k, text)
    link = M.run(["ip", "-d", "link", "show", M.tun("A")], ns="A").stdout
    assert "wireguard" in link, link
    addrs = M.run(["ip", "addr", "show", "dev", M.tun("A")], ns="A").stdout
    assert "100.100.100.100/32" in addrs and st["A"]["self"]["tailnet_ip"] + "/" in addrs, addrs
    a_ip, b_ip = st["A"]["self"]["tailnet_ip"], st["B"]["self"]["tailnet_ip"]
    M.log("alpha (kernel) %s, beta (userspace) %s, PQ PSK in on both" % (a_ip, b_ip))

    # 2. ping both ways
    M.log(M.ping_ok("A", "beta"))
    M.log(M.ping_ok("B", "alpha"))
    pa = M.status("A")["peers"][0]
    assert pa["last_handshake"] > 0 and pa["rx_bytes"] > 0 and pa["tx_bytes"] > 0, pa

    # 3. the stub on alpha's sockets
    if shutil.which("dig"):
        fqdn = st["B"]["self"]["fqdn"]
        for proto in ("+notcp", "+tcp"):
            out = M.run(["dig", "+short", "+time=2", "+tries=2", proto, "@100.100.100.100", fqdn], ns="A").stdout
            assert out.split() == [b_ip], "dig %s %s on alpha: %r" % (proto, fqdn, out)
        M.log("the stub on alpha answers %s over UDP and TCP" % fqdn)
    else:
        M.log("dig not installed: stub not checked")

    # 4. a policy
    doc = {"tagOwners": {"tag:web": ["owner@example.com"], "tag:db": ["owner@example.com"]},
           "rules": [{"action": "accept", "src": ["tag:web"], "dst": ["tag:db:22"], "proto": "tcp"}]}
    ver = M.api("GET", "/api/orgs/%d/policy" % org, None, token)["version"]
    M.api("PUT", "/api/orgs/%d/policy" % org, {"policy": json.dumps(doc)}, token, ['If-Match: "%s"' % ver])
    for k in AGENTS:
        M.wait_for("%s to enforce the policy" % AGENTS[k],
                   lambda k=k: M.status(k)["filter"] in ("policy", "deny-all"), 15)
    M.run(["nft", "list", "table", "inet", "ztna"], ns="A")
    M.wait_for("alpha to reach beta on tcp/22", lambda: tcp("A", b_ip, 22), 15, 0.3)
    assert not tcp("A", b_ip, 23), "alpha reached beta on tcp/23: no rule allows it"
    assert not tcp("B", a_ip, 22), "beta opened tcp/22 on alpha: nothing is allowed into alpha"
    assert tcp("A", b_ip, 22), "alpha -> beta tcp/22 stopped passing"

    def denied():
        return [d for d in M.status("A")["denials"]
                if d["src"] == b_ip and d["proto"] == "tcp" and d["dport"] == 22 and d["count"] >= 1]
    M.log("alpha's denials: %s" % M.wait_for("alpha to count beta's tcp/22 (NFLOG)", denied, 10))

    # 5. down and exit
    M.ztna("A", "down")
    M.wait_for("alpha to drop its peers", lambda: not M.status("A")["peers"], 10)
    gone = M.run(["nft", "list", "table", "inet", "ztna"], ns="A", check=False)
    assert gone.returncode != 0, "the nftables table is still there after ztna down"
    M.stop("agent-A")
    assert M.run(["ip", "link", "show", M.tun("A")], ns="A", check=False).returncode != 0, \
        "the kernel interface is still there after the daemon exited"
    M.log("down: peers and table removed; exit: link removed")


if __name__ == "__main__":
    main_wrapper(M, main)
