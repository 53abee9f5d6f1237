#!/usr/bin/env bash
# ML-KEM-768 benchmark: per-operation figures, a full hybrid exchange and 1,000 peer rotations,
# each against libsodium's X25519 in the same run, then the 1,000,000-case accumulated known
# answer (about 2-4 minutes; BENCH_MLKEM_ACCUMULATED=0 skips it, or set another of 100/10000).
# Usage: bench/mlkem/run.sh BUILD_DIR
set -uo pipefail
build=${1:?usage: run.sh BUILD_DIR}
bin=$build/bench/mlkem/bench_mlkem
[ -x "$bin" ] || { echo "bench/mlkem: $bin not built (cmake --build $build --target bench_mlkem)"; exit 1; }
exec "$bin" "${BENCH_MLKEM_SECONDS:-1}" "${BENCH_MLKEM_ACCUMULATED:-1000000}"
