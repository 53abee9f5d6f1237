#!/usr/bin/env bash
# Runs tests/mlkem/ctgrind.c under valgrind memcheck: any branch or memory index on secret-marked
# data is reported and fails the test (--error-exitcode). First proves the harness works: the
# --leak-selftest mode branches on a secret and MUST be reported. Skips (77) without valgrind.
set -uo pipefail
bin=${ZTNA_BUILD_DIR:?}/tests/mlkem/mlkem_ctgrind
command -v valgrind >/dev/null || { echo "SKIP: valgrind is not installed"; exit 77; }
[ -x "$bin" ] || { echo "SKIP: $bin not built (valgrind/memcheck.h missing at configure time?)"; exit 77; }
vg=(valgrind --quiet --error-exitcode=99 --track-origins=yes)
"${vg[@]}" "$bin" --leak-selftest 2>/tmp/ctgrind-self.$$ 
rc=$?
if [ $rc -ne 99 ] || ! grep -q "depends on uninitialised" /tmp/ctgrind-self.$$; then
    echo "FAIL: valgrind did not report the deliberate secret-dependent branch (rc $rc)"
    cat /tmp/ctgrind-self.$$; rm -f /tmp/ctgrind-self.$$; exit 1
fi
rm -f /tmp/ctgrind-self.$$
echo "harness self-test: deliberate leak detected"
"${vg[@]}" "$bin"
rc=$?
[ $rc -eq 0 ] || { echo "FAIL: secret-dependent branch/index or wrong result (rc $rc)"; exit 1; }
echo "ctgrind: no secret-dependent branches or indices"
