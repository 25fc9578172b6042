#!/usr/bin/env bash
# Installs what the comparison benchmarks need beyond the test tools: clang and
# libclang-dev for the `rocksdb` crate's C++ build (bindgen), wrk for the HTTP
# front-end loads, plus the test tools
# (real Redis/memcached servers and load generators for benches/frontends.sh).
# Idempotent; not needed for the test suite or CI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
if ! command -v wrk >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi
if ! command -v clang >/dev/null 2>&1 || ! ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing clang libclang-dev (apt)" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends clang libclang-dev >/dev/null
fi
# moto's DynamoDB server: the reference benches/http_frontends.sh compares against.
if ! command -v moto_server >/dev/null 2>&1; then
    echo "installing moto[server] (pip)" >&2
    python3 -m pip install -q --disable-pip-version-check "moto[server]==5.2.1"
fi
