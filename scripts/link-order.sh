#!/usr/bin/env bash
# Regenerates speaker/link-order.txt, the order in which the release speaker's functions are
# linked (speaker/build.rs says why). The profile is the speaker at scale: the release build,
# unstripped but otherwise the same cargo run as scripts/build-release.sh (so the symbol names are
# the shipped binary's), run under callgrind through scripts/bench/speaker.sh (1 000 Layer 2
# services, /metrics and /status scrapes, ARP load), once with the API over HTTPS and once over
# plain HTTP. scripts/lib/link_order.py turns the two profiles into the list.
#
# Re-run after a toolchain or dependency bump (symbol names carry their hashes), and after work on
# the speaker's hot paths: new functions are not in the list, so they land among cold code, and
# --check cannot see that (it only counts the listed names that still exist; a list with 98 % of
# its names present cost 2.1 MB of resident text, BENCHMARKS.md "Re-measured on main").
#   --check   only check that the current build still has the listed names: exits 1 when fewer
#             than 95 % of them are found (a dependency or toolchain bump renamed them), so CI
#             says so instead of the speaker silently keeping 2-3 MB more of its text resident.
# Needs root (the benchmark's network namespaces); otherwise prints SKIP and exits 0.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
MODE=${1:-generate}
case $MODE in
generate | --check) ;;
*) echo "usage: scripts/link-order.sh [--check]" >&2; exit 2 ;;
esac

if [[ $(id -u) -ne 0 && $MODE != --check ]]; then
    echo "SKIP: scripts/link-order.sh needs root (it runs scripts/bench/speaker.sh); not run"
    exit 0
fi

WORK=$(mktemp -d /tmp/link-order.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export CARGO_TARGET_DIR=${LINK_ORDER_TARGET_DIR:-$ROOT/target/link-order}
# Symbols kept: cargo appends this to the target's rustflags in .cargo/config.toml (arrays from
# several config sources are joined), and rustflags do not enter a crate's metadata hash, so the
# names are those of the stripped release.
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C strip=none"
CARGO_TERM_QUIET=true DIST_DIR="$WORK/dist" bash scripts/build-release.sh >/dev/null
BIN=$WORK/dist/speaker

if [[ $MODE == --check ]]; then
    nm --defined-only "$BIN" | awk '{ print $NF }' | sort -u >"$WORK/names"
    total=$(grep -c . speaker/link-order.txt)
    found=$(sort -u speaker/link-order.txt | comm -12 - "$WORK/names" | wc -l)
    echo "speaker/link-order.txt: $found of $total names are in this build"
    if ((found * 100 < total * 95)); then
        echo "FAIL: speaker/link-order.txt is stale; regenerate it (as root): bash scripts/link-order.sh" >&2
        exit 1
    fi
    exit 0
fi

command -v valgrind >/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
}
cat >"$WORK/speaker" <<WRAP
#!/bin/sh
exec valgrind --tool=callgrind --demangle=no --compress-strings=no --compress-pos=no \
    --callgrind-out-file="$WORK/callgrind.\$CALLGRIND_RUN.out" "$BIN" "\$@"
WRAP
chmod +x "$WORK/speaker"
# One run per transport, 5 s of load: enough for every path to run; callgrind writes its profile at
# exit. HTTPS is what a cluster runs (TLS to the API server is ~0.9 MB of code, running all the
# time); plain HTTP is what the benchmark measures by default, and its hyper paths differ.
for transport in https http; do
    TLS=$([[ $transport == https ]] && echo 1 || true) CALLGRIND_RUN=$transport \
        SPEAKER_BIN="$WORK/speaker" bash scripts/bench/speaker.sh 1000 5 1
done
python3 scripts/lib/link_order.py "$BIN" speaker/link-order.txt "$WORK"/callgrind.*.out
