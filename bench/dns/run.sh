#!/usr/bin/env bash
# MagicDNS authority vs NSD (one worker, rrl-ratelimit 0), same 1,000-name zone, same run:
#   1. QPS at saturation (dnsperf, several sockets, many outstanding queries)
#   2. latency and server CPU at a fixed 10,000 QPS (dnsperf -Q 10000)
# Prints figures and ratios; never fails on timing. Usage: bench/dns/run.sh BUILD_DIR
# (DNS_BENCH_SECONDS per run, default 6; DNS_BENCH_ROUNDS, default 3.)
# Both servers run on 127.0.0.1 inside a private network namespace when root (else on the host's
# loopback with a random port), and are stopped by PID.
set -uo pipefail
build=$(cd "${1:-build}" && pwd)
bin=$build/tests/dns/dns-authority-test
secs=${DNS_BENCH_SECONDS:-6}
for t in dnsperf nsd; do
    command -v $t >/dev/null || { echo "bench/dns: $t not installed, skipping"; exit 0; }
done
[ -x "$bin" ] || { echo "bench/dns: $bin not built (cmake --build $build --target dns-authority-test)"; exit 1; }

tmp=$(mktemp -d)
netns=
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    [ -n "$netns" ] && ip netns del "$netns" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
pre=()   # command prefix; servers are started with "${pre[@]}" so that $! is the server itself
run() { "${pre[@]}" "$@"; }
# With 2+ cores, pin the servers to the last core and dnsperf to the others, the same for both.
srv_cpu=()
cli_cpu=()
ncpu=$(nproc)
if [ "$ncpu" -ge 2 ] && command -v taskset >/dev/null; then
    srv_cpu=(taskset -c $((ncpu - 1)))
    cli_cpu=(taskset -c 0-$((ncpu - 2)))
fi
if [ "$(id -u)" = 0 ] && ip netns add "zdnsb$$" 2>/dev/null; then
    netns=zdnsb$$
    ip -n "$netns" link set lo up
    pre=(ip netns exec "$netns")
    port_ours=5301
    port_nsd=5302
else
    port_ours=$((20000 + RANDOM % 20000))
    port_nsd=$((port_ours + 1))
fi

zone=bench.ztna.test
{
    echo "zone $zone 1 ns1.$zone"
    echo "a ns1.$zone 100.64.0.53"
    for i in $(seq 0 999); do echo "a host$i.$zone 100.64.$((i / 250 + 1)).$((i % 250 + 1))"; done
} > "$tmp/ours.zone"
{
    echo "\$ORIGIN $zone."
    echo "\$TTL 60"
    echo "@ IN SOA ns1.$zone. hostmaster.$zone. 1 3600 600 86400 60"
    echo "@ IN NS ns1.$zone."
    echo "ns1 IN A 100.64.0.53"
    for i in $(seq 0 999); do echo "host$i IN A 100.64.$((i / 250 + 1)).$((i % 250 + 1))"; done
} > "$tmp/nsd.zone"
cat > "$tmp/nsd.conf" <<CONF
server:
    ip-address: 127.0.0.1@$port_nsd
    server-count: 1
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "$tmp"
    database: ""
    zonelistfile: "$tmp/zone.list"
    xfrdfile: "$tmp/xfrd.state"
    pidfile: "$tmp/nsd.pid"
    logfile: "$tmp/nsd.log"
    verbosity: 0
    hide-version: yes
    rrl-ratelimit: 0
    tcp-count: 100
remote-control:
    control-enable: no
zone:
    name: $zone
    zonefile: nsd.zone
CONF
for i in $(seq 0 999); do echo "host$i.$zone A"; done > "$tmp/queries"

"${pre[@]}" "${srv_cpu[@]}" "$bin" "127.0.0.1:$port_ours" "$tmp/ours.zone" > "$tmp/ours.log" 2>&1 &
ours=$!
pids+=("$ours")
"${pre[@]}" "${srv_cpu[@]}" nsd -d -c "$tmp/nsd.conf" > "$tmp/nsd.out" 2>&1 &
nsd_pid=$!
pids+=("$nsd_pid")
ready() { run dig @127.0.0.1 -p "$1" +time=1 +tries=1 +short "host7.$zone" A 2>/dev/null | grep -q 100.64.1.8; }
for _ in $(seq 50); do ready "$port_ours" && ready "$port_nsd" && break; sleep 0.2; done
ready "$port_ours" || { echo "bench/dns: our authority did not answer"; cat "$tmp/ours.log"; exit 1; }
ready "$port_nsd" || { echo "bench/dns: nsd did not answer"; cat "$tmp/nsd.out" "$tmp/nsd.log" 2>/dev/null; exit 1; }

