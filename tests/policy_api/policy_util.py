"""Shared set-up for the policy API tests: a server with a geo database and short JIT grants, an
org with an owner, an admin (alice, in group:eng), an admin (dana, in group:dba), a member (bob), a
member named as JIT approver (sam), and machines registered through pre-auth keys."""
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "server"))
import harness  # noqa: E402
from harness import check, expect  # noqa: E402
import test_machines_util as mu  # noqa: E402

# Monday 2026-11-23 08:59:30 EST (13:59:30Z) and one minute later, inside business hours.
MON_0859 = "2026-11-23T13:59:30Z"
MON_0900 = "2026-11-23T14:00:30Z"


def policy_text(f):
    """The org's policy; f has the emails. Line numbers matter to the tests: keep the layout."""
    return """// policy for the API tests
{
  "groups": {"group:eng": ["%(alice)s"], "group:dba": ["%(dana)s"]},
  "tagOwners": {"tag:prod": ["%(owner)s"], "tag:db": ["%(owner)s"]},
  "postures": {"posture:base": {"diskEncryption": true, "maxReportAge": "1h"}},
  "schedules": {"business-hours": {"timezone": "America/New_York", "days": ["weekdays"],
                                   "hours": "09:00-17:00"}},
  "rules": [
    {"action": "accept", "src": ["group:eng"], "dst": ["tag:prod:22"], "proto": "tcp",
     "posture": ["posture:base"]},
    {"action": "accept", "src": ["group:eng"], "dst": ["tag:prod:443"], "proto": "tcp",
     "schedule": "business-hours"},
    {"action": "accept", "src": ["group:dba"], "dst": ["tag:db:5432"], "proto": "tcp",
     "requireJit": true, "approvers": ["%(sam)s"]},
    {"action": "accept", "src": ["group:dba"], "dst": ["tag:db:9000"], "geo": {"countries": ["DE"]}},
    {"action": "accept", "src": ["group:eng"], "dst": ["tag:prod:80"], "proto": "tcp"},
  ],
  "tests": [
    {"src": "%(alice)s", "accept": ["tag:prod:80"], "deny": ["tag:db:5432", "tag:prod:8080"]},
  ],
}
""" % f


class Fleet:
    pass


def start_server(tmp_geo_country="US", extra_args=None):
    geo = os.path.join(tempfile.mkdtemp(prefix="ztna-geo-"), "geo.csv")
    with open(geo, "w") as fh:
        fh.write("# cidr,country: the test clients all come from loopback\n127.0.0.0/8,%s\n"
                 % tmp_geo_country)
    srv = harness.Server(args=["--geo-db", geo, "--jit-min-duration", "1"] + (extra_args or []))
    srv.geo_path = geo
    return srv


def make_fleet(srv):
    f = Fleet()
    f.owner_s = srv.setup()
    f.org = f.owner_s.org_id
    f.alice_s = srv.member(f.owner_s, "admin")
    f.dana_s = srv.member(f.owner_s, "admin")
    f.bob_s = srv.member(f.owner_s, "member")
    f.sam_s = srv.member(f.owner_s, "member")  # a JIT approver named in the policy
    f.emails = {"owner": f.owner_s.email, "alice": f.alice_s.email, "dana": f.dana_s.email,
                "sam": f.sam_s.email}
    prod_key = mu.create_key(srv, f.owner_s, reusable=True, tags=["tag:prod"])["key"]
    db_key = mu.create_key(srv, f.owner_s, reusable=True, tags=["tag:db"])["key"]
    alice_key = mu.create_key(srv, f.alice_s)["key"]
    dana_key = mu.create_key(srv, f.dana_s)["key"]
    f.web, f.db = mu.Machine("web"), mu.Machine("db")
    f.alice_laptop, f.dana_laptop = mu.Machine("alice-laptop"), mu.Machine("dana-laptop")
    f.web.register(srv, prod_key)
    f.db.register(srv, db_key)
    f.alice_laptop.register(srv, alice_key)
    f.dana_laptop.register(srv, dana_key)
    for m in (f.web, f.db, f.dana_laptop):
        expect(m.heartbeat(srv, {"os": "linux", "os_version": "6.1"}), 200)
    expect(f.alice_laptop.heartbeat(srv, {"os": "linux", "os_version": "6.1",
                                          "disk_encryption": False}), 200)
    return f


def path(f, rest=""):
    return "/api/orgs/%d/policy%s" % (f.org, rest)


def put_policy(srv, f, text, if_match, session=None, status=200, code=None):
    h = {} if if_match is None else {"If-Match": '"%s"' % if_match}
    r = srv.request("PUT", path(f), body={"policy": text}, session=session or f.owner_s, headers=h)
    return expect(r, status, code)


def explain(srv, f, src, dst, port, session=None, **kw):
    body = {"src": src, "dst": dst, "port": port}
    body.update(kw)
    return expect(srv.post(path(f, "/explain"), body, session or f.owner_s), 200).data
