#!/usr/bin/env python3
"""ztna-server's STUN responder, end to end on loopback, and `ztna netcheck` against it.

The responder: a Binding request is answered with XOR-MAPPED-ADDRESS (and MAPPED-ADDRESS) of
the sender, with FINGERPRINT when the request had one; responses, garbage, a wrong cookie, a
wrong length and unknown comprehension-required attributes get no answer, and the responder
keeps answering afterwards; IPv6 and the dual-stack wildcard [::]; `--stun-listen off`; a bad --stun-listen is refused; a busy
default port leaves the server running without STUN, a busy chosen port stops it.
netcheck: the mapped address is 127.0.0.1 and the mapped port is its own socket's port; the
errors name the problem (nothing listening, no answer within --timeout after retransmissions,
no server known) and the target comes from --server URL or the daemon's saved state.json."""
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
import harness  # noqa: E402
from harness import Server, check, free_port  # noqa: E402

ZTNA = os.path.join(harness.BUILD_DIR, "agent", "ztna")
COOKIE = 0x2112A442


def request(txid, fingerprint=False, attrs=b""):
    body = attrs
    msg = struct.pack("!HHI", 0x0001, len(body) + (8 if fingerprint else 0), COOKIE) + txid + body
    if fingerprint:
        msg += struct.pack("!HHI", 0x8028, 4, zlib.crc32(msg) ^ 0x5354554E)
    return msg


def parse(data, txid):
    """-> dict of attribute type -> value bytes, after checking header and FINGERPRINT."""
    mtype, mlen, cookie = struct.unpack("!HHI", data[:8])
    check(mtype == 0x0101 and cookie == COOKIE and data[8:20] == txid, "bad header %r" % data)
    check(mlen + 20 == len(data), "length field %d for %d bytes" % (mlen, len(data)))
    attrs, off = {}, 20
    while off < len(data):
        t, n = struct.unpack("!HH", data[off:off + 4])
        if t == 0x8028:
            check(off + 8 == len(data), "FINGERPRINT not last")
            want = zlib.crc32(data[:off]) ^ 0x5354554E
            check(struct.unpack("!I", data[off + 4:off + 8])[0] == want, "bad FINGERPRINT")
        attrs[t] = data[off + 4:off + 4 + n]
        off += 4 + ((n + 3) & ~3)
    return attrs


def xor_addr(v, txid):
    fam, port = v[1], struct.unpack("!H", v[2:4])[0] ^ (COOKIE >> 16)
    key = struct.pack("!I", COOKIE) + txid
    raw = bytes(a ^ b for a, b in zip(v[4:], key))
    return (socket.inet_ntop(socket.AF_INET if fam == 1 else socket.AF_INET6, raw), port)


def exchange(port, msg, family=socket.AF_INET, host="127.0.0.1", timeout=1.0):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.bind((host, 0))
        s.sendto(msg, (host, port))
        try:
            return s.recv(2048), s.getsockname()
        except socket.timeout:
            return None, s.getsockname()
    finally:
        s.close()


