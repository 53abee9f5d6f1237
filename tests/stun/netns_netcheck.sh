#!/usr/bin/env bash
# `ztna netcheck` across a real link: the server's STUN responder sees the client's underlay
# address, and a STUN server that is not there is reported as such.
#
#   netns zstS<PID>                          netns zstC<PID>
#   +------------------------------+         +----------------------------------+
#   | ztna-server                  |  veth   | ztna netcheck                    |
#   |   --stun-listen 198.18.0.1:3478|=======|   --stun 198.18.0.1:3478 --json  |
#   | 198.18.0.1/24  (vs<PID>)     |         | 198.18.0.2/24  (vc<PID>)         |
#   +------------------------------+         +----------------------------------+
set -u
B=${ZTNA_BUILD_DIR:?}
T=$$
S=zstS$T C=zstC$T
TMP=$(mktemp -d /tmp/ztna-netcheck-XXXXXX)
SRV_PID=
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; [ -f "$TMP/server.log" ] && tail -20 "$TMP/server.log"; exit 1; }
cleanup() {
    [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null
    ip netns del $S 2>/dev/null
    ip netns del $C 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || skip "needs root for ip netns"
command -v ip >/dev/null || skip "no ip(8)"
command -v python3 >/dev/null || skip "no python3"
[ -x "$B/agent/ztna" ] && [ -x "$B/server/ztna-server" ] || skip "ztna / ztna-server not built"
ip netns add $S 2>/dev/null || skip "cannot create network namespaces"
ip netns add $C || fail "netns $C"
ip link add vs$T netns $S type veth peer name vc$T netns $C || fail "veth"
ip -n $S addr add 198.18.0.1/24 dev vs$T
ip -n $C addr add 198.18.0.2/24 dev vc$T
for n in $S $C; do
    ip -n $n link set lo up
    ip -n $n link set $( [ $n = $S ] && echo vs$T || echo vc$T ) up
done

ip netns exec $S "$B/server/ztna-server" --data-dir "$TMP/data" --listen 127.0.0.1:8080 \
    --dns-listen 127.0.0.1:5353 --stun-listen 198.18.0.1:3478 >"$TMP/server.log" 2>&1 &
SRV_PID=$!
for _ in $(seq 100); do
    grep -q "answering STUN Binding requests on 198.18.0.1:3478" "$TMP/server.log" && break
    kill -0 $SRV_PID 2>/dev/null || fail "ztna-server exited"
    sleep 0.1
done
grep -q "answering STUN" "$TMP/server.log" || fail "STUN responder did not start in 10 s"

ip netns exec $C "$B/agent/ztna" netcheck --stun 198.18.0.1:3478 --json >"$TMP/nc.json" 2>"$TMP/nc.err" \
    || fail "netcheck failed: $(cat "$TMP/nc.err")"
python3 - "$TMP/nc.json" <<'PY' || fail "netcheck output: $(cat "$TMP/nc.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["udp"] is True and j["stun_server"] == "198.18.0.1:3478", j
assert j["mapped_address"] == "198.18.0.2", j          # what the server saw: our underlay address
assert j["local_address"] == "198.18.0.2" and j["mapped_port"] == j["local_port"], j
assert j["behind_nat"] is False, j
names = {i["name"]: i["addresses"] for i in j["interfaces"]}
assert "198.18.0.2/24" in names[[n for n in names if n.startswith("vc")][0]], names
PY
echo "ok: the server saw 198.18.0.2 (mapped port = local port)"

# No STUN server at 198.18.0.3 (no such host on the link): named, after retransmissions.
start=$(date +%s)
ip netns exec $C "$B/agent/ztna" netcheck --stun 198.18.0.3:3478 --timeout 1000 >"$TMP/nc2.out" 2>"$TMP/nc2.err"
rc=$?
[ $rc = 1 ] || fail "netcheck to nowhere exited $rc"
grep -qE "no STUN answer from 198.18.0.3:3478|198.18.0.3:3478: No route to host" "$TMP/nc2.err" \
    || fail "error does not name the problem: $(cat "$TMP/nc2.err")"
[ $(( $(date +%s) - start )) -le 5 ] || fail "netcheck took more than 5 s"
echo "ok: $(cat "$TMP/nc2.err")"

kill $SRV_PID; wait $SRV_PID; rc=$?; SRV_PID=
[ $rc = 0 ] || fail "ztna-server exited $rc on SIGTERM"
echo "PASS"
