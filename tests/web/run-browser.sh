#!/bin/sh
# Runs the dashboard's browser test (dashboard.test.mjs) in headless Debian chromium through npm
# playwright-core. playwright-core is installed by `npm ci` from tests/web/package-lock.json into
# $ZTNA_BUILD_DIR/web-test-node the first time (nothing else is downloaded: no browser, no
# bundler). Skips (77) with the reason when chromium, node or the npm registry is unavailable.
set -u
SRC=${ZTNA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${ZTNA_BUILD_DIR:-$SRC/build}
CHROMIUM=${ZTNA_CHROMIUM:-/usr/bin/chromium}
NODE_DIR=$BUILD/web-test-node

if [ ! -x "$CHROMIUM" ]; then
    echo "SKIP: $CHROMIUM not installed (apt-get install chromium; contrib/install-deps.sh test does it)"
    exit 77
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "SKIP: node and npm are needed to drive chromium (apt-get install nodejs npm)"
    exit 77
fi
# Browser tests may start in parallel (ctest -j): one installs, the others wait for it.
. "$SRC/tests/web/npm-ci.sh"
npm_ci_once "$SRC/tests/web" "$NODE_DIR" playwright-core playwright-core || exit 77
export ZTNA_WEB_NODE_DIR="$NODE_DIR" ZTNA_CHROMIUM="$CHROMIUM" ZTNA_SOURCE_DIR="$SRC" ZTNA_BUILD_DIR="$BUILD"
# ZTNA_WEB_NETNS (run-cli-login-agent.sh): the test runs inside that network namespace.
exec ${ZTNA_WEB_NETNS:+ip netns exec "$ZTNA_WEB_NETNS"} node "$SRC/tests/web/${1:-dashboard.test.mjs}"
