#!/usr/bin/env bash
# Builds the release binaries the container images ship (Dockerfile copies dist/controller and
# dist/speaker) and prints their sizes, so the figure in BENCHMARKS.md can be re-measured as the
# binaries grow.
#
# Linkage: glibc (x86_64-unknown-linux-gnu) by default, for the distroless/cc runtime image, which
# carries the same glibc as the Debian 12 build stage. A static musl build needs the
# x86_64-unknown-linux-musl target installed; it is used only when asked for with
# TARGET=x86_64-unknown-linux-musl (the runtime image then only needs to be distroless/static).
#
# Environment: TARGET (rust target triple, default: the host's), CARGO_TARGET_DIR (default
# target), DIST_DIR (default dist).
set -euo pipefail
cd "$(dirname "$0")/.."

host="$(rustc -vV | sed -n 's/^host: //p')"
target="${TARGET:-$host}"
target_dir="${CARGO_TARGET_DIR:-target}"
dist="${DIST_DIR:-dist}"
bins=(controller speaker)

if ! rustup target list --installed 2>/dev/null | grep -qx "$target" && [ "$target" != "$host" ]; then
    echo "build-release: rust target $target is not installed (rustup target add $target)" >&2
    exit 1
fi

cargo build --release --locked --target "$target" $(printf -- '--bin %s ' "${bins[@]}")

mkdir -p "$dist"
for bin in "${bins[@]}"; do
    install -m 0755 "$target_dir/$target/release/$bin" "$dist/$bin"
done

# The release profile strips symbols (strip = true); say so if a .symtab survived anyway, because
# the size goal (<= 10 MB each) is about stripped binaries.
linkage() {
    local needed
    needed="$(readelf -d "$1" 2>/dev/null | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | paste -sd, -)"
    if [ -z "$needed" ]; then echo "static"; else echo "dynamic: $needed"; fi
}
echo
echo "release binaries ($target, $(rustc --version | cut -d' ' -f2)):"
printf '  %-11s %11s %9s  %-8s %s\n' binary bytes MiB stripped linkage
for bin in "${bins[@]}"; do
    f="$dist/$bin"
    bytes="$(stat -c %s "$f")"
    mib="$(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1048576 }')"
    if readelf -S "$f" | grep -q '\.symtab'; then stripped=no; else stripped=yes; fi
    printf '  %-11s %11s %9s  %-8s %s\n' "$bin" "$bytes" "$mib" "$stripped" "$(linkage "$f")"
done
