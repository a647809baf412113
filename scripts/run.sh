#!/usr/bin/env bash
# Builds the release binaries and runs the main offline job on the bundled testdata:
#  1. `controller plan`: what the controller would do to every LoadBalancer service of a
#     cluster snapshot if the images were swapped now (testdata/plan/);
#  2. `check-config`: the operator-docs ConfigMaps as the controller and the native speaker
#     parse them.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin controller --bin speaker
echo "== controller plan --config testdata/plan/config.yaml --services testdata/plan/services.yaml"
target/release/controller plan --config testdata/plan/config.yaml --services testdata/plan/services.yaml
for cm in testdata/config/valid/layer2-docs.yaml testdata/config/valid/bgp-docs.yaml; do
    echo "== controller check-config $cm"
    target/release/controller check-config "$cm"
    echo "== speaker check-config $cm"
    target/release/speaker check-config "$cm" >/dev/null && echo "accepted by the native speaker"
done
