#!/usr/bin/env python3
"""Pre-auth keys: create / list / revoke, the secret shown once and stored hashed, single-use,
reusable, expiry, revocation, tag rules at registration, and the authorization matrix."""
import hashlib
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Row, Server, check, expect  # noqa: E402
from test_machines_util import Machine, create_key  # noqa: E402


def main():
    with Server() as srv:
        owner = srv.setup()
        org = owner.org_id
        base = "/api/orgs/%d/auth-keys" % org

        # --- create: the key once, recognisable prefix, defaults -----------------------------
        k = create_key(srv, owner, description="ci runners", reusable=True, tags=["tag:ci"])
        check(k["key"].startswith("ztna-auth-") and len(k["key"]) == len("ztna-auth-") + 64,
              "key format: %r" % k["key"])
        check(k["prefix"] == k["key"][:18] and k["reusable"] and not k["ephemeral"], repr(k))
        check(k["tags"] == ["tag:ci"] and k["usable"] and k["state"] == "valid", repr(k))
        check(k["expires_at"] and 89 * 86400 <= k["expires_at"] - k["created_at"] <= 90 * 86400,
              "default expiry 90 days: %r" % k)
        never = create_key(srv, owner, expires_in=0)
        check(never["expires_at"] is None, "expires_in 0 = never: %r" % never)

        # --- list never shows the secret ------------------------------------------------------
        r = expect(srv.get(base, owner), 200)
        keys = r.data["auth_keys"]
        check(len(keys) == 2 and all("key" not in x for x in keys), "list: %r" % keys)
        check(k["key"].encode() not in r.body and k["key"][18:].encode() not in r.body,
              "secret leaked in the list")
        check(keys[0]["id"] == never["id"], "newest first")

        # --- stored hashed: the database holds SHA-256(key), never the key --------------------
        db = sqlite3.connect(os.path.join(srv.data_dir, "ztna.db"))
        rows = db.execute("SELECT key_hash FROM auth_keys WHERE id = ?", (k["id"],)).fetchall()
        check(rows and rows[0][0] == hashlib.sha256(k["key"].encode()).digest(), "hash stored")
        dump = "\n".join(db.iterdump())
        check(k["key"][10:] not in dump, "the key's secret part is in the database")
        db.close()

        # --- bad input ----------------------------------------------------------------------
        expect(srv.post(base, {"tags": ["nottag"]}, owner), 400, "INVALID_FIELD")
        expect(srv.post(base, {"tags": ["tag:"]}, owner), 400, "INVALID_FIELD")
        expect(srv.post(base, {"tags": ["tag:a b"]}, owner), 400, "INVALID_FIELD")
        expect(srv.post(base, {"expires_in": -1}, owner), 400)
        expect(srv.post(base, {"expires_in": 10 ** 10}, owner), 400)
        expect(srv.post(base, {"reusable": "yes"}, owner), 400)
        expect(srv.post(base, {"secret": "x"}, owner), 400, "UNKNOWN_FIELD")
        expect(srv.delete(base + "/999999", owner), 404)
        expect(srv.delete(base + "/abc", owner), 404)

        # --- single-use: consumed by the first registration -----------------------------------
        single = create_key(srv, owner)
        Machine("one").register(srv, single["key"])
        r = expect(Machine("two").register_request(srv, single["key"]), 401, "UNAUTHORIZED")
        check("already used" in r.message, "message says used: %r" % r)
        lst = {x["id"]: x for x in expect(srv.get(base, owner), 200).data["auth_keys"]}
        check(lst[single["id"]]["used_count"] == 1 and lst[single["id"]]["state"] == "used",
              repr(lst[single["id"]]))

        # --- reusable: many uses, counted ----------------------------------------------------
        for i in range(3):
            Machine("ci-%d" % i).register(srv, k["key"])
        lst = {x["id"]: x for x in expect(srv.get(base, owner), 200).data["auth_keys"]}
        check(lst[k["id"]]["used_count"] == 3 and lst[k["id"]]["usable"], repr(lst[k["id"]]))

        # --- revoke ------------------------------------------------------------------------------
        r = expect(srv.delete(base + "/%d" % k["id"], owner), 200)
        check(r.data["state"] == "revoked" and r.data["revoked_at"], repr(r.data))
        r = expect(Machine("late").register_request(srv, k["key"]), 401)
        check("revoked" in r.message, repr(r))
        expect(srv.delete(base + "/%d" % k["id"], owner), 200)  # idempotent

        # --- expiry ------------------------------------------------------------------------------
        short = create_key(srv, owner, expires_in=1)
        time.sleep(2.1)
        r = expect(Machine("slow").register_request(srv, short["key"]), 401)
        check("expired" in r.message, repr(r))

        # --- unknown / malformed keys --------------------------------------------------------
        r = expect(Machine("x").register_request(srv, "ztna-auth-" + "0" * 64), 401)
        check("unknown" in r.message, repr(r))
        expect(Machine("x").register_request(srv, None), 401)
        expect(srv.post("/api/register-machine", {"machine_key": "00" * 32},
                        headers={"Authorization": "Bearer " + never["key"]}), 400)

        # --- tags: requested tags must be allowed by the key --------------------------------------
        tk = create_key(srv, owner, reusable=True, tags=["tag:web", "tag:prod"])
        d = Machine("web1").register(srv, tk["key"], tags=["tag:web"])
        check(d["tags"] == ["tag:web"], repr(d))
        d = Machine("web2").register(srv, tk["key"])
        check(sorted(d["tags"]) == ["tag:prod", "tag:web"], "inherits key tags: %r" % d)
        r = expect(Machine("web3").register_request(srv, tk["key"], tags=["tag:db"]), 403,
                   "FORBIDDEN")
        expect(Machine("web4").register_request(srv, tk["key"], tags=["bad"]), 400)
        untagged = create_key(srv, owner)
        expect(Machine("web5").register_request(srv, untagged["key"], tags=["tag:web"]), 403)

        # --- audit: create, use and revoke were recorded -------------------------------------
        ev = expect(srv.get("/api/orgs/%d/audit?limit=1000" % org, owner), 200).data["events"]
        acts = [e["action"] for e in ev]
        for a in ("auth_key.create", "auth_key.use", "auth_key.revoke", "machine.register",
                  "machine.register.failure"):
            check(a in acts, "audit lacks %s: %r" % (a, sorted(set(acts))))

        # --- authorization matrix ------------------------------------------------------------
        srv._owner = owner

        def fresh_key(s, o):
            return {"key": create_key(s, o)["id"]}
        harness.authz_matrix(srv, [
            Row("auth-keys list", "GET", "/api/orgs/{org}/auth-keys", "admin"),
            Row("auth-keys create", "POST", "/api/orgs/{org}/auth-keys", "admin", 201, body={}),
            Row("auth-keys revoke", "DELETE", "/api/orgs/{org}/auth-keys/{key}", "admin",
                prepare=fresh_key),
        ])


harness.run(main)
