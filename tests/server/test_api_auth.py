#!/usr/bin/env python3
"""Auth endpoints: setup, login, me, refresh rotation and reuse detection, logout, CSRF,
cookie attributes, token expiry, login rate limits (per address and per account)."""
import time

import harness
from harness import PASSWORD, Server, check, expect


def test_setup_login_me(srv):
    r = expect(srv.get("/api/me"), 401, "UNAUTHORIZED")
    owner = srv.setup()
    check(owner.role == "owner" and owner.org_id, "setup returns the owner's org")
    expect(srv.post("/api/auth/setup", {"email": "x@example.com", "password": PASSWORD,
                                        "org_name": "Second"}), 409, "CONFLICT")
    r = expect(srv.get("/api/me", owner), 200)
    check(r.data["email"] == "owner@example.com", r)
    check(r.data["orgs"][0]["role"] == "owner", r)
    check("password_hash" not in r.body.decode(), "hash leaked")
    r = expect(srv.post("/api/auth/login", {"email": "owner@example.com", "password": PASSWORD}), 200)
    check(r.data["token_type"] == "Bearer" and r.data["expires_in"] == 900, r)
    check(len(r.data["access_token"]) == 64, r)
    tok, cookie = r.cookie("__Host-refresh_token")
    check(tok and len(tok) == 64, "refresh cookie set")
    for attr in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/"):
        check(attr in cookie, "cookie lacks %s: %s" % (attr, cookie))
    check("Domain" not in cookie, "__Host- cookie must not carry Domain")
    # email is case-insensitive, password is not
    expect(srv.post("/api/auth/login", {"email": "OWNER@example.com", "password": PASSWORD}), 200)
    expect(srv.post("/api/auth/login", {"email": "owner@example.com", "password": PASSWORD.upper()}),
           401, "UNAUTHORIZED")
    expect(srv.post("/api/auth/login", {"email": "nobody@example.com", "password": PASSWORD}),
           401, "UNAUTHORIZED")
    # bad tokens
    for h in ("Bearer " + "0" * 64, "Bearer abc", "Basic Zm9vOmJhcg==", "Bearer " + owner.token + "x"):
        expect(srv.get("/api/me", headers={"Authorization": h}), 401, "UNAUTHORIZED")
    # security headers on every API response
    r = srv.get("/api/me", owner)
    for name in ("X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy",
                 "Cache-Control", "Referrer-Policy"):
        check(r.header(name), "missing header %s" % name)
    return owner


def test_refresh_rotation_and_reuse(srv):
    s = srv.login("owner@example.com")
    r1 = expect(srv.refresh(s.refresh), 200)
    new_refresh, _ = r1.cookie("__Host-refresh_token")
    check(new_refresh and new_refresh != s.refresh, "refresh token rotates")
    check(r1.data["access_token"] != s.token, "new access token")
    expect(srv.get("/api/me", headers={"Authorization": "Bearer " + r1.data["access_token"]}), 200)
    # the old one is spent: presenting it again revokes the family (new tokens die too)
    r = expect(srv.refresh(s.refresh), 401, "TOKEN_REUSED")
    expect(srv.refresh(new_refresh), 401, "UNAUTHORIZED")
    expect(srv.get("/api/me", headers={"Authorization": "Bearer " + r1.data["access_token"]}), 401)
    expect(srv.get("/api/me", s), 401)
    # another login (another family) is unaffected
    other = srv.login("owner@example.com")
    expect(srv.get("/api/me", other), 200)
    # refresh needs the cookie and CSRF defence
    expect(srv.post("/api/auth/refresh", headers={"X-ZTNA-CSRF": "1"}), 401, "UNAUTHORIZED")
    expect(srv.refresh(other.refresh, csrf=False), 403, "CSRF")
    expect(srv.refresh(other.refresh, origin="https://evil.example"), 403, "CSRF")
    expect(srv.post("/api/auth/refresh", headers={
        "Cookie": "__Host-refresh_token=" + other.refresh, "X-ZTNA-CSRF": "1",
        "Sec-Fetch-Site": "cross-site"}), 403, "CSRF")
    # a same-origin Origin is fine
    r = expect(srv.refresh(other.refresh, origin="http://127.0.0.1:%d" % srv.port), 200)
    check(r.data["user"]["email"] == "owner@example.com", r)


