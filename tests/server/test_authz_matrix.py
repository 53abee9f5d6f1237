#!/usr/bin/env python3
"""Authorization matrix for server-core resources: every role x every write (and read), and a
user of another org for every resource (always 404). Other resources add their own rows in
their test files with harness.Row / harness.authz_matrix (see harness.py)."""
import harness
from harness import PASSWORD, Row, Server, expect


def new_member(srv, owner, role="member"):
    email = srv.unique("target") + "@example.com"
    r = expect(srv.post("/api/orgs/%d/users" % owner.org_id,
                        {"email": email, "role": role, "password": PASSWORD}, owner), 201)
    return {"user": r.data["id"]}


ROWS = [
    Row("get org", "GET", "/api/orgs/{org}", "member"),
    Row("list members", "GET", "/api/orgs/{org}/users", "member"),
    Row("rename org", "PATCH", "/api/orgs/{org}", "admin",
        body=lambda p: {"name": "Renamed"}),
    Row("add member", "POST", "/api/orgs/{org}/users", "admin", ok_status=201,
        body=lambda p: {"email": "m%d@example.com" % id(p), "password": PASSWORD}),
    Row("change member role", "PATCH", "/api/orgs/{org}/users/{user}", "admin",
        body={"role": "admin"}, prepare=new_member),
    Row("remove member", "DELETE", "/api/orgs/{org}/users/{user}", "admin",
        prepare=new_member),
    Row("demote an owner", "PATCH", "/api/orgs/{org}/users/{user}", "owner",
        body={"role": "member"}, prepare=lambda s, o: new_member(s, o, "owner")),
    Row("remove an owner", "DELETE", "/api/orgs/{org}/users/{user}", "owner",
        prepare=lambda s, o: new_member(s, o, "owner")),
]


def delete_org_matrix(srv):
    """DELETE /api/orgs/{org} needs owner: run it on fresh orgs so the main org survives."""
    owner = srv.login("owner@example.com")
    for role, want in (("member", 403), ("admin", 403), ("owner", 200)):
        org = srv.create_org(owner)
        user = srv.member(owner, role, org_id=org) if role != "owner" else \
            srv.login("owner@example.com", org_id=org)
        r = srv.delete("/api/orgs/%d" % org, user)
        expect(r, want, "FORBIDDEN" if want == 403 else None)
    # the owner of another org cannot delete this one, and learns nothing (404)
    org = srv.create_org(owner)
    eve = srv.member(owner, "owner", org_id=srv.create_org(owner))
    expect(srv.delete("/api/orgs/%d" % org, eve), 404, "NOT_FOUND")
    expect(srv.get("/api/orgs/%d" % org, owner), 200)


def main():
    with Server() as srv:
        results = harness.authz_matrix(srv, ROWS)
        print("authz matrix: %d cells checked" % len(results))
        delete_org_matrix(srv)


harness.run(main)
