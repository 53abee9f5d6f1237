#!/usr/bin/env bash
# bench/wg_core/run.sh BUILD_DIR: micro-benchmarks of common/wg and common/crypto/blake2s.
set -euo pipefail
build=${1:-build}
exe="$build/bench/wg_core/bench_wg_core"
if [ ! -x "$exe" ]; then
    echo "bench/wg_core: $exe not built (cmake --build $build --target bench_wg_core)"
    exit 1
fi
exec "$exe" "${@:2}"
