#!/usr/bin/env bash
# Installs the Debian 12 packages the build, the appliance and the test suite need,
# only those missing, with --no-install-recommends. Safe to run repeatedly.
#   contrib/install-deps.sh build   # compile and run ztna-server / ztna
#   contrib/install-deps.sh test    # plus everything the test suite drives
set -euo pipefail

BUILD_PKGS=(build-essential cmake pkg-config libsqlite3-dev sqlite3 libcivetweb-dev
            libsodium-dev libssl-dev libcjson-dev libmnl-dev libcurl4-openssl-dev ca-certificates tzdata)
TEST_PKGS=(python3 iproute2 iputils-ping procps kmod curl jq clang valgrind
           wireguard-go wireguard-tools iperf3 wrk knot-dnsutils dnsutils dnsperf nsd
           netcat-openbsd nodejs npm chromium nftables)

want=("${BUILD_PKGS[@]}")
[ "${1:-build}" = test ] && want+=("${TEST_PKGS[@]}")

missing=()
for p in "${want[@]}"; do
    # A package counts as present if dpkg says installed, or, for node/npm, if a newer one is on PATH.
    case "$p" in
        nodejs) command -v node >/dev/null 2>&1 && continue ;;
        npm)    command -v npm  >/dev/null 2>&1 && continue ;;
    esac
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$st" = "install ok installed" ] || missing+=("$p")
done

[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing missing Debian packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
