#!/usr/bin/env bash
# Cross-check `ztna debug mlkem` against an independent ML-KEM-768, npm @noble/post-quantum 0.7.x,
# for 50 random seeds and messages: ek, dk, ct and K must match byte for byte, and decapsulation
# (of the real ciphertext, and for every 5th case of a corrupted one: implicit rejection) must agree.
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
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';

const run = promisify(execFile);
const hex = (b) => Buffer.from(b).toString('hex');
async function ztna(...args) {
  const { stdout } = await run(process.env.ZTNA_BIN, ['debug', 'mlkem', ...args], { timeout: 30000 });
  const r = {};
  for (const line of stdout.trim().split('\n')) {
    const i = line.indexOf(': ');
    r[line.slice(0, i)] = line.slice(i + 2);
  }
  return r;
}
let fails = 0;
const expect = (what, got, want) => { if (got !== want) { fails++; console.error(`mismatch: ${what}`); } };

async function one(i) {
  const seed = randomBytes(64), m = randomBytes(32);
  const kp = ml_kem768.keygen(seed);
  const ours = await ztna('keygen', hex(seed));
  expect(`ek ${i}`, ours.ek, hex(kp.publicKey));
  expect(`dk ${i}`, ours.dk, hex(kp.secretKey));
  const enc = ml_kem768.encapsulate(kp.publicKey, m);
  const oe = await ztna('encaps', ours.ek, hex(m));
  expect(`ct ${i}`, oe.ct, hex(enc.cipherText));
  expect(`K ${i}`, oe.K, hex(enc.sharedSecret));
  const od = await ztna('decaps', ours.dk, oe.ct);
  expect(`decaps K ${i}`, od.K, hex(enc.sharedSecret));
  if (i % 5 === 0) { /* implicit rejection on a corrupted ciphertext, every 5th case */
    const bad = Uint8Array.from(enc.cipherText);
    bad[i * 21 % bad.length] ^= 1 << (i % 8);
    const odb = await ztna('decaps', ours.dk, hex(bad));
    expect(`rejection K ${i}`, odb.K, hex(ml_kem768.decapsulate(bad, kp.secretKey)));
    if (odb.K === od.K) { fails++; console.error(`corrupted ciphertext ${i} gave the real key`); }
  }
}
const N = 50, PAR = 4; /* 4 CLI processes at a time: process start-up dominates under ASan */
for (let i = 0; i < N; i += PAR)
  await Promise.all(Array.from({ length: Math.min(PAR, N - i) }, (_, k) => one(i + k)));
console.log(`noble cross-check: ${N} seeds/messages, ${fails} mismatches`);
process.exit(fails ? 1 : 0);
JS
