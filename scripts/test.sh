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
# The release speaker is linked in the order of speaker/link-order.txt (speaker/build.rs): a list
# that no longer names the build's functions costs 2-3 MB of resident text, silently.
echo "== speaker link order still names the release build's functions"
bash scripts/link-order.sh --check

for lab in scripts/lab/*.sh; do
    [ -e "$lab" ] || continue
    echo "== $lab"
    bash "$lab"
done
echo "== all tests passed"
