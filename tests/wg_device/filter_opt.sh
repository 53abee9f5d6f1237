#!/usr/bin/env bash
# `ztna wireguard --filter FILE`: the compiled filter (netmap JSON form) enforced statefully on
# packets from the tunnel, through the daemon's gate (common/filter/gate.c).
#
#   netns zwgPIDa                               netns zwgPIDb
#   ztna wireguard wgA (no filter)  ==veth==    ztna wireguard --filter f.json wgB
#   100.64.0.1/24  198.18.0.1                   100.64.0.2/24  198.18.0.2
#   f.json: tcp 100.64.0.1/32 5201, udp 100.64.0.1/32 5301, tcp 100.64.0.9/32 5202 (another source)
#
# Usage: filter_opt.sh cli    bad filter files (missing, a directory, empty, NUL byte, > 64 MiB,
#                             not JSON, no entries, bad entries): a message naming the problem,
#                             exit 1, no interface left behind (needs no root)
#        filter_opt.sh netns  A->B: tcp 5201 passes (5 MB, sha256), tcp 5202 (listener present)
#                             times out, udp 5301 arrives, udp 5302 does not, ping A->B is dropped;
#                             B->A ping and TCP to a port the filter never names work (replies
#                             to B's own flows pass); B logs the denials per source/proto/port.
set -u
. "$(dirname "$0")/lib.sh"
mode=${1:-netns}

if [ "$mode" = cli ]; then
    ZTNA=${ZTNA_BUILD_DIR:?}/agent/ztna
    [ -x "$ZTNA" ] || wgt_skip "$ZTNA not built"
    TMP=$(mktemp -d)
    trap 'rm -rf "$TMP"' EXIT
    printf '{"entries":["tcp 100.64.0.1/32 22","udp 100.64.0.300/32 53"]}' >$TMP/badentry.json
    printf '{"entries": [1]}' >$TMP/notstring.json
    printf '{"entries": "tcp 100.64.0.1/32 22"' >$TMP/notjson.json
    printf '{"filter": []}' >$TMP/noentries.json
    printf '' >$TMP/empty.json
    printf '{"entries": []}\0' >$TMP/nul.json
    truncate -s 65M $TMP/huge.json
    # each case: FILE  expected text in the message
    cases=(
        "$TMP/missing.json|cannot open: No such file or directory"
        "$TMP/badentry.json|entry 2 'udp 100.64.0.300/32 53' is not 'PROTO PREFIX PORT[-PORT]'"
        "$TMP/notstring.json|entry 1 is not a string"
        "$TMP/notjson.json|not JSON"
        "$TMP/noentries.json|no \"entries\" array"
        "$TMP/empty.json|not JSON"
        "$TMP|cannot read: Is a directory"
        "$TMP/nul.json|contains a NUL byte"
        "$TMP/huge.json|larger than 67108864 bytes"
    )
    for c in "${cases[@]}"; do
        f=${c%%|*} want=${c#*|}
        out=$("$ZTNA" wireguard -f --filter "$f" zwgf$$ 2>&1); rc=$?
        [ $rc != 0 ] || wgt_fail "--filter $f: exit 0"
        case "$out" in
        *"ztna wireguard: --filter $f: $want"*) ;;
        *) wgt_fail "--filter $f: want '$want', got: $out" ;;
        esac
        [ ! -e /sys/class/net/zwgf$$ ] || wgt_fail "--filter $f left interface zwgf$$ behind"
        wgt_ok "--filter $(basename "$f"): exit $rc, '$want'"
    done
    # the kernel backend takes --filter too (nftables): without the module it stops on that,
    # with it on the bad file; either way exit 1 and no interface
    out=$("$ZTNA" wireguard -f --backend kernel --filter "$TMP/badentry.json" zwgf$$ 2>&1); rc=$?
    [ $rc = 1 ] && [[ "$out" == *"--backend kernel: kernel WireGuard is not available"* ||
                      "$out" == *"entry 2 'udp 100.64.0.300/32 53' is not"* ]] \
        || wgt_fail "--filter with --backend kernel: rc $rc: $out"
    [ ! -e /sys/class/net/zwgf$$ ] || wgt_fail "--backend kernel --filter left zwgf$$ behind"
    wgt_ok "--filter with --backend kernel: exit 1, $out"
    out=$("$ZTNA" wireguard -f zwgf$$ --filter 2>&1); rc=$?
    [ $rc = 2 ] && [[ "$out" == *usage:* ]] || wgt_fail "--filter without FILE: rc $rc: $out"
    wgt_ok "--filter without FILE: usage, exit 2"
    exit 0
fi

wgt_init
command -v timeout >/dev/null || wgt_skip "timeout not installed"
IA=${T}A IB=${T}B
ka=$(wg genkey); kb=$(wg genkey); pa=$(wg pubkey <<<"$ka"); pb=$(wg pubkey <<<"$kb")
echo "$ka" >$TMP/ka; echo "$kb" >$TMP/kb
cat >$TMP/f.json <<'JSON'
{"entries": ["tcp 100.64.0.9/32 5202", "tcp 100.64.0.1/32 5201", "udp 100.64.0.1/32 5301"]}
JSON

wgt_start ours $A $IA; PA=$STARTED
# B by hand: wgt_start takes env assignments, not options
ip netns exec $B env ZTNA_WG_LOG_LEVEL=info "$ZTNA" wireguard -f --filter $TMP/f.json $IB 2>>"$TMP/$IB.log" &
PB=$!; PIDS+=($PB)
for _ in $(seq 50); do [ -S /var/run/wireguard/$IB.sock ] && break; sleep 0.1; done
[ -S /var/run/wireguard/$IB.sock ] || wgt_fail "ours with --filter did not start"
grep -q "inbound filter $TMP/f.json: 3 entries, stateful" "$TMP/$IB.log" || wgt_fail "no filter line in B's log"

