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
mkdir -p "$OP_DIR"
exec 8>"$OP_DIR/.install.lock"
flock -w 300 8 || { echo "SKIP: waited 300 s for another npm ci in $OP_DIR"; exit 77; }
cp "$SRC/tests/oidc/provider.mjs" "$OP_DIR/"
if [ ! -d "$OP_DIR/node_modules/oidc-provider" ] ||
   ! cmp -s "$SRC/tests/oidc/package-lock.json" "$OP_DIR/package-lock.json"; then
    cp "$SRC/tests/oidc/package.json" "$SRC/tests/oidc/package-lock.json" "$OP_DIR/"
    if ! (cd "$OP_DIR" && npm ci --no-audit --no-fund --cache "$BUILD/npm-cache" >npm-ci.log 2>&1); then
        tail -5 "$OP_DIR/npm-ci.log"
        rm -f "$OP_DIR/package-lock.json"
        echo "SKIP: npm ci of oidc-provider failed (offline registry?), see $OP_DIR/npm-ci.log"
        exit 77
    fi
fi
flock -u 8
exec 8>&-
export ZTNA_OIDC_NPM_DIR="$OP_DIR"
exec sh "$SRC/tests/web/run-browser.sh" sso.test.mjs
