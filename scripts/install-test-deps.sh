#!/usr/bin/env bash
# Installs the external programs the test suite drives, if they are missing:
# the real Redis and memcached servers and clients (the front-end tests compare
# against them; libmemcached-tools brings memccapable, memcached's protocol
# conformance checker, and memcaslap) and the Python client libraries.
# Idempotent; quick when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v memcached >/dev/null 2>&1 || need+=(memcached)
command -v memccapable >/dev/null 2>&1 || need+=(libmemcached-tools)
if ((${#need[@]})); then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing ${need[*]} (apt)" >&2
    $sudo apt-get update -qq
    # No service starts: the tests run their own servers on free ports.
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    $sudo rm -f /usr/sbin/policy-rc.d
fi

if ! python3 -c "import redis, pymemcache, requests, boto3" >/dev/null 2>&1; then
    echo "installing Python test clients (pip)" >&2
    python3 -m pip install -q --disable-pip-version-check -r scripts/test-requirements.txt
fi
