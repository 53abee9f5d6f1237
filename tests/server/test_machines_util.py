"""Helpers for the server-machines tests: Ed25519 through libsodium (ctypes, no extra Python
packages), a Machine that registers and signs requests exactly as common/ctl/ctl_auth.h says,
and auth-key creation. Run directly, it checks its signer against libsodium's verifier and the
canonical string against the C unit test's known answer."""
import base64
import ctypes
import ctypes.util
import hashlib
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, expect  # noqa: E402

_lib = None


def sodium():
    global _lib
    if _lib is None:
        name = ctypes.util.find_library("sodium") or "libsodium.so.23"
        try:
            _lib = ctypes.CDLL(name)
        except OSError as e:
            raise harness.Skip("libsodium not loadable: %s" % e)
        if _lib.sodium_init() < 0:
            raise harness.Skip("sodium_init failed")
    return _lib


def ed25519_keypair():
    pk, sk = ctypes.create_string_buffer(32), ctypes.create_string_buffer(64)
    sodium().crypto_sign_keypair(pk, sk)
    return pk.raw, sk.raw


def ed25519_sign(sk, msg):
    sig = ctypes.create_string_buffer(64)
    sodium().crypto_sign_detached(sig, None, msg, ctypes.c_ulonglong(len(msg)), sk)
    return sig.raw


def ed25519_verify(pk, msg, sig):
    return sodium().crypto_sign_verify_detached(sig, msg, ctypes.c_ulonglong(len(msg)), pk) == 0


def canonical(method, target, ts, nonce, body):
    return ("ZTNA-MACHINE-AUTH-V1\n%s\n%s\n%d\n%s\n%s\n" % (
        method, target, ts, nonce.hex(), hashlib.sha256(body).hexdigest())).encode()


def body_bytes(obj):
    """The canonical JSON body (what cJSON_PrintUnformatted gives for ASCII content)."""
    return json.dumps(obj, separators=(",", ":")).encode()


class Machine:
    def __init__(self, hostname="laptop", os_name="linux", os_version="6.1"):
        self.pk, self.sk = ed25519_keypair()
        self.wg = os.urandom(32)
        self.hostname, self.os, self.os_version = hostname, os_name, os_version
        self.id = self.ip = self.name = self.server_key = None

    def register_request(self, srv, key, tags=None, key_encoding="hex", hostname=None):
        mk = self.pk.hex() if key_encoding == "hex" else base64.b64encode(self.pk).decode()
        body = {"machine_key": mk, "wg_public_key": base64.b64encode(self.wg).decode(),
                "hostname": hostname or self.hostname, "os": self.os, "os_version": self.os_version}
        if tags is not None:
            body["tags"] = tags
        return srv.post("/api/register-machine", body,
                        headers={"Authorization": "Bearer " + key} if key else None)

    def register(self, srv, key, tags=None, status=201, **kw):
        r = expect(self.register_request(srv, key, tags, **kw), status)
        d = r.data
        self.id, self.ip, self.name, self.server_key = (
            d["machine_id"], d["tailnet_ip"], d["name"], d["server_signing_key"])
        return d

    def auth_header(self, method, target, body, ts=None, nonce=None, sk=None):
        ts = int(time.time()) if ts is None else ts
        nonce = nonce or os.urandom(16)
        sig = ed25519_sign(sk or self.sk, canonical(method, target, ts, nonce, body))
        return "ZTNA-Ed25519 key=%s,ts=%d,nonce=%s,sig=%s" % (self.pk.hex(), ts, nonce.hex(),
                                                               sig.hex())

    def heartbeat(self, srv, posture=None, ts=None, nonce=None, header=None, body=None):
        body = body if body is not None else body_bytes(
            {"posture": posture if posture is not None else {"os_version": self.os_version}})
        h = header or self.auth_header("POST", "/api/machine-heartbeat", body, ts, nonce)
        return srv.request("POST", "/api/machine-heartbeat", raw_body=body,
                           headers={"Authorization": h})


def create_key(srv, session, org=None, status=201, **opts):
    r = srv.post("/api/orgs/%d/auth-keys" % (org or session.org_id), opts, session)
    expect(r, status)
    return r.data


def _selftest():
    pk, sk = ed25519_keypair()
    msg = canonical("GET", "/api/x?y=1", 42, bytes(range(16)), b"")
    check(msg == b"ZTNA-MACHINE-AUTH-V1\nGET\n/api/x?y=1\n42\n000102030405060708090a0b0c0d0e0f\n"
          b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n", "canonical string")
    sig = ed25519_sign(sk, msg)
    check(ed25519_verify(pk, msg, sig), "signature verifies")
    check(not ed25519_verify(pk, msg + b"x", sig), "tampered message rejected")
    check(body_bytes({"posture": {"a": "b", "n": 1, "t": True}}) ==
          b'{"posture":{"a":"b","n":1,"t":true}}', "canonical body")


if __name__ == "__main__":
    harness.run(_selftest)
