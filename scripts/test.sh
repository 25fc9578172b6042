#!/usr/bin/env bash
# The whole test suite: installs the real clients and servers the front-end tests
# talk to (if missing), then runs every test in the workspace. Extra arguments go
# to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
cargo test --workspace "$@"
