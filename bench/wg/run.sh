#!/usr/bin/env bash
# Userspace WireGuard benchmark: ours (`ztna wireguard`) vs Debian's wireguard-go, same run, same
# topology; then ours without and with a 1,000-entry stateful filter (`--filter`, issue 6: the
# filtered throughput should be within 5% of the unfiltered one). Prints figures and ratios; never
# fails on timing. Needs root, iperf3, wireguard-go, wg.
#
#   [ns A: bwgN-a]  100.64.0.1/24  wg  ==udp 198.18.0.1 <-veth-> 198.18.0.2==  wg  100.64.0.2/24 [ns B]
#      iperf3 client --------------------- tunnel -----------------------------> iperf3 server
#
# Filter comparison: a second pair of tunnels (100.64.1.1 <-> 100.64.1.2, ports 51830/51831) and a
# third (100.64.2.1 <-> 100.64.2.2, 51840/51841, both ends started with --filter) are up at the same
# time; TCP 1 stream and 64-byte UDP alternate between them for BENCH_FILTER_ROUNDS rounds (which
# goes first alternates too) and the medians are compared, as well as the median of each round's
# filtered/plain ratio (the machine's load drifts; alternating keeps it out of the ratio).
#
# Usage: bench/wg/run.sh BUILD_DIR      env: BENCH_SECONDS (default 10), BENCH_FILTER_ROUNDS (4),
#                                            BENCH_ONLY=filter (skip the wireguard-go comparison)
set -uo pipefail
build=$(cd "${1:-build}" && pwd)
ztna=$build/agent/ztna
secs=${BENCH_SECONDS:-10}
rounds=${BENCH_FILTER_ROUNDS:-4}
only=${BENCH_ONLY:-}
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

# start IMPL IFACE NS [ztna options] -> STARTED = pid of the process holding the interface
start_impl() {
    local impl=$1 ifc=$2 ns=$3
    shift 3
    if [ "$impl" = ours ]; then
        ip netns exec $ns "$ztna" wireguard -f "$@" $ifc 2>>$tmp/$ifc.log &
    else
        ip netns exec $ns env WG_PROCESS_FOREGROUND=1 wireguard-go -f $ifc >>$tmp/$ifc.log 2>&1 &
    fi
    STARTED=$!
    for _ in $(seq 50); do [ -S /var/run/wireguard/$ifc.sock ] && break; sleep 0.1; done
}

