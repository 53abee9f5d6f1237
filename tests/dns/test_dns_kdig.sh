#!/usr/bin/env bash
# MagicDNS authority against real clients (kdig, dig, dnsperf), in a private network namespace:
#
#   +------------------------- netns zdns$$ (lo only) -------------------------+
#   |  dns-authority-test 127.0.0.1:5353 <zone file>   <-- kdig / dig / dnsperf |
#   +---------------------------------------------------------------------------+
#
# Covers A, AAAA (NODATA), SOA, NS (+glue), MX (NODATA), ANY (RFC 8482), NXDOMAIN, 0x20 case
# echo, REFUSED outside the zones, FORMERR, NOTIMP, EDNS0 on/off, BADVERS, truncation with a
# small buffer then TCP retry, a 60-record answer, several queries on one TCP connection, and
# snapshot swaps (SIGHUP reloads) under dnsperf load with the new data appearing.
set -uo pipefail
build=${ZTNA_BUILD_DIR:?}
bin=$build/tests/dns/dns-authority-test
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root for ip netns"; exit 77; fi
for t in kdig dig dnsperf ip python3; do
    command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done
[ -x "$bin" ] || { echo "FAIL: $bin not built"; exit 1; }

ns=zdns$$
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    ip netns del "$ns" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns" || { echo "SKIP: cannot create a network namespace"; exit 77; }
ip -n "$ns" link set lo up
in_ns() { ip netns exec "$ns" "$@"; }

zone=$tmp/zone.txt
{
    echo "# test zones"
    echo "zone acme.ztna.test 7 ns1.acme.ztna.test ns2.acme.ztna.test"
    echo "zone other.ztna.test 3"
    echo "a ns1.acme.ztna.test 100.64.0.53"
    echo "a laptop.acme.ztna.test 100.64.0.1"
    echo "a server.acme.ztna.test 100.64.0.2"
    echo "aaaa server.acme.ztna.test fd7a:115c:a1e0::2"
    echo "a laptop.other.ztna.test 100.64.0.9"
    for i in $(seq 1 60); do echo "a big.acme.ztna.test 100.64.1.$i"; done
} > "$zone"

# not through in_ns (a function would background a subshell): ip execs the server, so $! is it
ip netns exec "$ns" "$bin" 127.0.0.1:5353 "$zone" > "$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 50); do grep -q '^port' "$tmp/server.log" 2>/dev/null && break; sleep 0.1; done
grep -q '^port 5353' "$tmp/server.log" || { echo "FAIL: server did not start"; cat "$tmp/server.log"; exit 1; }

fails=0
K() { in_ns kdig @127.0.0.1 -p 5353 +timeout=2 +retry=1 "$@" 2>&1; }
D() { in_ns dig @127.0.0.1 -p 5353 +time=2 +tries=1 "$@" 2>&1; }
# expect NAME OUTPUT PATTERN...: every extended regex must match somewhere in OUTPUT
expect() {
    local name=$1 out=$2; shift 2
    for pat in "$@"; do
        if ! grep -Eq -- "$pat" <<<"$out"; then
            echo "FAIL: $name: no match for /$pat/"; echo "$out" | sed 's/^/    /'
            fails=$((fails + 1)); return
        fi
    done
    echo "ok: $name"
}
reject() {
    local name=$1 out=$2 pat=$3
    if grep -Eq -- "$pat" <<<"$out"; then
        echo "FAIL: $name: unexpected /$pat/"; echo "$out" | sed 's/^/    /'
        fails=$((fails + 1))
    fi
}

out=$(K laptop.acme.ztna.test A)
expect "A" "$out" 'status: NOERROR' 'Flags: qr aa rd' 'ANSWER: 1;' \
    $'laptop.acme.ztna.test.\t+60\tIN\tA\t100.64.0.1'
out=$(K laptop.acme.ztna.test AAAA)
expect "AAAA NODATA" "$out" 'status: NOERROR' 'Flags: qr aa' 'ANSWER: 0;' 'AUTHORITY: 1;' \
    'acme.ztna.test.[[:space:]]+60[[:space:]]+IN[[:space:]]+SOA[[:space:]]+ns1.acme.ztna.test. hostmaster.acme.ztna.test. 7 '
