# Helpers for the WireGuard device tests (sourced). Namespaces and interfaces are named after the
# helper tag "zwg" and the PID, so that parallel runs never collide; cleanup() (installed as the
# EXIT trap by wgt_init) kills what we started, by PID, and deletes the namespaces.
# Underlay 198.18.0.0/15, tunnel 100.64.0.0/10 only.

wgt_skip() { echo "SKIP: $*"; exit 77; }
wgt_fail() { echo "FAIL: $*"; wgt_dump; exit 1; }
wgt_ok() { echo "ok - $*"; }

wgt_init() {
    [ "$(id -u)" = 0 ] || wgt_skip "needs root (network namespaces, TUN)"
    [ -c /dev/net/tun ] || wgt_skip "no /dev/net/tun"
    for t in ip wg python3 sha256sum; do command -v $t >/dev/null || wgt_skip "$t not installed"; done
    ZTNA=${ZTNA_BUILD_DIR:?}/agent/ztna
    [ -x "$ZTNA" ] || wgt_skip "$ZTNA not built"
    T=zwg$$
    A=${T}a B=${T}b
    TMP=$(mktemp -d)
    PIDS=()
    trap wgt_cleanup EXIT
    ip netns add $A || wgt_fail "netns add"
    ip netns add $B || wgt_fail "netns add"
    ip link add va$T netns $A type veth peer name vb$T netns $B
    ip -n $A addr add 198.18.0.1/24 dev va$T
    ip -n $B addr add 198.18.0.2/24 dev vb$T
    for n in $A $B; do ip -n $n link set lo up; done
    ip -n $A link set va$T up
    ip -n $B link set vb$T up
}

wgt_cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
    done
    ip netns del $A 2>/dev/null
    ip netns del $B 2>/dev/null
    # a sanitizer report from our daemon (ASan build) fails the test even if traffic flowed
    local bad=0
    if grep -l -E "Sanitizer|runtime error" "$TMP"/*.log >/dev/null 2>&1; then
        grep -h -A30 -E "Sanitizer|runtime error" "$TMP"/*.log | head -60
        bad=1
    fi
    rm -rf "$TMP"
    [ $bad = 0 ] || exit 1
}

wgt_dump() {
    for f in "$TMP"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -30 "$f"; }; done
    for n in $A $B; do ip netns exec $n wg show 2>/dev/null; done
}

# wgt_start IMPL NS IFNAME [ENV=VAL ...]: IMPL is ours or wggo; sets STARTED to the PID.
wgt_start() {
    local impl=$1 ns=$2 ifc=$3
    shift 3
    if [ "$impl" = ours ]; then
        ip netns exec $ns env ZTNA_WG_LOG_LEVEL=debug "$@" "$ZTNA" wireguard -f $ifc 2>>"$TMP/$ifc.log" &
    else
        command -v wireguard-go >/dev/null || wgt_skip "wireguard-go not installed"
        ip netns exec $ns env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=debug "$@" wireguard-go -f $ifc >>"$TMP/$ifc.log" 2>&1 &
    fi
    STARTED=$!
    PIDS+=($STARTED)
    for _ in $(seq 50); do [ -S /var/run/wireguard/$ifc.sock ] && return 0; sleep 0.1; done
    wgt_fail "$impl did not create /var/run/wireguard/$ifc.sock"
}

# wgt_wait_ping NS ADDR [TRIES]: true once one ping gets through (bounded).
wgt_wait_ping() {
    local tries=${3:-10}
    for _ in $(seq $tries); do
        ip netns exec $1 ping -c 1 -W 1 $2 >/dev/null 2>&1 && return 0
    done
    return 1
}

# wgt_tcp_transfer FROM_NS TO_NS TO_ADDR PORT BYTES: sends random bytes over TCP, checks sha256.
wgt_tcp_transfer() {
    local from=$1 to=$2 addr=$3 port=$4 bytes=$5
    head -c $bytes /dev/urandom >"$TMP/payload"
    local want
    want=$(sha256sum "$TMP/payload" | cut -d' ' -f1)
    ip netns exec $to timeout 30 python3 -c '
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1); s.settimeout(25)
c, _ = s.accept(); c.settimeout(25); h = hashlib.sha256(); n = 0
while True:
    b = c.recv(65536)
    if not b: break
    h.update(b); n += len(b)
print(h.hexdigest(), n)' $addr $port >"$TMP/recv.out" 2>&1 &
    local rp=$!
    sleep 0.3
    ip netns exec $from timeout 25 python3 -c '
import socket, sys
import time
d = open(sys.argv[3], "rb").read()
for i in range(50):
    try:
        c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
        break
    except ConnectionRefusedError:
        time.sleep(0.2)
c.sendall(d); c.close()' $addr $port "$TMP/payload" || { kill $rp 2>/dev/null; return 1; }
    wait $rp
    read -r got n <"$TMP/recv.out"
    [ "$got" = "$want" ] && [ "$n" = "$bytes" ]
}

# wgt_hs NS IFNAME: latest handshake (unix seconds) of the first peer, 0 if none.
wgt_hs() { ip netns exec $1 wg show $2 latest-handshakes | awk '{print $2; exit}'; }
