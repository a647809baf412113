#!/usr/bin/env bash
# Builds the release binaries and runs the main offline job on the bundled testdata: validate
# the operator-docs ConfigMaps the way the controller and the native speaker would.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin controller --bin speaker
for cm in testdata/config/valid/layer2-docs.yaml testdata/config/valid/bgp-docs.yaml; do
    echo "== controller check-config $cm"
    target/release/controller check-config "$cm"
    echo "== speaker check-config $cm"
    target/release/speaker check-config "$cm" >/dev/null && echo "accepted by the native speaker"
done