out=$(K server.acme.ztna.test AAAA)
expect "AAAA" "$out" 'ANSWER: 1;' 'AAAA[[:space:]]+fd7a:115c:a1e0::2'
out=$(K laptop.acme.ztna.test MX)
expect "MX NODATA" "$out" 'status: NOERROR' 'ANSWER: 0;' 'AUTHORITY: 1;' 'SOA'
out=$(K acme.ztna.test SOA)
expect "SOA" "$out" 'status: NOERROR' 'Flags: qr aa' 'ANSWER: 1;' \
    'SOA[[:space:]]+ns1.acme.ztna.test. hostmaster.acme.ztna.test. 7 3600 600 86400 60'
out=$(K acme.ztna.test NS)
expect "NS + glue" "$out" 'ANSWER: 2;' 'ADDITIONAL: 1' 'NS[[:space:]]+ns1.acme.ztna.test.' \
    'NS[[:space:]]+ns2.acme.ztna.test.' 'ns1.acme.ztna.test.[[:space:]]+60[[:space:]]+IN[[:space:]]+A[[:space:]]+100.64.0.53'
out=$(K other.ztna.test NS)
expect "NS default" "$out" 'NS[[:space:]]+ns.other.ztna.test.'
out=$(K acme.ztna.test ANY)
expect "ANY apex (RFC 8482: one RRset)" "$out" 'status: NOERROR' 'ANSWER: 1;' 'SOA'
out=$(K laptop.acme.ztna.test ANY)
expect "ANY host" "$out" 'ANSWER: 1;' 'A[[:space:]]+100.64.0.1'
out=$(K nope.acme.ztna.test A)
expect "NXDOMAIN" "$out" 'status: NXDOMAIN' 'Flags: qr aa' 'ANSWER: 0;' 'AUTHORITY: 1;' \
    '^acme.ztna.test.[[:space:]]+60[[:space:]]+IN[[:space:]]+SOA'
out=$(K x.y.laptop.other.ztna.test A)
expect "NXDOMAIN other zone" "$out" 'status: NXDOMAIN' '^other.ztna.test.[[:space:]].*SOA.* 3 3600'
# dig sends the name as typed (kdig lower-cases it), so dig checks the 0x20 echo
out=$(D LaPtOp.AcMe.ZTNA.test A)
expect "case-insensitive, case echoed" "$out" 'status: NOERROR' \
    $'^;LaPtOp.AcMe.ZTNA.test.\t' $'^LaPtOp.AcMe.ZTNA.test.\t+60\tIN\tA\t100.64.0.1'
out=$(D NoPe.AcMe.ZTNA.test A)
expect "NXDOMAIN case echoed" "$out" 'status: NXDOMAIN' '^AcMe.ZTNA.test.[[:space:]].*SOA'
out=$(K www.example.com A)
expect "outside zones" "$out" 'status: REFUSED' 'ANSWER: 0;'
reject "outside zones: no AA" "$out" 'Flags: qr aa'
out=$(K ztna.test SOA)
expect "parent of zones" "$out" 'status: REFUSED'
out=$(D +header-only laptop.acme.ztna.test)
expect "FORMERR (no question)" "$out" 'status: FORMERR'
out=$(D +opcode=status laptop.acme.ztna.test)
expect "NOTIMP" "$out" 'status: NOTIMP'
out=$(K +edns laptop.acme.ztna.test A)
expect "EDNS0" "$out" 'EDNS PSEUDOSECTION' 'Version: 0; flags: ; UDP size: 1232 B' 'ANSWER: 1;'
out=$(K +edns +dnssec laptop.acme.ztna.test A)
expect "EDNS0 DO echoed" "$out" 'Version: 0; flags: do; UDP size: 1232 B'
out=$(K +noedns laptop.acme.ztna.test A)
expect "no EDNS" "$out" 'ANSWER: 1;'
reject "no EDNS: no OPT" "$out" 'EDNS PSEUDOSECTION'
out=$(K +edns=1 laptop.acme.ztna.test A)
expect "BADVERS" "$out" 'status: BADVERS' 'Version: 0'
out=$(D +edns=1 +noednsnegotiation laptop.acme.ztna.test A)
expect "BADVERS (dig)" "$out" 'status: BADVERS'
out=$(K +bufsize=512 +ignore big.acme.ztna.test A)
expect "truncated" "$out" 'Flags: qr aa tc' 'ANSWER: 0;'
out=$(K +noedns +ignore big.acme.ztna.test A)
expect "truncated (no EDNS)" "$out" 'Flags: qr aa tc'
out=$(D +bufsize=512 big.acme.ztna.test A)
expect "TC then TCP retry (dig)" "$out" 'Truncated, retrying in TCP mode' 'ANSWER: 60,' \
    'big.acme.ztna.test.[[:space:]]+60[[:space:]]+IN[[:space:]]+A[[:space:]]+100.64.1.60'
