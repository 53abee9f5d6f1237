#!/usr/bin/env python3
"""The dashboard as served by ztna-server, over plain HTTP (no browser):
- index.html for "/" and every SPA route: text/html, no-cache, ETag, CSP with no inline script
  allowed, nosniff, Referrer-Policy, frame denial; the HTML itself has no inline script or style;
- every asset it references (and every module those import) exists with the right
  Content-Type and Cache-Control immutable; an unknown /assets/ path is 404, never HTML;
- gzip only when accepted (q=0 refuses), with Vary and a distinct ETag; the gzip body inflates
  to the identity body; If-None-Match gives 304 (also for a weak or listed tag);
- /api paths stay JSON: unknown /api path -> 404 envelope, GET /api/ws without upgrade -> 426;
- non-GET on a dashboard path -> 405 envelope with Allow; HEAD has headers and no body."""
import gzip
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
import harness  # noqa: E402
from harness import Server, check, expect  # noqa: E402

TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".svg": "image/svg+xml", ".html": "text/html; charset=utf-8"}


def check_security_headers(r, what):
    csp = r.header("Content-Security-Policy") or ""
    check("script-src 'self'" in csp and "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp,
          "%s: CSP must allow only same-origin script: %r" % (what, csp))
    check("default-src 'none'" in csp and "frame-ancestors 'none'" in csp and
          "style-src 'self'" in csp, "%s: CSP %r" % (what, csp))
    check(r.header("X-Content-Type-Options") == "nosniff", "%s: nosniff" % what)
    check(r.header("Referrer-Policy") in ("no-referrer", "same-origin", "strict-origin"),
          "%s: Referrer-Policy %r" % (what, r.header("Referrer-Policy")))
    check(r.header("X-Frame-Options") == "DENY", "%s: X-Frame-Options" % what)


def check_no_inline(html, what):
    for m in re.finditer(rb"<script\b([^>]*)>(.*?)</script>", html, re.S | re.I):
        check(b"src=" in m.group(1) and not m.group(2).strip(), "%s: inline script %r" % (what, m.group(0)[:80]))
    check(not re.search(rb"<style\b", html, re.I), "%s: inline <style>" % what)
    check(not re.search(rb"\son[a-z]+\s*=", html, re.I), "%s: inline event handler" % what)
    check(not re.search(rb"\sstyle\s*=", html, re.I), "%s: style attribute" % what)
    check(not re.search(rb"javascript:", html, re.I), "%s: javascript: URL" % what)


def quiet_args():
    """Listeners this test does not use, turned off so that parallel tests never collide."""
    import subprocess
    try:
        out = subprocess.run([harness.BINARY, "--help"], capture_output=True, text=True, timeout=10).stdout
    except OSError:
        return []
    return ["--stun-listen", "off"] if "--stun-listen" in out else []


