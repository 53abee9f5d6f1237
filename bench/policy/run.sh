#!/usr/bin/env bash
# Policy benchmark: compile 1,000 rules over 10,000 nodes in 50 groups (full compile time, RSS,
# one retag, one rule edit) and the packet matcher with a 1,000-entry filter vs an allow-all
# filter in the same run. Prints figures; never fails on timing.
# Usage: bench/policy/run.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
bin="$build/bench/policy/bench_policy"
if [ ! -x "$bin" ]; then
    echo "bench/policy: $bin not built (cmake --build $build --target bench_policy)"
    exit 1
fi
echo "bench/policy: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin"
