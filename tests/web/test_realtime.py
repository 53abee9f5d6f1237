#!/usr/bin/env python3
"""The realtime socket /api/ws (server/realtime.h) with a minimal RFC 6455 client:
- a frame before auth, a bad token, a malformed frame: the error codes and reasons, and which of
  them close the socket; ping -> pong;
- ?token= on the upgrade authenticates at once; an unauthenticated socket is closed after
  RT_AUTH_TIMEOUT_S;
- subscriptions by role: a member asking for "audit" gets only the member channels; another
  org's id is NOT_FOUND (nothing leaks);
- fan-out: a machine registered, renamed and deleted in org A reaches org A's sockets as
  upsert/upsert/delete with the machine's data, and never org B's socket;
- the janitor marking a machine offline reaches the socket;
- JIT notices carry only an id (members may not see each other's requests);
- at most --max-websockets sockets are accepted, in workers of their own: with 2 API workers and
  every socket open, the API still answers at once; closing one frees a slot;
- a logout elsewhere makes the server ask the socket to re-authenticate and hold its events.
Second server (channels()): the other publishers:
- "keys": created / revoked notices with the key id, to admins; a member asking for "keys" or
  "audit" is not granted them and receives none of their events;
- "audit": every new entry of the org (action, actor, target) reaches admins only;
- "members": invited / role / removed with the user id, to every member; a demoted admin's own
  socket is re-granted at once (fresh "subscribed" without the admin channels, then no audit or
  keys events); a removed member's socket gets NOT_FOUND and nothing of the org afterwards;
- "jit": approved, revoked, and expired when the janitor ends a short grant
  (--jit-min-duration 1), so the JIT page's countdown updates without reload."""
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
import harness  # noqa: E402
from harness import PASSWORD, Server, check, expect  # noqa: E402
from test_machines_util import Machine, create_key  # noqa: E402

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WS:
    def __init__(self, port, path="/api/ws", timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n" % (path, port, key)).encode())
        buf = b""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in buf and time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(4096)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buf += chunk
        head, _, self.buf = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
        hdr = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
        if self.status == 101:
            want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
            check(hdr.get("sec-websocket-accept") == want, "handshake accept key")
        self.closed = self.status != 101

    def send_frame(self, payload, opcode=1):
        if isinstance(payload, str):
            payload = payload.encode()
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def send(self, obj):
        self.send_frame(json.dumps(obj))

    def _read(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError
            except OSError:
                chunk = b""
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self, timeout=5.0):
        """(opcode, payload), ('timeout', None) or ('eof', None)."""
        deadline = time.monotonic() + timeout
        try:
            b0, b1 = self._read(2, deadline)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2, deadline))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8, deadline))[0]
            return b0 & 0x0F, self._read(n, deadline)
        except TimeoutError:
            return "timeout", None
        except EOFError:
            self.closed = True
            return "eof", None

    def recv_json(self, timeout=5.0):
        """The next JSON text frame; None on timeout; 'closed' once the server closed."""
        deadline = time.monotonic() + timeout
        while True:
            op, data = self.recv(max(0.01, deadline - time.monotonic()))
            if op == "timeout":
                return None
            if op in ("eof", 8):
                self.closed = True
                return "closed"
            if op == 1:
                return json.loads(data)

    def until(self, pred, timeout=5.0):
        """Reads frames until pred(frame) holds; returns it (None on timeout / close)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.recv_json(deadline - time.monotonic())
            if m is None or m == "closed":
                return None
            if pred(m):
                return m
        return None

    def close(self):
        try:
            self.send_frame(b"\x03\xe8", 8)
        except OSError:
            pass
        self.sock.close()


def session(srv, s):
    ws = WS(srv.port)
    check(ws.status == 101, "upgrade: %d" % ws.status)
    ws.send({"type": "auth", "token": s.token})
    m = ws.recv_json()
    check(isinstance(m, dict) and m.get("type") == "ready" and m.get("user_id") == s.user_id, "ready: %r" % m)
    return ws


def subscribe(ws, org, channels):
    ws.send({"type": "subscribe", "org": org, "channels": channels})
    return ws.until(lambda m: m.get("type") in ("subscribed", "error"))


def quiet_args():
    import subprocess
    out = subprocess.run([harness.BINARY, "--help"], capture_output=True, text=True, timeout=10).stdout
    return ["--stun-listen", "off"] if "--stun-listen" in out else []


def protocol():
    # Machines go offline 3 s after their last sign of life (the janitor ticks every second).
    args = quiet_args() + ["--http-threads", "2", "--max-streams", "1", "--max-websockets", "4"]
    with Server(args=args, env={"ZTNA_OFFLINE_TIMEOUT": "3"}) as srv:
        owner = srv.setup()
        idle = WS(srv.port)                          # never authenticates
        opened = time.monotonic()
        check(idle.status == 101, "idle socket upgraded")
        member = srv.member(owner, "member")
        other_org = srv.create_org(owner, "Other Org")
        outsider_email = srv.unique("outsider") + "@example.com"
        expect(srv.post("/api/orgs/%d/users" % other_org, {"email": outsider_email, "role": "owner",
                                                          "password": PASSWORD}, owner), 201)
        outsider = srv.login(outsider_email, org_id=other_org)

        # Errors: before auth, bad token, malformed frames.
        ws = WS(srv.port)
        ws.send({"type": "subscribe", "org": owner.org_id, "channels": ["machines"]})
        m = ws.recv_json()
        check(m["type"] == "error" and m["code"] == "UNAUTHORIZED", "subscribe before auth: %r" % m)
        check(ws.recv_json() == "closed", "closed after subscribe before auth")
        ws = WS(srv.port)
        ws.send({"type": "auth", "token": "0" * 64})
        m = ws.recv_json()
        check(m["type"] == "error" and m["code"] == "UNAUTHORIZED", "bad token: %r" % m)
        check(ws.recv_json() == "closed", "closed after a bad token")
        ws = session(srv, owner)
        for frame, why in (("{nope", "not JSON"), ('{"type":"shout"}', "unknown"),
                           ('{"type":"auth","token":"xyz"}', "token"),
                           ('{"type":"subscribe","org":1,"channels":["secrets"]}', "unknown channel")):
            ws.send_frame(frame)
            m = ws.recv_json()
            check(m["type"] == "error" and m["code"] == "INVALID_MESSAGE" and why in m["message"],
                  "%s -> %r" % (frame, m))
        ws.send({"type": "ping"})
        check(ws.recv_json() == {"type": "pong"}, "ping -> pong, socket still open")

        # Subscriptions by role; another org is NOT_FOUND.
        m = subscribe(ws, other_org + 1000, ["machines"])
        check(m["type"] == "error" and m["code"] == "NOT_FOUND", "unknown org: %r" % m)
        mws = session(srv, member)
        m = subscribe(mws, other_org, ["machines"])
        check(m["type"] == "error" and m["code"] == "NOT_FOUND", "member of another org: %r" % m)
        m = subscribe(mws, owner.org_id, ["machines", "audit", "keys", "jit"])
        check(m["type"] == "subscribed" and m["role"] == "member" and sorted(m["channels"]) == ["jit", "machines"],
              "member gets member channels only: %r" % m)
        m = subscribe(ws, owner.org_id, ["machines", "audit", "jit"])
        check(m["type"] == "subscribed" and sorted(m["channels"]) == ["audit", "jit", "machines"], "owner: %r" % m)

        # ?token= on the upgrade.
        qws = WS(srv.port, "/api/ws?token=" + outsider.token)
        m = qws.recv_json()
        check(m["type"] == "ready" and m["user_id"] == outsider.user_id, "query token: %r" % m)
        m = subscribe(qws, other_org, ["machines"])
        check(m["type"] == "subscribed", "outsider subscribes to their org: %r" % m)

        # Fan-out: org A's machine events reach org A's sockets only.
        key = create_key(srv, owner, reusable=True)["key"]
        dev = Machine("rt-laptop")
        dev.register(srv, key)
        upsert = lambda f: f.get("type") == "event" and f["data"]["event"] == "upsert"  # noqa: E731
        for sock, who in ((ws, "owner"), (mws, "member")):
            m = sock.until(upsert)
            check(m and m["channel"] == "machines" and m["org"] == owner.org_id and m["data"]["event"] == "upsert"
                  and m["data"]["machine"]["name"] == "rt-laptop" and m["data"]["machine"]["tailnet_ip"] == dev.ip,
                  "%s gets the registration: %r" % (who, m))
        expect(srv.patch("/api/orgs/%d/machines/%d" % (owner.org_id, dev.id), {"name": "renamed"}, owner), 200)
        m = ws.until(upsert)
        check(m and m["data"]["machine"]["name"] == "renamed", "rename: %r" % m)
        expect(srv.delete("/api/orgs/%d/machines/%d" % (owner.org_id, dev.id), owner), 200)
        m = ws.until(lambda f: f.get("type") == "event" and f["data"]["event"] == "delete")
        check(m and m["data"] == {"event": "delete", "id": dev.id}, "delete: %r" % m)
        check(qws.until(lambda f: f.get("type") == "event", timeout=1.0) is None, "org B saw nothing of org A")

        # The janitor's offline marking reaches the socket.
        dev2 = Machine("rt-db")
        dev2.register(srv, key)
        m = ws.until(lambda f: f.get("type") == "event" and f["data"] == {"event": "offline", "id": dev2.id},
                     timeout=10.0)
        check(m is not None, "offline event from the janitor")

        # JIT notices: an id, no details.
        r = srv.post("/api/orgs/%d/jit-requests" % owner.org_id,
                     {"dst": "rt-db", "port": 5432, "duration": 900, "reason": "secret reason"}, member)
        if r.status == 404 and r.code == "NOT_FOUND" and "endpoint" in (r.message or ""):
            print("jit-requests not served here: notice check skipped")
        else:
            expect(r, 201)
            m = ws.until(lambda f: f.get("type") == "event" and f["channel"] == "jit")
            check(m and m["data"] == {"event": "request", "id": r.data["id"]}, "jit notice: %r" % m)
            check("secret reason" not in json.dumps(m), "the notice carries no details")

        # The client limit: --max-websockets 4. Open: idle, ws, mws, qws.
        extra = WS(srv.port)
        check(extra.status != 101, "a fifth socket is refused (status %d)" % extra.status)
        # The four sockets hold workers of their own: the API's two still answer, concurrently.
        import concurrent.futures
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            codes = list(pool.map(lambda _: srv.get("/healthz").status, range(8)))
        check(codes == [200] * 8 and time.monotonic() - t0 < 10,
              "the API answers with every socket open: %r in %.1f s" % (codes, time.monotonic() - t0))
        mws.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            again = WS(srv.port)
            if again.status == 101:
                break
            time.sleep(0.1)
        check(again.status == 101, "a slot is free again after a close")
        again.close()

        # A logout elsewhere stops the events: the socket's token is re-checked (every 5 s) and
        # the tab is asked to re-authenticate; events are held meanwhile.
        again_owner = srv.login(owner.email, org_id=owner.org_id)
        lws = session(srv, again_owner)
        check(subscribe(lws, owner.org_id, ["machines"])["type"] == "subscribed", "second owner socket")
        expect(srv.post("/api/auth/logout", None, again_owner), 200)
        m = lws.until(lambda f: f.get("type") == "reauth", timeout=8.0)
        check(m is not None, "reauth after the session's logout")
        dev3 = Machine("rt-after-logout")
        dev3.register(srv, key)
        check(ws.until(upsert, timeout=5.0) is not None, "a live session still gets events")
        check(lws.until(lambda f: f.get("type") == "event", timeout=1.0) is None,
              "the logged-out socket gets none")

        # The idle socket is closed after RT_AUTH_TIMEOUT_S (10 s) + a tick.
        left = 10 + 3 - (time.monotonic() - opened)
        m = idle.recv_json(timeout=max(left, 0.5))
        check(m == "closed", "unauthenticated socket closed: %r" % m)
        for s in (ws, qws, lws):
            s.close()


def event_on(channel, event=None):
    return lambda f: (f.get("type") == "event" and f.get("channel") == channel
                      and (event is None or f["data"].get("event") == event))


def frames_until(ws, pred, timeout=5.0):
    """Every frame read up to and including the first one matching pred ([] on timeout)."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = ws.recv_json(deadline - time.monotonic())
        if m is None or m == "closed":
            return []
        seen.append(m)
        if pred(m):
            return seen
    return []


