#!/usr/bin/env bash
# Interop of `ztna wireguard` with a peer (wireguard-go or ours), with or without a PSK.
#
#   netns zwgPIDa                                  netns zwgPIDb
#   +---------------------------+                  +---------------------------+
#   | ztna wireguard  wgA       |   veth (underlay) | PEER (wireguard-go|ztna) |
#   | 100.64.0.1/24  :51820     |==================| 100.64.0.2/24 :51821     |
#   | 198.18.0.1/24             |                  | 198.18.0.2/24 (-> .3)     |
#   +---------------------------+                  +---------------------------+
#
# Checks: A initiates (ping, 5 MB TCP with sha256), `wg show` fields, persistent keepalive, a rekey (A's rekey time is
# shortened by the test-only ZTNA_WG_TEST_REKEY_AFTER_SECONDS), peer removed and re-added with B
# initiating, B roams to a new underlay address, a wrong peer key never gets a session.
# Usage: interop.sh wggo|ours psk|nopsk
set -u
. "$(dirname "$0")/lib.sh"
peer_impl=${1:-wggo}
use_psk=${2:-nopsk}
wgt_init
[ "$peer_impl" = wggo ] && ! command -v wireguard-go >/dev/null && wgt_skip "wireguard-go not installed"

IA=${T}A IB=${T}B
ka=$(wg genkey); kb=$(wg genkey); pa=$(wg pubkey <<<"$ka"); pb=$(wg pubkey <<<"$kb")
echo "$ka" >$TMP/ka; echo "$kb" >$TMP/kb
psk_a=() psk_b=()
if [ "$use_psk" = psk ]; then
    wg genpsk >$TMP/psk
    psk_a=(preshared-key $TMP/psk); psk_b=(preshared-key $TMP/psk)
fi

wgt_start ours $A $IA ZTNA_WG_TEST_REKEY_AFTER_SECONDS=4; PA=$STARTED
wgt_start $peer_impl $B $IB; PB=$STARTED
ip netns exec $A wg set $IA private-key $TMP/ka listen-port 51820 fwmark 0x42 \
    peer $pb "${psk_a[@]}" allowed-ips 100.64.0.2/32,fd00:64::2/128 endpoint 198.18.0.2:51821 \
    || wgt_fail "wg set on ours"
ip netns exec $B wg set $IB private-key $TMP/kb listen-port 51821 \
    peer $pa "${psk_b[@]}" allowed-ips 100.64.0.1/32,fd00:64::1/128 endpoint 198.18.0.1:51820 \
    || wgt_fail "wg set on peer"
ip -n $A addr add 100.64.0.1/24 dev $IA; ip -n $A addr add fd00:64::1/64 dev $IA nodad
ip -n $B addr add 100.64.0.2/24 dev $IB; ip -n $B addr add fd00:64::2/64 dev $IB nodad
ip -n $A link set $IA up; ip -n $B link set $IB up

# 1. A initiates: IPv4 and IPv6 pings, then a 5 MB TCP transfer each way
wgt_wait_ping $A 100.64.0.2 || wgt_fail "A->B ping (A initiating)"
ip netns exec $A ping -6 -c 2 -W 2 fd00:64::2 >/dev/null || wgt_fail "A->B IPv6 ping"
wgt_ok "A initiates: ping v4 and v6"
wgt_tcp_transfer $A $B 100.64.0.2 5001 5242880 || wgt_fail "5 MB TCP A->B"
wgt_tcp_transfer $B $A 100.64.0.1 5002 5242880 || wgt_fail "5 MB TCP B->A"
wgt_ok "5 MB TCP both ways, sha256 matches"

# 2. wg show against ours: every field
ip netns exec $A wg set $IA peer $pb persistent-keepalive 25
dump=$(ip netns exec $A wg show $IA dump)
echo "$dump" | head -1 | awk -v k="$ka" -v p="$pa" '$1==k && $2==p && $3==51820 && $4=="0x42"{ok=1} END{exit !ok}' \
    || wgt_fail "wg show dump interface line: $(echo "$dump" | head -1)"
line=$(echo "$dump" | sed -n 2p)
read -r f_pub f_psk f_ep f_aips f_hs f_rx f_tx f_ka <<<"$line"
[ "$f_pub" = "$pb" ] || wgt_fail "peer key: $line"
if [ "$use_psk" = psk ]; then [ "$f_psk" = "$(cat $TMP/psk)" ] || wgt_fail "psk: $line"
else [ "$f_psk" = "(none)" ] || wgt_fail "psk none: $line"; fi
[ "$f_ep" = "198.18.0.2:51821" ] || wgt_fail "endpoint: $line"
[ "$f_aips" = "100.64.0.2/32,fd00:64::2/128" ] || wgt_fail "allowed ips: $line"
now=$(date +%s)
[ "$f_hs" -gt $((now - 60)) ] && [ "$f_hs" -le $((now + 1)) ] || wgt_fail "latest handshake: $line"
[ "$f_rx" -gt 5000000 ] && [ "$f_tx" -gt 5000000 ] || wgt_fail "transfer: $line"
[ "$f_ka" = 25 ] || wgt_fail "keepalive: $line"
ip netns exec $A wg show $IA | grep -q "listening port: 51820" || wgt_fail "wg show text"
ip netns exec $A wg showconf $IA | grep -q "^FwMark = 0x42" || wgt_fail "wg showconf fwmark"
ip netns exec $A wg showconf $IA | grep -q "^PrivateKey = $ka" || wgt_fail "wg showconf key"
wgt_ok "wg show / showconf fields"

