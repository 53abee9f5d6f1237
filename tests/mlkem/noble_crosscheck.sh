#!/usr/bin/env bash
# Cross-check `ztna debug mlkem` against an independent ML-KEM-768, npm @noble/post-quantum 0.7.x,
# for 50 random seeds and messages: ek, dk, ct and K must match byte for byte, and decapsulation
# (of the real ciphertext and of a corrupted one, i.e. implicit rejection) must agree.
# Installs the package into the build directory if missing; skips (77) if node is too old
# or the install fails.
set -euo pipefail
build=${ZTNA_BUILD_DIR:?}
ztna=$build/agent/ztna
[ -x "$ztna" ] || { echo "SKIP: $ztna not built"; exit 77; }
command -v node >/dev/null || { echo "SKIP: node not installed"; exit 77; }
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a==20&&b>=19)?0:1)'; then
    echo "SKIP: node $(node --version) is older than 20.19, which @noble/post-quantum 0.7 needs"
    exit 77
fi
dir=$build/tests/mlkem/noble
if [ ! -f "$dir/node_modules/@noble/post-quantum/ml-kem.js" ]; then
    mkdir -p "$dir"
    if ! (cd "$dir" && timeout 180 npm install --no-audit --no-fund --silent \
            @noble/post-quantum@0.7 >/dev/null 2>&1); then
        echo "SKIP: npm install @noble/post-quantum@0.7 failed (registry unreachable?)"
        exit 77
    fi
fi
cd "$dir"
ZTNA_BIN=$ztna node --input-type=module <<'JS'
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

const hex = (b) => Buffer.from(b).toString('hex');
function ztna(...args) {
  const out = execFileSync(process.env.ZTNA_BIN, ['debug', 'mlkem', ...args], { encoding: 'utf8' });
  const r = {};
  for (const line of out.trim().split('\n')) {
    const i = line.indexOf(': ');
    r[line.slice(0, i)] = line.slice(i + 2);
  }
  return r;
}
let fails = 0;
const expect = (what, got, want) => { if (got !== want) { fails++; console.error(`mismatch: ${what}`); } };
const N = 50;
for (let i = 0; i < N; i++) {
  const seed = randomBytes(64), m = randomBytes(32);
  const kp = ml_kem768.keygen(seed);
  const ours = ztna('keygen', hex(seed));
  expect(`ek ${i}`, ours.ek, hex(kp.publicKey));
  expect(`dk ${i}`, ours.dk, hex(kp.secretKey));
  const enc = ml_kem768.encapsulate(kp.publicKey, m);
  const oe = ztna('encaps', ours.ek, hex(m));
  expect(`ct ${i}`, oe.ct, hex(enc.cipherText));
  expect(`K ${i}`, oe.K, hex(enc.sharedSecret));
  const od = ztna('decaps', ours.dk, oe.ct);
  expect(`decaps K ${i}`, od.K, hex(enc.sharedSecret));
  const bad = Uint8Array.from(enc.cipherText);
  bad[i * 21 % bad.length] ^= 1 << (i % 8);
  const odb = ztna('decaps', ours.dk, hex(bad));
  expect(`rejection K ${i}`, odb.K, hex(ml_kem768.decapsulate(bad, kp.secretKey)));
  if (odb.K === od.K) { fails++; console.error(`corrupted ciphertext ${i} gave the real key`); }
}
console.log(`noble cross-check: ${N} seeds/messages, ${fails} mismatches`);
process.exit(fails ? 1 : 0);
JS
