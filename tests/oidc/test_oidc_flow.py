"""OIDC single sign-on against a real OpenID Provider (npm oidc-provider, tests/oidc/provider.mjs)
on 127.0.0.1, the browser played by hand (redirects followed with a cookie jar):

    ztna-server /api/auth/oidc/start --302--> provider /auth --> /interaction (scripted user)
        --> /auth/<uid> --303--> ztna-server /api/auth/oidc/callback?code&state
        --> token exchange + JWKS (libcurl) --302--> /#/login?sso=1 + refresh cookie

Proves: login with RS256 (client_secret_basic) and ES256 (client_secret_post); the user is
created as a member with the groups claim stored (shown by /api/me); discovery and JWKS are
cached; a rotated key (unknown kid) is fetched once and accepted; and each of wrong audience,
expired token, bad nonce, wrong issuer, tampered token, a key the provider does not publish,
wrong / replayed / foreign / expired state, a refused code, a cancelled sign-in, a missing or
unverified e-mail and a disallowed e-mail domain ends in a worded error, an audit entry and no
session; a verified e-mail links to the existing account and keeps its role. Skips (77) without node/npm."""
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oidc_util  # noqa: E402
from oidc_util import Browser, Provider  # noqa: E402
import harness  # noqa: E402
from harness import Server, check, expect, free_port  # noqa: E402

SECRET_RS = "secret-rs-0123456789abcdef"
SECRET_ES = "secret-es-0123456789abcdef"
ALICE = dict(sub="alice", email="alice@example.com", email_verified=True, name="Alice",
             groups=["eng", "ops"])


class Flow:
    def __init__(self, srv, op):
        self.srv, self.op = srv, op
        self.base = "http://127.0.0.1:%d" % srv.port

    def to_callback(self, slug, browser=None):
        """Runs start and the provider's side; returns (browser, callback URL) not yet sent."""
        b = browser or Browser()
        r = b.get(self.base + "/api/auth/oidc/start?org=" + slug)
        check(r.status == 302, "start must redirect: %r" % r)
        loc = r.header("Location")
        check(loc.startswith(self.op.issuer + "/auth?"), "start goes to the provider: %s" % loc)
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
        check(q["code_challenge_method"] == ["S256"] and len(q["code_challenge"][0]) == 43 and
              len(q["state"][0]) >= 43 and len(q["nonce"][0]) >= 43, "PKCE, state, nonce: %r" % q)
        check(q["redirect_uri"] == [self.base + "/api/auth/oidc/callback"], repr(q))
        cb = b.follow(loc, self.base + "/api/auth/oidc/callback")
        return b, cb

    def login(self, slug, expect_error=None):
        """A whole browser login; returns the session (access token) or checks the error."""
        b, cb = self.to_callback(slug)
        return self.finish(b, cb, expect_error)

    def finish(self, b, cb, expect_error=None):
        r = b.get(cb)
        loc = r.header("Location") or ""
        if expect_error:
            check(r.status == 302 and loc.startswith("/#/login?error=" + expect_error),
                  "expected error %s, got %r %s" % (expect_error, r, loc))
            msg = urllib.parse.parse_qs(loc.split("?", 1)[1]).get("message", [""])[0]
            check(len(msg) > 15, "the error is in words: %r" % loc)
            check(not r.cookie("__Host-refresh_token")[0],
                  "no session after %s" % expect_error)
            return msg
        check(r.status == 302 and loc == "/#/login?sso=1", "callback: %r %s" % (r, loc))
        tok, attrs = r.cookie("__Host-refresh_token")
        check(tok and "HttpOnly" in attrs and "SameSite=Strict" in attrs and "Secure" in attrs,
              "refresh cookie like password login: %r" % attrs)
        # The SPA then refreshes with the cookie, exactly as after a password login.
        rr = expect(self.srv.refresh(tok), 200)
        return harness.Session(rr.data["access_token"], None, rr.data["user"]["id"],
                               rr.data["user"]["email"])


def audit_reasons(srv, owner, org):
    ev = expect(srv.get("/api/orgs/%d/audit?action=oidc.login.failure&limit=200" % org, owner),
                200).data["events"]
    return [str(e.get("detail")) for e in ev]


