#!/usr/bin/env bash
# Userspace WireGuard benchmark: ours (`ztna wireguard`) vs Debian's wireguard-go, same run, same
# topology. Prints figures and ratios; never fails on timing. Needs root, iperf3, wireguard-go, wg.
#
#   [ns A: bwgN-a]  100.64.0.1/24  wg  ==udp 198.18.0.1 <-veth-> 198.18.0.2==  wg  100.64.0.2/24 [ns B]
#      iperf3 client --------------------- tunnel -----------------------------> iperf3 server
#
# Usage: bench/wg/run.sh BUILD_DIR      env: BENCH_SECONDS (default 10)
set -uo pipefail
build=$(cd "${1:-build}" && pwd)
ztna=$build/agent/ztna
secs=${BENCH_SECONDS:-10}
for t in iperf3 wireguard-go wg ip; do
    command -v $t >/dev/null || { echo "bench/wg: skipped: $t not installed"; exit 0; }
done
[ "$(id -u)" = 0 ] && [ -c /dev/net/tun ] || { echo "bench/wg: skipped: needs root and /dev/net/tun"; exit 0; }
[ -x "$ztna" ] || { echo "bench/wg: skipped: $ztna not built"; exit 0; }

tag=bwg$$
A=${tag}a B=${tag}b
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.3
    ip netns del $A 2>/dev/null; ip netns del $B 2>/dev/null
    rm -rf "$tmp"
}
tmp=$(mktemp -d)
trap cleanup EXIT

ip netns add $A && ip netns add $B
ip link add va$tag netns $A type veth peer name vb$tag netns $B
ip -n $A addr add 198.18.0.1/24 dev va$tag; ip -n $B addr add 198.18.0.2/24 dev vb$tag
for n in $A $B; do ip -n $n link set lo up; done
ip -n $A link set va$tag up; ip -n $B link set vb$tag up
ka=$(wg genkey); kb=$(wg genkey); pa=$(wg pubkey <<<"$ka"); pb=$(wg pubkey <<<"$kb")
echo "$ka" >$tmp/ka; echo "$kb" >$tmp/kb

cpu_ticks() { awk '{print $14+$15}' /proc/$1/stat 2>/dev/null || echo 0; }
rss_kb() { awk '/VmRSS/{print $2}' /proc/$1/status 2>/dev/null || echo 0; }

# start IMPL IFACE NS -> STARTED = pid of the process holding the interface
start_impl() {
    local impl=$1 ifc=$2 ns=$3
    if [ "$impl" = ours ]; then
        ip netns exec $ns "$ztna" wireguard -f $ifc 2>>$tmp/$ifc.log &
    else
        ip netns exec $ns env WG_PROCESS_FOREGROUND=1 wireguard-go -f $ifc >>$tmp/$ifc.log 2>&1 &
    fi
    STARTED=$!
    for _ in $(seq 50); do [ -S /var/run/wireguard/$ifc.sock ] && break; sleep 0.1; done
}

