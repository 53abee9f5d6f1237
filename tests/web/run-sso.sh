#!/bin/sh
# The dashboard's SSO button in a real browser (sso.test.mjs): installs the test OpenID Provider
# (tests/oidc: npm oidc-provider, pinned by its package-lock.json) into
# $ZTNA_BUILD_DIR/web-oidc-npm once (its own directory, so the Python OIDC tests' npm ci never
# races this one), then runs the test through run-browser.sh (chromium + playwright-core).
# Skips (77) with the reason when node/npm or the registry is unavailable.
set -u
SRC=${ZTNA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${ZTNA_BUILD_DIR:-$SRC/build}
OP_DIR=$BUILD/web-oidc-npm

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "SKIP: node and npm are needed (apt-get install nodejs npm)"
    exit 77
fi
. "$SRC/tests/web/npm-ci.sh"
npm_ci_once "$SRC/tests/oidc" "$OP_DIR" oidc-provider oidc-provider || exit 77
cp "$SRC/tests/oidc/provider.mjs" "$OP_DIR/"
export ZTNA_OIDC_NPM_DIR="$OP_DIR"
exec sh "$SRC/tests/web/run-browser.sh" sso.test.mjs