def find(ws, pred, seen, timeout=5.0):
    """The first frame of seen (already read) matching pred, else the next one read."""
    return next((f for f in seen if pred(f)), None) or ws.until(pred, timeout)


def channels():
    with Server(args=quiet_args() + ["--http-threads", "16", "--jit-min-duration", "1"]) as srv:
        owner = srv.setup()
        admin = srv.member(owner, "admin")
        member = srv.member(owner, "member")
        ows, aws, mws = session(srv, owner), session(srv, admin), session(srv, member)
        want = ["members", "keys", "audit", "jit"]
        m = subscribe(ows, owner.org_id, want)
        check(m["type"] == "subscribed" and sorted(m["channels"]) == sorted(want), "owner channels: %r" % m)
        m = subscribe(aws, owner.org_id, want)
        check(m["type"] == "subscribed" and m["role"] == "admin" and sorted(m["channels"]) == sorted(want),
              "admin channels: %r" % m)
        m = subscribe(mws, owner.org_id, want)
        check(m["type"] == "subscribed" and sorted(m["channels"]) == ["jit", "members"],
              "a member may not subscribe to keys or audit: %r" % m)

        # keys + audit: to admins only.
        k = create_key(srv, owner, reusable=True, description="rt key")
        seen = frames_until(ows, event_on("keys"))
        m = seen[-1] if seen else None
        check(m and m["org"] == owner.org_id and m["data"] == {"event": "created", "id": k["id"]},
              "key created: %r" % m)
        check(k["key"] not in json.dumps(seen), "the key's secret is not on the socket")
        m = find(ows, event_on("audit"), seen)  # the entry is written before the keys notice
        check(m and m["data"]["event"] == "new" and m["data"]["action"] == "auth_key.create"
              and m["data"]["actor"] == owner.email and m["data"]["target_type"] == "auth_key"
              and m["data"]["target_id"] == str(k["id"]), "audit entry of the key: %r" % m)
        check(aws.until(event_on("keys", "created")) is not None, "admin gets the key event")
        expect(srv.delete("/api/orgs/%d/auth-keys/%d" % (owner.org_id, k["id"]), owner), 200)
        seen = frames_until(ows, event_on("keys", "revoked"))
        check(seen and seen[-1]["data"]["id"] == k["id"], "key revoked: %r" % seen)
        m = find(ows, lambda f: event_on("audit")(f) and f["data"]["action"] == "auth_key.revoke", seen)
        check(m and m["data"]["action"] == "auth_key.revoke", "audit entry of the revocation: %r" % m)

        # members: invited reaches every member; the member's socket saw no keys/audit frame.
        new_email = srv.unique("invitee") + "@example.com"
        r = expect(srv.post("/api/orgs/%d/users" % owner.org_id,
                            {"email": new_email, "role": "member", "password": PASSWORD}, owner), 201)
        invitee = r.data["id"]
        seen = frames_until(mws, event_on("members", "invited"))
        check(seen and seen[-1]["data"] == {"event": "invited", "id": invitee}, "member sees the invite: %r" % seen)
        check(all(f.get("channel") not in ("keys", "audit") for f in seen),
              "the member received no admin-only event: %r" % seen)
        seen = frames_until(ows, event_on("members", "invited"))
        check(seen and seen[-1]["data"]["id"] == invitee, "owner sees the invite: %r" % seen)
        m = find(ows, lambda f: event_on("audit")(f) and f["data"]["action"] == "member.add", seen)
        check(m and m["data"]["target_id"] == str(invitee), "audit entry of the invite: %r" % m)

        # Demoting the admin: their socket drops the admin channels at once.
        expect(srv.patch("/api/orgs/%d/users/%d" % (owner.org_id, admin.user_id), {"role": "member"}, owner), 200)
        m = aws.until(lambda f: f.get("type") == "subscribed")
        check(m and m["role"] == "member" and sorted(m["channels"]) == ["jit", "members"],
              "demoted admin re-granted: %r" % m)
        m = ows.until(event_on("members", "role"))
        check(m and m["data"] == {"event": "role", "id": admin.user_id}, "role change: %r" % m)
        k2 = create_key(srv, owner, description="after demotion")
        check(ows.until(event_on("keys", "created")) is not None, "owner still gets keys")
        expect(srv.patch("/api/orgs/%d/users/%d" % (owner.org_id, invitee), {"role": "admin"}, owner), 200)
        seen = frames_until(aws, lambda f: event_on("members", "role")(f) and f["data"]["id"] == invitee)
        check(seen and seen[-1]["data"]["id"] == invitee, "demoted admin still gets members: %r" % seen)
        check(all(f.get("channel") not in ("keys", "audit") for f in seen),
              "demoted admin gets no keys/audit events (key %d): %r" % (k2["id"], seen))

        # Removing the member: NOT_FOUND on their socket, the event to the others, then silence.
        expect(srv.delete("/api/orgs/%d/users/%d" % (owner.org_id, member.user_id), owner), 200)
        m = mws.until(lambda f: f.get("type") == "error")
        check(m and m["code"] == "NOT_FOUND", "removed member told: %r" % m)
        m = ows.until(event_on("members", "removed"))
        check(m and m["data"] == {"event": "removed", "id": member.user_id}, "removal: %r" % m)
        check(aws.until(event_on("members", "removed")) is not None, "remaining members see the removal")

        # JIT: approved, revoked, and expired by the janitor.
        dev = Machine("rt-jit-db")
        dev.register(srv, create_key(srv, owner)["key"])
        jit = "/api/orgs/%d/jit-requests" % owner.org_id
        req = lambda d: expect(srv.post(jit, {"dst": "rt-jit-db", "port": 5432, "duration": d,  # noqa: E731
                                              "reason": "rt"}, admin), 201).data["id"]
        r1 = req(600)
        check(aws.until(event_on("jit", "request")) is not None, "request notice")
        expect(srv.post("%s/%d/approve" % (jit, r1), None, owner), 200)
        m = aws.until(event_on("jit", "approved"))
        check(m and m["data"] == {"event": "approved", "id": r1}, "approved: %r" % m)
        expect(srv.post("%s/%d/revoke" % (jit, r1), None, owner), 200)
        m = aws.until(event_on("jit", "revoked"))
        check(m and m["data"] == {"event": "revoked", "id": r1}, "revoked: %r" % m)
        r2 = req(2)
        expect(srv.post("%s/%d/approve" % (jit, r2), None, owner), 200)
        check(aws.until(event_on("jit", "approved")) is not None, "short grant approved")
        m = aws.until(event_on("jit", "expired"), timeout=8.0)
        check(m and m["data"] == {"event": "expired", "id": r2}, "expiry notice: %r" % m)
        m = ows.until(lambda f: event_on("audit")(f) and f["data"]["action"] == "jit.expire", timeout=3.0)
        check(m and m["data"]["actor_type"] == "system" and m["data"]["target_id"] == str(r2),
              "audit entry of the expiry: %r" % m)
        st = expect(srv.get("%s/%d" % (jit, r2), admin), 200).data
        check(st["state"] == "expired", "the request is expired: %r" % st)
        check(mws.until(lambda f: f.get("type") == "event", timeout=1.0) is None,
              "the removed member's socket received nothing more")
        for s in (ows, aws, mws):
            s.close()


def main():
    protocol()
    channels()


if __name__ == "__main__":  # tests/oidc/test_oidc_policy_groups.py imports WS
    harness.run(main)