out=$(K +tcp big.acme.ztna.test A)
expect "big answer over TCP" "$out" 'ANSWER: 60;' '\(TCP\)'
reject "TCP: not truncated" "$out" 'Flags: qr aa tc'
out=$(K +bufsize=4096 big.acme.ztna.test A)
expect "big answer over UDP with EDNS 4096" "$out" 'ANSWER: 60;' '\(UDP\)'
# several queries on one TCP connection (kdig +keepopen reuses it)
out=$(K +tcp +keepopen laptop.acme.ztna.test A server.acme.ztna.test A nope.acme.ztna.test A)
expect "TCP, several queries, one connection" "$out" '100.64.0.1' '100.64.0.2' 'status: NXDOMAIN'

# A wildcard bind answers from the address that was asked, not from the one the route to the
# client would pick: ask 198.18.53.2 from 127.0.0.1 (dig rejects a reply from another source).
ip -n "$ns" addr add 198.18.53.2/32 dev lo
ip netns exec "$ns" "$bin" 0.0.0.0:5354 "$zone" > "$tmp/wild.log" 2>&1 &
wild=$!
for _ in $(seq 50); do grep -q '^port' "$tmp/wild.log" 2>/dev/null && break; sleep 0.1; done
out=$(in_ns dig @198.18.53.2 -p 5354 -b 127.0.0.1 +time=2 +tries=1 laptop.acme.ztna.test A 2>&1)
expect "wildcard bind replies from the asked address" "$out" 'status: NOERROR' '100.64.0.1' \
    'SERVER: 198.18.53.2#5354'
reject "wildcard bind: source" "$out" 'unexpected source'
kill -TERM "$wild"; wait "$wild"

# Snapshot swap under load: dnsperf at a fixed rate while the zone grows and is reloaded.
for i in $(seq 1 20); do echo "laptop.acme.ztna.test A"; echo "new$i.acme.ztna.test A"; done > "$tmp/q.txt"
in_ns dnsperf -s 127.0.0.1 -p 5353 -d "$tmp/q.txt" -l 4 -Q 3000 -t 2 > "$tmp/perf.log" 2>&1 &
perf=$!
sleep 0.5
for i in $(seq 1 20); do
    echo "a new$i.acme.ztna.test 100.64.2.$i" >> "$zone"
    kill -HUP "$pid"
    sleep 0.12
done
wait "$perf"
sleep 0.3
reloads=$(grep -c '^reloaded' "$tmp/server.log")
sent=$(awk '/Queries sent:/ {print $3}' "$tmp/perf.log")
lost=$(awk '/Queries lost:/ {print $3}' "$tmp/perf.log")
echo "swap under load: $reloads reloads, dnsperf sent ${sent:-?} lost ${lost:-?}"
if [ "$reloads" -ge 20 ] && [ "${sent:-0}" -gt 5000 ] && [ "${lost:-1}" = 0 ]; then
    echo "ok: swap under load"
else
    echo "FAIL: swap under load"; cat "$tmp/perf.log"; fails=$((fails + 1))
fi
out=$(K new20.acme.ztna.test A)
expect "new data after swaps" "$out" 'status: NOERROR' 'A[[:space:]]+100.64.2.20'
# A record outside every zone is skipped, the rest still loads.
echo "a outside.example.com 100.64.9.9" >> "$zone"
echo "a late.acme.ztna.test 100.64.9.8" >> "$zone"
kill -HUP "$pid"
sleep 0.3
out=$(K late.acme.ztna.test A)
expect "reload with an out-of-zone record" "$out" 'status: NOERROR' '100.64.9.8'
out=$(K outside.example.com A)
expect "out-of-zone record not served" "$out" 'status: REFUSED'
# A bad reload (unparsable file) keeps the old snapshot.
echo "a broken.acme.ztna.test not-an-address" >> "$zone"
kill -HUP "$pid"
sleep 0.3
grep -q 'reload failed' "$tmp/server.log" || { echo "FAIL: bad reload not reported"; fails=$((fails + 1)); }
out=$(K new20.acme.ztna.test A)
expect "old snapshot kept after a bad reload" "$out" '100.64.2.20'

kill -TERM "$pid"
wait "$pid"; rc=$?
pid=
[ $rc = 0 ] || { echo "FAIL: server exit status $rc"; fails=$((fails + 1)); }
[ $fails = 0 ] && { echo "all DNS client checks passed"; exit 0; }
echo "$fails check(s) failed"; exit 1
