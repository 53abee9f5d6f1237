#!/usr/bin/env bash
# `ztna debug mlkem`: known answer through the CLI (seed 00..3f, message 80..9f), and every error
# path: bad hex, wrong lengths, an ek failing the modulus check, a dk failing the hash check, usage.
set -uo pipefail
ztna=${ZTNA_BUILD_DIR:?}/agent/ztna
[ -x "$ztna" ] || { echo "SKIP: $ztna not built"; exit 77; }
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

seed=$(python3 -c 'print(bytes(range(64)).hex())')
msg=$(python3 -c 'print(bytes(range(0x80, 0xa0)).hex())')
out=$("$ztna" debug mlkem keygen "$seed") || fail "keygen exit $?"
ek=$(sed -n 's/^ek: //p' <<<"$out"); dk=$(sed -n 's/^dk: //p' <<<"$out")
[ ${#ek} -eq 2368 ] && [ ${#dk} -eq 4800 ] || fail "keygen output lengths ${#ek} ${#dk}"
out=$("$ztna" debug mlkem encaps "$ek" "$msg") || fail "encaps exit $?"
ct=$(sed -n 's/^ct: //p' <<<"$out"); k=$(sed -n 's/^K: //p' <<<"$out")
want=ef91db44b6cd5b2c50f483481a3d6e2a08cc149764fcb8dc568851332da45ed9
[ "$k" = "$want" ] || fail "encaps K $k"
out=$("$ztna" debug mlkem decaps "$dk" "$ct") || fail "decaps exit $?"
[ "$(sed -n 's/^K: //p' <<<"$out")" = "$want" ] || fail "decaps K"

# expect_error EXIT_CODE MESSAGE_REGEX ARGS...
expect_error() {
    local code=$1 re=$2; shift 2
    local err rc
    err=$("$ztna" debug mlkem "$@" 2>&1 >/dev/null); rc=$?
    [ "$rc" -eq "$code" ] || fail "'$1' wanted exit $code, got $rc ($err)"
    grep -Eq "$re" <<<"$err" || fail "'$1' message '$err' does not match /$re/"
}
expect_error 1 'seed has 63 bytes, expected 64' keygen "${seed:2}"
expect_error 1 'seed is not valid hex' keygen "zz${seed:2}"
expect_error 1 'seed is not valid hex' keygen "${seed}0"
expect_error 1 'encapsulation key has 1183 bytes' encaps "${ek:2}" "$msg"
expect_error 1 'message has 33 bytes' encaps "$ek" "${msg}00"
bad_ek="ffff${ek:4}"   # first coefficient 4095 >= q
expect_error 1 'modulus check' encaps "$bad_ek" "$msg"
expect_error 1 'decapsulation key has 2401 bytes' decaps "${dk}00" "$ct"
expect_error 1 'ciphertext has 1087 bytes' decaps "$dk" "${ct:2}"
# flip a byte of the embedded ek (offset 1152): hash check fails
pre=${dk:0:2304}; b=${dk:2304:2}; post=${dk:2306}
flipped=$(printf '%02x' $(( 0x$b ^ 1 )))
expect_error 1 'hash check' decaps "$pre$flipped$post" "$ct"
expect_error 2 'usage' keygen
expect_error 2 'usage' frobnicate x
[ $fails -eq 0 ] && echo "cli: all checks passed"
exit $((fails > 0))
