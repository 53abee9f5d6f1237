#!/bin/bash
# `ztna wireguard --backend auto|kernel|userspace` where the kernel module is missing (as on our CI
# machines) and, if a machine has it, where it is present. In a private namespace (zkfb$$):
#   missing module: --backend kernel fails (exit 1) saying the module is missing and creates
#     nothing; --backend auto says so, falls back to the userspace engine (TUN + UAPI socket, `wg`
#     configures it); --backend bogus is a usage error (exit 2) naming the value, and so are a
#     malformed --pq-endpoint and --pq-endpoint without --pq; with --pq --pq-endpoint the
#     peer's --pq-status line shows the configured exchange endpoint.
#   module present: --backend auto and kernel create a kernel interface (link kind wireguard)
#     that `wg` configures over netlink, and remove it on SIGTERM in -f mode.
set -u
BUILD=${ZTNA_BUILD_DIR:?}
ZTNA=$BUILD/agent/ztna
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (netns)"; exit 77; fi
for t in ip wg; do command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }; done
[ -x "$ZTNA" ] || { echo "FAIL: $ZTNA not built"; exit 1; }
NS=zkfb$$; IF=zkf$$
TMP=$(mktemp -d /tmp/zkf.XXXXXX)
PID=
cleanup() {
    if [ -n "$PID" ]; then
        kill "$PID" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$PID" 2>/dev/null
    fi
    ip netns del $NS 2>/dev/null
    rm -f /var/run/wireguard/$IF.sock /var/run/wireguard/$IF.pq
    rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$TMP"/*; do echo "--- $f"; tail -10 "$f"; done; exit 1; }
ip netns add $NS || fail "netns"
wg genkey > "$TMP/key"

ip netns exec $NS "$ZTNA" wireguard --backend bogus $IF 2>"$TMP/bogus.err"
[ $? = 2 ] && grep -q "'bogus'" "$TMP/bogus.err" || fail "--backend bogus: want exit 2 naming the value"
K=$(wg pubkey < "$TMP/key")
ip netns exec $NS "$ZTNA" wireguard --pq --pq-endpoint "$K=198.18.0.1" $IF 2>"$TMP/pqep.err"
[ $? = 2 ] && grep -q -- "--pq-endpoint: '$K=198.18.0.1' is not" "$TMP/pqep.err" ||
    fail "--pq-endpoint without a port: want exit 2 naming the value"
ip netns exec $NS "$ZTNA" wireguard --pq-endpoint "$K=198.18.0.1:51831" $IF 2>"$TMP/pqep.err"
[ $? = 2 ] && grep -q "needs the post-quantum exchange" "$TMP/pqep.err" ||
    fail "--pq-endpoint without --pq: want exit 2 saying it needs --pq"

if ip -n $NS link add zkprobe type wireguard 2>/dev/null; then
    ip -n $NS link del zkprobe
    echo "kernel module present: testing the kernel backend"
    ip netns exec $NS "$ZTNA" wireguard -f --backend auto $IF 2>"$TMP/auto.err" &
    PID=$!
    for _ in $(seq 1 50); do ip -n $NS link show $IF >/dev/null 2>&1 && break; sleep 0.1; done
    ip -d -n $NS link show $IF | grep -q wireguard || fail "auto: no kernel interface"
    [ ! -S /var/run/wireguard/$IF.sock ] || fail "auto: a UAPI socket next to a kernel interface"
    ip netns exec $NS wg set $IF private-key "$TMP/key" listen-port 51830 || fail "wg set (netlink)"
    ip netns exec $NS wg show $IF listen-port | grep -qx 51830 || fail "wg show (netlink)"
    kill $PID; wait $PID; PID=
    ! ip -n $NS link show $IF >/dev/null 2>&1 || fail "-f: interface left behind"
    echo "ok: kernel backend"
    exit 0
fi

ip netns exec $NS "$ZTNA" wireguard --backend kernel $IF 2>"$TMP/kernel.err"
[ $? = 1 ] || fail "--backend kernel without the module: want exit 1"
grep -q "module missing" "$TMP/kernel.err" || fail "--backend kernel: the message does not say the module is missing"
! ip -n $NS link show $IF >/dev/null 2>&1 || fail "--backend kernel created an interface anyway"
echo "ok: --backend kernel: $(cat "$TMP/kernel.err")"

P2=$(wg genkey | wg pubkey)
ip netns exec $NS "$ZTNA" wireguard -f --backend auto --pq --pq-endpoint "$P2=[2001:db8::7]:51999" \
    $IF 2>"$TMP/auto.err" &
PID=$!
for _ in $(seq 1 50); do [ -S /var/run/wireguard/$IF.sock ] && break; sleep 0.1; done
[ -S /var/run/wireguard/$IF.sock ] || fail "auto: no userspace engine (no UAPI socket)"
grep -q "module missing" "$TMP/auto.err" && grep -q "using the userspace engine" "$TMP/auto.err" ||
    fail "auto: did not say the module is missing and that it uses the userspace engine"
ip -d -n $NS link show $IF | grep -q " tun " || fail "auto: the interface is not our TUN"
ip netns exec $NS wg set $IF private-key "$TMP/key" listen-port 51830 || fail "wg set (UAPI)"
ip netns exec $NS wg show $IF listen-port | grep -qx 51830 || fail "wg show (UAPI)"
echo "ok: --backend auto: $(head -1 "$TMP/auto.err")"
# --pq-endpoint reaches the exchange: the peer's status line shows the configured address.
ip netns exec $NS wg set $IF peer "$P2" endpoint 198.18.0.7:51830 || fail "wg set peer"
for _ in $(seq 1 30); do
    "$ZTNA" wireguard --pq-status $IF >"$TMP/status" 2>&1 && grep -q "^$P2 " "$TMP/status" && break
    sleep 0.1
done
grep "^$P2 " "$TMP/status" | grep -q " pq_endpoint=\[2001:db8::7\]:51999" ||
    fail "--pq-endpoint: the status does not show the configured exchange endpoint"
echo "ok: --pq-endpoint: $(grep -o 'pq_endpoint=[^ ]*' "$TMP/status")"
exit 0
