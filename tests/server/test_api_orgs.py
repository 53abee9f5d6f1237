#!/usr/bin/env python3
"""Orgs and members: happy paths, validation, conflicts, owner rules (last owner 409),
role-change rules, cross-org invisibility."""
import harness
from harness import PASSWORD, Server, check, expect


def test_orgs(srv, owner):
    r = expect(srv.get("/api/orgs", owner), 200)
    check(len(r.data) == 1 and r.data[0]["slug"] == "acme-corp", r)
    r = expect(srv.post("/api/orgs", {"name": "Beta Team", "slug": "beta"}, owner), 201)
    beta = r.data["id"]
    check(r.data["role"] == "owner" and r.data["slug"] == "beta", r)
    expect(srv.post("/api/orgs", {"name": "Beta again", "slug": "beta"}, owner), 409, "CONFLICT")
    expect(srv.post("/api/orgs", {"name": "Bad", "slug": "Not A Slug"}, owner), 400, "INVALID_FIELD")
    expect(srv.post("/api/orgs", {"name": "x\ny"}, owner), 400, "INVALID_FIELD")
    expect(srv.post("/api/orgs", {}, owner), 400, "MISSING_FIELD")
    r = expect(srv.get("/api/orgs/%d" % beta, owner), 200)
    check(r.data["name"] == "Beta Team", r)
    r = expect(srv.patch("/api/orgs/%d" % beta, {"name": "Beta Renamed"}, owner), 200)
    check(r.data["name"] == "Beta Renamed" and r.data["slug"] == "beta", r)
    r = expect(srv.patch("/api/orgs/%d" % beta, {"slug": "beta-2"}, owner), 200)
    check(r.data["slug"] == "beta-2", r)
    expect(srv.patch("/api/orgs/%d" % beta, {"slug": "acme-corp"}, owner), 409, "CONFLICT")
    expect(srv.patch("/api/orgs/%d" % beta, {"plan": "pro"}, owner), 400, "UNKNOWN_FIELD")
    r = expect(srv.get("/api/orgs", owner), 200)
    check(len(r.data) == 2, r)
    expect(srv.delete("/api/orgs/%d" % beta, owner), 200)
    expect(srv.get("/api/orgs/%d" % beta, owner), 404, "NOT_FOUND")
    expect(srv.delete("/api/orgs/%d" % beta, owner), 404)
    for bad in ("0", "-1", "abc", "01", "99999999999999999999", "1.0"):
        expect(srv.get("/api/orgs/" + bad, owner), 404)


