#!/usr/bin/env bash
# Under load: a flood of handshake initiations (valid mac1, bogus contents) from 20 source
# addresses makes `ztna wireguard` answer with cookie replies instead of handshake work, and an
# established peer keeps passing traffic meanwhile.
#
#   netns zwgPIDa                               netns zwgPIDb
#   +------------------------+                  +--------------------------------------+
#   | ztna wireguard wgA     |  veth underlay   | PEER wgB 100.64.0.2 (established)    |
#   | 100.64.0.1 :51820      |==================| 198.18.0.2                           |
#   | 198.18.0.1             |                  | flood.py from 198.18.0.10 .. .29     |
#   +------------------------+                  +--------------------------------------+
set -u
. "$(dirname "$0")/lib.sh"
wgt_init
peer_impl=ours
command -v wireguard-go >/dev/null && peer_impl=wggo
IA=${T}A IB=${T}B
ka=$(wg genkey); kb=$(wg genkey); pa=$(wg pubkey <<<"$ka"); pb=$(wg pubkey <<<"$kb")
echo "$ka" >$TMP/ka; echo "$kb" >$TMP/kb
wgt_start ours $A $IA; PA=$STARTED
wgt_start $peer_impl $B $IB
ip netns exec $A wg set $IA private-key $TMP/ka listen-port 51820 peer $pb allowed-ips 100.64.0.2/32 endpoint 198.18.0.2:51821
ip netns exec $B wg set $IB private-key $TMP/kb listen-port 51821 peer $pa allowed-ips 100.64.0.1/32 endpoint 198.18.0.1:51820
ip -n $A addr add 100.64.0.1/24 dev $IA; ip -n $A link set $IA up
ip -n $B addr add 100.64.0.2/24 dev $IB; ip -n $B link set $IB up
wgt_wait_ping $B 100.64.0.1 || wgt_fail "no tunnel before the flood"
srcs=()
for i in $(seq 10 29); do ip -n $B addr add 198.18.0.$i/24 dev vb$T; srcs+=(198.18.0.$i); done
# 4000 initiations at 1000/s (bounded), while the established peer pings
ip netns exec $B timeout 20 python3 "$(dirname "$0")/flood.py" 198.18.0.1 51820 "$pa" 4000 1000 "${srcs[@]}" >$TMP/flood.out 2>&1 &
fp=$!
sleep 0.5
ip netns exec $B ping -c 15 -i 0.2 -W 1 100.64.0.1 >$TMP/ping.out 2>&1
wait $fp
cat $TMP/flood.out
read -r _ sent _ cookies <$TMP/flood.out
[ "${sent:-0}" -ge 1000 ] || wgt_fail "flood did not run: $(cat $TMP/flood.out)"
[ "${cookies:-0}" -ge 100 ] || wgt_fail "too few cookie replies under load: ${cookies:-0} for $sent"
wgt_ok "cookie replies under load: $cookies for $sent initiations"
rcvd=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' $TMP/ping.out)
[ "${rcvd:-0}" -ge 12 ] || wgt_fail "established peer lost traffic during the flood: $(tail -2 $TMP/ping.out)"
wgt_ok "established peer kept its traffic: $rcvd/15 pings"
kill -0 $PA || wgt_fail "ours died"
# after the flood stops, load clears and a fresh handshake works without cookies
ip netns exec $B wg set $IB peer $pa remove
ip netns exec $B wg set $IB peer $pa allowed-ips 100.64.0.1/32 endpoint 198.18.0.1:51820
sleep 1.5
wgt_wait_ping $B 100.64.0.1 || wgt_fail "fresh handshake after the flood"
wgt_ok "fresh handshake after the flood"
echo "PASS flood"
