#!/usr/bin/env python3
"""Audit log: events recorded with actor, org, target, time and source address; filters
(action exact and prefix, actor, actor_type, target, since/until); cursor paging; exports in
JSON lines, CEF and RFC 5424 syslog parsed back with independent parsers (hostile hostnames
must not forge fields or lines); members get 403, other orgs 404."""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Row, Server, check, expect  # noqa: E402
from test_machines_util import Machine, create_key  # noqa: E402

EVIL = 'evil|host=1 "q"] \\x'


def cef_parse(line):
    """Header: 7 '|' separated fields with \\| and \\\\ escapes; extension key=value pairs
    with \\= \\\\ \\n escapes, a value running to the next unescaped ' key='."""
    cols, cur, i = [], "", 0
    while len(cols) < 7:
        c = line[i]
        if c == "\\":
            cur += line[i + 1]
            i += 2
            continue
        if c == "|":
            cols.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    ext = line[i:]
    # Split on unescaped spaces followed by key=.
    keys = [m for m in re.finditer(r"(?:^| )([A-Za-z0-9]+)=", ext)
            if not _escaped(ext, m.start(1) - 1)]
    out = {}
    for n, m in enumerate(keys):
        end = keys[n + 1].start() if n + 1 < len(keys) else len(ext)
        raw = ext[m.end():end]
        val = re.sub(r"\\(.)", lambda x: {"n": "\n", "r": "\r"}.get(x.group(1), x.group(1)), raw)
        out[m.group(1)] = val
    return cols, out


def _escaped(s, i):
    n = 0
    while i - 1 - n >= 0 and s[i - 1 - n] == "\\":
        n += 1
    return n % 2 == 1


def syslog_parse(line):
    m = re.match(r"<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) \[(\S+)", line)
    check(m, "syslog header: %r" % line)
    pri, ts, host, app, procid, msgid, sdid = m.groups()
    i = m.end()
    params = {}
    while line[i] == " ":
        eq = line.index("=", i)
        name = line[i + 1:eq]
        check(line[eq + 1] == '"', "quoted value")
        j, val = eq + 2, ""
        while line[j] != '"':
            if line[j] == "\\" and line[j + 1] in '"\\]':
                val += line[j + 1]
                j += 2
                continue
            check(line[j] != "]", "unescaped ] in value: %r" % line)
            val += line[j]
            j += 1
        params[name] = val
        i = j + 1
    check(line[i] == "]", "SD element closed")
    return {"pri": int(pri), "ts": ts, "host": host, "app": app, "msgid": msgid, "sdid": sdid,
            "params": params, "msg": line[i + 2:] if len(line) > i + 1 else ""}


