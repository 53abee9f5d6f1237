#!/bin/bash
# Post-quantum PSK exchange between two real `ztna wireguard` engines (ZTNA_WG_PQ=1).
#
#   netns zpqA$$                                   netns zpqB$$
#   +---------------------------+   veth pair   +---------------------------+
#   | zpqa$$  100.64.0.1/24     |               | zpqb$$  100.64.0.2/24     |
#   | ztna wireguard (pq)       |               | ztna wireguard (pq / off) |
#   | veth 198.18.0.1/24 :51820 |---------------| veth 198.18.0.2/24 :51820 |
#   +---------------------------+               +---------------------------+
#
# 1. B without the exchange: A installs a random (non-zero) PSK and blocks B: no ping (no
#    silent downgrade to a classical tunnel).
# 2. B restarted with the exchange and no endpoint for A: equal non-zero PSKs, ping works.
# 3. Rotation shortened to 5 s (and WireGuard rekey to 4 s): the PSK changes at least twice,
#    stays equal on both sides, and pings keep flowing throughout.
set -u
umask 077
BUILD=${ZTNA_BUILD_DIR:-$(dirname "$0")/../../build}
ZTNA=$BUILD/agent/ztna
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (netns, TUN)"; exit 77; fi
if [ ! -c /dev/net/tun ]; then echo "SKIP: no /dev/net/tun"; exit 77; fi
for t in ip wg ping; do
    command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done
[ -x "$ZTNA" ] || { echo "FAIL: $ZTNA not built"; exit 1; }

NA=zpqA$$; NB=zpqB$$; IA=zpqa$$; IB=zpqb$$
TMP=$(mktemp -d /tmp/zpq.XXXXXX)
PIDA=; PIDB=
cleanup() {
    for p in $PIDA $PIDB; do kill "$p" 2>/dev/null; done
    for p in $PIDA $PIDB; do
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
    done
    ip netns del $NA 2>/dev/null
    ip netns del $NB 2>/dev/null
    rm -f /var/run/wireguard/$IA.sock /var/run/wireguard/$IB.sock
    rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$TMP"/*.log; do echo "--- $f"; tail -20 "$f"; done; exit 1; }

ip netns add $NA && ip netns add $NB || fail "netns"
ip link add vpa$$ netns $NA type veth peer name vpb$$ netns $NB || fail "veth"
ip -n $NA addr add 198.18.0.1/24 dev vpa$$; ip -n $NA link set vpa$$ up; ip -n $NA link set lo up
ip -n $NB addr add 198.18.0.2/24 dev vpb$$; ip -n $NB link set vpb$$ up; ip -n $NB link set lo up
wg genkey > "$TMP/a.key"; wg genkey > "$TMP/b.key"
PUBA=$(wg pubkey < "$TMP/a.key"); PUBB=$(wg pubkey < "$TMP/b.key")

export ZTNA_PQX_TEST_ROTATE_MS=5000 ZTNA_WG_TEST_REKEY_AFTER_SECONDS=4

# start NS IF PQ(0/1) LOG -> sets PID
start() {
    local ns=$1 ifn=$2 pq=$3 log=$4
    ZTNA_WG_PQ=$pq ip netns exec $ns "$ZTNA" wireguard -f $ifn >"$log" 2>&1 &
    PID=$!
    for _ in $(seq 1 50); do [ -S /var/run/wireguard/$ifn.sock ] && return 0; sleep 0.1; done
    fail "$ifn: UAPI socket did not appear"
}
configure() { # NS IF KEY PEERPUB ADDR PEERADDR [ENDPOINT]
    local ep=
    [ -n "${7:-}" ] && ep="endpoint $7:51820"
    ip netns exec $1 wg set $2 private-key "$3" listen-port 51820 \
        peer $4 allowed-ips $6/32 $ep || fail "wg set $2"
    ip -n $1 addr add $5/24 dev $2; ip -n $1 link set $2 up
}
psk() { ip netns exec $1 wg show $2 preshared-keys | awk '{print $2}'; }

start $NA $IA 1 "$TMP/a.log"; PIDA=$PID
start $NB $IB 0 "$TMP/b.log"; PIDB=$PID
configure $NA $IA "$TMP/a.key" "$PUBB" 100.64.0.1 100.64.0.2 198.18.0.2
configure $NB $IB "$TMP/b.key" "$PUBA" 100.64.0.2 100.64.0.1 198.18.0.1

# 1. No silent downgrade.
sleep 1
KA=$(psk $NA $IA)
[ -n "$KA" ] && [ "$KA" != "(none)" ] && [ "$KA" != "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" ] ||
    fail "A has no random PSK before the exchange: '$KA'"
if ip netns exec $NA ping -c 3 -i 0.5 -W 1 100.64.0.2 >/dev/null 2>&1; then
    fail "traffic flowed to a peer without a PQ PSK"
fi
echo "ok: peer without the exchange is blocked (A's PSK is random)"

# 2. B restarted with the exchange.
kill $PIDB; wait $PIDB 2>/dev/null; PIDB=
start $NB $IB 1 "$TMP/b2.log"; PIDB=$PID
# B gets no endpoint for A: it learns where to answer from A's authenticated INIT.
configure $NB $IB "$TMP/b.key" "$PUBA" 100.64.0.2 100.64.0.1
ok=0
for _ in $(seq 1 100); do
    KA=$(psk $NA $IA); KB=$(psk $NB $IB)
    if [ -n "$KA" ] && [ "$KA" = "$KB" ] && [ "$KA" != "(none)" ]; then ok=1; break; fi
    sleep 0.2
done
[ $ok = 1 ] || fail "PSKs never agreed: A=$KA B=$KB"
[ "$KA" != "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" ] || fail "zero PSK"
ip netns exec $NA ping -c 1 -W 8 100.64.0.2 >/dev/null || fail "no ping after the exchange"
grep -q "psk=pq error=none" "$TMP/a.log" || fail "status change not logged"
echo "ok: exchange completed, equal PSKs, ping works"

# 3. Rotation with traffic throughout (pings every 0.2 s for 16 s).
ip netns exec $NA ping -i 0.2 -c 80 -W 1 100.64.0.2 > "$TMP/ping.log" 2>&1 &
PING=$!
declare -A SEEN
SEEN[$KA]=1
mismatch=0
for _ in $(seq 1 32); do
    sleep 0.5
    KA=$(psk $NA $IA); KB=$(psk $NB $IB)
    SEEN[$KA]=1
    [ "$KA" = "$KB" ] || mismatch=$((mismatch + 1))
    [ "$KA" != "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" ] || fail "zero PSK during rotation"
done
wait $PING
RECV=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$TMP/ping.log")
echo "distinct PSKs seen: ${#SEEN[@]}, samples with A != B: $mismatch, pings received: ${RECV:-0}/80"
[ ${#SEEN[@]} -ge 3 ] || fail "PSK did not rotate twice"
# Both sides switch within a round trip; a sample may catch the moment in between.
[ $mismatch -le 3 ] || fail "PSKs disagree too often ($mismatch of 32 samples)"
[ "${RECV:-0}" -ge 72 ] || fail "traffic did not flow throughout rotation (${RECV:-0}/80)"
echo "ok: PSK rotated, equal on both sides, traffic flowed"
exit 0
