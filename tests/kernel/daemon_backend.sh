#!/bin/bash
# `ztna daemon --backend`: the choice of the data plane, on any machine. In a private namespace
# (zkdb$$), with a state directory of its own:
#   --backend bogus: a usage error (exit 2) naming the value, nothing created;
#   module missing (as on our CI machines): --backend kernel exits 2 saying what is missing and
#     creates no interface; --backend auto (the default) logs the reason and runs the userspace
#     engine: `ztna status --json` says backend "userspace" and the interface is our TUN;
#   module present: --backend kernel and auto run on a kernel interface (link kind wireguard,
#     status backend "kernel", 100.100.100.100 on it), deleted again on SIGTERM; and
#     `ztna wireguard --backend kernel --filter` puts the filter in nftables table ztna_wg_IF,
#     deleted on SIGTERM.
set -u
BUILD=${ZTNA_BUILD_DIR:?}
ZTNA=$BUILD/agent/ztna
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (netns)"; exit 77; fi
[ -e /dev/net/tun ] || { echo "SKIP: no /dev/net/tun"; exit 77; }
command -v ip >/dev/null || { echo "SKIP: ip not installed"; exit 77; }
[ -x "$ZTNA" ] || { echo "FAIL: $ZTNA not built"; exit 1; }
NS=zkdb$$; IF=zkd$$
TMP=$(mktemp -d /tmp/zkdb.XXXXXX)
PID=
cleanup() {
    if [ -n "$PID" ]; then
        kill "$PID" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$PID" 2>/dev/null
    fi
    ip netns del $NS 2>/dev/null
    rm -f /var/run/wireguard/$IF.sock
    rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$TMP"/*.err "$TMP"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -15 "$f"; }; done; exit 1; }
ip netns add $NS || fail "netns"
ip -n $NS link set lo up
run() { ip netns exec $NS "$ZTNA" "$@"; }

run daemon --backend bogus --state-dir "$TMP/st" --socket "$TMP/s.sock" --tun $IF 2>"$TMP/bogus.err"
[ $? = 2 ] && grep -q "ztna daemon: --backend: expected auto|userspace|kernel, got 'bogus'" "$TMP/bogus.err" ||
    fail "--backend bogus: want exit 2 naming the value"
! ip -n $NS link show $IF >/dev/null 2>&1 || fail "--backend bogus created an interface"
echo "ok: $(cat "$TMP/bogus.err")"

# starts the daemon with backend $1, waits for its socket; then its status is in $TMP/status
start() {
    rm -f "$TMP/s.sock"
    ip netns exec $NS "$ZTNA" daemon --backend "$1" --state-dir "$TMP/st" --socket "$TMP/s.sock" \
        --tun $IF --listen-port 51851 2>"$TMP/$1.log" &
    PID=$!
    for _ in $(seq 1 50); do [ -S "$TMP/s.sock" ] && break; sleep 0.1; done
    [ -S "$TMP/s.sock" ] || fail "--backend $1: no local API socket"
    run status --json --socket "$TMP/s.sock" >"$TMP/status" 2>"$TMP/status.err" ||
        fail "--backend $1: ztna status failed"
}
stop() {
    kill "$PID"; wait "$PID"; local rc=$?; PID=
    [ $rc = 0 ] || fail "the daemon exited with $rc on SIGTERM"
}
backend_is() { python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["backend"] != sys.argv[2])' "$TMP/status" "$1"; }

if ip -n $NS link add zkprobe type wireguard 2>/dev/null; then
    ip -n $NS link del zkprobe
    echo "kernel module present: the daemon on kernel WireGuard"
    for b in kernel auto; do
        start $b
        backend_is kernel || fail "--backend $b: status does not say backend kernel: $(cat "$TMP/status")"
        ip -d -n $NS link show $IF | grep -q wireguard || fail "--backend $b: $IF is not a wireguard link"
        ip -n $NS addr show dev $IF | grep -q "100.100.100.100/32" || fail "--backend $b: no stub address"
        stop
        ! ip -n $NS link show $IF >/dev/null 2>&1 || fail "--backend $b: $IF left behind at exit"
        echo "ok: --backend $b: kernel interface, removed at exit"
    done
    # ztna wireguard --backend kernel --filter: the filter as nftables table ztna_wg_IF
    printf '{"entries": ["tcp 100.64.0.1/32 22"]}' >"$TMP/f.json"
    ip netns exec $NS "$ZTNA" wireguard -f --backend kernel --filter "$TMP/f.json" $IF 2>"$TMP/wgf.log" &
    PID=$!
    for _ in $(seq 1 50); do ip netns exec $NS nft list table inet ztna_wg_$IF >/dev/null 2>&1 && break; sleep 0.1; done
    ip netns exec $NS nft list table inet ztna_wg_$IF | grep -q "iifname \"$IF\"" ||
        fail "wireguard --backend kernel --filter: no nftables table on $IF"
    stop
    ! ip netns exec $NS nft list table inet ztna_wg_$IF >/dev/null 2>&1 || fail "wireguard --filter: table left at exit"
    echo "ok: ztna wireguard --backend kernel --filter: nftables table, removed at exit"
    exit 0
fi

run daemon --backend kernel --state-dir "$TMP/st" --socket "$TMP/s.sock" --tun $IF 2>"$TMP/kernel.err"
rc=$?
[ $rc = 2 ] || fail "--backend kernel without the module: want exit 2, got $rc"
grep -q "ztna daemon: --backend kernel: kernel WireGuard is not available (.*module missing)" "$TMP/kernel.err" ||
    fail "--backend kernel: the message does not say the module is missing"
! ip -n $NS link show $IF >/dev/null 2>&1 || fail "--backend kernel created an interface anyway"
[ ! -S "$TMP/s.sock" ] || fail "--backend kernel started the local API anyway"
echo "ok: $(cat "$TMP/kernel.err")"

start auto
backend_is userspace || fail "--backend auto: status does not say backend userspace: $(cat "$TMP/status")"
grep -q "module missing.*: the userspace engine runs the tunnels" "$TMP/auto.log" ||
    fail "--backend auto: the log does not give the reason for the userspace engine"
ip -d -n $NS link show $IF | grep -q " tun " || fail "--backend auto: $IF is not our TUN"
stop
echo "ok: --backend auto: $(grep -o 'kernel WireGuard is not available.*' "$TMP/auto.log" | head -1)"
exit 0
