#!/usr/bin/env bash
# Control-plane scale benchmark (not a ctest test; never fails on timing).
#   bench/control/run.sh [BUILD_DIR]            (default: build/ beside bench/)
# Every scenario runs once per mode, each on a fresh server, so one run prints both:
#   stream  agents hold map streams: GET /api/machine/map/stream?since=V, a WebSocket each,
#           messages batch-signed (the default; ctl_load without --poll)
#   poll    agents hold long-polls: GET /api/machine/map?since=V&wait=55 (ctl_load --poll):
#           the "before" of the same run
# ZTNA_BENCH_MODES="stream poll" (the default) chooses them and their order.
# For N = 1,000 and 10,000 simulated agents (bench/control/ctl_load.c): registration time, server
# RSS, the size and time of one full map, and the time and server CPU from one change (a machine
# added) until every agent has received its delta (a poll's reply, a stream's frame, verified),
# twice: agents that had no message yet (cold per-machine caches), then again (the steady state:
# streams stay open, polls are sent again). The peer in the same run is the HTTP floor: the same
# N connections each sending GET /healthz at once, until every reply is in (wall time and server
# CPU). ZTNA_BENCH_AGENTS="1000 10000" overrides the sizes ("" skips them).
# Then the policy scenario (ctl_load --policy, bench/control/ctl_policy.c: issue 6's target end to
# end): N agents in the shape of bench/policy (50 groups, written as tags, 1,000 rules, tagged
# servers) hold map streams or polls; one server retagged, one rule edited and the server
# retagged back, each timed until the last affected agent has its message, with the server's CPU,
# the message types and sizes, and the peer: as many concurrent GET /healthz.
# ZTNA_BENCH_POLICY_AGENTS (default "10000"; "" skips it) sets the sizes. ZTNA_BENCH_TRACE=1
# prints each policy change's window on CLOCK_MONOTONIC, to cut a profile taken with
# `perf record -k mono` to it (`perf report --time START,END`).
# At the end, a summary: one line per figure and mode ("= streams ..." / "= polls ..."), with its
# ratio to the peer. Exit 1 only when the protocol misbehaves.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
bin=${ZTNA_BENCH_SERVER:-$build/server/ztna-server} # another server binary, e.g. of another commit
load=$build/bench/control/ctl_load
SIZES=${ZTNA_BENCH_AGENTS-1000 10000}
POLICY_SIZES=${ZTNA_BENCH_POLICY_AGENTS-10000}
MODES=${ZTNA_BENCH_MODES-stream poll}
for mode in $MODES; do
    case $mode in stream | poll) ;; *) echo "bench/control: unknown mode $mode (stream, poll)"; exit 2 ;; esac
done
for tool in curl jq; do
    command -v $tool >/dev/null || { echo "bench/control: $tool not installed, skipped"; exit 0; }
done
[ -x "$bin" ] || { echo "bench/control: $bin not built, skipped"; exit 0; }
[ -x "$load" ] || { echo "bench/control: $load not built (target ctl_load), skipped"; exit 0; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

data=
pid=
summary=$(mktemp /tmp/ztna-bench-ctl-summary.XXXXXX)
cleanup() {
    if [ -n "$pid" ]; then
        # with thousands of held polls the server takes a while to answer them all and stop
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    pid=
    [ -n "$data" ] && rm -rf "$data"
    data=
}
trap 'cleanup; rm -f "$summary"' EXIT
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
api() { curl -fsS --max-time 30 -H 'Content-Type: application/json' "$@"; }

# The tool stands for N agents on N machines: its thread must run when a reply arrives, also
# when thousands of server threads are runnable (nice is not enough against 10,000 of them).
prio=
if chrt -f 10 true 2>/dev/null; then prio="chrt -f 10"
elif nice -n -10 true 2>/dev/null; then prio="nice -n -10"; fi
echo "control plane: $bin, $(nproc) cores, open files $(ulimit -n), load tool ${prio:-not prioritised}"
# Starts a server for n agents and signs up the admin: sets pid, url, token, org.
start_server() {
    local n=$1
    data=$(mktemp -d /tmp/ztna-bench-ctl.XXXXXX)
    port=$(freeport)
    "$bin" --data-dir "$data" --listen "127.0.0.1:$port" --dns-listen "127.0.0.1:$(freeport)" \
        --log-level warn --max-streams $((n + 64)) --access-token-ttl 3600 \
        --offline-timeout 86400 >"$data/server.log" 2>&1 &
    pid=$!
    url=http://127.0.0.1:$port
    for _ in $(seq 300); do curl -fs "$url/healthz" >/dev/null && break; sleep 0.1; done
    login=$(api -X POST "$url/api/auth/setup" \
        -d '{"email":"bench@example.com","password":"bench password 1","org_name":"Bench"}')
    token=$(jq -r .data.access_token <<<"$login")
    org=$(jq -r '.data.orgs[0].id' <<<"$login")
}

# ctl_load's lines pass through; its "= MODE WHAT: VALUE" lines are also kept, tagged, for the end.
keep() {
    local line
    while IFS= read -r line; do
        printf '%s\n' "$line"
        if [[ $line == "= "* ]]; then printf '%s %s\n' "$1" "${line#= }" >>"$summary"; fi
    done
}
modeflag() { if [ "$1" = poll ]; then echo --poll; fi; }

failed=0
for n in $SIZES; do
    for mode in $MODES; do
        start_server "$n"
        key=$(api -H "Authorization: Bearer $token" -X POST "$url/api/orgs/$org/auth-keys" \
            -d '{"reusable":true}' | jq -r .data.key)
        echo "--- N = $n agents, $mode mode (server threads: $((8 + n + 64)), RSS at start" \
             "$(awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' /proc/$pid/status))"
        # shellcheck disable=SC2046 # modeflag prints nothing or one word
        if ! $prio "$load" $(modeflag "$mode") 127.0.0.1 "$port" "$key" "$n" "$pid" 2>&1 |
            keep "N=$n"; then
            echo "  (ctl_load reported a protocol problem; server log: $(tail -n 3 "$data/server.log"))"
        fi
        cleanup
    done
done
for n in $POLICY_SIZES; do
    for mode in $MODES; do
        start_server "$n"
        echo "--- policy: N = $n agents, $mode mode (2 shared cores: wall and CPU figures are noisy;" \
             "compare with the peer of the same run)"
        # shellcheck disable=SC2046
        if ! $prio "$load" $(modeflag "$mode") --policy 127.0.0.1 "$port" "$token" "$org" \
            bench@example.com "$n" "$pid" 2>&1 | keep "N=$n"; then
            echo "  (ctl_load --policy reported a protocol problem; server log: $(tail -n 3 "$data/server.log"))"
            failed=1
        fi
        cleanup
    done
done
if [ -s "$summary" ]; then
    echo "--- summary: each figure, one line per mode, with its ratio to the peer (as many"
    echo "    concurrent GET /healthz on the same server)"
    # "N=10000 streams policy A. retag, server CPU: 81.2 ms, ..." -> grouped by figure
    awk '{ i = index($0, ": "); head = substr($0, 1, i - 1); val = substr($0, i + 2)
           split(head, w, " "); name = head; sub(/^[^ ]+ +[^ ]+ +/, "", name)
           key = w[1] " " name
           if (!(key in seen)) { seen[key] = 1; order[++n] = key }
           rows[key] = rows[key] sprintf("    %-8s %s\n", w[2], val) }
         END { for (k = 1; k <= n; k++) printf "  %s\n%s", order[k], rows[order[k]] }' "$summary"
fi
exit $failed
