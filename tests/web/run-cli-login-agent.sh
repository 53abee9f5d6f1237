#!/bin/sh
# `ztna login` through the browser with the real agent: runs cli_login_agent.test.mjs (through
# run-browser.sh) inside a network namespace made here, so that the daemon's TUN, the server, the
# CLI's loopback listener and chromium share one loopback and nothing touches the host's network.
# Needs root and /dev/net/tun (skips 77 otherwise). The namespace is removed on exit.
set -u
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: needs root (network namespace and TUN device for the daemon)"
    exit 77
fi
if [ ! -c /dev/net/tun ]; then
    echo "SKIP: /dev/net/tun is missing (the daemon needs a TUN device)"
    exit 77
fi
if ! command -v ip >/dev/null 2>&1; then
    echo "SKIP: iproute2 (ip) is not installed"
    exit 77
fi
NS=zcl$$
cleanup() { ip netns del "$NS" 2>/dev/null; }
trap cleanup EXIT INT TERM
ip netns add "$NS" || { echo "SKIP: cannot create a network namespace"; exit 77; }
ip -n "$NS" link set lo up || exit 1
ZTNA_WEB_NETNS=$NS "$(dirname "$0")/run-browser.sh" cli_login_agent.test.mjs