def test_logout(srv):
    s = srv.login("owner@example.com")
    # by bearer token
    r = expect(srv.post("/api/auth/logout", session=s), 200)
    _, cookie = r.cookie("__Host-refresh_token")
    check(cookie and "Max-Age=0" in cookie, "logout clears the cookie")
    expect(srv.get("/api/me", s), 401)
    expect(srv.refresh(s.refresh), 401)
    # by cookie, with CSRF
    s = srv.login("owner@example.com")
    expect(srv.post("/api/auth/logout", headers={"Cookie": "__Host-refresh_token=" + s.refresh}),
           403, "CSRF")
    expect(srv.get("/api/me", s), 200)
    expect(srv.post("/api/auth/logout", headers={"Cookie": "__Host-refresh_token=" + s.refresh,
                                                 "X-ZTNA-CSRF": "1"}), 200)
    expect(srv.get("/api/me", s), 401)
    expect(srv.post("/api/auth/logout"), 401)


def test_validation(srv):
    expect(srv.post("/api/auth/login", {"email": "owner@example.com"}), 400, "MISSING_FIELD")
    expect(srv.post("/api/auth/login", {"email": "a@b.c", "password": "x", "remember": True}),
           400, "UNKNOWN_FIELD")
    expect(srv.get("/api/auth/login"), 405, "METHOD_NOT_ALLOWED")


def test_rate_limits():
    # per account: 3 failures per window, then 429 even with the right password
    with Server(args=["--login-rate-account", "3", "--login-rate-ip", "8",
                      "--login-rate-window", "30"]) as srv:
        srv.setup()
        for _ in range(3):
            expect(srv.post("/api/auth/login", {"email": "owner@example.com", "password": "wrongpass"}),
                   401)
        r = expect(srv.post("/api/auth/login", {"email": "owner@example.com", "password": PASSWORD}),
                   429, "RATE_LIMITED")
        check(r.header("Retry-After") and 1 <= int(r.header("Retry-After")) <= 30, r.headers)
        # the account key is case-insensitive
        expect(srv.post("/api/auth/login", {"email": "Owner@Example.com", "password": PASSWORD}),
               429)
        # per address: 8 attempts in the window, whatever the account
        n = 0
        for i in range(20):
            r = srv.post("/api/auth/login", {"email": "u%d@example.com" % i, "password": "wrongpass"})
            if r.status == 429:
                break
            n += 1
        # 5 attempts already counted above (3 failures + 2 limited ones do not count)
        check(r.status == 429 and n == 8 - 3, "ip limit after %d more attempts, %r" % (n, r))
        check(srv.alive(), "server alive")


def test_access_token_expiry():
    with Server(args=["--access-token-ttl", "10"]) as srv:
        s = srv.setup()
        expect(srv.get("/api/me", s), 200)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if srv.get("/api/me", s).status == 401:
                break
            time.sleep(0.5)
        expect(srv.get("/api/me", s), 401, "UNAUTHORIZED")
        # the refresh token still works and yields a fresh access token
        r = expect(srv.refresh(s.refresh), 200)
        expect(srv.get("/api/me", headers={"Authorization": "Bearer " + r.data["access_token"]}), 200)


def main():
    with Server() as srv:
        test_setup_login_me(srv)
        test_refresh_rotation_and_reuse(srv)
        test_logout(srv)
        test_validation(srv)
    test_rate_limits()
    test_access_token_expiry()


harness.run(main)
