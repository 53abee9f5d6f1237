#!/usr/bin/env bash
# 10,000 peers through `wg addconf`, then `wg show` must list them all.
# Regression (uapi_get_large_reply): a `get` reply bigger than the socket buffer was cut short
# (non-blocking client socket), and wg reported "Protocol error".
#
#   netns zwgPIDa: ztna wireguard zwgPIDA (no traffic; UAPI only)
set -u
. "$(dirname "$0")/lib.sh"
wgt_init
IA=${T}A
wgt_start ours $A $IA
python3 - 10000 >$TMP/peers.conf <<'PY'
import base64, os, sys
n = int(sys.argv[1])
print("[Interface]\nListenPort = 51820")
for i in range(n):
    k = base64.b64encode(os.urandom(32)).decode()
    print("[Peer]\nPublicKey = %s\nAllowedIPs = 100.%d.%d.%d/32\nEndpoint = 198.18.1.%d:51820" % (
        k, 96 + (i >> 16) % 32, (i >> 8) & 255, i & 255, 1 + i % 250))
PY
ip netns exec $A wg addconf $IA $TMP/peers.conf || wgt_fail "wg addconf of 10,000 peers"
n=$(ip netns exec $A wg show $IA peers | wc -l)
[ "$n" = 10000 ] || wgt_fail "wg show lists $n peers, want 10000"
n=$(ip netns exec $A wg show $IA allowed-ips | grep -c '/32')
[ "$n" = 10000 ] || wgt_fail "allowed-ips for $n peers, want 10000"
wgt_ok "10,000 peers set and listed"
# replace them all with one (setconf = replace_peers)
printf '[Interface]\nListenPort = 51820\n[Peer]\nPublicKey = %s\nAllowedIPs = 100.64.0.2/32\n' "$(wg genkey | wg pubkey)" >$TMP/one.conf
ip netns exec $A wg setconf $IA $TMP/one.conf || wgt_fail "wg setconf"
n=$(ip netns exec $A wg show $IA peers | wc -l)
[ "$n" = 1 ] || wgt_fail "after setconf: $n peers, want 1"
wgt_ok "setconf replaced them"
echo "PASS many_peers"
