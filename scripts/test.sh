#!/usr/bin/env bash
# Runs every test: formatting, lints, unit/property/crate tests, then the lab tests that need
# root (they print SKIP with the reason when not root). Fails on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked

for lab in scripts/lab/*.sh; do
    [ -e "$lab" ] || continue
    echo "== $lab"
    bash "$lab"
done
echo "== all tests passed"
