#!/usr/bin/env python3
"""HTTPS: with --tls-cert/--tls-key the server listens with TLS only (plain HTTP on the port
fails), sends HSTS, serves the API, takes map stream upgrades (an unsigned one is told
UNAUTHORIZED, no longer UNAVAILABLE; test_map_stream_tls streams over TLS), and may then listen on
a non-loopback address."""
import os
import shutil
import socket
import ssl
import tempfile
import time

import harness
from harness import Server, check, expect


def main():
    d = tempfile.mkdtemp(prefix="ztna-srv-tls-")
    cert, key = harness.make_cert(d)
    with Server(args=["--tls-cert", cert, "--tls-key", key], tls=True) as srv:
        r = expect(srv.get("/healthz"), 200)
        check(r.header("Strict-Transport-Security"), "HSTS over TLS")
        owner = srv.setup()
        expect(srv.get("/api/me", owner), 200)
        # plain HTTP on the TLS port does not get an API answer
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        s.close()
        check(b'"success":true' not in data, "plain HTTP must not be served: %r" % data[:100])
        # map streams are served over the server's own TLS: an unsigned upgrade is refused for
        # its signature (UNAUTHORIZED), not for the TLS (UNAVAILABLE, before the TLS shim locked
        # each SSL call)
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        raw = ctx.wrap_socket(socket.create_connection(("127.0.0.1", srv.port), timeout=10))
        raw.sendall(b"GET /api/machine/map/stream?since=0 HTTP/1.1\r\nHost: x\r\n"
                    b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        data, deadline = b"", time.monotonic() + 10
        while b"UNAUTHORIZED" not in data and time.monotonic() < deadline:
            try:
                chunk = raw.recv(4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        raw.close()
        check(data.startswith(b"HTTP/1.1 101") and b'"code":"UNAUTHORIZED"' in data,
              "map stream over TLS: %r" % data[:300])
        pem = os.path.join(srv.data_dir, "tls.pem")
        check(os.stat(pem).st_mode & 0o077 == 0, "combined key file is private")
    # with TLS a non-loopback address is allowed without --insecure-http
    srv = Server(args=["--tls-cert", cert, "--tls-key", key], tls=True)
    base = srv.command
    srv.command = lambda: [a if a != "127.0.0.1:%d" % srv.port else "0.0.0.0:%d" % srv.port
                           for a in base()]
    with srv:
        expect(srv.get("/healthz"), 200)
        check("INSECURE" not in srv.log_tail(), "no insecure warning with TLS")
    # a missing key file is a clean start-up failure
    srv = Server(args=["--tls-cert", cert, "--tls-key", os.path.join(d, "missing.pem")],
                 check_exit=False)
    try:
        srv.start()
        raise harness.Failure("started without its key")
    except harness.Failure as e:
        check("exited" in str(e), str(e))
    finally:
        srv.kill()
    shutil.rmtree(d, ignore_errors=True)
    shutil.rmtree(srv.data_dir, ignore_errors=True)


harness.run(main)
