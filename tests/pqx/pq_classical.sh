#!/bin/bash
# A classical-only peer (wireguard-go: no post-quantum exchange) carries traffic only when it is
# explicitly allowed with `ztna wireguard --pq --classical-peer KEY`.
#
#   netns zpcA$$                                   netns zpcB$$
#   +----------------------------------+  veth   +----------------------------------+
#   | zpca$$ 100.64.0.1/24             |         | zpcb$$ 100.64.0.2/24             |
#   | ztna wireguard --pq [...]        |         | wireguard-go (no PSK, no pqx)    |
#   | vpca$$ 198.18.0.1/24 :51820      |---------| vpcb$$ 198.18.0.2/24 :51820      |
#   +----------------------------------+         +----------------------------------+
#
# 1. A with --classical-peer naming ANOTHER key: B stays blocked with a random PSK, no ping,
#    status psk=none classical_only=0 blocked=1 and error=timeout (B never answers the exchange).
# 2. A restarted with --classical-peer B's key: ping works both ways, status psk=classical-only
#    classical_only=1 blocked=0, `wg show preshared-keys` says (none).
set -u
umask 077
BUILD=${ZTNA_BUILD_DIR:?}
ZTNA=$BUILD/agent/ztna
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (netns, TUN)"; exit 77; fi
if [ ! -c /dev/net/tun ]; then echo "SKIP: no /dev/net/tun"; exit 77; fi
for t in ip wg ping wireguard-go; do command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }; done
[ -x "$ZTNA" ] || { echo "FAIL: $ZTNA not built"; exit 1; }

NA=zpcA$$; NB=zpcB$$; IA=zpca$$; IB=zpcb$$
TMP=$(mktemp -d /tmp/zpc.XXXXXX)
PIDA=; PIDB=
stop() { # PID
    [ -n "$1" ] || return 0
    kill "$1" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$1" 2>/dev/null
}
cleanup() {
    stop "$PIDA"; stop "$PIDB"
    ip netns del $NA 2>/dev/null; ip netns del $NB 2>/dev/null
    rm -f /var/run/wireguard/$IA.sock /var/run/wireguard/$IB.sock /var/run/wireguard/$IA.pq
    local bad=0
    if grep -l -E "Sanitizer|runtime error" "$TMP"/*.log >/dev/null 2>&1; then
        grep -h -A30 -E "Sanitizer|runtime error" "$TMP"/*.log | head -60; bad=1
    fi
    rm -rf "$TMP"
    [ $bad = 0 ] || exit 1
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$TMP"/*.log; do echo "--- $f"; tail -15 "$f"; done; exit 1; }
wait_sock() { for _ in $(seq 1 50); do [ -S /var/run/wireguard/$1.sock ] && return 0; sleep 0.1; done; fail "$1: no UAPI socket"; }

ip netns add $NA && ip netns add $NB || fail "netns"
ip link add vpca$$ netns $NA type veth peer name vpcb$$ netns $NB || fail "veth"
ip -n $NA addr add 198.18.0.1/24 dev vpca$$; ip -n $NA link set vpca$$ up; ip -n $NA link set lo up
ip -n $NB addr add 198.18.0.2/24 dev vpcb$$; ip -n $NB link set vpcb$$ up; ip -n $NB link set lo up
wg genkey > "$TMP/a.key"; wg genkey > "$TMP/b.key"; wg genkey > "$TMP/c.key"
PUBA=$(wg pubkey < "$TMP/a.key"); PUBB=$(wg pubkey < "$TMP/b.key"); PUBC=$(wg pubkey < "$TMP/c.key")

ip netns exec $NB env WG_PROCESS_FOREGROUND=1 wireguard-go -f $IB >"$TMP/wggo.log" 2>&1 &
PIDB=$!
wait_sock $IB
ip netns exec $NB wg set $IB private-key "$TMP/b.key" listen-port 51820 \
    peer "$PUBA" allowed-ips 100.64.0.1/32 endpoint 198.18.0.1:51820 || fail "wg set B"
ip -n $NB addr add 100.64.0.2/24 dev $IB; ip -n $NB link set $IB up

start_a() { # extra ztna options...
    ip netns exec $NA env ZTNA_PQX_TEST_RETRANSMIT_MS=250 "$ZTNA" wireguard -f --pq "$@" $IA \
        >>"$TMP/a.log" 2>&1 &
    PIDA=$!
    wait_sock $IA
    ip netns exec $NA wg set $IA private-key "$TMP/a.key" listen-port 51820 \
        peer "$PUBB" allowed-ips 100.64.0.2/32 endpoint 198.18.0.2:51820 || fail "wg set A"
    ip -n $NA addr add 100.64.0.1/24 dev $IA; ip -n $NA link set $IA up
}
status_a() { "$ZTNA" wireguard --pq-status $IA; }

# 1. Another key is classical-only, B is not: blocked.
start_a --classical-peer "$PUBC"
if ip netns exec $NA ping -c 4 -i 0.5 -W 1 100.64.0.2 >/dev/null 2>&1; then
    fail "traffic flowed to wireguard-go without an explicit classical-only flag"
fi
if ip netns exec $NB ping -c 2 -i 0.5 -W 1 100.64.0.1 >/dev/null 2>&1; then
    fail "traffic flowed from wireguard-go without an explicit classical-only flag"
fi
S=$(status_a)
for want in "psk=none" "classical_only=0" "blocked=1" "error=timeout"; do
    [[ " $S " == *" $want "* ]] || fail "status without the flag lacks $want: $S"
done
KA=$(ip netns exec $NA wg show $IA preshared-keys | awk '{print $2}')
[ "$KA" != "(none)" ] && [ -n "$KA" ] || fail "A has no random PSK for B: '$KA'"
echo "ok: without the flag: blocked, random PSK, status: ${S#* }"

# 2. B explicitly classical-only.
stop "$PIDA"; PIDA=
start_a --classical-peer "$PUBB"
ok=0
for _ in $(seq 1 10); do
    ip netns exec $NA ping -c 1 -W 1 100.64.0.2 >/dev/null 2>&1 && { ok=1; break; }
done
[ $ok = 1 ] || fail "no ping to a peer explicitly allowed classical-only"
ip netns exec $NB ping -c 2 -W 2 100.64.0.1 >/dev/null || fail "no ping from wireguard-go"
S=$(status_a)
for want in "psk=classical-only" "classical_only=1" "blocked=0"; do
    [[ " $S " == *" $want "* ]] || fail "status with the flag lacks $want: $S"
done
KA=$(ip netns exec $NA wg show $IA preshared-keys | awk '{print $2}')
[ "$KA" = "(none)" ] || fail "classical-only peer should have no PSK, has '$KA'"
grep -q "classical-only" "$TMP/a.log" || fail "classical-only not logged"
echo "ok: with --classical-peer: ping both ways, status: ${S#* }"
exit 0
