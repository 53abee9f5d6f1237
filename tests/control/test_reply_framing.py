#!/usr/bin/env python3
"""HTTP framing of the server's replies, read from a raw socket: server/http.c writes each reply
(status line, headers, body) itself in one piece instead of through civetweb's header writer, so
this checks what civetweb used to guarantee: the status line and reason, every security header,
a Content-Length that matches the body, a Date, handler headers (WWW-Authenticate), and a
Connection header that tells the truth: two requests answered on one HTTP/1.1 connection
(keep-alive), and a closed connection after "Connection: close", after an HTTP/1.0 request and
after a 401."""
import email.utils
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from control_util import check, harness  # noqa: E402

TIMEOUT = 10.0


def read_reply(s, buf):
    """Reads one reply from s (buf: bytes already read). Returns (status line, headers dict with
    lower-case names, body, rest of buf); bounded by TIMEOUT."""
    deadline = time.monotonic() + TIMEOUT
    while b"\r\n\r\n" not in buf:
        check(time.monotonic() < deadline, "no complete reply head in %.0f s: %r" % (TIMEOUT, buf))
        chunk = s.recv(65536)
        check(chunk, "connection closed before a reply head: %r" % buf)
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        check(sep and name.strip() == name and name, "malformed header line %r" % line)
        check(name.lower() not in headers, "header %s sent twice" % name)
        headers[name.lower()] = value.strip()
    check("content-length" in headers, "no Content-Length in %r" % lines)
    n = int(headers["content-length"])
    while len(rest) < n:
        check(time.monotonic() < deadline, "body shorter than Content-Length %d" % n)
        chunk = s.recv(65536)
        check(chunk, "connection closed inside the body")
        rest += chunk
    return lines[0], headers, rest[:n], rest[n:]


def closed_by_server(s):
    s.settimeout(TIMEOUT)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


def common_headers(headers, what):
    for name, value in (("content-type", "application/json"), ("x-content-type-options", "nosniff"),
                        ("x-frame-options", "DENY"), ("referrer-policy", "no-referrer"),
                        ("cache-control", "no-store"), ("cross-origin-resource-policy", "same-origin")):
        check(headers.get(name) == value, "%s: %s is %r, want %r" % (what, name, headers.get(name), value))
    check(headers.get("content-security-policy", "").startswith("default-src 'none'"),
          "%s: Content-Security-Policy %r" % (what, headers.get("content-security-policy")))
    check(headers.get("date", "").endswith(" GMT"), "%s: Date %r" % (what, headers.get("date")))
    # an IMF-fixdate of now (the server caches the text per second and thread)
    sent = email.utils.parsedate_to_datetime(headers["date"]).timestamp()
    check(abs(sent - time.time()) < 5, "%s: Date %r is not now" % (what, headers["date"]))
    time.strptime(headers["date"], "%a, %d %b %Y %H:%M:%S GMT")


def main():
    with harness.Server() as srv:
        srv.setup()
        # Two requests on one HTTP/1.1 connection: both answered, the connection kept.
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
        buf = b""
        for i in range(2):
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            status, headers, body, buf = read_reply(s, buf)
            check(status == "HTTP/1.1 200 OK", "status line %r" % status)
            common_headers(headers, "healthz #%d" % i)
            check(headers.get("connection") == "keep-alive", "Connection %r" % headers.get("connection"))
            env = json.loads(body)
            check(env["success"] is True and env["data"]["status"] == "ok", "body %r" % body)
        check(buf == b"", "bytes after the second reply: %r" % buf)
        # An error envelope, still on the same connection.
        s.sendall(b"GET /api/no/such/route HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body, buf = read_reply(s, buf)
        check(status == "HTTP/1.1 404 Not Found", "status line %r" % status)
        common_headers(headers, "404")
        env = json.loads(body)
        check(env["success"] is False and env["error"]["code"], "404 body %r" % body)
        s.close()

        # Connection: close is honoured and said; HTTP/1.0 without keep-alive: the status line
        # keeps the version, the connection closes.
        for req, want in ((b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                           "HTTP/1.1 200 OK"),
                          (b"GET /healthz HTTP/1.0\r\n\r\n", "HTTP/1.0 200 OK")):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
            s.sendall(req)
            status, headers, body, buf = read_reply(s, b"")
            check(status == want and headers.get("connection") == "close",
                  "%r: %r %r" % (req, status, headers.get("connection")))
            check(closed_by_server(s), "connection still open after %r" % req)
            s.close()

        # A 401 with the handler's own header; civetweb closes after a 401 and the reply says so.
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
        s.sendall(b"GET /api/machine/map?since=0 HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body, buf = read_reply(s, b"")
        check(status == "HTTP/1.1 401 Unauthorized", "status line %r" % status)
        common_headers(headers, "401")
        check(headers.get("www-authenticate"), "401 without WWW-Authenticate: %r" % headers)
        check(headers.get("connection") == "close", "401 Connection %r" % headers.get("connection"))
        check(closed_by_server(s), "connection still open after a 401")
        s.close()
        check(json.loads(body)["error"]["code"] == "UNAUTHORIZED", "401 body %r" % body)


harness.run(main)