def netcheck(*args, timeout=15):
    p = subprocess.run([ZTNA, "netcheck"] + list(args), capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def responder(port):
    txid = os.urandom(12)
    data, me = exchange(port, request(txid))
    check(data is not None, "no answer to a Binding request")
    a = parse(data, txid)
    check(0x8028 not in a, "FINGERPRINT without one in the request")
    check(xor_addr(a[0x0020], txid) == me[:2], "XOR-MAPPED-ADDRESS %r, we are %r"
          % (xor_addr(a[0x0020], txid), me))
    m = a[0x0001]
    check((socket.inet_ntop(socket.AF_INET, m[4:8]), struct.unpack("!H", m[2:4])[0]) == me,
          "MAPPED-ADDRESS disagrees")
    txid = os.urandom(12)
    data, me = exchange(port, request(txid, fingerprint=True))
    a = parse(data, txid)
    check(0x8028 in a and xor_addr(a[0x0020], txid) == me, "with FINGERPRINT: %r" % a)
    # Ignored, each without an answer.
    good = request(txid)
    ignored = {
        "garbage": os.urandom(40),
        "a Binding response": struct.pack("!HHI", 0x0101, 0, COOKIE) + txid,
        "an indication": struct.pack("!HHI", 0x0011, 0, COOKIE) + txid,
        "an RFC 3489 request (no cookie)": struct.pack("!HHI", 0x0001, 0, 0x01020304) + txid,
        "a trailing byte": good + b"\0",
        "a short header": good[:19],
        "a bad FINGERPRINT": request(txid, fingerprint=True)[:-1] + b"\0",
        "an unknown required attribute": request(txid, attrs=struct.pack("!HHI", 0x0033, 4, 7)),
    }
    for what, msg in ignored.items():
        data, _ = exchange(port, msg, timeout=0.3)
        check(data is None, "%s was answered: %r" % (what, data))
    # An unknown optional attribute is fine, and the responder still works after all that.
    txid = os.urandom(12)
    data, me = exchange(port, request(txid, attrs=struct.pack("!HHI", 0x8055, 4, 7)))
    check(data is not None and xor_addr(parse(data, txid)[0x0020], txid) == me, "after junk")


def netcheck_cases(port):
    rc, out, err = netcheck("--stun", "127.0.0.1:%d" % port, "--json")
    check(rc == 0, "netcheck failed: %s %s" % (out, err))
    j = json.loads(out)
    check(j["udp"] is True and j["error"] is None and j["source"] == "--stun", repr(j))
    check(j["mapped_address"] == "127.0.0.1", repr(j))
    check(j["mapped_port"] == j["local_port"] and j["local_port"] > 0, repr(j))
    check(j["mapped"] == "127.0.0.1:%d" % j["local_port"] and j["behind_nat"] is False, repr(j))
    check(any(i["name"] == "lo" and "127.0.0.1/8" in i["addresses"] for i in j["interfaces"]),
          repr(j["interfaces"]))
    rc, out, err = netcheck("--stun", "127.0.0.1:%d" % port)
    check(rc == 0 and "UDP:            works" in out and "mapped address: 127.0.0.1:" in out, out)

    # Nothing listening on that port: ICMP port unreachable, named.
    dead = free_port()
    rc, out, err = netcheck("--stun", "127.0.0.1:%d" % dead, "--json")
    check(rc == 1 and "connection refused" in err and json.loads(out)["udp"] is False, err)
    # A socket that never answers: retransmissions, then a timeout that says so.
    mute = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    mute.bind(("127.0.0.1", 0))
    t0 = time.monotonic()
    rc, out, err = netcheck("--stun", "127.0.0.1:%d" % mute.getsockname()[1], "--timeout", "800",
                            "--json")
    took = time.monotonic() - t0
    mute.close()
    j = json.loads(out)
    check(rc == 1 and "no STUN answer from 127.0.0.1:" in err and "within 800 ms" in err, err)
    # Sent at 0, 250 and 750 ms within 800 ms (a loaded machine may squeeze out the last).
    check(2 <= j["requests"] <= 3 and took < 5, "requests %d in %.1fs" % (j["requests"], took))
    # Usage errors and the sources of the target.
    with tempfile.TemporaryDirectory() as d:
        rc, out, err = netcheck("--state-dir", d)
        check(rc == 2 and "no STUN server known" in err and d in err, err)
        with open(os.path.join(d, "state.json"), "w") as f:
            json.dump({"server_url": "http://127.0.0.1:%d/" % port}, f)
        rc, out, err = netcheck("--state-dir", d, "--json", "--timeout", "300")
        j = json.loads(out)
        check(j["source"] == "saved server URL" and j["stun_server"] == "127.0.0.1:3478", repr(j))
    rc, out, err = netcheck("--server", "https://[::1]:8443/x", "--json", "--timeout", "300")
    check(json.loads(out)["stun_server"] == "[::1]:3478", out)
    rc, out, err = netcheck("--stun", "127.0.0.1:99999")
    check(rc == 2 and "bad port in '127.0.0.1:99999'" in err, err)
    rc, out, err = netcheck("--stun", "no-such-host.invalid:3478")
    check(rc == 1 and "cannot resolve 'no-such-host.invalid'" in err, err)
    rc, out, err = netcheck("--bogus")
    check(rc == 2 and "unknown or incomplete option '--bogus'" in err, err)


def ipv6_available():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


def main():
    if not os.path.exists(ZTNA):
        raise harness.Skip("ztna not built at %s" % ZTNA)
    port = free_port()
    with Server(args=["--stun-listen", "127.0.0.1:%d" % port]) as srv:
        check("answering STUN Binding requests on 127.0.0.1:%d" % port in srv.log_tail(),
              srv.log_tail())
        responder(port)
        netcheck_cases(port)
    if ipv6_available():
        # The wildcard [::]: one dual-stack socket, answers leave from the arrival address.
        with Server(args=["--stun-listen", "[::]:%d" % port]):
            for host, want in (("[::1]", "::1"), ("127.0.0.1", "127.0.0.1")):
                rc, out, err = netcheck("--stun", "%s:%d" % (host, port), "--json")
                j = json.loads(out)
                check(rc == 0 and j["mapped_address"] == want and
                      j["mapped_port"] == j["local_port"], out + err)
    with Server(args=["--stun-listen", "off"]) as srv:
        check("STUN responder off" in srv.log_tail(), srv.log_tail())
    # The default port busy (held here, or by another server on this host): the server still
    # starts, without STUN, and says so; a busy port chosen on purpose stops the start.
    hold = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        hold.bind(("127.0.0.1", 3478))
    except OSError:
        pass  # already taken by someone else: just as busy
    try:
        with Server() as srv:
            check("127.0.0.1:3478 (the default): address in use; STUN responder disabled"
                  in srv.log_tail(), srv.log_tail())
    finally:
        hold.close()
    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    busy.bind(("127.0.0.1", 0))
    with tempfile.TemporaryDirectory() as d:
        p = subprocess.run([harness.BINARY, "--data-dir", d, "--listen", "127.0.0.1:%d" % free_port(),
                            "--dns-listen", "127.0.0.1:%d" % free_port(), "--stun-listen",
                            "127.0.0.1:%d" % busy.getsockname()[1]],
                           capture_output=True, text=True, timeout=30)
    busy.close()
    check(p.returncode != 0 and "stun: cannot listen on 127.0.0.1:" in p.stdout + p.stderr,
          "%d %s %s" % (p.returncode, p.stdout, p.stderr))
    # A bad value: refused at start-up, naming the setting.
    p = subprocess.run([harness.BINARY, "--stun-listen", "nowhere", "--data-dir", "/nonexistent"],
                       capture_output=True, text=True, timeout=30)
    check(p.returncode == 2 and "invalid stun-listen 'nowhere'" in p.stderr,
          "%d %s" % (p.returncode, p.stderr))


harness.run(main)