def main():
    srv = Server()
    srv.port = free_port()
    op = Provider(free_port(), "http://127.0.0.1:%d/api/auth/oidc/callback" % srv.port)
    # The second org ("beta-org") gets its SSO from the server config, not from the API.
    srv.args = ["--public-url", "http://127.0.0.1:%d" % srv.port, "--login-rate-ip", "500",
                "--oidc-org", "beta-org", "--oidc-issuer", op.issuer, "--oidc-client-id", "ztna-es",
                "--oidc-client-secret", SECRET_ES, "--oidc-token-auth", "client_secret_post",
                "--oidc-scopes", "openid email profile groups"] + oidc_util.quiet_args()
    try:
        op.start(gen=1)
        with srv:
            run(srv, op)
        expiry(op)
    finally:
        op.stop()


def expiry(op):
    """A sign-in left at the provider longer than oidc-login-ttl is refused (server config SSO)."""
    srv = Server()
    srv.port = free_port()
    srv.args = ["--public-url", "http://127.0.0.1:%d" % srv.port, "--oidc-login-ttl", "1",
                "--oidc-org", "acme-corp", "--oidc-issuer", op.issuer, "--oidc-client-id",
                "ztna-rs", "--oidc-client-secret", SECRET_RS] + oidc_util.quiet_args()
    with srv:
        srv.setup()
        f = Flow(srv, op)
        b = Browser()
        r = b.get(f.base + "/api/auth/oidc/start?org=acme-corp")
        check(r.status == 302 and "Max-Age=1" in r.header("Set-Cookie"), repr(r.headers))
        state = urllib.parse.parse_qs(urllib.parse.urlsplit(r.header("Location")).query)["state"][0]
        time.sleep(2.2)
        f.finish(b, f.base + "/api/auth/oidc/callback?code=x&state=" + state,
                 expect_error="login_expired")