def test_members(srv, owner):
    org = owner.org_id
    base = "/api/orgs/%d/users" % org
    r = expect(srv.post(base, {"email": "bob@example.com", "password": PASSWORD}, owner), 201)
    bob = r.data["id"]
    check(r.data["role"] == "member", r)
    expect(srv.post(base, {"email": "bob@example.com"}, owner), 409, "CONFLICT")
    expect(srv.post(base, {"email": "new@example.com"}, owner), 400, "MISSING_FIELD")
    expect(srv.post(base, {"email": "not-an-email", "password": PASSWORD}, owner), 400)
    expect(srv.post(base, {"email": "c@example.com", "role": "god", "password": PASSWORD}, owner),
           400, "INVALID_FIELD")
    expect(srv.post(base, {"email": "c@example.com", "password": "short"}, owner), 400)
    r = expect(srv.get(base, owner), 200)
    check(sorted(m["email"] for m in r.data) == ["bob@example.com", "owner@example.com"], r)
    r = expect(srv.patch("%s/%d" % (base, bob), {"role": "admin"}, owner), 200)
    check(r.data["role"] == "admin", r)
    expect(srv.patch("%s/%d" % (base, bob), {"role": "boss"}, owner), 400)
    expect(srv.patch("%s/%d" % (base, 999999), {"role": "admin"}, owner), 404)
    # an existing user joins a second org without a password
    other = srv.create_org(owner, "Gamma")
    r = expect(srv.post("/api/orgs/%d/users" % other, {"email": "bob@example.com"}, owner), 201)
    check(r.data["id"] == bob, r)
    # an org admin cannot reset an existing account's password through membership
    expect(srv.post("/api/orgs/%d/users" % other, {"email": "owner@example.com",
                                                    "password": "hijacked-password"}, owner), 409)
    # bob (admin) may not touch the owner role
    bs = srv.login("bob@example.com", org_id=org)
    expect(srv.patch("%s/%d" % (base, owner.user_id), {"role": "member"}, bs), 403, "FORBIDDEN")
    expect(srv.delete("%s/%d" % (base, owner.user_id), bs), 403, "FORBIDDEN")
    expect(srv.patch("%s/%d" % (base, bob), {"role": "owner"}, bs), 403, "FORBIDDEN")
    expect(srv.post(base, {"email": "o2@example.com", "role": "owner", "password": PASSWORD}, bs),
           403, "FORBIDDEN")
    # last owner can be neither demoted nor removed
    expect(srv.patch("%s/%d" % (base, owner.user_id), {"role": "admin"}, owner), 409, "LAST_OWNER")
    expect(srv.delete("%s/%d" % (base, owner.user_id), owner), 409, "LAST_OWNER")
    # with a second owner, the first may step down
    expect(srv.patch("%s/%d" % (base, bob), {"role": "owner"}, owner), 200)
    expect(srv.patch("%s/%d" % (base, owner.user_id), {"role": "admin"}, owner), 200)
    expect(srv.patch("%s/%d" % (base, owner.user_id), {"role": "owner"}, bs), 200)
    # removal
    carol = srv.member(owner, "member")
    expect(srv.get("/api/orgs/%d" % org, carol), 200)
    expect(srv.delete("%s/%d" % (base, carol.user_id), owner), 200)
    expect(srv.get("/api/orgs/%d" % org, carol), 404)
    expect(srv.delete("%s/%d" % (base, carol.user_id), owner), 404)
    # the removed user still exists and can log in (to no org)
    r = expect(srv.get("/api/me", carol), 200)
    check(all(o["id"] != org for o in r.data["orgs"]), r)


def test_org_isolation(srv, owner):
    # a user of another org sees nothing of ours: 404 on every path, our ids never listed
    other_owner_email = "eve@example.com"
    o2 = srv.create_org(owner, "Eve Org")
    expect(srv.post("/api/orgs/%d/users" % o2, {"email": other_owner_email, "role": "owner",
                                                 "password": PASSWORD}, owner), 201)
    eve = srv.login(other_owner_email, org_id=o2)
    org = owner.org_id
    for method, path, body in (("GET", "/api/orgs/%d" % org, None),
                               ("PATCH", "/api/orgs/%d" % org, {"name": "pwned"}),
                               ("DELETE", "/api/orgs/%d" % org, None),
                               ("GET", "/api/orgs/%d/users" % org, None),
                               ("POST", "/api/orgs/%d/users" % org,
                                {"email": "x@example.com", "password": PASSWORD}),
                               ("PATCH", "/api/orgs/%d/users/%d" % (org, owner.user_id),
                                {"role": "member"}),
                               ("DELETE", "/api/orgs/%d/users/%d" % (org, owner.user_id), None)):
        expect(srv.request(method, path, body=body, session=eve), 404, "NOT_FOUND")
    r = expect(srv.get("/api/orgs", eve), 200)
    check([o["id"] for o in r.data] == [o2], r)
    r = expect(srv.get("/api/orgs/%d" % org, owner), 200)
    check(r.data["name"] != "pwned", r)


def main():
    with Server() as srv:
        owner = srv.setup()
        test_orgs(srv, owner)
        test_members(srv, owner)
        test_org_isolation(srv, owner)


harness.run(main)