# iperf_tcp1 PORT ADDR -> Gb/s received (iperf3 server in B, client in A)
iperf_tcp() {
    local port=$1 addr=$2 par=${3:-1}
    ip netns exec $B iperf3 -s -D -1 -p $port --logfile $tmp/srv$port >/dev/null 2>&1; sleep 0.3
    ip netns exec $A iperf3 -c $addr -p $port -P $par -t $secs -J 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.3f" % (d["end"]["sum_received"]["bits_per_second"]/1e9))' 2>/dev/null || echo 0
}
# iperf_pps PORT ADDR -> "received/offered" 64-byte UDP packets per second
iperf_pps() {
    local port=$1 addr=$2
    ip netns exec $B iperf3 -s -D -1 -p $port --logfile $tmp/srv$port >/dev/null 2>&1; sleep 0.3
    ip netns exec $A iperf3 -c $addr -p $port -u -l 64 -b 0 -t $secs -J 2>/dev/null | python3 -c '
import json,sys
d=json.load(sys.stdin); s=d["end"]["sum"]
print("%d/%d" % (int((s["packets"]-s["lost_packets"])/s["seconds"]), int(s["packets"]/s["seconds"])))' 2>/dev/null || echo 0/0
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
    local ca cb c0a c0b
    c0a=$(cpu_ticks $PA); c0b=$(cpu_ticks $PB)
    R[$impl,tcp1]=$(iperf_tcp 5201 100.64.0.2)
    ca=$(cpu_ticks $PA); cb=$(cpu_ticks $PB)
    R[$impl,cpu_a]=$(( (ca - c0a) * 100 / (secs * $(getconf CLK_TCK)) ))
    R[$impl,cpu_b]=$(( (cb - c0b) * 100 / (secs * $(getconf CLK_TCK)) ))
    R[$impl,tcp4]=$(iperf_tcp 5202 100.64.0.2 4)
    R[$impl,pps]=$(iperf_pps 5203 100.64.0.2)
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

# The 1,000-entry filter of one end: 999 entries that never match the benchmark's packets and
# the one that does, in the middle (entry 500). The 999: 333 tcp and 333 udp /32 sources spread over
# 100.65.0.0/16 and 100.66.0.0/16 (so the source index has ~1,300 elementary intervals around the
# peer's address), 333 entries for the peer itself (tcp and udp, ports 6000-65000, never 5201-5203:
# the peer's port list is that long). The match: "any PEER/32 5201-5203" (the iperf3 ports; "any"
# also admits the ping). Written in the netmap's JSON form (common/filter/filter_json.c).
gen_filter() {
    python3 - "$1" >"$2" <<'PY'
import json, sys
peer = sys.argv[1]
e = []
for k in range(999):
    kind = k % 3
    if kind == 0:
        e.append("tcp 100.65.%d.%d/32 %d" % (k >> 8, k & 255, 1024 + (k * 37) % 60000))
    elif kind == 1:
        e.append("udp 100.66.%d.%d/32 %d-%d" % (k >> 8, k & 255, 2000 + k, 2000 + k + (k % 7)))
    else:
        p = 6000 + (k * 151) % 59000
        e.append("%s %s/32 %d" % ("tcp" if k % 2 else "udp", peer, p))
e.insert(500, "any %s/32 5201-5203" % peer)
assert len(e) == 1000
print(json.dumps({"entries": e}))
PY
}

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

# two pairs of ours up together: plain (100.64.1.x) and filtered (100.64.2.x), rounds alternate
run_filter_cmp() {
    local v ifa ifb net pa_ pb_ fa fb port_a port_b
    gen_filter 100.64.2.2 $tmp/fa.json
    gen_filter 100.64.2.1 $tmp/fb.json
    for v in plain filt; do
        ifa=${tag}${v:0:1}a ifb=${tag}${v:0:1}b
        if [ $v = plain ]; then net=1 fa=() fb=(); port_a=51830 port_b=51831
        else net=2 fa=(--filter $tmp/fa.json) fb=(--filter $tmp/fb.json); port_a=51840 port_b=51841; fi
        start_impl ours $ifa $A "${fa[@]}"; pa_=$STARTED
        start_impl ours $ifb $B "${fb[@]}"; pb_=$STARTED
        pids+=($pa_ $pb_)
        R[$v,pid_b]=$pb_
        ip netns exec $A wg set $ifa private-key $tmp/ka listen-port $port_a peer $pb allowed-ips 100.64.$net.2/32 endpoint 198.18.0.2:$port_b
        ip netns exec $B wg set $ifb private-key $tmp/kb listen-port $port_b peer $pa allowed-ips 100.64.$net.1/32 endpoint 198.18.0.1:$port_a
        ip -n $A addr add 100.64.$net.1/24 dev $ifa; ip -n $A link set $ifa up
        ip -n $B addr add 100.64.$net.2/24 dev $ifb; ip -n $B link set $ifb up
        ip netns exec $A ping -c 1 -W 5 100.64.$net.2 >/dev/null || echo "bench/wg: $v pair: first ping failed"
        R[$v,rss]=$(rss_kb $pb_)
    done
    grep -h "inbound filter" $tmp/*.log | sed 's/^/bench\/wg: /'
    local r c0 c1 t p
    declare -A L
    for r in $(seq $rounds); do
        local order="plain filt"
        [ $((r % 2)) = 0 ] && order="filt plain" # neither always goes first
        for v in $order; do
            [ $v = plain ] && net=1 || net=2
            c0=$(cpu_ticks ${R[$v,pid_b]})
            t=$(iperf_tcp 5201 100.64.$net.2)
            c1=$(cpu_ticks ${R[$v,pid_b]})
            L[$v,tcp1]+=" $t"
            L[$v,cpu_b]+=" $(( (c1 - c0) * 100 / (secs * $(getconf CLK_TCK)) ))"
            c0=$(cpu_ticks ${R[$v,pid_b]})
            p=$(iperf_pps 5203 100.64.$net.2)
            c1=$(cpu_ticks ${R[$v,pid_b]})
            L[$v,pps]+=" ${p%/*}"
            L[$v,pps_sent]+=" ${p#*/}"
            # receiver CPU per received datagram (us): the per-packet cost, whatever was offered
            L[$v,us_pkt]+=" $(python3 -c "t,p=$((c1 - c0)),${p%/*}; print('%.1f' % (t*1e6/$(getconf CLK_TCK)/(p*$secs)) if p else 0)")"
        done
    done
    for v in plain filt; do
        for k in tcp1 cpu_b pps pps_sent us_pkt; do
            R[$v,$k]=$(median ${L[$v,$k]})
            R[$v,${k}_all]=${L[$v,$k]# }
        done
    done
    # ratio of each round's pair (measured back to back, so under about the same load), median
    for k in tcp1 pps; do
        R[pair,$k]=$(python3 -c "
import statistics, sys
a, b = '${L[filt,$k]}'.split(), '${L[plain,$k]}'.split()
r = [float(x) / float(y) for x, y in zip(a, b) if float(y) > 0]
print('%.3f' % statistics.median(r) if r else 0)")
    done
    # the filtered end delivered everything through the filter: nothing was denied
    if grep -q "filter: denied" $tmp/*.log; then
        echo "bench/wg: WARNING: the filter denied packets during the benchmark:"; grep -h "filter: denied" $tmp/*.log | head -5
    fi
}

[ "$only" = filter ] || run_impl ours
[ "$only" = filter ] || run_impl wggo
run_filter_cmp

ratio() { python3 -c "a,b=float('$1'),float('$2'); print('%.2fx' % (a/b) if b > 0 else 'n/a')"; }
echo "bench/wg: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), ${secs}s per test"
if [ "$only" != filter ]; then
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
fi
echo
echo "ztna wireguard with a 1,000-entry stateful filter (--filter) on both ends vs none (issue 6: within 5%)"
echo "  filter: 999 non-matching entries (333 tcp + 333 udp other /32 sources, 333 tcp/udp entries for the"
echo "  peer on ports 6000-65000) + 'any PEER/32 5201-5203' as entry 500 of 1000; TCP replies pass by"
echo "  conntrack (the receiver records its ACKs' flow), UDP iperf3 datagrams are looked up in the filter"
echo "  medians of $rounds alternating rounds (${secs}s each); per-round values in brackets (in round order:"
echo "  odd rounds measure 'no filter' first, even rounds 'filter' first)"
pct() { python3 -c "a,b=float('$1'),float('$2'); print('%.3f (%+.1f%%) %s' % (a/b, (a/b-1)*100, 'ok (not more than 5% slower)' if a/b >= 0.95 else 'more than 5% slower') if b > 0 else 'n/a')"; }
# spread of one variant's rounds: (max - min) / median, in %
spread() { python3 -c "
import statistics
v = [float(x) for x in '$*'.split()]
m = statistics.median(v) if v else 0
print('%.0f' % ((max(v) - min(v)) / m * 100) if m > 0 else 0)"; }
printf "%-30s %12s %12s  %s\n" "figure" "no filter" "filter" "filtered/unfiltered"
printf "%-30s %12s %12s  %s\n" "TCP 1 stream (Gb/s)" "${R[plain,tcp1]}" "${R[filt,tcp1]}" "$(pct ${R[filt,tcp1]} ${R[plain,tcp1]})"
printf "%-30s %12s %12s  %s\n" "UDP 64-byte received (pkt/s)" "${R[plain,pps]}" "${R[filt,pps]}" "$(pct ${R[filt,pps]} ${R[plain,pps]})"
printf "%-30s %12s %12s\n" "UDP 64-byte offered (pkt/s)" "${R[plain,pps_sent]}" "${R[filt,pps_sent]}"
printf "%-30s %12s %12s\n" "CPU receiver end, TCP 1 (%)" "${R[plain,cpu_b]}" "${R[filt,cpu_b]}"
printf "%-30s %12s %12s\n" "CPU receiver, UDP (us/pkt)" "${R[plain,us_pkt]}" "${R[filt,us_pkt]}"
printf "%-30s %12s %12s\n" "RSS receiver end, idle (kB)" "${R[plain,rss]}" "${R[filt,rss]}"
for k in tcp1 pps cpu_b us_pkt; do
    echo "  rounds $k: no filter [${R[plain,${k}_all]}]  filter [${R[filt,${k}_all]}]"
done
echo "  median of the per-round ratios (each pair measured back to back): TCP 1 stream ${R[pair,tcp1]}, UDP 64-byte ${R[pair,pps]}"
st=$(spread ${R[plain,tcp1_all]}) su=$(spread ${R[plain,pps_all]})
echo "  the unfiltered rounds alone spread by ${st}% (TCP) and ${su}% (UDP) of their median (load $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cores)"
if [ "${st%.*}" -gt 5 ] || [ "${su%.*}" -gt 5 ]; then
    echo "  NOTE: that noise is larger than the 5% to be measured: on this machine now, the run neither shows nor rules out a 5% cost"
fi
exit 0
