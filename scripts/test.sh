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
echo "== speaker link order still names the release build's functions (builds the release speaker: 4-5 min on 2 cores)"
bash scripts/link-order.sh --check

# Programs the labs share that a minimal Debian lacks (each lab installs its own specifics:
# BIRD, GoBGP, arping, tcpdump, Go, ...); as root they are installed here.
# shellcheck source=scripts/lib/need.sh
source scripts/lib/need.sh
if [ "$(id -u)" -eq 0 ]; then
    need pgrep:procps ip:iproute2 curl:curl python3:python3 py-ensurepip:python3-venv
fi

# In CI (CI=true, as root) a lab that skips is a failure: the gate must never be green having
# run no lab.
labs=0
for lab in scripts/lab/*.sh; do
    [ -e "$lab" ] || continue
    echo "== $lab"
    out=$(mktemp)
    bash "$lab" 2>&1 | tee "$out"
    if [ "${CI:-}" = "true" ] && grep -q 'SKIP' "$out"; then
        echo "FAIL: $lab skipped in CI" >&2
        rm -f "$out"
        exit 1
    fi
    rm -f "$out"
    labs=$((labs + 1))
done
echo "== $labs labs run"
echo "== all tests passed"