# CPU ticks (utime+stime, all threads) of a process and all its descendants (NSD forks: the
# started process becomes xfrd, its child is main, the grandchild the server).
descendants() {
    local p
    echo "$1"
    for p in $(pgrep -P "$1" 2>/dev/null); do descendants "$p"; done
}
ticks() {
    local total=0 p
    for p in $(descendants "$1"); do
        [ -r "/proc/$p/stat" ] || continue
        # fields after "pid (comm) ": comm may contain spaces; utime and stime are 12th, 13th
        total=$((total + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
    done
    echo $total
}
hz=$(getconf CLK_TCK)
# perf NAME PORT PID ARGS... -> prints "qps lat_us stddev_us lost cpu_pct us_per_query"
perf() {
    local port=$1 pid=$2; shift 2
    local t0 t1
    t0=$(ticks "$pid")
    run "${cli_cpu[@]}" dnsperf -s 127.0.0.1 -p "$port" -d "$tmp/queries" -l "$secs" "$@" > "$tmp/perf.out" 2>&1
    t1=$(ticks "$pid")
    awk -v dt=$((t1 - t0)) -v hz="$hz" -v secs="$secs" '
        /Queries per second:/ {qps = $4}
        /Queries lost:/ {lost = $3}
        /Queries completed:/ {done = $3}
        /Average Latency/ {lat = $4 * 1e6}
        /Latency StdDev/ {sd = $4 * 1e6}
        END {cpu = dt / hz; printf "%.0f %.0f %.0f %s %.1f %.2f\n", qps, lat, sd, lost,
             100 * cpu / secs, (done > 0 ? cpu * 1e6 / done : 0)}' "$tmp/perf.out"
}

[ -x "$build/bench/dns/bench_dns_answer" ] && "$build/bench/dns/bench_dns_answer"
echo "zone: 1,000 A names; dnsperf ${secs}s per run; servers: ours (1 UDP + 1 TCP thread) vs NSD $(nsd -v 2>&1 | head -1 | awk '{print $3}') (server-count 1)${srv_cpu[*]:+; servers pinned: ${srv_cpu[*]}, dnsperf: ${cli_cpu[*]}}"
# Alternate the two servers for a few rounds and take each figure's median, so that a burst
# of load from elsewhere on the machine does not decide the comparison.
sat_args=(-c 8 -T 2 -q 400)
fixed_args=(-Q 10000 -c 4)
rounds=${DNS_BENCH_ROUNDS:-3}
for f in sat.ours sat.nsd fixed.ours fixed.nsd; do : > "$tmp/$f"; done
for _ in $(seq "$rounds"); do
    perf "$port_ours" "$ours" "${sat_args[@]}" >> "$tmp/sat.ours"
    perf "$port_nsd" "$nsd_pid" "${sat_args[@]}" >> "$tmp/sat.nsd"
    perf "$port_ours" "$ours" "${fixed_args[@]}" >> "$tmp/fixed.ours"
    perf "$port_nsd" "$nsd_pid" "${fixed_args[@]}" >> "$tmp/fixed.nsd"
done
# median of column $2 in file $1
med() { awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
echo "(each figure: median of $rounds alternating rounds of ${secs}s)"
qo=$(med "$tmp/sat.ours" 1); co=$(med "$tmp/sat.ours" 5); uo=$(med "$tmp/sat.ours" 6)
qn=$(med "$tmp/sat.nsd" 1); cn=$(med "$tmp/sat.nsd" 5); un=$(med "$tmp/sat.nsd" 6)
printf "saturation  ours: %8s QPS  (server CPU %5s%%, %s us/query)\n" "$qo" "$co" "$uo"
printf "saturation  nsd : %8s QPS  (server CPU %5s%%, %s us/query)\n" "$qn" "$cn" "$un"
awk -v a="$qo" -v b="$qn" -v uo="$uo" -v un="$un" 'BEGIN {
    if (b > 0) printf "saturation  ratio ours/nsd: %.2f\n", a / b;
    # When dnsperf (not the server) is the bottleneck, CPU per query says more than QPS.
    if (uo > 0 && un > 0)
        printf "saturation  CPU per query ours/nsd: %.2f (one-core capacity ~%.0fk vs ~%.0fk QPS)\n",
               uo / un, 1000 / uo, 1000 / un }'
qo=$(med "$tmp/fixed.ours" 1); lo=$(med "$tmp/fixed.ours" 2); so=$(med "$tmp/fixed.ours" 3)
xo=$(med "$tmp/fixed.ours" 4); co=$(med "$tmp/fixed.ours" 5); uo=$(med "$tmp/fixed.ours" 6)
qn=$(med "$tmp/fixed.nsd" 1); ln=$(med "$tmp/fixed.nsd" 2); sn=$(med "$tmp/fixed.nsd" 3)
xn=$(med "$tmp/fixed.nsd" 4); cn=$(med "$tmp/fixed.nsd" 5); un=$(med "$tmp/fixed.nsd" 6)
printf "10k QPS     ours: %6s QPS, latency avg %5s us (sd %5s), lost %s, server CPU %5s%%, %s us/query\n" \
    "$qo" "$lo" "$so" "$xo" "$co" "$uo"
printf "10k QPS     nsd : %6s QPS, latency avg %5s us (sd %5s), lost %s, server CPU %5s%%, %s us/query\n" \
    "$qn" "$ln" "$sn" "$xn" "$cn" "$un"
awk -v lo="$lo" -v ln="$ln" -v co="$co" -v cn="$cn" 'BEGIN {
    if (ln > 0) printf "10k QPS     latency ratio ours/nsd: %.2f\n", lo / ln;
    if (cn > 0) printf "10k QPS     CPU ratio ours/nsd: %.2f\n", co / cn }'
