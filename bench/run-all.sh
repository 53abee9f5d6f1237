#!/usr/bin/env bash
# Runs every benchmark (bench/<area>/run.sh BUILD_DIR) and prints their figures.
# Benchmarks print numbers and ratios against the peer measured in the same run; they never fail
# on timing. Usage: bench/run-all.sh [BUILD_DIR] [AREA ...]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
shift || true
areas=("$@")
if [ ${#areas[@]} -eq 0 ]; then
    for d in "$here"/*/; do [ -x "$d/run.sh" ] && areas+=("$(basename "$d")"); done
fi
echo "== benchmarks on $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
rc=0
for a in "${areas[@]}"; do
    echo
    echo "=== bench/$a"
    "$here/$a/run.sh" "$build" || { echo "bench/$a: exited $? (figures above may be partial)"; rc=1; }
done
exit $rc
