#!/usr/bin/env python3
"""Hostile input: malformed JSON, wrong types, unknown fields, oversized bodies (413), bad UTF-8,
huge numbers, deep nesting, NUL bytes, SQL-looking strings, path tricks. Each gets a 4xx envelope
naming the problem, nothing is stored, and the server stays alive."""
import harness
from harness import PASSWORD, Server, check, expect


def state(srv, owner):
    orgs = expect(srv.get("/api/orgs", owner), 200).data
    members = expect(srv.get("/api/orgs/%d/users" % owner.org_id, owner), 200).data
    return (sorted((o["id"], o["name"], o["slug"]) for o in orgs),
            sorted((m["id"], m["email"], m["role"]) for m in members))


def test_bodies(srv, owner):
    before = state(srv, owner)
    url = "/api/orgs"
    cases = [
        (b'{"name": "x"', "INVALID_JSON", "not valid JSON"),
        (b'{"name": "x"} trailing', "INVALID_JSON", "not valid JSON"),
        (b"[]", "INVALID_JSON", "JSON object"),
        (b'"just a string"', "INVALID_JSON", "JSON object"),
        (b"{name: 'x'}", "INVALID_JSON", None),
        (b'{"name": 42}', "INVALID_FIELD", "'name'"),
        (b'{"name": ["x"]}', "INVALID_FIELD", "'name'"),
        (b'{"name": {"x": 1}}', "INVALID_FIELD", "'name'"),
        (b'{"name": true}', "INVALID_FIELD", "'name'"),
        (b'{"name": 1e999}', "INVALID_FIELD", "'name'"),
        (b'{"name": 123456789012345678901234567890}', "INVALID_FIELD", "'name'"),
        (b'{"name": "x", "admin": true}', "UNKNOWN_FIELD", "'admin'"),
        (b'{"name": "x", "name": "y"}', "INVALID_FIELD", "twice"),
        (b'{"name": "\xff\xfe"}', "INVALID_JSON", "UTF-8"),
        (b'{"name": "\xed\xa0\x80"}', "INVALID_JSON", "UTF-8"),
        (b'{"name": "\xc0\xae\xc0\xae"}', "INVALID_JSON", "UTF-8"),
        (b'{"name": "a\\u0000b"}', "INVALID_JSON", "NUL"),
        (b'{"name": "a\x00b"}', "INVALID_JSON", "NUL"),
        (b'{"name": "' + b"x" * 200 + b'"}', "INVALID_FIELD", "'name'"),
        (b'{"name": ""}', "INVALID_FIELD", "'name'"),
        (b'{"name": "x", "slug": "../../etc"}', "INVALID_FIELD", "slug"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, "INVALID_JSON", "nested"),
        (b"", "INVALID_JSON", "required"),
    ]
    for raw, code, words in cases:
        r = expect(srv.post(url, session=owner, raw_body=raw), 400, code)
        if words:
            check(words in r.message, "message %r should mention %r" % (r.message, words))
    # 413: a real oversized body, and a Content-Length that promises one
    big = b'{"name": "' + b"x" * (70 * 1024) + b'"}'
    expect(srv.post(url, session=owner, raw_body=big), 413, "PAYLOAD_TOO_LARGE")
    status, resp = srv.raw(b"POST /api/orgs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                           + owner.token.encode() + b"\r\nContent-Type: application/json\r\n"
                           b"Content-Length: 100000000\r\n\r\n{")
    check(status == 413 and b"PAYLOAD_TOO_LARGE" in resp, resp[:300])
    # a body where none is expected must still be a clean JSON object without fields
    expect(srv.request("GET", "/api/me", session=owner, raw_body=b'{"x":1}'), 400, "UNKNOWN_FIELD")
    expect(srv.request("GET", "/api/me", session=owner, raw_body=b"{}"), 200)
    # SQL-looking strings are data, stored verbatim, never executed
    evil = "Robert'); DROP TABLE users;--"
    r = expect(srv.post(url, {"name": evil}, owner), 201)
    check(r.data["name"] == evil, r)
    r = expect(srv.post("/api/auth/login", {"email": "' OR 1=1 --", "password": "' OR '1'='1"}), 401)
    expect(srv.get("/api/me", owner), 200)
    expect(srv.delete("/api/orgs/%d" % expect(srv.post(url, {"name": "tmp"}, owner), 201).data["id"],
                      owner), 200)
    after = state(srv, owner)
    check(len(after[0]) == len(before[0]) + 1, "only the SQL-looking org was stored: %r" % (after,))
    check(after[1] == before[1], "members unchanged")
    # members: same discipline
    expect(srv.post("/api/orgs/%d/users" % owner.org_id, session=owner,
                    raw_body=b'{"email":"q@example.com","password":"' + PASSWORD.encode() +
                    b'","role":["owner"]}'), 400, "INVALID_FIELD")
    check(state(srv, owner)[1] == before[1], "no member added")


def test_paths(srv, owner):
    tricks = ["/api/../api/me", "/api/%2e%2e/api/me", "/api/%2E%2E/me", "/api/./me", "/api//me",
              "/api/orgs/%2f", "/api/orgs/1%2f..%2f2", "/api/orgs/%00", "/api/orgs/1%0a",
              "/api/me%00", "/api/orgs/%zz", "/api/..%2fme", "/api/%5c..%5cme"]
    for p in tricks:
        status, resp = srv.raw(("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                                "Connection: close\r\n\r\n" % (p, owner.token)).encode())
        check(400 <= status < 500, "%s -> %d %r" % (p, status, resp[:200]))
        check(b'"success":false' in resp, "%s: envelope expected: %r" % (p, resp[:300]))
    # a raw NUL byte inside the request line
    status, resp = srv.raw(b"GET /api/m\x00e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check(status == 0 or 400 <= status < 500, "NUL in path -> %d" % status)
    # unknown /api paths are 404 envelopes; a wrong method is 405 with Allow
    expect(srv.get("/api/nope", owner), 404, "NOT_FOUND")
    expect(srv.get("/api", owner), 404, "NOT_FOUND")
    r = expect(srv.request("PUT", "/api/orgs", body={}, session=owner), 405, "METHOD_NOT_ALLOWED")
    check("GET" in r.header("Allow") and "POST" in r.header("Allow"), r.headers)
    expect(srv.get("/api/orgs/1/users/1/extra", owner), 404)
    long_path = "/api/orgs/" + "a" * 5000
    status, resp = srv.raw(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                            % long_path).encode())
    check(400 <= status < 500 or status == 0, "long path -> %d" % status)
    # query strings do not confuse the router
    expect(srv.get("/api/me?x=../../etc", owner), 200)


def main():
    with Server() as srv:
        owner = srv.setup()
        test_bodies(srv, owner)
        test_paths(srv, owner)
        check(srv.alive(), "server still running")
        expect(srv.get("/healthz"), 200)
        expect(srv.get("/api/me", owner), 200)


harness.run(main)
