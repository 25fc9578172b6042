#!/usr/bin/env bash
# Installs what the comparison benchmarks need beyond the test tools: clang and
# libclang-dev for the `rocksdb` crate's C++ build (bindgen), plus the test tools
# (real Redis/memcached servers and load generators for benches/frontends.sh).
# Idempotent; not needed for the test suite or CI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
if ! command -v clang >/dev/null 2>&1 || ! ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing clang libclang-dev (apt)" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends clang libclang-dev >/dev/null
fi
