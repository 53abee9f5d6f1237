#!/bin/bash
# An on-path attacker and a peer that never answers, between two `ztna wireguard --pq` engines.
#
#   netns A (zpxA$$)               netns M (zpxM$$)                       netns B (zpxB$$)
#   zpxa$$ 100.64.0.1/24           pqx_proxy.py MODE                      zpxb$$ 100.64.0.2/24
#   vxa$$ 198.18.1.2 :51820 ---- vxma$$ 198.18.1.1:51820 | vxmb$$ 198.18.2.1:51820 ---- vxb$$ 198.18.2.2 :51820
#
# A's endpoint for B is the proxy's A side and B's for A its B side; the proxy forwards WireGuard
# messages untouched and, by MODE, rewrites or drops the exchange's (pqx_proxy.py). Each phase
# samples `ztna wireguard --pq-status` on both sides every 0.2 s and pings A -> B throughout:
#   init  a bit flipped in every INIT: never psk=pq, always blocked, rx_error=bad-mac, no ping
#   resp  a bit flipped in every RESP: the same
#   drop  every pqx datagram dropped (the peer never answers): error=timeout, failures keep rising,
#         retries back off (next_in_ms per failure count within 250 ms * 2^(n-1) +25 %, capped at
#         2 s, and past 1 s once failures >= 4), no ping
#   pass  the same engines through an honest relay: psk=pq on both sides, equal PSKs, ping works
set -u
umask 077
BUILD=${ZTNA_BUILD_DIR:?}
SRC=${ZTNA_SOURCE_DIR:?}
ZTNA=$BUILD/agent/ztna
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (netns, TUN)"; exit 77; fi
if [ ! -c /dev/net/tun ]; then echo "SKIP: no /dev/net/tun"; exit 77; fi
for t in ip wg ping python3; do command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }; done
[ -x "$ZTNA" ] || { echo "FAIL: $ZTNA not built"; exit 1; }