def run(srv, op):
    owner = srv.setup()
    org = owner.org_id
    slug = expect(srv.get("/api/orgs/%d" % org, owner), 200).data["slug"]
    f = Flow(srv, op)

    # --- settings: admin only, secret write-only ----------------------------------------------
    member = srv.member(owner, "member")
    expect(srv.get("/api/orgs/%d/oidc" % org, member), 403, "FORBIDDEN")
    expect(srv.request("PUT", "/api/orgs/%d/oidc" % org, {"issuer": op.issuer, "client_id": "x"},
                       member), 403, "FORBIDDEN")
    r = expect(srv.get("/api/orgs/%d/oidc" % org, owner), 200)
    check(r.data["configured"] is False, repr(r.data))
    bad = {"issuer": "http://idp.example.com", "client_id": "ztna-rs"}
    r = expect(srv.request("PUT", "/api/orgs/%d/oidc" % org, bad, owner), 400, "INVALID_FIELD")
    check("https" in r.message, r.message)
    r = expect(srv.request("PUT", "/api/orgs/%d/oidc" % org,
                           dict(bad, issuer=op.issuer, scopes="email profile"), owner), 400)
    check("openid" in r.message, r.message)
    cfg = {"issuer": op.issuer, "client_id": "ztna-rs", "client_secret": SECRET_RS,
           "scopes": "openid email profile groups", "allowed_domains": ["Example.com"],
           "groups_claim": "groups"}
    r = expect(srv.request("PUT", "/api/orgs/%d/oidc" % org, cfg, owner), 200)
    check(SECRET_RS.encode() not in r.body, "secret never returned")
    r = expect(srv.get("/api/orgs/%d/oidc" % org, owner), 200)
    check(SECRET_RS.encode() not in r.body and r.data["client_secret_set"] is True and
          r.data["allowed_domains"] == ["example.com"] and r.data["source"] == "org" and
          r.data["redirect_uri"] == f.base + "/api/auth/oidc/callback", repr(r.data))
    # Saving without the secret keeps it (the settings page need not re-type it).
    cfg_nosecret = {k: v for k, v in cfg.items() if k != "client_secret"}
    expect(srv.request("PUT", "/api/orgs/%d/oidc" % org, cfg_nosecret, owner), 200)

    # --- unknown org / not configured: words, no session ---------------------------------------
    b = Browser()
    r = b.get(f.base + "/api/auth/oidc/start?org=no-such-org")
    check(r.status == 302 and r.header("Location").startswith("/#/login?error=sso_not_configured"),
          repr(r))
    r = expect(srv.get("/api/auth/oidc/start?org=no-such-org"), 404, "SSO_NOT_CONFIGURED")

    # --- RS256 login: user created as member, groups stored ------------------------------------
    op.set_user(**ALICE)
    alice = f.login(slug)
    me = expect(srv.get("/api/me", alice), 200).data
    check(me["email"] == "alice@example.com" and me["name"] == "Alice", repr(me))
    o = [x for x in me["orgs"] if x["id"] == org]
    check(o and o[0]["role"] == "member" and o[0]["oidc_groups"] == ["eng", "ops"], repr(me))
    # Second login: same user, groups replaced from the new token.
    op.set_user(**dict(ALICE, groups=["eng"]))
    alice2 = f.login(slug)
    check(alice2.user_id == alice.user_id, "same account by (iss, sub)")
    me = expect(srv.get("/api/me", alice2), 200).data
    check([x for x in me["orgs"] if x["id"] == org][0]["oidc_groups"] == ["eng"], repr(me))
    st = op.stats()
    check(st["discovery"] == 1 and st["jwks"] == 1 and st["token"] == 2,
          "discovery and JWKS cached: %r" % st)
    ev = expect(srv.get("/api/orgs/%d/audit?action=oidc.login.success" % org, owner), 200)
    check(len(ev.data["events"]) == 2, repr(ev.data))
    ev = expect(srv.get("/api/orgs/%d/audit?action=user.create" % org, owner), 200)
    check(len(ev.data["events"]) == 1, "user created once: %r" % ev.data)

    # --- ES256 with client_secret_post, from the server config, in a second org ---------------
    org2 = srv.create_org(owner, "Beta Org")
    slug2 = expect(srv.get("/api/orgs/%d" % org2, owner), 200).data["slug"]
    check(slug2 == "beta-org", slug2)
    r = expect(srv.get("/api/orgs/%d/oidc" % org2, owner), 200)
    check(r.data["source"] == "server-config" and r.data["client_id"] == "ztna-es" and
          r.data["client_secret_set"] is True and r.data["allowed_domains"] == [] and
          SECRET_ES.encode() not in r.body, repr(r.data))
    op.set_user(sub="bob", email="bob@corp.test", email_verified=True, name="Bob",
                groups=["admins"])
    bob = f.login(slug2)
    me = expect(srv.get("/api/me", bob), 200).data
    check(me["email"] == "bob@corp.test" and [(x["id"], x["role"], x["oidc_groups"])
          for x in me["orgs"]] == [(org2, "member", ["admins"])], repr(me))

    # --- bad tokens: each a worded error, an audit entry and no session ------------------------
    op.set_user(**ALICE)
    cases = [("aud", "invalid_audience"), ("exp", "token_expired"), ("nonce", "nonce_mismatch"),
             ("iss", "invalid_issuer"), ("tamper", "bad_signature")]
    for mode, code in cases:
        op.set_mode(mode)
        f.login(slug, expect_error=code)
    jwks_before = op.stats()["jwks"]
    op.set_mode("rogue_kid")
    f.login(slug, expect_error="unknown_key")
    check(op.stats()["jwks"] == jwks_before + 1, "unknown kid refreshes the JWKS exactly once")
    # An API caller (no text/html) gets the 4xx envelope instead of a redirect.
    op.set_mode("aud")
    b, cb = f.to_callback(slug)
    r = b.get(cb, accept="application/json")
    expect(r, 401, "INVALID_AUDIENCE")
    check(not r.cookie("__Host-refresh_token")[0], "no session for API callers either")

    # --- state: wrong, foreign browser, replayed -----------------------------------------------
    b, cb = f.to_callback(slug)
    u = urllib.parse.urlsplit(cb)
    q = urllib.parse.parse_qs(u.query)
    forged = cb.replace("state=" + q["state"][0], "state=" + "A" * 43)
    f.finish(b, forged, expect_error="state_mismatch")       # param != this browser's cookie
    b2, cb2 = f.to_callback(slug)
    q2 = urllib.parse.parse_qs(urllib.parse.urlsplit(cb2).query)
    for k in list(b2.jar):
        if k[1] == "__Host-ztna_oidc_state":
            b2.jar[k] = "B" * 43
    f.finish(b2, cb2.replace("state=" + q2["state"][0], "state=" + "B" * 43),
             expect_error="state_invalid")                   # consistent but never issued
    b3, cb3 = f.to_callback(slug)
    cookie = [(k, v) for k, v in b3.jar.items() if k[1] == "__Host-ztna_oidc_state"]
    f.finish(b3, cb3)                                        # a good login ...
    b3.jar.update(cookie)
    f.finish(b3, cb3, expect_error="state_invalid")          # ... replayed: single use

    # --- e-mail rules ----------------------------------------------------------------------------
    op.set_user(sub="eve", email="eve@evil.test", email_verified=True, name="Eve", groups=[])
    f.login(slug, expect_error="domain_not_allowed")
    members = expect(srv.get("/api/orgs/%d/users" % org, owner), 200).data
    check("eve@evil.test" not in repr(members), "no user for a refused domain")
    op.set_user(sub="mallory", email="owner@example.com", email_verified=False, name="M",
                groups=[])
    f.login(slug, expect_error="email_unverified")           # would take over the owner
    op.set_user(sub="nomail", name="No Mail", groups=[])
    f.login(slug, expect_error="email_missing")
    # A verified e-mail links to the existing password account, whose role is kept.
    op.set_user(sub="owner-at-idp", email="OWNER@example.com", email_verified=True, name="O",
                groups=["founders"])
    o = f.login(slug)
    check(o.user_id == owner.user_id, "linked by verified e-mail")
    me = expect(srv.get("/api/me", o), 200).data
    check([(x["role"], x["oidc_groups"]) for x in me["orgs"] if x["id"] == org] ==
          [("owner", ["founders"])], repr(me))

    # --- the provider refuses: wrong client secret; the user cancels ---------------------------
    expect(srv.request("PUT", "/api/orgs/%d/oidc" % org, dict(cfg, client_secret="wrong"), owner),
           200)
    msg = f.login(slug, expect_error="provider_refused")
    check("invalid_client" in msg, "the provider's reason is shown: %s" % msg)
    expect(srv.request("PUT", "/api/orgs/%d/oidc" % org, cfg, owner), 200)
    b = Browser()
    r = b.get(f.base + "/api/auth/oidc/start?org=" + slug)
    state = urllib.parse.parse_qs(urllib.parse.urlsplit(r.header("Location")).query)["state"][0]
    r = b.get(f.base + "/api/auth/oidc/callback?error=access_denied&state=" + state)
    check(r.status == 302 and r.header("Location").startswith("/#/login?error=access_denied"),
          repr(r))
    check(not any(k[1] == "__Host-ztna_oidc_state" for k in b.jar), "state cookie cleared")
    b.jar[("127.0.0.1:%d" % srv.port, "__Host-ztna_oidc_state", "/")] = state
    f.finish(b, f.base + "/api/auth/oidc/callback?code=x&state=" + state,
             expect_error="state_invalid")                  # the cancelled state is spent

    reasons = " ".join(audit_reasons(srv, owner, org))  # (unknown states have no org)
    for code in ("invalid_audience", "token_expired", "nonce_mismatch", "invalid_issuer",
                 "bad_signature", "unknown_key", "domain_not_allowed", "email_missing",
                 "provider_refused", "access_denied",
                 "email_unverified"):
        check(code in reasons, "failure %s audited: %s" % (code, reasons))

    # --- key rotation: the provider restarts with new keys (kids rsa-2, ec-2) -------------------
    op.stop()
    op.start(gen=2)
    op.set_user(**ALICE)
    alice3 = f.login(slug)
    check(alice3.user_id == alice.user_id, "rotated key accepted, same user")
    st = op.stats()
    check(st["jwks"] == 1 and st["discovery"] == 0, "one JWKS refresh on the new kid: %r" % st)


if __name__ == "__main__":  # test_oidc_policy_groups.py imports Flow
    harness.run(main)