# persistent keepalive actually sends: every second with no traffic, B sees 32-byte keepalives
# (off first: like the kernel, a change between two non-zero values only applies from the next
# packet, while turning it on sends a keepalive at once)
ip netns exec $A wg set $IA peer $pb persistent-keepalive 0
ip netns exec $A wg set $IA peer $pb persistent-keepalive 1
rx0=$(ip netns exec $B wg show $IB transfer | awk '{print $2; exit}')
sleep 3.5
rx1=$(ip netns exec $B wg show $IB transfer | awk '{print $2; exit}')
[ $((rx1 - rx0)) -ge 64 ] || wgt_fail "persistent keepalive: peer rx $rx0 -> $rx1"
ip netns exec $A wg set $IA peer $pb persistent-keepalive 0
wgt_ok "persistent keepalive sends ($rx0 -> $rx1 bytes at the peer)"

# 3. rekey: A's REKEY_AFTER_TIME is 4 s in this test; traffic for 7 s must bring a new handshake
hs1=$(wgt_hs $A $IA)
for _ in $(seq 14); do ip netns exec $A ping -c 1 -W 1 100.64.0.2 >/dev/null; sleep 0.5; done
hs2=$(wgt_hs $A $IA)
[ "$hs2" -gt "$hs1" ] || wgt_fail "no rekey: handshake $hs1 -> $hs2"
hsb=$(wgt_hs $B $IB)
[ "$hsb" -ge "$hs2" ] || [ $((hs2 - hsb)) -le 1 ] || wgt_fail "peer did not see the rekey ($hsb vs $hs2)"
wgt_ok "rekey observed ($hs1 -> $hs2)"

# 4. peer removed and re-added on both sides; now B initiates
ip netns exec $A wg set $IA peer $pb remove
ip netns exec $A wg show $IA peers | grep -q . && wgt_fail "peer not removed"
ip netns exec $A ping -c 1 -W 1 100.64.0.2 >/dev/null 2>&1 && wgt_fail "ping works without the peer"
ip netns exec $B wg set $IB peer $pa remove
ip netns exec $A wg set $IA peer $pb "${psk_a[@]}" allowed-ips 100.64.0.2/32
ip netns exec $B wg set $IB peer $pa "${psk_b[@]}" allowed-ips 100.64.0.1/32 endpoint 198.18.0.1:51820
wgt_wait_ping $B 100.64.0.1 || wgt_fail "B->A ping (B initiating, after re-add)"
ip netns exec $A wg show $IA endpoints | grep -q 198.18.0.2:51821 || wgt_fail "endpoint learned from B"
wgt_ok "peer removed and re-added, B initiates"

# 5. roaming: B moves to 198.18.0.3:51822 and sends; A must follow
ip -n $B addr del 198.18.0.2/24 dev vb$T
ip -n $B addr add 198.18.0.3/24 dev vb$T
# a new port too: wireguard-go rebinds and forgets its cached source address (sticky sockets)
ip netns exec $B wg set $IB listen-port 51822
if ! wgt_wait_ping $B 100.64.0.1; then
    ip netns exec $B wg show $IB; ip -n $B addr; ip -n $B route
    wgt_fail "B->A after B moved"
fi
ip netns exec $A wg show $IA endpoints | grep -q 198.18.0.3:51822 || wgt_fail "A did not roam: $(ip netns exec $A wg show $IA endpoints)"
ip netns exec $A ping -c 2 -W 2 100.64.0.2 >/dev/null || wgt_fail "A->B after roaming"
wgt_ok "roaming to 198.18.0.3:51822"

# 6. a wrong key never gets a session
ip netns exec $A wg set $IA peer $pb remove
wrong=$(wg genkey | wg pubkey)
ip netns exec $A wg set $IA peer $wrong allowed-ips 100.64.0.2/32 endpoint 198.18.0.3:51822
ip netns exec $A ping -c 3 -W 1 100.64.0.2 >/dev/null 2>&1 && wgt_fail "ping with a wrong key"
[ "$(wgt_hs $A $IA)" = 0 ] || wgt_fail "session with a wrong key"
wgt_ok "wrong key: no session"

# 7. clean shutdown removes the UAPI socket
kill -TERM $PA
for _ in $(seq 30); do kill -0 $PA 2>/dev/null || break; sleep 0.1; done
kill -0 $PA 2>/dev/null && wgt_fail "still running after SIGTERM"
[ -e /var/run/wireguard/$IA.sock ] && wgt_fail "socket left behind"
wgt_ok "SIGTERM: clean exit, socket removed"
echo "PASS interop $peer_impl $use_psk"
