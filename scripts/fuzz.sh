#!/usr/bin/env bash
# Run one cargo-fuzz target for a bounded time on the stable toolchain.
#
#   scripts/fuzz.sh <target> [seconds]      e.g. scripts/fuzz.sh bgp_decode 300
#
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP=1 unlocks them on stable. Installs
# cargo-fuzz if missing. Falls back to `-s none` (no sanitizer) if AddressSanitizer cannot
# be built or run here. Prints libFuzzer's final stats; exits non-zero on a crash, leaving
# the input in fuzz/artifacts/<target>/.
# Other crates' targets: add a [[bin]] to fuzz/Cargo.toml and seeds under fuzz/seeds/<target>/.
set -euo pipefail

target=${1:?usage: scripts/fuzz.sh <target> [seconds]}
seconds=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR_FUZZ:-$root/fuzz/target}
cd "$root/fuzz"
mkdir -p "corpus/$target"

# New inputs go to corpus/<target> (not versioned); seeds/<target> holds committed
# starting points such as the BGP wire vectors (docs/bgp.md#wire-vectors); dicts/<target>.dict
# a libFuzzer dictionary.
seeds=()
if [ -d "seeds/$target" ]; then
    seeds=("seeds/$target")
fi
# The config parser also starts from upstream's 300 recorded documents.
if [ "$target" = config_parse ]; then
    seeds+=("$root/testdata/config-upstream/inputs")
fi
# A dictionary of the format's tokens, where there is one.
dict=()
if [ -f "dicts/$target.dict" ]; then
    dict=("-dict=dicts/$target.dict")
fi

run() {
    cargo fuzz run "$@" "$target" "corpus/$target" "${seeds[@]}" -- \
        -max_total_time="$seconds" -print_final_stats=1 "${dict[@]}"
}

if cargo fuzz build "$target" >/dev/null 2>&1; then
    run
else
    echo "fuzz.sh: AddressSanitizer build failed; running without a sanitizer (-s none)" >&2
    run -s none
fi
