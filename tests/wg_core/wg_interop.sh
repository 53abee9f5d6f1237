#!/usr/bin/env bash
# Interoperability of the pure protocol core (common/wg) with wireguard-go, the reference
# userspace WireGuard: wg_interop_peer (our handshake, cookies, keypairs, allowed IPs over a
# plain UDP socket) against wireguard-go on a TUN device, ICMP echo through the tunnel.
#
#   netns zwgc<pid>, lo 198.18.0.1/32
#   +--------------------------------------+       +---------------------------------------+
#   | wireguard-go  if zwgc<pid>           |  UDP  | wg_interop_peer A  100.64.0.2  :51821 |
#   |   100.64.0.1/24   198.18.0.1:51820   |<----->|   (initiates, PSK)                    |
#   |   peer A: 100.64.0.2/32, PSK         |       | wg_interop_peer B  100.64.0.3  :51822 |
#   |   peer B: 100.64.0.3/32, no PSK      |       |   (responds to wireguard-go, no PSK)  |
#   |   peer C: 100.64.0.4/32, PSK         |       | wg_interop_peer C  100.64.0.4  :51823 |
#   |                                      |       |   (responds "under load": cookies)    |
#   +--------------------------------------+       +---------------------------------------+
#
# Phase 1: A initiates, sends 3 echo requests to 100.64.0.1, the kernel answers via wireguard-go.
# Phase 2: `ping 100.64.0.3` makes wireguard-go initiate to B, which answers the echoes.
# Phase 3: C answers wireguard-go's first initiation with a cookie reply; wireguard-go's retry
#          (after REKEY_TIMEOUT) must carry a mac2 that C's checker accepts.
set -euo pipefail
umask 077

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
for t in ip wg wireguard-go ping od base64; do
    command -v "$t" >/dev/null || skip "$t not installed"
done
build=${ZTNA_BUILD_DIR:?ZTNA_BUILD_DIR not set}
peer="$build/tests/wg_core/wg_interop_peer"
[ -x "$peer" ] || { echo "FAIL: $peer not built"; exit 1; }

ns="zwgc$$"
ifname="zwgc$$"
tmp=$(mktemp -d)
chmod 700 "$tmp"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
    rm -f "/var/run/wireguard/$ifname.sock"
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    echo "--- wireguard-go log"; cat "$tmp/wg-go.log" 2>/dev/null || true
    for f in "$tmp"/peer*.log; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done
    exit 1
}
hex() { base64 -d | od -An -tx1 | tr -d ' \n'; }

ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" addr add 198.18.0.1/32 dev lo

ip netns exec "$ns" env WG_PROCESS_FOREGROUND=1 wireguard-go -f "$ifname" >"$tmp/wg-go.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
    [ -S "/var/run/wireguard/$ifname.sock" ] && break
    sleep 0.1
done
[ -S "/var/run/wireguard/$ifname.sock" ] || fail "wireguard-go did not start"

wg genkey >"$tmp/go.key"
wg genkey >"$tmp/a.key"
wg genkey >"$tmp/b.key"
wg genkey >"$tmp/c.key"
wg genpsk >"$tmp/a.psk"
wg genpsk >"$tmp/c.psk"
go_pub=$(wg pubkey <"$tmp/go.key")
a_pub=$(wg pubkey <"$tmp/a.key")
b_pub=$(wg pubkey <"$tmp/b.key")
c_pub=$(wg pubkey <"$tmp/c.key")
ip netns exec "$ns" wg set "$ifname" private-key "$tmp/go.key" listen-port 51820 \
    peer "$a_pub" preshared-key "$tmp/a.psk" allowed-ips 100.64.0.2/32 endpoint 198.18.0.1:51821 \
    peer "$b_pub" allowed-ips 100.64.0.3/32 endpoint 198.18.0.1:51822 \
    peer "$c_pub" preshared-key "$tmp/c.psk" allowed-ips 100.64.0.4/32 endpoint 198.18.0.1:51823
ip -n "$ns" addr add 100.64.0.1/24 dev "$ifname"
ip -n "$ns" link set "$ifname" up

echo "== phase 1: our core initiates (with PSK)"
ip netns exec "$ns" timeout 30 "$peer" initiate "$(hex <"$tmp/a.key")" "$(echo "$go_pub" | hex)" \
    "$(hex <"$tmp/a.psk")" 198.18.0.1:51821 198.18.0.1:51820 100.64.0.2 100.64.0.1 3 \
    >"$tmp/peerA.log" 2>&1 || fail "initiator peer failed"
cat "$tmp/peerA.log"
ip netns exec "$ns" wg show "$ifname" latest-handshakes | grep -q "^$a_pub\s[1-9]" ||
    fail "wireguard-go saw no handshake from A"

echo "== phase 2: wireguard-go initiates (no PSK)"
ip netns exec "$ns" timeout 40 "$peer" respond "$(hex <"$tmp/b.key")" "$(echo "$go_pub" | hex)" - \
    198.18.0.1:51822 198.18.0.1:51820 100.64.0.3 100.64.0.1 3 >"$tmp/peerB.log" 2>&1 &
bpid=$!
pids+=("$bpid")
sleep 0.3
ip netns exec "$ns" ping -c 3 -i 0.3 -W 5 100.64.0.3 >"$tmp/ping.log" 2>&1 ||
    { cat "$tmp/ping.log"; fail "ping through wireguard-go to our responder failed"; }
cat "$tmp/ping.log"
wait "$bpid" || fail "responder peer failed"
cat "$tmp/peerB.log"
ip netns exec "$ns" wg show "$ifname" latest-handshakes | grep -q "^$b_pub\s[1-9]" ||
    fail "wireguard-go saw no handshake with B"

echo "== phase 3: cookie reply to wireguard-go, then its initiation with mac2"
ip netns exec "$ns" timeout 40 "$peer" respond-cookie "$(hex <"$tmp/c.key")" "$(echo "$go_pub" | hex)" \
    "$(hex <"$tmp/c.psk")" 198.18.0.1:51823 198.18.0.1:51820 100.64.0.4 100.64.0.1 2 \
    >"$tmp/peerC.log" 2>&1 &
cpid=$!
pids+=("$cpid")
sleep 0.3
ip netns exec "$ns" ping -c 2 -i 0.3 -W 25 100.64.0.4 >"$tmp/ping3.log" 2>&1 ||
    { cat "$tmp/ping3.log"; fail "ping through wireguard-go to our cookie-demanding responder failed"; }
cat "$tmp/ping3.log"
wait "$cpid" || fail "cookie responder peer failed"
cat "$tmp/peerC.log"
echo "PASS"