def main():
    with Server(args=quiet_args()) as srv:
        index = None
        for path in ("/", "/index.html", "/machines", "/some/deep/route?x=1"):
            r = srv.get(path, headers={"Accept": "text/html"})
            check(r.status == 200, "%s: %r" % (path, r))
            check(r.header("Content-Type") == "text/html; charset=utf-8", "%s: type %r" % (path, r.header("Content-Type")))
            check(r.header("Cache-Control") == "no-cache", "%s: index must revalidate" % path)
            check_security_headers(r, path)
            check_no_inline(r.body, path)
            index = index or r
            check(r.body == index.body and r.header("ETag") == index.header("ETag"), "%s: same index" % path)
        etag = index.header("ETag")
        check(re.fullmatch(r'"[0-9a-f]{32}"', etag or ""), "index ETag %r" % etag)

        # Assets referenced by the index, then every module they import (relative specifiers).
        refs = [x.decode() for x in re.findall(rb'(?:src|href)="(/assets/[^"]+)"', index.body)]
        check(len(refs) >= 3, "index references its assets: %r" % refs)
        prefix = refs[0].rsplit("/", 1)[0].split("/")[:3]
        seen, todo = set(), list(refs)
        while todo:
            path = todo.pop()
            if path in seen:
                continue
            seen.add(path)
            r = srv.get(path, headers={"Accept": "*/*"})
            check(r.status == 200, "%s: %r" % (path, r))
            ext = os.path.splitext(path)[1]
            check(r.header("Content-Type") == TYPES[ext], "%s: type %r" % (path, r.header("Content-Type")))
            check(r.header("Cache-Control") == "public, max-age=31536000, immutable",
                  "%s: caching %r" % (path, r.header("Cache-Control")))
            check(r.header("X-Content-Type-Options") == "nosniff", "%s: nosniff" % path)
            if ext == ".js":
                base = path.rsplit("/", 1)[0]
                for spec in re.findall(rb"""(?:import|from)\s*\(?\s*['"](\.{1,2}/[^'"]+)['"]""", r.body):
                    todo.append(os.path.normpath(base + "/" + spec.decode()))
        check(len(seen) >= 10, "walked %d assets" % len(seen))
        check(all(p.startswith("/".join(prefix) + "/") for p in seen), "one build prefix: %r" % seen)

        # Unknown or stale asset: a 404 envelope, never the index as a script.
        for path in ("/assets/0000000000000000/js/main.js", "/".join(prefix) + "/js/nope.js"):
            r = srv.get(path)
            expect(r, 404, "NOT_FOUND")
            check(r.header("Content-Type") == "application/json", "%s: JSON 404" % path)

        # gzip negotiation on the largest JS asset.
        big = max((p for p in seen if p.endswith(".js")), key=lambda p: len(srv.get(p).body))
        plain = srv.get(big, headers={"Accept-Encoding": "identity"})
        check(plain.header("Content-Encoding") is None, "identity asked: no gzip")
        check(plain.header("Vary") == "Accept-Encoding", "Vary on a compressible asset")
        for ae in ("gzip", "br, gzip;q=0.8", "*", "deflate, x-gzip"):
            z = srv.get(big, headers={"Accept-Encoding": ae})
            check(z.header("Content-Encoding") == "gzip", "%r accepts gzip: %r" % (ae, z.headers))
            check(len(z.body) < len(plain.body) and gzip.decompress(z.body) == plain.body,
                  "gzip body inflates to the same bytes and is smaller")
            check(z.header("ETag") != plain.header("ETag"), "gzip has its own ETag")
        for ae in ("gzip;q=0", "br", "gzip;q=0.000, *", "*;q=0"):
            z = srv.get(big, headers={"Accept-Encoding": ae})
            check(z.header("Content-Encoding") is None and z.body == plain.body, "%r refuses gzip" % ae)

        # Conditional requests.
        for inm in (plain.header("ETag"), "W/" + plain.header("ETag"), '"nope", ' + plain.header("ETag"), "*"):
            r = srv.get(big, headers={"If-None-Match": inm, "Accept-Encoding": "identity"})
            check(r.status == 304 and r.body == b"", "If-None-Match %r -> 304, got %r" % (inm, r))
            check(r.header("ETag") == plain.header("ETag"), "304 repeats the ETag")
        r = srv.get(big, headers={"If-None-Match": '"other"', "Accept-Encoding": "identity"})
        check(r.status == 200 and r.body == plain.body, "non-matching tag -> 200")
        r = srv.get("/", headers={"If-None-Match": etag})
        check(r.status == 304, "index revalidates to 304")

        # HEAD and other methods.
        r = srv.request("HEAD", "/")
        check(r.status == 200 and r.body == b"" and r.header("Content-Length") == str(len(index.body)), "HEAD %r" % r)
        r = srv.post("/machines", {"x": 1})
        expect(r, 405, "METHOD_NOT_ALLOWED")
        check(r.header("Allow") == "GET, HEAD", "Allow header")

        # /api stays JSON.
        r = srv.get("/api/nope", headers={"Accept": "text/html"})
        expect(r, 404, "NOT_FOUND")
        check(r.header("Content-Type") == "application/json", "API 404 is JSON")
        r = srv.get("/api/ws")
        expect(r, 426, "UPGRADE_REQUIRED")
        r = srv.get("/healthz")
        expect(r, 200)


harness.run(main)