def main():
    with Server() as srv:
        owner = srv.setup()
        org = owner.org_id
        base = "/api/orgs/%d/audit" % org
        t0 = int(time.time())
        key = create_key(srv, owner, reusable=True)
        m = Machine(EVIL)
        m.register(srv, key["key"])
        for i in range(5):
            create_key(srv, owner, description="k%d" % i)
        srv.post("/api/auth/login", {"email": owner.email, "password": "wrong password!"})
        ev = expect(srv.get(base, owner), 200).data["events"]
        check(all(set(e) >= {"id", "time", "ts", "org_id", "actor_type", "actor_id",
                             "actor_name", "action", "target_type", "target_id", "source_addr",
                             "detail"} for e in ev), repr(ev[0]))
        check([e["id"] for e in ev] == sorted((e["id"] for e in ev), reverse=True), "newest first")
        create = [e for e in ev if e["action"] == "auth_key.create"]
        check(len(create) == 6 and create[-1]["actor_type"] == "user" and
              create[-1]["actor_id"] == owner.user_id and create[-1]["target_type"] == "auth_key"
              and create[-1]["target_id"] == str(key["id"]) and create[-1]["org_id"] == org and
              create[-1]["source_addr"] == "127.0.0.1" and create[-1]["ts"] >= t0, repr(create[-1]))
        reg = [e for e in ev if e["action"] == "machine.register"]
        check(len(reg) == 1 and reg[0]["actor_type"] == "machine" and reg[0]["actor_name"] == EVIL
              and reg[0]["target_id"] == str(m.id), repr(reg))

        # Filters.
        def q(s):
            return expect(srv.get(base + "?" + s, owner), 200).data["events"]
        check(len(q("action=auth_key.create")) == 6, "exact action")
        check({e["action"] for e in q("action=auth_key.*")} == {"auth_key.create", "auth_key.use"},
              "prefix action")
        check(q("action=auth_key") == [], "exact does not prefix-match")
        check(len(q("actor=%d&action=auth_key.create" % owner.user_id)) == 6, "actor by id")
        check(len(q("actor=" + owner.email.replace("@", "%40"))) >= 6, "actor by name")
        check(len(q("actor_type=machine")) == 2, "machine actor: use + register")
        check(len(q("target_type=machine&target_id=%d" % m.id)) == 1, "target")
        check(q("since=%d" % (int(time.time()) + 100)) == [], "since future")
        check(len(q("until=%d&action=auth_key.create" % (t0 - 100))) == 0, "until past")
        iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 - 5))
        check(len(q("since=" + iso + "&action=auth_key.create")) == 6, "RFC 3339 since")
        # also present but unreadable: empty, bare, badly percent-encoded, longer than any integer
        for bad in ("since=yesterday", "limit=0", "limit=5000", "cursor=-3", "cursor=x", "limit=",
                    "limit", "limit=%ZZ", "cursor=" + "0" * 30 + "1"):
            expect(srv.get(base + "?" + bad, owner), 400, "INVALID_QUERY")

        # Cursor paging visits each event once, in order.
        allev = q("limit=1000")
        seen, cursor = [], None
        for _ in range(100):
            r = expect(srv.get(base + "?limit=3" + ("&cursor=%d" % cursor if cursor else ""),
                               owner), 200).data
            seen += [e["id"] for e in r["events"]]
            cursor = r["next_cursor"]
            if cursor is None:
                break
        check(seen == [e["id"] for e in allev], "cursor paging %r vs %r" % (seen, allev))

        # Exports, parsed back.
        def export(fmt, extra=""):
            # The reply is the file itself (not the envelope), named for download.
            r = srv.get(base + "/export?format=" + fmt + extra, owner)
            check(r.status == 200, repr(r))
            check(not (isinstance(r.json, dict) and "success" in r.json),
                  "export wrapped in the envelope: %r" % r)
            ext = {"jsonl": "jsonl", "cef": "cef", "syslog": "log"}[fmt]
            check(r.header("Content-Disposition") ==
                  'attachment; filename="audit-org%d.%s"' % (org, ext), r.header("Content-Disposition"))
            check(r.header("X-Content-Type-Options") == "nosniff", "security headers kept")
            d = {"format": fmt, "content": r.body.decode("utf-8"),
                 "content_type": r.header("Content-Type"), "count": int(r.header("X-Audit-Count"))}
            check(d["count"] == len(d["content"].splitlines()), repr(d)[:200])
            return d
        d = export("jsonl")
        check(d["content_type"] == "application/x-ndjson", d["content_type"])
        lines = [json.loads(x) for x in d["content"].splitlines()]
        check([x["id"] for x in lines][:len(allev)] == [e["id"] for e in allev] or
              [x["id"] for x in lines][1:len(allev) + 1] == [e["id"] for e in allev],
              "jsonl = list")
        d = export("cef", "&action=machine.register")
        check(d["count"] == 1, repr(d))
        cols, ext = cef_parse(d["content"].rstrip("\n"))
        check(cols[:4] == ["CEF:0", "ZTNA", "ztna-server", cols[3]] and cols[4] == "machine.register"
              and cols[6] == "3", repr(cols))
        check(ext["suser"] == EVIL and ext["cs4"] == str(m.id) and ext["src"] == "127.0.0.1" and
              ext["act"] == "machine.register" and "host" not in ext, repr(ext))
        check(json.loads(ext["msg"])["ip"] == m.ip, repr(ext["msg"]))
        d = export("syslog", "&action=machine.register")
        s = syslog_parse(d["content"].rstrip("\n"))
        check(s["pri"] == 85 and s["app"] == "ztna-server" and s["msgid"] == "machine.register" and
              s["sdid"] == "ztna@32473", repr(s))
        check(s["params"]["actor"] == EVIL and s["params"]["targetId"] == str(m.id) and
              s["params"]["org"] == str(org) and "host" not in s["params"], repr(s["params"]))
        check(json.loads(s["msg"])["ip"] == m.ip, repr(s["msg"]))
        d = export("syslog", "&action=auth.login.failure")
        if d["count"]:  # recorded by the core's login handler through audit_record
            check(syslog_parse(d["content"].splitlines()[0])["pri"] == 84, "failure = warning")
        check(export("jsonl", "&limit=2")["count"] == 2, "export limit")
        expect(srv.get(base + "/export", owner), 400, "INVALID_QUERY")
        expect(srv.get(base + "/export?format=csv", owner), 400, "INVALID_QUERY")
        check(any(e["action"] == "audit.export" for e in q("action=audit.export")), "export audited")

        srv._owner = owner
        harness.authz_matrix(srv, [
            Row("audit list", "GET", "/api/orgs/{org}/audit", "admin"),
            Row("audit export", "GET", "/api/orgs/{org}/audit/export?format=jsonl", "admin"),
        ])


harness.run(main)
