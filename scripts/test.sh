#!/usr/bin/env bash
# The whole test suite: starts the real services (installing what is missing), checks formatting
# and lints, runs every unit, property and end-to-end test, and stops the services again.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

# One target directory outside the clone is reused between runs when present.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/homeostat-target}"
export CARGO_TERM_COLOR=never

step() { printf '\n==> %s (%s)\n' "$*" "$(date +%H:%M:%S)"; }

trap 'step "stopping services"; scripts/services.sh down || true' EXIT

step "starting services"
scripts/services.sh up

step "cargo fmt --check"
cargo fmt --all -- --check

step "building binaries"
cargo build --workspace --bins

step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "tests"
export HOMEOSTAT_BIN_DIR="$CARGO_TARGET_DIR/debug"
cargo test --workspace --no-fail-fast
step "all tests passed"
