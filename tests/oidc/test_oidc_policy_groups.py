"""OIDC groups in the policy: a rule may name an identity-provider group as group:oidc:<name>
without defining it, and the server fills its members from each user's groups claim, stored at
SSO login (oidc_user_groups), against a real OpenID Provider (npm oidc-provider).

Proves:
- a policy whose rule has src group:oidc:eng (and no "groups" section) is accepted by validate and
  by PUT (the name needs no definition), while an undefined plain group is still an error;
- a machine owned by an SSO user whose groups claim has "eng" is accepted on the rule's port,
  and explain names that rule (index and line); a machine of a user in "sales" only is denied
  with no_rule;
- a later SSO login of that user with "eng" in the claim recompiles the policy (no edit): the
  same machine is accepted; a login with no groups denies it again;
- JIT approvers named as group:oidc:oncall: a member whose groups claim has "oncall" may approve
  a request for that rule's port, a member without it may not (403);
- a first SSO login that makes a user a member is a "joined" event on the org's realtime
  "members" channel (an open users page refreshes); later logins are not.
Skips (77) without node/npm."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oidc_util  # noqa: E402
from oidc_util import Provider  # noqa: E402
from test_oidc_flow import SECRET_RS, Flow  # noqa: E402
import harness  # noqa: E402
from harness import Server, check, expect, free_port  # noqa: E402
import test_machines_util as mu  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "web"))
from test_realtime import WS  # noqa: E402

SLUG = "acme-corp"  # srv.setup()'s "Acme Corp"

POLICY = """// IdP groups in rules
{
  "tagOwners": {"tag:prod": ["%(owner)s"]},
  "rules": [
    {"action": "accept", "src": ["group:oidc:eng"], "dst": ["tag:prod:22"], "proto": "tcp"},
    {"action": "accept", "src": ["group:oidc:eng"], "dst": ["tag:prod:5432"], "proto": "tcp",
     "requireJit": true, "approvers": ["group:oidc:oncall"]},
  ],
}
"""
RULE_LINE = 5


def sso_user(srv, flow, op, owner, org, sub, groups):
    """Signs sub in through the provider with groups; returns their session in org."""
    op.set_user(sub=sub, email="%s@example.com" % sub, email_verified=True, name=sub.title(),
                groups=groups)
    s = flow.login(SLUG)
    s.org_id = org
    me = expect(srv.get("/api/me", s), 200).data
    got = next((o.get("oidc_groups") for o in me["orgs"] if o["id"] == org), None)
    check(got == sorted(groups), "groups stored for %s: %r" % (sub, got))
    return s


def explain(srv, owner, org, src, dst, port):
    body = {"src": src, "dst": dst, "port": port}
    return expect(srv.post("/api/orgs/%d/policy/explain" % org, body, owner), 200).data


def run(srv, op):
    owner = srv.setup()
    org = owner.org_id
    flow = Flow(srv, op)
    text = POLICY % {"owner": owner.email}
    r = expect(srv.post("/api/orgs/%d/policy/validate" % org, {"policy": text}, owner), 200)
    bad = text.replace("group:oidc:eng", "group:eng")
    r = expect(srv.post("/api/orgs/%d/policy/validate" % org, {"policy": bad}, owner), 400,
               "INVALID_POLICY")
    check('unknown group "group:eng"' in r.message, "plain groups must be defined: %r" % r.message)
    etag = expect(srv.get("/api/orgs/%d/policy" % org, owner), 200).header("ETag")
    expect(srv.request("PUT", "/api/orgs/%d/policy" % org, body={"policy": text}, session=owner,
                       headers={"If-Match": etag}), 200)

    web = mu.Machine("web")
    web.register(srv, mu.create_key(srv, owner, tags=["tag:prod"])["key"])

    ws = WS(srv.port, "/api/ws?token=" + owner.token)
    check(ws.recv_json().get("type") == "ready", "owner's realtime socket")
    ws.send({"type": "subscribe", "org": org, "channels": ["members"]})
    check(ws.until(lambda f: f.get("type") == "subscribed") is not None, "subscribed to members")
    joined = lambda f: f.get("type") == "event" and f["data"].get("event") == "joined"  # noqa: E731

    # Two SSO users; each gets admin (to create their own pre-auth key) and a laptop they own.
    laptops = {}
    for sub, groups in (("alice", ["eng", "ops"]), ("bob", ["sales"])):
        s = sso_user(srv, flow, op, owner, org, sub, groups)
        m = ws.until(joined)
        check(m and m["channel"] == "members" and m["data"]["id"] == s.user_id,
              "first SSO login of %s: joined event %r" % (sub, m))
        expect(srv.patch("/api/orgs/%d/users/%d" % (org, s.user_id), {"role": "admin"}, owner), 200)
        m = mu.Machine("%s-laptop" % sub)
        m.register(srv, mu.create_key(srv, s, org=org)["key"])
        laptops[sub] = m

    d = explain(srv, owner, org, "alice-laptop", "web", 22)
    check(d["accepted"] is True and d["rule"] == 0 and d["line"] == RULE_LINE,
          "alice (group:oidc:eng) accepted by the rule: %r" % d)
    d = explain(srv, owner, org, "alice-laptop", "web", 23)
    check(d["accepted"] is False, "only the rule's port: %r" % d)
    d = explain(srv, owner, org, "bob-laptop", "web", 22)
    check(d["accepted"] is False and d["failed"] == "no_rule",
          "bob (sales only) denied: %r" % d)

    # Bob's next login carries "eng": the policy follows without an edit; then no groups at all.
    sso_user(srv, flow, op, owner, org, "bob", ["eng"])
    d = explain(srv, owner, org, "bob-laptop", "web", 22)
    check(d["accepted"] is True and d["line"] == RULE_LINE, "bob now in eng: %r" % d)
    sso_user(srv, flow, op, owner, org, "bob", [])
    d = explain(srv, owner, org, "bob-laptop", "web", 22)
    check(d["accepted"] is False and d["failed"] == "no_rule", "bob left eng: %r" % d)
    d = explain(srv, owner, org, "alice-laptop", "web", 22)
    check(d["accepted"] is True, "alice unaffected: %r" % d)
    check(ws.until(joined, timeout=1.0) is None, "later logins of a member are not joins")

    # JIT approvers by IdP group: carl (member, oncall) may decide, dave (member) may not.
    carl = sso_user(srv, flow, op, owner, org, "carl", ["oncall"])
    dave = sso_user(srv, flow, op, owner, org, "dave", ["eng"])
    alice = sso_user(srv, flow, op, owner, org, "alice", ["eng", "ops"])
    jit = "/api/orgs/%d/jit-requests" % org
    rid = expect(srv.post(jit, {"dst": "web", "port": 5432, "duration": 600, "reason": "db fix"}, alice),
                 201).data["id"]
    r = expect(srv.post("%s/%d/approve" % (jit, rid), None, dave), 403, "FORBIDDEN")
    check("approver" in r.message, "dave is not an approver: %r" % r.message)
    r = expect(srv.post("%s/%d/approve" % (jit, rid), None, carl), 200)
    check(r.data["state"] == "approved", "carl (group:oidc:oncall) approved: %r" % r.data)
    ws.close()


def main():
    srv = Server()
    srv.port = free_port()
    op = Provider(free_port(), "http://127.0.0.1:%d/api/auth/oidc/callback" % srv.port)
    srv.args = ["--public-url", "http://127.0.0.1:%d" % srv.port, "--login-rate-ip", "500",
                "--oidc-org", SLUG, "--oidc-issuer", op.issuer, "--oidc-client-id", "ztna-rs",
                "--oidc-client-secret", SECRET_RS,
                "--oidc-scopes", "openid email profile groups"] + oidc_util.quiet_args()
    try:
        op.start(gen=1)
        with srv:
            run(srv, op)
    finally:
        op.stop()


if __name__ == "__main__":
    harness.run(main)