declare -A R
run_impl() {
    local impl=$1
    local ia=${tag}x${impl:0:1}a ib=${tag}x${impl:0:1}b
    local PA PB
    start_impl $impl $ia $A; PA=$STARTED
    start_impl $impl $ib $B; PB=$STARTED
    pids+=($PA $PB)
    ip netns exec $A wg set $ia private-key $tmp/ka listen-port 51820 peer $pb allowed-ips 100.64.0.2/32 endpoint 198.18.0.2:51821
    ip netns exec $B wg set $ib private-key $tmp/kb listen-port 51821 peer $pa allowed-ips 100.64.0.1/32 endpoint 198.18.0.1:51820
    ip -n $A addr add 100.64.0.1/24 dev $ia; ip -n $A link set $ia up
    ip -n $B addr add 100.64.0.2/24 dev $ib; ip -n $B link set $ib up
    # time to first packet through a fresh handshake
    # (the round trip of the first ping, which waits for the handshake; staged, not dropped)
    R[$impl,first_ms]=$(ip netns exec $A ping -c 1 -W 5 100.64.0.2 | sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p')
    [ -n "${R[$impl,first_ms]}" ] || R[$impl,first_ms]=0
    ip netns exec $B iperf3 -s -D -1 -p 5201 --logfile $tmp/srv1 >/dev/null 2>&1; sleep 0.3
    local ca cb c0a c0b
    c0a=$(cpu_ticks $PA); c0b=$(cpu_ticks $PB)
    R[$impl,tcp1]=$(ip netns exec $A iperf3 -c 100.64.0.2 -p 5201 -t $secs -J 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.3f" % (d["end"]["sum_received"]["bits_per_second"]/1e9))' 2>/dev/null || echo 0)
    ca=$(cpu_ticks $PA); cb=$(cpu_ticks $PB)
    R[$impl,cpu_a]=$(( (ca - c0a) * 100 / (secs * $(getconf CLK_TCK)) ))
    R[$impl,cpu_b]=$(( (cb - c0b) * 100 / (secs * $(getconf CLK_TCK)) ))
    ip netns exec $B iperf3 -s -D -1 -p 5202 --logfile $tmp/srv2 >/dev/null 2>&1; sleep 0.3
    R[$impl,tcp4]=$(ip netns exec $A iperf3 -c 100.64.0.2 -p 5202 -P 4 -t $secs -J 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.3f" % (d["end"]["sum_received"]["bits_per_second"]/1e9))' 2>/dev/null || echo 0)
    ip netns exec $B iperf3 -s -D -1 -p 5203 --logfile $tmp/srv3 >/dev/null 2>&1; sleep 0.3
    R[$impl,pps]=$(ip netns exec $A iperf3 -c 100.64.0.2 -p 5203 -u -l 64 -b 0 -t $secs -J 2>/dev/null | python3 -c '
import json,sys
d=json.load(sys.stdin); s=d["end"]["sum"]
print("%d/%d" % (int((s["packets"]-s["lost_packets"])/s["seconds"]), int(s["packets"]/s["seconds"])))' 2>/dev/null || echo 0/0)
    R[$impl,pps_sent]=${R[$impl,pps]#*/}
    R[$impl,pps]=${R[$impl,pps]%/*}
    R[$impl,rss1]=$(rss_kb $PA)
    # RSS with 100 and 10,000 configured peers (on the A end)
    for n in 100 10000; do
        python3 - "$n" >$tmp/peers.conf <<'PY'
import base64, os, sys
n = int(sys.argv[1])
print("[Interface]")
for i in range(n):
    k = base64.b64encode(os.urandom(32)).decode()
    print("[Peer]\nPublicKey = %s\nAllowedIPs = 100.%d.%d.%d/32\nEndpoint = 198.18.1.%d:51820" % (
        k, 96 + (i >> 16) % 32, (i >> 8) & 255, i & 255, 1 + i % 250))
PY
        ip netns exec $A wg addconf $ia $tmp/peers.conf
        sleep 0.5
        R[$impl,rss$n]=$(rss_kb $PA)
    done
    kill $PA $PB 2>/dev/null; wait $PA $PB 2>/dev/null
}

run_impl ours
run_impl wggo

ratio() { python3 -c "a,b=float('$1'),float('$2'); print('%.2fx' % (a/b) if b > 0 else 'n/a')"; }
echo "bench/wg: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), ${secs}s per test"
printf "%-34s %14s %14s %8s\n" "figure" "ztna" "wireguard-go" "ratio"
printf "%-34s %14s %14s %8s\n" "TCP 1 stream (Gb/s)" "${R[ours,tcp1]}" "${R[wggo,tcp1]}" "$(ratio ${R[ours,tcp1]} ${R[wggo,tcp1]})"
printf "%-34s %14s %14s %8s\n" "TCP 4 streams (Gb/s)" "${R[ours,tcp4]}" "${R[wggo,tcp4]}" "$(ratio ${R[ours,tcp4]} ${R[wggo,tcp4]})"
printf "%-34s %14s %14s %8s\n" "UDP 64-byte received (pkt/s)" "${R[ours,pps]}" "${R[wggo,pps]}" "$(ratio ${R[ours,pps]} ${R[wggo,pps]})"
printf "%-34s %14s %14s %8s\n" "UDP 64-byte offered (pkt/s)" "${R[ours,pps_sent]}" "${R[wggo,pps_sent]}" ""
printf "%-34s %14s %14s %8s\n" "CPU sender end, TCP 1 (%)" "${R[ours,cpu_a]}" "${R[wggo,cpu_a]}" ""
printf "%-34s %14s %14s %8s\n" "CPU receiver end, TCP 1 (%)" "${R[ours,cpu_b]}" "${R[wggo,cpu_b]}" ""
printf "%-34s %14s %14s %8s\n" "first packet, fresh handshake (ms)" "${R[ours,first_ms]}" "${R[wggo,first_ms]}" "$(ratio ${R[wggo,first_ms]} ${R[ours,first_ms]})"
for n in 1 100 10000; do
    printf "%-34s %14s %14s %8s\n" "RSS with $n peer(s) (kB)" "${R[ours,rss$n]}" "${R[wggo,rss$n]}" "$(ratio ${R[wggo,rss$n]} ${R[ours,rss$n]})"
done
echo "(ratios: >1 means ztna is better; for ms and kB it is wireguard-go / ztna)"
exit 0