ip netns exec $A wg set $IA private-key $TMP/ka listen-port 51820 \
    peer $pb allowed-ips 100.64.0.2/32 endpoint 198.18.0.2:51821 || wgt_fail "wg set A"
ip netns exec $B wg set $IB private-key $TMP/kb listen-port 51821 \
    peer $pa allowed-ips 100.64.0.1/32 endpoint 198.18.0.1:51820 || wgt_fail "wg set B"
ip -n $A addr add 100.64.0.1/24 dev $IA; ip -n $B addr add 100.64.0.2/24 dev $IB
ip -n $A link set $IA up; ip -n $B link set $IB up

# stateful: B opens, A's replies (ICMP, not in the filter) pass
wgt_wait_ping $B 100.64.0.1 || wgt_fail "B->A ping (replies to B's flow must pass)"
wgt_ok "B->A ping: echo replies pass (reply to B's own flow)"
# A opens ICMP: the session is up, yet B drops the requests
ip netns exec $A ping -c 3 -i 0.2 -W 1 100.64.0.2 >/dev/null 2>&1 && wgt_fail "A->B ping passed, ICMP is not allowed"
wgt_ok "A->B ping dropped"

wgt_tcp_transfer $A $B 100.64.0.2 5201 5242880 || wgt_fail "A->B tcp 5201 (allowed) 5 MB"
wgt_ok "A->B tcp 5201 (allowed): 5 MB, sha256 matches"
wgt_tcp_transfer $B $A 100.64.0.1 6001 1048576 || wgt_fail "B->A tcp 6001 (B opens; replies pass)"
wgt_ok "B->A tcp 6001: 1 MB, sha256 matches (the filter names no such port; replies pass)"

# wait_file FILE: true once FILE exists (a listener wrote it when bound), bounded 15 s
wait_file() { for _ in $(seq 150); do [ -s "$1" ] && return 0; sleep 0.1; done; return 1; }

# tcp 5202: allowed only from 100.64.0.9; a listener is there, the SYN never reaches it
ip netns exec $B timeout 30 python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("100.64.0.2", 5202)); s.listen(1); s.settimeout(float(sys.argv[2]))
open(sys.argv[1], "w").write("ready")
try:
    s.accept(); print("accepted")
except socket.timeout:
    print("none")' $TMP/l5202.ready 4 >$TMP/l5202 2>&1 &
lp=$!
wait_file $TMP/l5202.ready || wgt_fail "tcp 5202 listener did not start"
r=$(ip netns exec $A timeout 30 python3 -c '
import socket
try:
    socket.create_connection(("100.64.0.2", 5202), timeout=3); print("connected")
except socket.timeout:
    print("timeout")
except OSError as e:
    print("error", e)' 2>&1)
[ "$r" = timeout ] || wgt_fail "A->B tcp 5202 (denied): $r"
wait $lp
[ "$(cat $TMP/l5202)" = none ] || wgt_fail "B's listener on 5202 got: $(cat $TMP/l5202)"
wgt_ok "A->B tcp 5202 (denied for this source): connect times out, listener never accepts"

# udp: 5301 allowed, 5302 denied; listeners on both, 5 datagrams each
ip netns exec $B timeout 30 python3 -c '
import select, socket, sys, time
ss = []
for p in (5301, 5302):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("100.64.0.2", p)); ss.append(s)
got = {5301: 0, 5302: 0}
open(sys.argv[1], "w").write("ready")
end = time.time() + 15  # or 0.5 s after the 5th allowed datagram (each round sends 5302 first)
while time.time() < end:
    r, _, _ = select.select(ss, [], [], 0.1)
    for s in r:
        s.recv(2048); got[s.getsockname()[1]] += 1
        if got[5301] == 5 and end - time.time() > 0.5:
            end = time.time() + 0.5
print(got[5301], got[5302])' $TMP/udp.ready >$TMP/udp 2>&1 &
up=$!
wait_file $TMP/udp.ready || wgt_fail "udp listener did not start"
ip netns exec $A timeout 30 python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(5):
    for p in (5302, 5301):
        s.sendto(b"x" * 64, ("100.64.0.2", p))
    time.sleep(0.05)'
wait $up
read -r u1 u2 <$TMP/udp
[ "$u1" = 5 ] || wgt_fail "udp 5301 (allowed): $u1 of 5 arrived ($(cat $TMP/udp))"
[ "$u2" = 0 ] || wgt_fail "udp 5302 (denied): $u2 arrived"
wgt_ok "A->B udp 5301 (allowed): 5 of 5; udp 5302 (denied): 0 of 5"

# the denials are logged per (source, proto, port) within WG_FILTER_LOG_MS
for _ in $(seq 30); do
    grep -q "from 100.64.0.1 udp dport 5302" "$TMP/$IB.log" && grep -q "from 100.64.0.1 tcp dport 5202" "$TMP/$IB.log" && break
    sleep 0.2
done
grep -q "denied 5 packet(s) from 100.64.0.1 udp dport 5302" "$TMP/$IB.log" || wgt_fail "no udp 5302 denial line"
grep -q "from 100.64.0.1 tcp dport 5202" "$TMP/$IB.log" || wgt_fail "no tcp 5202 denial line"
grep -q "from 100.64.0.1 icmp" "$TMP/$IB.log" || wgt_fail "no icmp denial line"
grep -q "dport 5201\|dport 5301" "$TMP/$IB.log" && wgt_fail "an allowed port was logged as denied"
wgt_ok "B logs the denials: udp 5302 (5), tcp 5202, icmp; none for 5201/5301"
exit 0