NA=zpxA$$; NM=zpxM$$; NB=zpxB$$; IA=zpxa$$; IB=zpxb$$
TMP=$(mktemp -d /tmp/zpx.XXXXXX)
PIDS=(); PROXY=; PING=
cleanup() {
    [ -n "$PROXY" ] && kill "$PROXY" 2>/dev/null
    [ -n "${PING:-}" ] && kill "$PING" 2>/dev/null
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
    done
    for n in $NA $NM $NB; do ip netns del $n 2>/dev/null; done
    rm -f /var/run/wireguard/$IA.sock /var/run/wireguard/$IB.sock /var/run/wireguard/$IA.pq /var/run/wireguard/$IB.pq
    local bad=0
    if grep -l -E "Sanitizer|runtime error" "$TMP"/*.log >/dev/null 2>&1; then
        grep -h -A30 -E "Sanitizer|runtime error" "$TMP"/*.log | head -60; bad=1
    fi
    [ -n "${ZTNA_TEST_KEEP:-}" ] && echo "kept $TMP" || rm -rf "$TMP"
    [ $bad = 0 ] || exit 1
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$TMP"/*.log; do echo "--- $f"; tail -15 "$f"; done; exit 1; }

for n in $NA $NM $NB; do ip netns add $n || fail "netns"; ip -n $n link set lo up; done
ip link add vxa$$ netns $NA type veth peer name vxma$$ netns $NM || fail "veth"
ip link add vxb$$ netns $NB type veth peer name vxmb$$ netns $NM || fail "veth"
ip -n $NA addr add 198.18.1.2/24 dev vxa$$; ip -n $NA link set vxa$$ up
ip -n $NM addr add 198.18.1.1/24 dev vxma$$; ip -n $NM link set vxma$$ up
ip -n $NM addr add 198.18.2.1/24 dev vxmb$$; ip -n $NM link set vxmb$$ up
ip -n $NB addr add 198.18.2.2/24 dev vxb$$; ip -n $NB link set vxb$$ up
wg genkey > "$TMP/a.key"; wg genkey > "$TMP/b.key"
PUBA=$(wg pubkey < "$TMP/a.key"); PUBB=$(wg pubkey < "$TMP/b.key")

export ZTNA_PQX_TEST_RETRANSMIT_MS=250 ZTNA_WG_LOG_LEVEL=info
for side in A B; do
    ns=zpx$side$$; ifn=$([ $side = A ] && echo $IA || echo $IB)
    ip netns exec $ns "$ZTNA" wireguard -f --pq $ifn >"$TMP/$side.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 50); do [ -S /var/run/wireguard/$ifn.sock ] && break; sleep 0.1; done
    [ -S /var/run/wireguard/$ifn.sock ] || fail "$ifn: UAPI socket did not appear"
done
ip netns exec $NA wg set $IA private-key "$TMP/a.key" listen-port 51820 \
    peer "$PUBB" allowed-ips 100.64.0.2/32 endpoint 198.18.1.1:51820 || fail "wg set A"
ip netns exec $NB wg set $IB private-key "$TMP/b.key" listen-port 51820 \
    peer "$PUBA" allowed-ips 100.64.0.1/32 endpoint 198.18.2.1:51820 || fail "wg set B"
ip -n $NA addr add 100.64.0.1/24 dev $IA; ip -n $NA link set $IA up
ip -n $NB addr add 100.64.0.2/24 dev $IB; ip -n $NB link set $IB up

proxy() {
    [ -n "$PROXY" ] && { kill "$PROXY"; wait "$PROXY" 2>/dev/null; }
    ip netns exec $NM python3 "$SRC/tests/pqx/pqx_proxy.py" $1 198.18.1.1:51820 198.18.1.2:51820 \
        198.18.2.1:51820 198.18.2.2:51820 >>"$TMP/proxy.log" 2>&1 &
    PROXY=$!
    sleep 0.2
}
field() { local f=" $2 "; f=${f#* $1=}; echo "${f%% *}"; }
status() { "$ZTNA" wireguard --pq-status $1; }
declare -A MAXNEXT
# sample PHASE MIN MAX DONE: status of both sides every 0.2 s into $TMP/PHASE.samples ("side psk
# error rx_error failures exch next_in_ms blocked"), and the per-failure-count maximum of next_in_ms
# while idle; for at least MIN seconds, then until the command DONE succeeds or MAX seconds passed
# (a loaded machine, e.g. an ASan run next to other builds, slows everything down). Parsed with bash
# only, so that a sample stays cheap.
sample() {
    local start=$SECONDS line s
    : > "$TMP/$1.samples"
    while [ $((SECONDS - start)) -lt $3 ]; do
        [ $((SECONDS - start)) -ge $2 ] && $4 "$1" && break
        for s in $IA $IB; do
            line=$(status $s) || fail "--pq-status $s failed"
            declare -A F=()
            for kv in $line; do [[ $kv == *=* ]] && F[${kv%%=*}]=${kv#*=}; done
            echo "$s ${F[psk]} ${F[error]} ${F[rx_error]} ${F[failures]} ${F[exch]} ${F[next_in_ms]} ${F[blocked]}" >> "$TMP/$1.samples"
            if [ "${F[exch]}" = idle ] && [ "${F[psk]}" = none ] && [ "${F[next_in_ms]}" -ge 0 ]; then
                [ "${MAXNEXT[${F[failures]}]:-0}" -lt "${F[next_in_ms]}" ] && MAXNEXT[${F[failures]}]=${F[next_in_ms]}
            fi
        done
        sleep 0.2
    done
}
saw_bad_mac() { awk '$4 == "bad-mac" {n++} END {exit !(n > 0)}' "$TMP/$1.samples"; }
saw_backoff() {
    local f
    for s in $IA $IB; do grep -q "^$s none timeout " "$TMP/$1.samples" || return 1; done
    for f in "${!MAXNEXT[@]}"; do [ $f -ge 4 ] && [ "${MAXNEXT[$f]}" -gt 1000 ] && return 0; done
    return 1
}
ping_start() { # PHASE: pings A -> B in the background until ping_stop
    ip netns exec $NA ping -i 0.5 -W 1 -c 200 100.64.0.2 >"$TMP/ping.$1" 2>&1 & PING=$!
}
expect_blocked_phase() { # PHASE: no PQ PSK, always blocked, no ping
    [ "$(wc -l < "$TMP/$1.samples")" -ge 4 ] || fail "$1: too few status samples"
    awk '$2 != "none" || $8 != 1 {bad=1} END {exit bad}' "$TMP/$1.samples" ||
        fail "$1: a PSK was installed or the peer unblocked: $(awk '$2 != "none" || $8 != 1' "$TMP/$1.samples" | head -3)"
    kill -INT $PING 2>/dev/null; wait $PING
    RECV=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$TMP/ping.$1")
    [ "${RECV:-0}" = 0 ] || fail "$1: $RECV pings got through without a PQ PSK"
}

for mode in init resp; do
    proxy $mode
    ping_start $mode
    sample $mode 4 20 saw_bad_mac
    expect_blocked_phase $mode
    # Whoever receives the rewritten message says bad-mac (rx_error stays after its own attempt
    # then times out); the sender of a rewritten INIT sees its attempts time out.
    saw_bad_mac $mode || fail "$mode: status never said rx_error=bad-mac: $(tail -4 "$TMP/$mode.samples")"
    echo "ok: $mode rewritten: no PSK, blocked, no ping, status says rx_error=bad-mac"
done

proxy drop
ping_start drop
sample drop 4 30 saw_backoff
expect_blocked_phase drop
for s in $IA $IB; do
    grep -q "^$s none timeout " "$TMP/drop.samples" || fail "drop: $s never said error=timeout"
done
FMAX=$(awk '{print $5}' "$TMP/drop.samples" | sort -n | tail -1)
[ "$FMAX" -ge 4 ] || fail "drop: failures did not keep rising ($FMAX)"
for f in "${!MAXNEXT[@]}"; do
    b=$((250 << (f > 4 ? 3 : f - 1))); [ $b -gt 2000 ] && b=2000
    [ "${MAXNEXT[$f]}" -le $((b * 5 / 4 + 20)) ] || fail "backoff after $f failures: ${MAXNEXT[$f]} ms > $b ms +25 %"
done
BIG=0
for f in "${!MAXNEXT[@]}"; do [ $f -ge 4 ] && [ "${MAXNEXT[$f]}" -gt 1000 ] && BIG=1; done
[ $BIG = 1 ] || fail "retries did not back off: $(for f in "${!MAXNEXT[@]}"; do echo -n "$f:${MAXNEXT[$f]} "; done)"
echo "ok: unanswered: timeout, $FMAX failures, backoff (failures:max next_in_ms) $(for f in $(echo "${!MAXNEXT[@]}" | tr ' ' '\n' | sort -n); do echo -n "$f:${MAXNEXT[$f]} "; done)"

proxy pass
ok=0
for _ in $(seq 1 50); do
    la=$(status $IA); lb=$(status $IB)
    [ "$(field psk "$la")" = pq ] && [ "$(field psk "$lb")" = pq ] && { ok=1; break; }
    sleep 0.2
done
[ $ok = 1 ] || fail "honest relay: no PQ PSK: A: $la B: $lb"
KA=$(ip netns exec $NA wg show $IA preshared-keys | awk '{print $2}')
KB=$(ip netns exec $NB wg show $IB preshared-keys | awk '{print $2}')
[ "$KA" = "$KB" ] || fail "honest relay: PSKs differ"
ip netns exec $NA ping -c 2 -W 3 100.64.0.2 >/dev/null || fail "honest relay: no ping"
echo "ok: honest relay: psk=pq on both sides, equal PSKs, ping works"
exit 0
